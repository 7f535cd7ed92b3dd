"""Behaviour of the synthesized layer_2 stack, read from its cdk.tf.json."""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from constructs_lib.validation import image_problem
from tests.conftest import (
    ENVIRONMENTS,
    config_content,
    digest_pinned,
    networks_of,
    public_host,
    resources,
    service_labels,
    services,
)

# Redis and RabbitMQ are each environment's own (tests/stacks/test_platform_datastores.py).
DATA_SERVICES = {
    "influxdb",
    "grafana",
    "n8n",
    "neo4j",
    "gatus",
    "loki",
    "telegraf",
}
# The architecture's topology: who is on which network.
TOPOLOGY = {
    "influxdb": {"monitoring-network"},
    "grafana": {"monitoring-network", "traefik-ingress"},
    "n8n": {"traefik-ingress"},
    "neo4j": {"platform-network"},
    # it probes the datastores on the networks it joins (Neo4j's is platform-network)
    "gatus": {"traefik-ingress", "monitoring-network", "platform-network"},
    "loki": {"monitoring-network"},
    # Traefik's metrics are on a network of Traefik's and Telegraf's only
    "telegraf": {"monitoring-network", "metrics-socket", "traefik-metrics"},
    "metrics-socket-proxy": {"metrics-socket"},
    "log-shipper": {"monitoring-network"},
    # its own network, whose only way out is to Spaces
    "layer-2-backup": {"layer-2-backup"},
    # the bucket loop writes each environment's InfluxDB token to Vault, on its network
    "influxdb-buckets": {"monitoring-network", "vault-network"},
}
WEB_UIS = {"grafana", "n8n", "gatus"}


def test_the_seven_shared_data_services_and_their_helpers(layer_2):
    helpers = {"metrics-socket-proxy", "influxdb-buckets", "log-shipper", "layer-2-backup"}
    assert set(services(layer_2)) == DATA_SERVICES | helpers


def test_every_service_is_on_exactly_its_networks(layer_2, stacks):
    found = {name: networks_of(layer_2, s, stacks) for name, s in services(layer_2).items()}
    assert found == TOPOLOGY


def test_only_services_with_a_web_ui_join_the_ingress_network_and_all_are_routed(layer_2, stacks):
    on_ingress = {
        name
        for name, s in services(layer_2).items()
        if "traefik-ingress" in networks_of(layer_2, s, stacks)
    }
    assert on_ingress == WEB_UIS
    for name in WEB_UIS:
        labels = service_labels(services(layer_2)[name])
        assert labels["traefik.enable"] == "true", name
        assert labels[f"traefik.http.routers.{name}.tls"] == "true", name
        assert labels["traefik.swarm.network"] == "traefik-ingress", name


def test_the_ingress_network_comes_from_layer_1_through_remote_state(layer_2):
    # and the database host check reads the cluster's (stacks/cluster.py check_postgres)
    remotes = layer_2["data"]["terraform_remote_state"].values()
    assert sorted(r["config"]["key"] for r in remotes) == [
        "sprocket-infra/cluster.tfstate",
        "sprocket-infra/layer_1.tfstate",
    ]
    for remote in remotes:
        assert remote["backend"] == "s3"
        assert remote["config"]["bucket"] == "sprocket-terraform-state"


def test_every_service_is_pinned_limited_and_rolls_back(layer_2):
    for name, service in services(layer_2).items():
        task = service["task_spec"]
        # Pinned by digest at plan time: the plan shows which build goes out
        reference = digest_pinned(layer_2, task["container_spec"]["image"])
        assert image_problem(reference) is None, name
        assert task["resources"]["limits"]["memory_bytes"] > 0, name
        # Restarts never give up (max_attempts 0 is no limit in swarmkit).
        assert task["restart_policy"]["condition"] == "any", name
        assert task["restart_policy"]["max_attempts"] == 0, name
        assert service["update_config"]["failure_action"] == "rollback", name


def test_stateful_services_keep_a_volume_and_update_stop_first(layer_2):
    for name in DATA_SERVICES - {"telegraf"}:
        service = services(layer_2)[name]
        mounts = service["task_spec"]["container_spec"].get("mounts", [])
        assert any(m["type"] == "volume" for m in mounts), name
        assert service["update_config"]["order"] == "stop-first", name


def test_only_socket_proxies_mount_the_docker_socket_read_only(layer_2):
    mounting = {
        (name, mount.get("read_only"))
        for name, service in services(layer_2).items()
        for mount in service["task_spec"]["container_spec"].get("mounts", [])
        if "docker.sock" in mount.get("source", "")
    }
    assert mounting == {("metrics-socket-proxy", True)}


SECRET_ENV = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY$|^N8N_ENCRYPTION|AUTH$")


def test_no_credential_is_a_literal(layer_2):
    # Every secret's data is a Terraform expression...
    for rid, secret in resources(layer_2, "docker_secret").items():
        assert re.fullmatch(r"\$\{base64encode\(.+\)\}", secret["data"], re.S), rid
    # ...and credential-looking environment variables only point at secret files.
    for name, service in services(layer_2).items():
        for key, value in service["task_spec"]["container_spec"].get("env", {}).items():
            switch = value in ("0", "1", "true", "false")
            if SECRET_ENV.search(key.removesuffix("_FILE").removesuffix("__FILE")) and not switch:
                assert key.endswith("FILE") and value.startswith("/run/secrets/"), (name, key)
    # ...and generated values are only ever written to Vault as expressions.
    for rid, kv in resources(layer_2, "vault_kv_secret_v2").items():
        assert kv["data_json"].startswith("${jsonencode("), rid


def test_influxdb_org_buckets_and_retention(layer_2):
    influx = services(layer_2)["influxdb"]
    env = influx["task_spec"]["container_spec"]["env"]
    assert env["DOCKER_INFLUXDB_INIT_ORG"] == "sprocket"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "infrastructure"
    assert env["DOCKER_INFLUXDB_INIT_RETENTION"] == "30d"
    # Every environment's bucket is kept by the helper next to InfluxDB, with 30 days' retention.
    helper = services(layer_2)["influxdb-buckets"]
    script = config_content(layer_2, helper, "/usr/local/bin/influxdb-buckets")
    rows = " ".join(f"{env}:sprocket_{env}:{env}/influxdb" for env in ENVIRONMENTS)
    assert f"for row in {rows}; do" in script
    assert "--retention 30d" in script
    secrets = {s["file_name"] for s in helper["task_spec"]["container_spec"]["secrets"]}
    assert secrets == {"/run/secrets/influxdb-admin-token", "/run/secrets/influxdb-vault-token"}
    assert 'INFLUX_TOKEN="$(cat /run/secrets/influxdb-admin-token)"' in script
    assert 'vault_token="$(cat /run/secrets/influxdb-vault-token)"' in script


def test_grafana_provisions_influxdb_and_loki_and_refuses_anonymous_users(layer_2):
    grafana = services(layer_2)["grafana"]
    env = grafana["task_spec"]["container_spec"]["env"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_DATABASE_USER"] == "grafana" and env["GF_DATABASE_SSL_MODE"] == "require"
    sources = yaml.safe_load(
        config_content(layer_2, grafana, "/etc/grafana/provisioning/datasources/sprocket.yaml")
    )["datasources"]
    assert {s["type"] for s in sources} == {"influxdb", "loki"}
    influx = next(s for s in sources if s["type"] == "influxdb")
    assert influx["secureJsonData"]["token"] == "$__file{/run/secrets/influxdb-token}"


def test_services_use_their_own_database_logins_never_the_admin(layer_2):
    users = {u["name"] for u in resources(layer_2, "digitalocean_database_user").values()}
    dbs = {d["name"] for d in resources(layer_2, "digitalocean_database_db").values()}
    assert users == dbs == {"grafana", "n8n"}
    assert "doadmin" not in json.dumps(layer_2)
    n8n = services(layer_2)["n8n"]["task_spec"]["container_spec"]["env"]
    assert n8n["DB_POSTGRESDB_USER"] == "n8n" and n8n["DB_POSTGRESDB_SSL_ENABLED"] == "true"


def test_neo4j_authentication_comes_from_a_secret(layer_2):
    env = services(layer_2)["neo4j"]["task_spec"]["container_spec"]["env"]
    assert env["NEO4J_AUTH_FILE"] == "/run/secrets/neo4j-auth"
    assert "NEO4J_AUTH" not in env


def test_gatus_checks_every_public_endpoint_every_30s_with_the_webhook_only_in_a_secret(layer_2):
    gatus = services(layer_2)["gatus"]
    # Not the image's /config, which holds its demo configuration
    assert gatus["task_spec"]["container_spec"]["env"]["GATUS_CONFIG_PATH"] == "/etc/gatus"
    config = yaml.safe_load(config_content(layer_2, gatus, "/etc/gatus/endpoints.yaml"))
    urls = {e["url"] for e in config["endpoints"]}
    hosts = {f"{name}.sprocket.mlesports.gg" for name in ("vault", "grafana", "n8n")}
    for env in ENVIRONMENTS:
        hosts |= {public_host(env, prefix) for prefix in (None, "api", "image-generation")}
    for host in hosts:
        assert any(url.startswith(f"https://{host}/") for url in urls), host
    assert {e["interval"] for e in config["endpoints"]} == {"30s"}
    assert "alerting" not in config and "webhook" not in json.dumps(config)
    (secret,) = gatus["task_spec"]["container_spec"]["secrets"]
    assert secret["file_name"] == "/etc/gatus/alerting.yaml"
    assert layer_2["variable"]["gatus_discord_webhook_url"]["sensitive"] is True


def test_loki_keeps_seven_days_on_the_filesystem(layer_2):
    loki = services(layer_2)["loki"]
    config = yaml.safe_load(config_content(layer_2, loki, "/etc/loki/config.yaml"))
    assert config["limits_config"]["retention_period"] == "168h"
    assert config["compactor"]["retention_enabled"] is True
    assert config["schema_config"]["configs"][0]["object_store"] == "filesystem"


def test_telegraf_reads_docker_through_its_proxy_and_the_token_from_a_secret(layer_2):
    telegraf = services(layer_2)["telegraf"]
    conf = tomllib.loads(config_content(layer_2, telegraf, "/etc/telegraf/telegraf.conf"))
    assert conf["secretstores"]["docker"] == [{"id": "docker_secrets"}]
    (docker,) = conf["inputs"]["docker"]
    assert docker["endpoint"] == "tcp://metrics-socket-proxy:2375"
    (output,) = conf["outputs"]["influxdb_v2"]
    assert output["token"] == "@{docker_secrets:influx_token}"
    assert conf["inputs"]["cpu"] == [{"percpu": False, "totalcpu": True}]
    (secret,) = telegraf["task_spec"]["container_spec"]["secrets"]
    assert secret["file_name"] == "/run/secrets/influx_token" and secret["file_mode"] == 0o440
    assert telegraf["task_spec"]["container_spec"]["groups"] == [secret["file_gid"]]


def test_grafana_telegraf_and_the_bucket_loop_mount_the_token_influxdb_was_set_up_with(layer_2):
    def secret_ids(service: str) -> set[str]:
        spec = services(layer_2)[service]["task_spec"]["container_spec"]
        return {s["secret_id"] for s in spec["secrets"] if "influx" in s["file_name"]}

    (token,) = {
        s["secret_id"]
        for s in services(layer_2)["influxdb"]["task_spec"]["container_spec"]["secrets"]
        if s["file_name"].endswith("influxdb-admin-token")
    }
    for client in ("grafana", "telegraf"):
        assert secret_ids(client) == {token}, client
    # the bucket loop: the same, and its Vault token (the environments' tokens go to Vault)
    loop = secret_ids("influxdb-buckets")
    assert token in loop and len(loop) == 2


def policy_paths(document: dict) -> dict[str, dict[str, list[str]]]:
    """Policy name -> path -> capabilities, parsed from the JSON policy document Vault stores."""
    return {
        policy["name"]: {
            path: body["capabilities"]
            for path, body in json.loads(policy["policy"])["path"].items()
        }
        for policy in resources(document, "vault_policy").values()
    }


def test_policies_parse_and_only_admins_and_plan_reach_beyond_the_mounts_or_hold_sudo(layer_2):
    policies = policy_paths(layer_2)
    assert set(policies) == {
        "admins",
        "readonly",
        "developers",
        "ops",
        "plan",
        "influxdb-tokens",
        *(f"platform-{env}-service" for env in ENVIRONMENTS),
    }
    for name, paths in policies.items():
        if name == "admins":
            continue
        for path, caps in paths.items():
            if name == "plan":
                # A refresh reads Vault's own configuration; it changes nothing
                exceptions = {
                    "sys/audit": {"read", "sudo"},
                    "auth/token/lookup-accessor": {"update"},
                }
                assert set(caps) <= exceptions.get(path, {"read"}), path
                continue
            assert path.split("/")[0] in ("infrastructure", "platform"), (name, path)
            assert "sudo" not in caps, (name, path)


def test_team_policies_are_least_privilege(layer_2):
    policies = policy_paths(layer_2)
    # readonly: what exists and when it changed, never a value
    assert policies["readonly"] == {
        "infrastructure/metadata/*": ["read", "list"],
        "platform/metadata/*": ["read", "list"],
    }
    # developers: application secrets; history soft-deleted and restored, never destroyed
    developers = policies["developers"]
    assert {p.split("/")[0] for p in developers} == {"platform"}
    assert "delete" not in developers["platform/metadata/*"]
    assert not any("/destroy/" in p for p in developers)
    # ops: infrastructure only
    assert {p.split("/")[0] for p in policies["ops"]} == {"infrastructure"}


def test_platform_policies_are_exact_paths_of_their_own_environment(layer_2):
    policies = policy_paths(layer_2)
    for env in ENVIRONMENTS:
        paths = policies[f"platform-{env}-service"]
        assert paths["platform/data/ballchasing"] == ["read"]
        others = set(ENVIRONMENTS) - {env}
        for path, caps in paths.items():
            # No wildcard: each path is one secret the stack reads or writes
            assert "*" not in path and "+" not in path, (env, path)
            assert not others & set(path.split("/")), (env, path)
            # Written secrets: the data and its metadata; never history-destroying paths
            assert "/destroy/" not in path and not ("/metadata/" in path and "delete" in caps), (
                env,
                path,
            )


def test_github_teams_map_to_policies(layer_2):
    (backend,) = resources(layer_2, "vault_github_auth_backend").values()
    assert backend["organization"] == "SprocketBot"
    teams = {t["team"]: t["policies"] for t in resources(layer_2, "vault_github_team").values()}
    assert teams == {
        "github-admin": ["admins"],
        "github-readonly": ["readonly"],
        "github-developers": ["developers"],
        "github-ops": ["ops"],
    }


def test_kv_v2_mounts_and_audit_device(layer_2):
    mounts = {m["path"]: m for m in resources(layer_2, "vault_mount").values()}
    assert set(mounts) == {"infrastructure", "platform"}
    assert all(m["type"] == "kv" and m["options"] == {"version": "2"} for m in mounts.values())
    (audit,) = resources(layer_2, "vault_audit").values()
    assert audit["type"] == "file" and audit["options"] == {"file_path": "stdout"}


def test_no_token_is_made_or_output_only_a_role_per_environment(layer_2):
    # The one Vault token in layer_2's state is the InfluxDB bucket loop's, which may only
    # write the environments' InfluxDB tokens; none is an output, so none reaches another stack
    (token,) = resources(layer_2, "vault_token").values()
    assert token["policies"] == ["${vault_policy.policy_influxdb_tokens.name}"]
    roles = {
        r["role_name"]: r for r in resources(layer_2, "vault_token_auth_backend_role").values()
    }
    assert set(roles) == {"plan", *(f"platform-{env}" for env in ENVIRONMENTS)}
    for env in ENVIRONMENTS:
        policy = f"${{vault_policy.policy_platform_{env}_service.name}}"
        assert roles[f"platform-{env}"]["token_policies"] == [policy], env
        assert roles[f"platform-{env}"]["allowed_policies"] == [policy], env
    # No output carries a token or a secret, or anything of one environment only (cdktf
    # marks its cross-stack outputs sensitive whatever they hold: a network id here)
    outputs = layer_2["output"]
    for name, output in outputs.items():
        value = str(output["value"])
        assert not re.search(r"vault_token|random_password|password|secret|token", value), name
        assert not any(env in name or env in value for env in ENVIRONMENTS), name
    assert outputs["MinioUrl"]["value"] == "https://nyc3.digitaloceanspaces.com"


def test_layer_2_state_key(layer_2):
    assert layer_2["terraform"]["backend"]["s3"]["key"] == "sprocket-infra/layer_2.tfstate"
