import base64

import pytest

from constructs_lib.errors import PropsError
from constructs_lib.overlay_network import NetworkRef, OverlayNetwork, OverlayNetworkProps
from constructs_lib.swarm_secret import SecretFile
from constructs_lib.swarm_service import (
    BindMount,
    ConfigFile,
    Healthcheck,
    PlacementRole,
    PublishedPort,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps

NET = NetworkRef(name="platform", id="platform-id")


def props(**overrides) -> SwarmServiceProps:
    return SwarmServiceProps(**{"name": "app", "image": "example/app:1.2.3", **overrides})


def only_service(document: dict) -> dict:
    (service,) = document["resource"]["docker_service"].values()
    return service


def test_defaults_give_limits_restarts_that_never_give_up_and_rollback(synth_stack):
    # GIVEN a service with only a name and an image
    doc = synth_stack(lambda s: SwarmService(s, "app", props()))
    service = only_service(doc)
    task = service["task_spec"]
    # THEN it is limited, reserved, restarts on any exit without a limit and rolls back
    assert task["resources"]["limits"] == {"memory_bytes": 256 * 2**20, "nano_cpus": 500_000_000}
    assert task["resources"]["reservation"] == {
        "memory_bytes": 32 * 2**20,
        "nano_cpus": 25_000_000,
    }
    assert task["restart_policy"] == {
        "condition": "any",
        "delay": "5s",
        "max_attempts": 0,
        "window": "0s",
    }
    assert service["update_config"]["failure_action"] == "rollback"
    assert service["update_config"]["order"] == "start-first"
    assert service["rollback_config"]["order"] == "start-first"
    assert service["mode"] == {"replicated": {"replicas": 1}}
    assert "ports" not in service["endpoint_spec"]


def test_primary_resource_address_is_the_construct_id(synth_stack):
    doc = synth_stack(lambda s: SwarmService(s, "app", props()))
    assert list(doc["resource"]["docker_service"]) == ["app"]


def test_env_is_sorted_and_labels_merge_routes(synth_stack):
    def build(stack):
        route = TraefikRoute(
            stack, "route", TraefikRouteProps(name="app", hosts=["a.example.com"], port=80)
        )
        SwarmService(
            stack,
            "app",
            props(env={"B": "2", "A": "1"}, labels={"team": "ops"}, routes=[route]),
        )

    service = only_service(synth_stack(build))
    assert list(service["task_spec"]["container_spec"]["env"]) == ["A", "B"]
    labels = {item["label"]: item["value"] for item in service["labels"]}
    assert labels["team"] == "ops"
    assert labels["traefik.http.routers.app.rule"] == "Host(`a.example.com`)"


def test_config_files_are_content_hashed_and_created_before_destroyed(synth_stack):
    def with_content(content):
        return synth_stack(
            lambda s: SwarmService(
                s, "app", props(config_files=[ConfigFile(target="/etc/app.yml", content=content)])
            )
        )

    first, second = with_content("a: 1\n"), with_content("a: 2\n")
    (config_a,) = first["resource"]["docker_config"].values()
    (config_b,) = second["resource"]["docker_config"].values()
    assert base64.b64decode(config_a["data"]) == b"a: 1\n"
    assert config_a["lifecycle"] == {"create_before_destroy": True}
    assert config_a["name"].startswith("app-app-yml-")
    assert config_a["name"] != config_b["name"]
    mount = only_service(first)["task_spec"]["container_spec"]["configs"][0]
    assert mount["file_name"] == "/etc/app.yml" and mount["file_mode"] == 0o444


def test_secret_files_keep_their_mode_and_owner(synth_stack):
    secret = SecretFile(
        secret_id="sid", secret_name="sname", target="/app/secret/a.txt", uid="1000"
    )
    service = only_service(
        synth_stack(lambda s: SwarmService(s, "app", props(secret_files=[secret])))
    )
    (mount,) = service["task_spec"]["container_spec"]["secrets"]
    assert mount == {
        "file_name": "/app/secret/a.txt",
        "file_mode": 0o400,
        "file_uid": "1000",
        "file_gid": "0",
        "secret_id": "sid",
        "secret_name": "sname",
    }


def test_volumes_are_created_and_mounted(synth_stack):
    service_props = props(
        volumes=[VolumeMount(name="data", target="/data")], update_order=UpdateOrder.STOP_FIRST
    )
    doc = synth_stack(lambda s: SwarmService(s, "app", service_props))
    (volume,) = doc["resource"]["docker_volume"].values()
    assert volume["name"] == "app-data"
    # A plan that would delete the volume (any change to it replaces it) stops instead
    assert volume["lifecycle"] == {"prevent_destroy": True}
    (mount,) = only_service(doc)["task_spec"]["container_spec"]["mounts"]
    assert mount["type"] == "volume" and mount["target"] == "/data"
    assert only_service(doc)["update_config"]["order"] == "stop-first"
    # It runs only on the node that holds the volumes
    assert only_service(doc)["task_spec"]["placement"]["constraints"] == [
        "node.labels.sprocket.volumes == true"
    ]


def test_a_global_service_with_a_volume_is_not_pinned_to_the_volume_node(synth_stack):
    # GIVEN a global service with a volume (Traefik's certificates: one volume per node)
    service_props = props(
        volumes=[VolumeMount(name="data", target="/data")],
        global_mode=True,
        placement=PlacementRole.MANAGER,
        update_order=UpdateOrder.STOP_FIRST,
    )
    doc = synth_stack(lambda s: SwarmService(s, "app", service_props))
    # THEN only its role constrains it
    assert only_service(doc)["task_spec"]["placement"]["constraints"] == ["node.role == manager"]


def test_networks_placement_global_mode_and_healthcheck(synth_stack):
    def build(stack):
        net = OverlayNetwork(stack, "net", OverlayNetworkProps(name="platform"))
        SwarmService(
            stack,
            "app",
            props(
                networks=[net.ref],
                global_mode=True,
                placement=PlacementRole.MANAGER,
                constraints=["node.labels.disk == ssd"],
                healthcheck=Healthcheck(test=("CMD", "true"), interval_s=10),
            ),
        )

    doc = synth_stack(build)
    service = only_service(doc)
    assert service["mode"] == {"global": True}
    assert service["task_spec"]["networks_advanced"] == [{"name": "${docker_network.net.id}"}]
    assert service["task_spec"]["placement"]["constraints"] == [
        "node.role == manager",
        "node.labels.disk == ssd",
    ]
    assert service["task_spec"]["container_spec"]["healthcheck"]["interval"] == "10s"
    assert doc["resource"]["docker_network"]["net"]["driver"] == "overlay"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"image": "example/app"}, "image='example/app': must be pinned"),
        ({"image": "example/app:latest"}, "moving tag 'latest'"),
        ({"name": "-bad"}, "name='-bad'"),
        ({"replicas": 0}, "replicas=0: must be at least 1"),
        ({"memory_limit_mib": 2}, "memory_limit_mib=2"),
        ({"memory_reservation_mib": 512}, "memory_reservation_mib=512"),
        ({"cpu_limit": 0}, "cpu_limit=0"),
        ({"cpu_reservation": 4.0}, "cpu_reservation=4.0"),
        ({"restart_delay_s": 0}, "restart_delay_s=0"),
        ({"env": {"A=B": "x"}}, "env: 'A=B'"),
        ({"volumes": [VolumeMount(name="d", target="/d")]}, "must update stop-first"),
        (
            {"published_ports": [PublishedPort(target_port=80, published_port=80)]},
            "must update stop-first",
        ),
        (
            {
                "published_ports": [
                    PublishedPort(target_port=80, published_port=0, publish_mode="ingress")
                ]
            },
            "published_ports: 0",
        ),
        ({"binds": [BindMount(source="relative", target="/x")]}, "must be an absolute host path"),
        (
            {
                "config_files": [
                    ConfigFile(target="/a", content=""),
                    ConfigFile(target="/a", content="x"),
                ]
            },
            "each path may be mounted once",
        ),
        ({"config_files": [ConfigFile(target="a", content="")]}, "must be an absolute path"),
        ({"healthcheck": Healthcheck(test=())}, "healthcheck.test"),
        ({"labels": {"traefik.enable": "false"}, "routes": "ROUTE"}, "set by more than one"),
        ({"routes": "ROUTE_ON_OTHER_NETWORK"}, "which the service does not join"),
    ],
)
def test_each_invalid_prop_is_named(stack, overrides, expected):
    if overrides.get("routes") == "ROUTE":
        overrides["routes"] = [
            TraefikRoute(stack, "r", TraefikRouteProps(name="r", hosts=["a.example.com"], port=1))
        ]
    elif overrides.get("routes") == "ROUTE_ON_OTHER_NETWORK":
        overrides["routes"] = [
            TraefikRoute(
                stack,
                "r",
                TraefikRouteProps(name="r", hosts=["a.example.com"], port=1, network="ingress"),
            )
        ]
        overrides["networks"] = [NET]
    with pytest.raises(PropsError) as error:
        props(**overrides)
    assert expected in str(error.value)
    assert "SwarmService 'app'" in str(error.value) or "-bad" in str(error.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(PropsError) as error:
        props(image="x:latest", replicas=0, cpu_limit=-1, restart_delay_s=1000)
    assert len(error.value.problems) == 4


def test_socket_proxy_opens_only_what_is_allowed_and_never_post(synth_stack):
    from constructs_lib.docker_socket_proxy import DockerSocketProxy, DockerSocketProxyProps

    doc = synth_stack(
        lambda s: DockerSocketProxy(
            s,
            "proxy",
            DockerSocketProxyProps(
                name="metrics-proxy",
                image="tecnativa/docker-socket-proxy:v0.5.0",
                network=NET,
                allow=frozenset({"CONTAINERS", "INFO"}),
            ),
        )
    )
    service = only_service(doc)
    env = service["task_spec"]["container_spec"]["env"]
    assert {k for k, v in env.items() if v == "1"} == {"CONTAINERS", "INFO", "PING", "VERSION"}
    assert env["POST"] == "0"
    (mount,) = service["task_spec"]["container_spec"]["mounts"]
    assert mount["read_only"] is True and mount["source"] == "/var/run/docker.sock"


def test_socket_proxy_refuses_secret_and_exec_sections():
    from constructs_lib.docker_socket_proxy import DockerSocketProxyProps

    with pytest.raises(PropsError) as error:
        DockerSocketProxyProps(
            name="p", image="x:1", network=NET, allow=frozenset({"SECRETS", "EXEC", "NOPE"})
        )
    assert "['EXEC', 'SECRETS'] expose secrets" in str(error.value)
    assert "['NOPE'] are not API sections" in str(error.value)


def test_two_config_files_of_one_name_get_their_own_configs(synth_stack):
    # GIVEN two files called config.yaml in different directories
    def build(stack):
        SwarmService(
            stack,
            "app",
            SwarmServiceProps(
                name="app",
                image="example/app:1.0.0",
                config_files=[
                    ConfigFile(target="/etc/a/config.yaml", content="a: 1\n"),
                    ConfigFile(target="/etc/b/config.yaml", content="b: 2\n"),
                ],
            ),
        )

    # THEN both are synthesized, each mounted at its own path
    document = synth_stack(build)
    configs = document["resource"]["docker_config"]
    assert len(configs) == 2
    (service,) = document["resource"]["docker_service"].values()
    targets = {c["file_name"] for c in service["task_spec"]["container_spec"]["configs"]}
    assert targets == {"/etc/a/config.yaml", "/etc/b/config.yaml"}
