import pytest

from constructs_lib.errors import PropsError
from constructs_lib.traefik_route import (
    EntryPoint,
    RouterKind,
    TraefikRoute,
    TraefikRouteProps,
    traefik_labels,
)


def test_http_route_labels_are_exact():
    # GIVEN an HTTP route on the secure entrypoint with a middleware and a network
    props = TraefikRouteProps(
        name="web",
        hosts=["sprocket.example.com", "www.sprocket.example.com"],
        port=3000,
        middlewares=["hsts@file"],
        network="traefik-ingress",
    )
    # WHEN its labels are built THEN they are exactly Traefik v3's, sorted
    assert traefik_labels(props) == {
        "traefik.enable": "true",
        "traefik.http.routers.web.entrypoints": "websecure",
        "traefik.http.routers.web.middlewares": "hsts@file",
        "traefik.http.routers.web.rule": (
            "Host(`sprocket.example.com`) || Host(`www.sprocket.example.com`)"
        ),
        "traefik.http.routers.web.service": "web",
        "traefik.http.routers.web.tls": "true",
        "traefik.http.routers.web.tls.certresolver": "letsencrypt",
        "traefik.http.services.web.loadbalancer.server.port": "3000",
        "traefik.swarm.network": "traefik-ingress",
    }
    assert list(traefik_labels(props)) == sorted(traefik_labels(props))


def test_tcp_route_matches_on_sni():
    props = TraefikRouteProps(
        name="neo4j-bolt", hosts=["bolt.example.com"], port=7687, kind=RouterKind.TCP
    )
    labels = traefik_labels(props)
    assert labels["traefik.tcp.routers.neo4j-bolt.rule"] == "HostSNI(`bolt.example.com`)"
    assert labels["traefik.tcp.routers.neo4j-bolt.tls"] == "true"
    assert labels["traefik.tcp.services.neo4j-bolt.loadbalancer.server.port"] == "7687"
    assert not any(key.startswith("traefik.http.") for key in labels)


def test_internal_service_route_declares_the_placeholder_port_swarm_needs():
    props = TraefikRouteProps(
        name="dashboard", hosts=["traefik.example.com"], internal_service="api@internal"
    )
    labels = traefik_labels(props)
    assert labels["traefik.http.routers.dashboard.service"] == "api@internal"
    # Without any port label Traefik's Swarm provider drops the service and its routers.
    assert labels["traefik.http.services.dashboard.loadbalancer.server.port"] == "9"


def test_plain_http_entrypoint_has_no_tls():
    props = TraefikRouteProps(
        name="plain", hosts=["x.example.com"], port=80, entrypoint=EntryPoint.WEB
    )
    assert "traefik.http.routers.plain.tls" not in traefik_labels(props)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "Web_1"}, "name='Web_1': must be 1-63 lower-case"),
        ({"hosts": []}, "hosts=[]: must be a non-empty list"),
        ({"hosts": "a.example.com"}, "must be a non-empty list"),
        ({"hosts": ["not a host"]}, "hosts: 'not a host' must be a fully qualified"),
        ({"port": 0}, "port=0: must be a whole number from 1 to 65535"),
        ({"port": 70000}, "port=70000"),
        ({"port": None}, "set exactly one of them"),
        ({"internal_service": "api@internal"}, "set exactly one of them"),
        ({"port": None, "internal_service": "api"}, "must name a Traefik internal service"),
        ({"middlewares": ["bad middleware"]}, "middlewares: 'bad middleware'"),
        (
            {"kind": RouterKind.TCP, "entrypoint": EntryPoint.WEB},
            "TCP routers match on TLS SNI",
        ),
        ({"kind": RouterKind.TCP, "middlewares": ["hsts@file"]}, "cannot be attached to a TCP"),
    ],
)
def test_each_invalid_prop_is_named(kwargs, expected):
    base = {"name": "web", "hosts": ["web.example.com"], "port": 3000}
    with pytest.raises(PropsError) as error:
        TraefikRouteProps(**{**base, **kwargs})
    assert expected in str(error.value)


def test_all_problems_are_reported_together():
    with pytest.raises(PropsError) as error:
        TraefikRouteProps(name="BAD", hosts=["nope"], port=0)
    assert len(error.value.problems) == 3


def test_router_names_are_unique_within_a_stack(stack):
    props = TraefikRouteProps(name="web", hosts=["a.example.com"], port=1)
    TraefikRoute(stack, "first", props)
    with pytest.raises(PropsError, match="router names are global to the swarm"):
        TraefikRoute(stack, "second", props)


def test_router_names_are_unique_across_the_stacks_of_one_app(tmp_path):
    from cdktf import TerraformStack
    from cdktf import Testing as CdktfTesting

    # GIVEN two stacks of one app, both deployed to the same swarm
    app = CdktfTesting.app(outdir=str(tmp_path))
    props = TraefikRouteProps(name="web", hosts=["a.example.com"], port=1)
    TraefikRoute(TerraformStack(app, "one"), "first", props)
    # THEN the second stack cannot reuse the router name
    with pytest.raises(PropsError, match="stack 'one' already has a route of this name"):
        TraefikRoute(TerraformStack(app, "two"), "first", props)


def test_the_same_router_name_is_fine_in_another_app(stack, tmp_path):
    from cdktf import TerraformStack
    from cdktf import Testing as CdktfTesting

    props = TraefikRouteProps(name="web", hosts=["a.example.com"], port=1)
    TraefikRoute(stack, "first", props)
    other = TerraformStack(CdktfTesting.app(outdir=str(tmp_path / "other")), "other")
    assert TraefikRoute(other, "first", props).labels == traefik_labels(props)
