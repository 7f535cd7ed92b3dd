from collections.abc import Iterator

import yaml

from constructs_lib.traefik_config import (
    TraefikSettings,
    dynamic_config,
    render_dynamic_config,
    render_static_config,
    static_config,
)


def test_web_redirects_permanently_to_websecure():
    web = static_config(TraefikSettings())["entryPoints"]["web"]
    assert web["address"] == ":80"
    assert web["http"]["redirections"]["entryPoint"] == {
        "to": "websecure",
        "scheme": "https",
        "permanent": True,
    }


def test_websecure_terminates_tls_with_the_resolver_and_adds_hsts():
    websecure = static_config(TraefikSettings())["entryPoints"]["websecure"]
    assert websecure["address"] == ":443"
    assert websecure["http"]["tls"] == {"certResolver": "letsencrypt"}
    # HSTS, then the rate limit (a refused request costs no compression), then gzip
    assert websecure["http"]["middlewares"] == ["hsts@file", "rate-limit@file", "compress@file"]


def test_lets_encrypt_uses_http01_and_persistent_storage():
    settings = TraefikSettings(acme_email="ops@example.com")
    acme = static_config(settings)["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme == {
        "email": "ops@example.com",
        "storage": "/data/acme.json",
        "httpChallenge": {"entryPoint": "web"},
    }
    assert (
        "email"
        not in static_config(TraefikSettings())["certificatesResolvers"]["letsencrypt"]["acme"]
    )


def test_swarm_provider_reads_the_socket_proxy_and_exposes_nothing_by_default():
    swarm = static_config(TraefikSettings())["providers"]["swarm"]
    assert swarm["endpoint"] == "tcp://socket-proxy:2375"
    assert swarm["exposedByDefault"] is False
    assert swarm["network"] == "traefik-ingress"


def test_dashboard_is_never_insecure_and_access_logs_drop_headers():
    config = static_config(TraefikSettings())
    assert config["api"] == {"dashboard": True, "insecure": False}
    assert config["accessLog"]["fields"]["headers"]["defaultMode"] == "drop"


def test_tls_minimum_is_1_2_with_forward_secret_aead_suites():
    default = dynamic_config(TraefikSettings())["tls"]["options"]["default"]
    assert default["minVersion"] == "VersionTLS12"
    assert all("ECDHE" in s and ("GCM" in s or "CHACHA20" in s) for s in default["cipherSuites"])


def test_hsts_and_dashboard_auth_middlewares():
    middlewares = dynamic_config(TraefikSettings())["http"]["middlewares"]
    assert middlewares["hsts"]["headers"]["stsSeconds"] == 31_536_000
    assert middlewares["hsts"]["headers"]["stsIncludeSubdomains"] is True
    assert middlewares["dashboard-auth"]["basicAuth"]["usersFile"] == (
        "/run/secrets/traefik-dashboard-users"
    )


def mappings(node: object) -> Iterator[dict]:
    """Every mapping in a parsed YAML document, the document itself included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from mappings(value)
    elif isinstance(node, list):
        for item in node:
            yield from mappings(item)


def test_rendering_is_deterministic_yaml_of_the_same_document():
    # GIVEN settings whose documents the code builds in an order that is not alphabetical
    settings = TraefikSettings(acme_email="ops@example.com")
    assert list(static_config(settings)["entryPoints"]) == ["web", "websecure", "ping", "metrics"]
    # WHEN they are rendered
    static, dynamic = render_static_config(settings), render_dynamic_config(settings)
    # THEN the text is YAML of exactly the document...
    assert yaml.safe_load(static) == static_config(settings)
    assert yaml.safe_load(dynamic) == dynamic_config(settings)
    # ...with keys written sorted at every level (PyYAML keeps the written order), so the
    # bytes, and the content-hashed config name, do not follow the order the code builds in
    written = yaml.safe_load(static)
    assert list(written) == [
        "accessLog",
        "api",
        "certificatesResolvers",
        "entryPoints",
        "global",
        "log",
        "metrics",
        "ping",
        "providers",
    ]
    assert list(written["entryPoints"]) == ["metrics", "ping", "web", "websecure"]
    assert list(yaml.safe_load(dynamic)) == ["http", "tls"]
    for text in (static, dynamic):
        unsorted = [list(m) for m in mappings(yaml.safe_load(text)) if list(m) != sorted(m)]
        assert unsorted == []


def test_header_aliases_are_dropped_on_every_entrypoint():
    entrypoints = static_config(TraefikSettings())["entryPoints"]
    assert {name: ep["http"]["aliasHeadersStrategy"] for name, ep in entrypoints.items()} == {
        "web": "delete",
        "websecure": "delete",
        "ping": "delete",
        "metrics": "delete",
    }
