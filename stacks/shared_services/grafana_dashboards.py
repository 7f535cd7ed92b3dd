"""Grafana's dashboards, as code: nodes, services, Traefik, datastores, logs, business.

Each is a dashboard JSON document Grafana's file provisioning loads
(``/etc/grafana/dashboards``, ``DASHBOARD_PROVIDER``); they are read-only in Grafana
(``allowUiUpdates: false``): a change is a change here. Queries read what the stacks write:
Telegraf's host, container and Swarm metrics and Traefik's (``stacks/shared_services/
telegraf.py``, InfluxDB's infrastructure bucket), the log shipper's streams in Loki
(``stacks/shared_services/log_shipper.py``), and the points the applications' analytics
service writes to each environment's bucket (SprocketBot/sprocket@46d2b40
microservices/server-analytics-service/src/analytics/analytics.service.ts:44-58: the
measurement is the event's name, e.g. "scrimCreated", "commandRun").

    dashboards(infrastructure_bucket="infrastructure",
               environment_buckets={"main": "sprocket_main"})
    # {"nodes.json": "{...}", ...}
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from stacks.shared_services.common import yaml_document

INFLUXDB_UID = "influxdb"
LOKI_UID = "loki"
DASHBOARDS_DIR = "/etc/grafana/dashboards"
FOLDER = "Sprocket"
# Grafana 12's dashboard schema version (the pinned image's; provisioning does not check it).
SCHEMA_VERSION = 41
INFLUXDB = {"type": "influxdb", "uid": INFLUXDB_UID}
LOKI = {"type": "loki", "uid": LOKI_UID}
# The label Telegraf's docker input copies from each container (docker_label_include).
SERVICE_TAG = "com.docker.swarm.service.name"


def dashboard_provider() -> str:
    """The provisioning file that loads every dashboard in DASHBOARDS_DIR, read-only."""
    return yaml_document(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "sprocket",
                    "orgId": 1,
                    "folder": FOLDER,
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "updateIntervalSeconds": 60,
                    "options": {"path": DASHBOARDS_DIR},
                }
            ],
        }
    )


def flux(bucket: str, *filters: str, tail: str = "") -> str:
    """A Flux query over the dashboard's time range: ``filters`` ANDed, then ``tail``."""
    predicate = " and ".join(filters)
    query = (
        f'from(bucket: "{bucket}")\n'
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
        f"  |> filter(fn: (r) => {predicate})\n"
    )
    return query + (
        tail or "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n"
    )


def _panel(
    panel_id: int, title: str, datasource: dict, target: dict, *, unit: str = "short", kind: str
) -> dict:
    row, column = divmod(panel_id - 1, 2)
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "gridPos": {"h": 8, "w": 12, "x": 12 * column, "y": 8 * row},
        "datasource": datasource,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "datasource": datasource, **target}],
    }


def flux_panel(panel_id: int, title: str, query: str, *, unit: str = "short") -> dict:
    return _panel(panel_id, title, INFLUXDB, {"query": query}, unit=unit, kind="timeseries")


def loki_panel(panel_id: int, title: str, expr: str, *, kind: str = "timeseries") -> dict:
    return _panel(panel_id, title, LOKI, {"expr": expr, "queryType": "range"}, kind=kind)


def _dashboard(uid: str, title: str, panels: list[dict], variables: list[dict] = ()) -> str:
    return (
        json.dumps(
            {
                "uid": uid,
                "title": title,
                "tags": ["sprocket"],
                "schemaVersion": SCHEMA_VERSION,
                "editable": False,
                "time": {"from": "now-6h", "to": "now"},
                "refresh": "1m",
                "templating": {"list": list(variables)},
                "panels": panels,
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


def _nodes(bucket: str) -> str:
    return _dashboard(
        "sprocket-nodes",
        "Nodes",
        [
            flux_panel(
                1,
                "CPU used, by node",
                flux(
                    bucket,
                    'r._measurement == "cpu"',
                    'r._field == "usage_idle"',
                    'r.cpu == "cpu-total"',
                    tail="  |> map(fn: (r) => ({r with _value: 100.0 - r._value}))\n"
                    "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n",
                ),
                unit="percent",
            ),
            flux_panel(
                2,
                "Memory used, by node",
                flux(bucket, 'r._measurement == "mem"', 'r._field == "used_percent"'),
                unit="percent",
            ),
            flux_panel(
                3,
                "Disk used, by node and mount",
                flux(bucket, 'r._measurement == "disk"', 'r._field == "used_percent"'),
                unit="percent",
            ),
            flux_panel(
                4,
                "Load (5 min), by node",
                flux(bucket, 'r._measurement == "system"', 'r._field == "load5"'),
            ),
        ],
    )


def _services(bucket: str) -> str:
    return _dashboard(
        "sprocket-services",
        "Services",
        [
            flux_panel(
                1,
                "Tasks running below desired, by service",
                flux(
                    bucket,
                    'r._measurement == "docker_swarm"',
                    '(r._field == "tasks_running" or r._field == "tasks_desired")',
                    tail="  |> aggregateWindow(every: v.windowPeriod, fn: last,"
                    " createEmpty: false)\n"
                    '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
                    "  |> map(fn: (r) => ({_time: r._time, service: r.service_name,"
                    # unsigned counts: as floats, or an extra task wraps round
                    " _value: float(v: r.tasks_desired) - float(v: r.tasks_running)}))\n"
                    '  |> group(columns: ["service"])\n',
                ),
            ),
            flux_panel(
                2,
                "Container uptime, by service (a drop is a restart or an update)",
                flux(
                    bucket,
                    'r._measurement == "docker_container_status"',
                    'r._field == "uptime_ns"',
                    tail=f'  |> group(columns: ["{SERVICE_TAG}"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: min, createEmpty: false)\n",
                ),
                unit="ns",
            ),
            flux_panel(
                3,
                "Container CPU, by service",
                flux(
                    bucket,
                    'r._measurement == "docker_container_cpu"',
                    'r._field == "usage_percent"',
                    tail=f'  |> group(columns: ["{SERVICE_TAG}"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n",
                ),
                unit="percent",
            ),
            flux_panel(
                4,
                "Container memory (of its limit), by service",
                flux(
                    bucket,
                    'r._measurement == "docker_container_mem"',
                    'r._field == "usage_percent"',
                    tail=f'  |> group(columns: ["{SERVICE_TAG}"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)\n",
                ),
                unit="percent",
            ),
        ],
    )


def _traefik(bucket: str) -> str:
    # Telegraf's prometheus input, metric_version 2: measurement "prometheus", one field per
    # Prometheus metric (plugins/parsers/prometheus/metric_v2.go); Traefik's router metrics
    # carry "router" and "code" labels (constructs_lib/traefik_config.py).
    rate = (
        "  |> derivative(unit: 1s, nonNegative: true)\n"
        '  |> group(columns: ["router"])\n'
        "  |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false)\n"
    )
    return _dashboard(
        "sprocket-traefik",
        "Traefik",
        [
            flux_panel(
                1,
                "Requests per second, by router",
                flux(
                    bucket,
                    'r._measurement == "prometheus"',
                    'r._field == "traefik_router_requests_total"',
                    tail=rate,
                ),
                unit="reqps",
            ),
            flux_panel(
                2,
                "5xx responses per second, by router",
                flux(
                    bucket,
                    'r._measurement == "prometheus"',
                    'r._field == "traefik_router_requests_total"',
                    "r.code =~ /^5/",
                    tail=rate,
                ),
                unit="reqps",
            ),
            flux_panel(
                3,
                "Mean latency, by router",
                flux(
                    bucket,
                    'r._measurement == "prometheus"',
                    '(r._field == "traefik_router_request_duration_seconds_sum"'
                    ' or r._field == "traefik_router_request_duration_seconds_count")',
                    tail="  |> derivative(unit: 1s, nonNegative: true)\n"
                    '  |> group(columns: ["router", "_field"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false)\n"
                    '  |> pivot(rowKey: ["_time", "router"], columnKey: ["_field"],'
                    ' valueColumn: "_value")\n'
                    "  |> map(fn: (r) => ({_time: r._time, router: r.router, _value:"
                    " if r.traefik_router_request_duration_seconds_count > 0.0 then"
                    " r.traefik_router_request_duration_seconds_sum /"
                    " r.traefik_router_request_duration_seconds_count else 0.0}))\n"
                    '  |> group(columns: ["router"])\n',
                ),
                unit="s",
            ),
            flux_panel(
                4,
                "Certificate days left, by host",
                flux(
                    bucket,
                    'r._measurement == "x509_cert"',
                    'r._field == "expiry"',
                    tail="  |> map(fn: (r) => ({r with _value: float(v: r._value) / 86400.0}))\n"
                    '  |> group(columns: ["source"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: min, createEmpty: false)\n",
                ),
                unit="d",
            ),
        ],
    )


DATASTORE_SERVICES = r"/(redis|rabbitmq|dgraph|influxdb|loki|neo4j)/"


def _datastores(bucket: str) -> str:
    return _dashboard(
        "sprocket-datastores",
        "Datastores",
        [
            flux_panel(
                1,
                "Datastore memory (of its limit)",
                flux(
                    bucket,
                    'r._measurement == "docker_container_mem"',
                    'r._field == "usage_percent"',
                    f'r["{SERVICE_TAG}"] =~ {DATASTORE_SERVICES}',
                    tail=f'  |> group(columns: ["{SERVICE_TAG}"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)\n",
                ),
                unit="percent",
            ),
            flux_panel(
                2,
                "Datastore CPU",
                flux(
                    bucket,
                    'r._measurement == "docker_container_cpu"',
                    'r._field == "usage_percent"',
                    f'r["{SERVICE_TAG}"] =~ {DATASTORE_SERVICES}',
                    tail=f'  |> group(columns: ["{SERVICE_TAG}"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n",
                ),
                unit="percent",
            ),
            flux_panel(
                3,
                "Volume node disk used",
                flux(
                    bucket,
                    'r._measurement == "disk"',
                    'r._field == "used_percent"',
                    'r.path == "/var/lib/docker"',
                ),
                unit="percent",
            ),
            loki_panel(
                4,
                "Datastore errors and warnings",
                '{service=~".*(redis|rabbitmq|dgraph|influxdb|loki|neo4j).*"}'
                ' |~ "(?i)(error|warn|fatal)"',
                kind="logs",
            ),
        ],
    )


def _logs() -> str:
    return _dashboard(
        "sprocket-logs",
        "Logs",
        [
            loki_panel(
                1,
                "Log lines per minute, by service",
                'sum by (service) (count_over_time({environment=~"$environment"} [1m]))',
            ),
            loki_panel(
                2,
                "Errors, by service",
                'sum by (service) (count_over_time({environment=~"$environment"}'
                ' |~ "(?i)(error|exception|fatal)" [5m]))',
            ),
            loki_panel(
                3,
                "Error lines",
                '{environment=~"$environment"} |~ "(?i)(error|exception|fatal)"',
                kind="logs",
            ),
            loki_panel(4, "Backups", '{service=~".+-backup"} |= "sprocket-backup:"', kind="logs"),
        ],
        [
            {
                "name": "environment",
                "type": "query",
                "datasource": LOKI,
                "query": {"label": "environment", "refId": "A", "type": 1},
                "includeAll": True,
                "multi": True,
                "allValue": ".+",
            }
        ],
    )


def _business(environment_buckets: Mapping[str, str]) -> str:
    bucket = "${bucket}"
    counted = (
        '  |> group(columns: ["_measurement"])\n'
        "  |> aggregateWindow(every: 1h, fn: count, createEmpty: false)\n"
    )
    scrims = " or ".join(
        f'r._measurement == "{m}"'
        for m in ("scrimCreated", "scrimPopped", "scrimComplete", "scrimCancelled")
    )
    return _dashboard(
        "sprocket-business",
        "Sprocket activity",
        [
            flux_panel(1, "Scrims per hour", flux(bucket, f"({scrims})", tail=counted)),
            flux_panel(
                2,
                "Bot commands per hour, by command",
                flux(
                    bucket,
                    'r._measurement == "commandRun"',
                    'r._field == "duration"',
                    tail='  |> group(columns: ["command_name"])\n'
                    "  |> aggregateWindow(every: 1h, fn: count, createEmpty: false)\n",
                ),
            ),
            flux_panel(
                3,
                "Bot command duration, by command",
                flux(
                    bucket,
                    'r._measurement == "commandRun"',
                    'r._field == "duration"',
                    tail='  |> group(columns: ["command_name"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n",
                ),
                unit="ms",
            ),
            flux_panel(
                4,
                "Jobs completed per day",
                flux(
                    bucket,
                    '(r._measurement == "elo_job_completed" or'
                    ' r._measurement == "weekly_salaries_job")',
                    tail='  |> group(columns: ["_measurement"])\n'
                    "  |> aggregateWindow(every: 1d, fn: count, createEmpty: false)\n",
                ),
            ),
        ],
        [
            {
                "name": "bucket",
                "label": "environment",
                "type": "custom",
                "query": ",".join(f"{env} : {b}" for env, b in sorted(environment_buckets.items())),
                "options": [
                    {"text": env, "value": b, "selected": i == 0}
                    for i, (env, b) in enumerate(sorted(environment_buckets.items()))
                ],
                "current": {
                    "text": min(environment_buckets),
                    "value": environment_buckets[min(environment_buckets)],
                },
            }
        ],
    )


def dashboards(
    *, infrastructure_bucket: str, environment_buckets: Mapping[str, str]
) -> dict[str, str]:
    """Every dashboard, by file name."""
    return {
        "nodes.json": _nodes(infrastructure_bucket),
        "services.json": _services(infrastructure_bucket),
        "traefik.json": _traefik(infrastructure_bucket),
        "datastores.json": _datastores(infrastructure_bucket),
        "logs.json": _logs(),
        "business.json": _business(environment_buckets),
    }
