"""Grafana's dashboards and alert rules, the log shipper and the metrics, as synthesized.

The dashboards and alerting files are loaded from layer_2's synthesized Swarm configs and put
through Grafana's provisioning checks (tests/grafana_provisioning.py, a stand-in: Grafana
cannot run here). Each check is shown to fail on the mistake it is for.
"""

from __future__ import annotations

import copy
import json
import tomllib

import pytest
import yaml

from constructs_lib.log_labels import LOG_LABELS
from stacks.node_bootstrap import DOCKER_DAEMON
from stacks.shared_services.grafana_alerting import BACKUP_FAILED, BACKUP_OK
from stacks.shared_services.log_shipper import CONFIG_PATH as SHIPPER_CONFIG
from tests.conftest import CONFIG, config_content, resources, services
from tests.grafana_provisioning import check

ALERTING = "/etc/grafana/provisioning/alerting/sprocket.yaml"


def grafana_files(stacks) -> tuple[dict[str, str], set[str]]:
    layer_2 = stacks["layer_2"]
    grafana = services(layer_2)["grafana"]
    spec = grafana["task_spec"]["container_spec"]
    files = {
        c["file_name"]: config_content(layer_2, grafana, c["file_name"]) for c in spec["configs"]
    }
    return files, {s["file_name"] for s in spec["secrets"]}


def test_grafanas_provisioning_passes_its_checks(stacks):
    files, secrets = grafana_files(stacks)
    assert check(files, secrets) == []
    dashboards = [f for f in files if f.endswith(".json")]
    titles = {json.loads(files[f])["title"] for f in dashboards}
    assert {"Nodes", "Services", "Traefik", "Datastores", "Logs", "Sprocket activity"} <= titles


def _dashboard_files(files):
    return sorted(f for f in files if f.endswith(".json"))


def test_an_unknown_datasource_fails_the_check(stacks):
    files, secrets = grafana_files(stacks)
    name = _dashboard_files(files)[0]
    dashboard = json.loads(files[name])
    dashboard["panels"][0]["targets"][0]["datasource"]["uid"] = "prometheus"
    problems = check({**files, name: json.dumps(dashboard)}, secrets)
    assert any("'prometheus' is not provisioned" in p for p in problems), problems


def test_an_empty_panel_query_fails_the_check(stacks):
    files, secrets = grafana_files(stacks)
    name = _dashboard_files(files)[0]
    dashboard = json.loads(files[name])
    target = dashboard["panels"][1]["targets"][0]
    target["query" if "query" in target else "expr"] = "  "
    problems = check({**files, name: json.dumps(dashboard)}, secrets)
    assert any("empty" in p for p in problems), problems


@pytest.mark.parametrize(
    "break_it",
    [
        lambda doc: doc["policies"][0].update(receiver="nobody"),
        lambda doc: doc["contactPoints"][0].update(receivers=[]),
        lambda doc: doc["contactPoints"][0]["receivers"][0]["settings"].update(url=""),
        lambda doc: doc.pop("policies"),
    ],
    ids=["policy to no contact point", "no receivers", "no url", "no policy"],
)
def test_an_alert_without_a_contact_fails_the_check(stacks, break_it):
    files, secrets = grafana_files(stacks)
    document = yaml.safe_load(files[ALERTING])
    break_it(document)
    problems = check({**files, ALERTING: yaml.safe_dump(document)}, secrets)
    assert problems


def test_a_webhook_file_that_is_not_mounted_fails_the_check(stacks):
    files, secrets = grafana_files(stacks)
    (webhook,) = [s for s in secrets if "discord" in s]
    problems = check(files, secrets - {webhook})
    assert any("not mounted" in p for p in problems), problems


def test_alert_rules_cover_what_the_architecture_names(stacks):
    files, _ = grafana_files(stacks)
    document = yaml.safe_load(files[ALERTING])
    rules = {r["uid"]: r for g in document["groups"] for r in g["rules"]}
    assert {
        "node-cpu-high",
        "node-memory-high",
        "node-disk-high",
        "service-below-replicas",
        "certificate-expiring",
    } <= set(rules)
    thresholds = {
        uid: rule["data"][2]["model"]["conditions"][0]["evaluator"]["params"][0]
        for uid, rule in rules.items()
    }
    alerts = CONFIG.cluster.alerts
    assert thresholds["node-cpu-high"] == alerts.cpu_percent
    assert thresholds["node-disk-high"] == alerts.disk_percent
    # The webhook URL is read from a file when Grafana provisions: never in the file itself.
    assert "discord.com/api/webhooks" not in files[ALERTING]


def test_every_backup_service_has_its_failed_and_missing_alerts(stacks):
    files, _ = grafana_files(stacks)
    document = yaml.safe_load(files[ALERTING])
    rules = {r["uid"]: r for g in document["groups"] for r in g["rules"]}
    backups = sorted(
        s["name"]
        for document in stacks.values()
        for s in resources(document, "docker_service").values()
        if s["name"].endswith("-backup")
    )
    assert backups, "no backup service synthesized"
    for service in backups:
        failed, missing = rules[f"{service}-failed"], rules[f"{service}-missing"]
        assert BACKUP_FAILED in failed["data"][0]["model"]["expr"]
        assert BACKUP_OK in missing["data"][0]["model"]["expr"]
        # A backup that never logs at all is missing, not fine.
        assert missing["noDataState"] == "Alerting"
        assert f'service="{service}"' in missing["data"][0]["model"]["expr"]
    assert {u.removesuffix("-failed") for u in rules if u.endswith("-failed")} == set(backups)


def test_paging_adds_a_contact_point_for_critical_alerts(synth_stack):
    from stacks.shared_services.grafana_alerting import alerting_file

    paged = yaml.safe_load(
        alerting_file(
            CONFIG.cluster.alerts.model_copy(update={"paging": True}),
            infrastructure_bucket="infrastructure",
            backups=["layer-1-backup"],
            discord_url_file="/run/secrets/d",
            paging_url_file="/run/secrets/p",
        )
    )
    assert {c["name"] for c in paged["contactPoints"]} == {"discord", "paging"}
    (page, rest) = paged["policies"][0]["routes"]
    assert page["receiver"] == "paging" and page["continue"] is True
    assert page["object_matchers"] == [["severity", "=", "critical"]]
    assert rest["receiver"] == "discord"


# --- logs --------------------------------------------------------------------------------


def test_every_service_labels_its_containers_with_stack_and_environment(stacks):
    for stack, document in stacks.items():
        environment = stack.removeprefix("platform-") if stack.startswith("platform-") else "shared"
        for service in resources(document, "docker_service").values():
            labels = {
                item["label"]: item["value"]
                for item in service["task_spec"]["container_spec"].get("labels", [])
            }
            assert labels == {"sprocket.stack": stack, "sprocket.environment": environment}, (
                stack,
                service["name"],
            )


def test_the_nodes_docker_writes_the_labels_the_log_shipper_reads(stacks):
    assert DOCKER_DAEMON["log-opts"]["labels"].split(",") == list(LOG_LABELS)
    layer_2 = stacks["layer_2"]
    shipper = services(layer_2)["log-shipper"]
    conf = tomllib.loads(config_content(layer_2, shipper, SHIPPER_CONFIG))
    (tail,) = conf["inputs"]["tail"]
    (parser,) = tail["json_v2"]
    paths = {t["rename"]: t["path"] for t in parser["tag"]}
    for label, loki in LOG_LABELS.items():
        assert paths[loki] == "attrs." + label.replace(".", "\\.")
    # No per-container label: Loki's streams are per service, not per container.
    assert tail["path_tag"] == ""
    assert "container_id" not in paths
    (loki,) = conf["outputs"]["loki"]
    assert loki["domain"] == "http://loki:3100" and loki["metric_name_label"] == ""
    # A new container's first lines are read, not skipped.
    assert tail["initial_read_offset"] == "saved-or-beginning"


def test_the_log_shipper_reads_the_logs_read_only_and_runs_on_every_node(stacks):
    layer_2 = stacks["layer_2"]
    shipper = services(layer_2)["log-shipper"]
    assert shipper["mode"]["global"] is True
    mounts = {m["target"]: m for m in shipper["task_spec"]["container_spec"]["mounts"]}
    assert mounts["/var/lib/docker/containers"]["read_only"] is True
    assert mounts["/var/lib/docker/containers"]["type"] == "bind"
    assert "secrets" not in shipper["task_spec"]["container_spec"]


def test_loki_keeps_vaults_audit_stream_longer_than_the_rest(stacks):
    layer_2 = stacks["layer_2"]
    loki = services(layer_2)["loki"]
    config = yaml.safe_load(config_content(layer_2, loki, "/etc/loki/config.yaml"))
    limits = config["limits_config"]
    assert limits["retention_period"] == "168h"
    (stream,) = limits["retention_stream"]
    assert stream["selector"] == '{service="vault"}' and stream["period"] == "2160h"
    assert config["compactor"]["retention_enabled"] is True


# --- metrics -----------------------------------------------------------------------------


def test_telegraf_scrapes_traefik_and_checks_every_public_certificate(stacks):
    layer_2 = stacks["layer_2"]
    telegraf = services(layer_2)["telegraf"]
    conf = tomllib.loads(config_content(layer_2, telegraf, "/etc/telegraf/telegraf.conf"))
    (prometheus,) = conf["inputs"]["prometheus"]
    assert prometheus == {"urls": ["http://traefik:8083/metrics"], "metric_version": 2}
    (certificates,) = conf["inputs"]["x509_cert"]
    hosts = {s.removeprefix("https://").removesuffix(":443") for s in certificates["sources"]}
    assert CONFIG.cluster.host("grafana") in hosts and CONFIG.cluster.host("vault") in hosts
    (docker,) = conf["inputs"]["docker"]
    assert set(docker["docker_label_include"]) == set(LOG_LABELS)
    # Traefik's metrics are on its network: Telegraf joins it.
    networks = {n["name"] for n in telegraf["task_spec"]["networks_advanced"]}
    assert any("docker_network" in n for n in networks) and len(networks) == 3
    env = {**telegraf["task_spec"]["container_spec"]["env"]}
    assert env["HOST_MOUNT_PREFIX"] == "/hostfs"


def test_changing_a_threshold_changes_only_that_rule(stacks):
    from stacks.shared_services.grafana_alerting import infrastructure_rules

    alerts = CONFIG.cluster.alerts
    before = {r["uid"]: r for r in infrastructure_rules(alerts, "b")}
    after = {
        r["uid"]: r
        for r in infrastructure_rules(alerts.model_copy(update={"cpu_percent": 55}), "b")
    }
    changed = {uid for uid in before if before[uid] != after[uid]}
    assert changed == {"node-cpu-high"}
    assert copy.deepcopy(after["node-cpu-high"])["data"][2]["model"]["conditions"][0]["evaluator"][
        "params"
    ] == [55]


# The options each plugin of the log shipper reads, as influxdata/telegraf v1.39.3 declares them
# (the newest release whose source could be read here; an option no plugin reads stops
# Telegraf at start, config/config.go:726). Telegraf itself cannot run here: this is the
# program's schema, not the program.
TELEGRAF_OPTIONS = {
    # config/config.go:184-284 (AgentConfig; untagged fields are read in snake case)
    "agent": {"interval", "flush_interval", "omit_hostname", "statefile", "round_interval"},
    # plugins/inputs/tail/tail.go:40-62, plus the parser's data_format (config.go:1115)
    "tail": {
        "files", "initial_read_offset", "pipe", "watch_method", "max_undelivered_lines",
        "character_encoding", "path_tag", "filters", "multiline", "data_format", "json_v2",
    },
    # plugins/parsers/json_v2/parser.go:46-65
    "json_v2": {
        "measurement_name", "measurement_name_path", "timestamp_path", "timestamp_format",
        "timestamp_timezone", "field", "tag", "object",
    },
    "json_v2.value": {"path", "type", "rename", "optional"},
    # plugins/processors/strings/strings.go:15-52, and every plugin's namepass (config.go:1621)
    "strings": {
        "lowercase", "uppercase", "titlecase", "trim", "trim_left", "trim_right", "trim_prefix",
        "trim_suffix", "replace", "left", "namepass",
    },
    "strings.converter": {"field", "field_key", "tag", "tag_key", "measurement", "dest", "cutset"},
    # plugins/outputs/loki/loki.go:37-50, and namepass
    "loki": {
        "domain", "endpoint", "timeout", "username", "password", "http_headers", "client_id",
        "client_secret", "token_url", "scopes", "gzip_request", "metric_name_label",
        "sanitize_label_names", "namepass",
    },
}  # fmt: skip


def _unknown(options: dict, known: str) -> set[str]:
    return set(options) - TELEGRAF_OPTIONS[known]


def test_the_log_shippers_options_are_all_ones_telegraf_reads(stacks):
    layer_2 = stacks["layer_2"]
    conf = tomllib.loads(config_content(layer_2, services(layer_2)["log-shipper"], SHIPPER_CONFIG))
    assert set(conf) == {"agent", "inputs", "processors", "outputs"}
    problems = _unknown(conf["agent"], "agent")
    (tail,) = conf["inputs"]["tail"]
    problems |= _unknown(tail, "tail")
    for parser in tail["json_v2"]:
        problems |= _unknown(parser, "json_v2")
        for value in (*parser["tag"], *parser["field"]):
            problems |= _unknown(value, "json_v2.value")
    for strings in conf["processors"]["strings"]:
        problems |= _unknown(strings, "strings")
        for converter in strings["trim_right"]:
            problems |= _unknown(converter, "strings.converter")
    for loki in conf["outputs"]["loki"]:
        problems |= _unknown(loki, "loki")
    assert problems == set()
    # The option Telegraf 1.40 removed (master 45fc8050a9) is not used.
    assert "from_beginning" not in tail


def test_the_option_check_catches_an_option_telegraf_does_not_read():
    assert _unknown({"files": [], "from_the_start": True}, "tail") == {"from_the_start"}


def test_running_below_desired_is_counted_in_floats_not_unsigned_integers(stacks):
    # Telegraf's tasks_desired and tasks_running are uint64: desired - running with one task
    # too many (a start-first update) would wrap round to 2^64 and alert.
    files, _ = grafana_files(stacks)
    document = yaml.safe_load(files[ALERTING])
    (rule,) = [
        r for g in document["groups"] for r in g["rules"] if r["uid"] == "service-below-replicas"
    ]
    query = rule["data"][0]["model"]["query"]
    assert "float(v: r.tasks_desired) - float(v: r.tasks_running)" in query
    services_dashboard = json.loads(files["/etc/grafana/dashboards/services.json"])
    assert (
        "float(v: r.tasks_desired) - float(v: r.tasks_running)"
        in (services_dashboard["panels"][0]["targets"][0]["query"])
    )
