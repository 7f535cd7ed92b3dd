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
    assert websecure["http"]["middlewares"] == ["hsts@file"]


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


def test_rendering_is_deterministic_yaml_of_the_same_document():
    settings = TraefikSettings(acme_email="ops@example.com")
    assert render_static_config(settings) == render_static_config(settings)
    assert yaml.safe_load(render_static_config(settings)) == static_config(settings)
    assert yaml.safe_load(render_dynamic_config(settings)) == dynamic_config(settings)


def test_header_aliases_are_dropped_on_every_entrypoint():
    entrypoints = static_config(TraefikSettings())["entryPoints"]
    assert {name: ep["http"]["aliasHeadersStrategy"] for name, ep in entrypoints.items()} == {
        "web": "delete",
        "websecure": "delete",
        "ping": "delete",
    }
