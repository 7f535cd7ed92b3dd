"""Grafana's alert rules, contact points and notification policy, as code.

One provisioning file (Grafana's alerting file provisioning, format v1): the rules the
architecture names (a node's CPU above its limit, memory, disk, a service below its replicas,
a certificate about to expire) and, for every stack's backup, "failed" and "missing" rules
read from the backup's own log lines in Loki. Every alert goes to Discord; with
``alerts.paging`` set, critical ones also go to a paging webhook. The webhook URLs are read
from Swarm secret files when Grafana provisions (``$__file{...}``, Grafana's file expander in
provisioning values): neither is in this file.

    alerting_file(AlertsConfig(), infrastructure_bucket="infrastructure",
                  backups=["layer-1-backup"], discord_url_file="/run/secrets/...")
"""

from __future__ import annotations

from collections.abc import Sequence

from stacks.config import AlertsConfig
from stacks.shared_services.common import yaml_document
from stacks.shared_services.grafana_dashboards import FOLDER, INFLUXDB_UID, LOKI_UID, flux

DISCORD = "discord"
PAGING = "paging"
EXPRESSION = "__expr__"
# The backup script's outcome lines (constructs_lib/assets/sprocket-backup.sh).
BACKUP_OK = "sprocket-backup: run ok"
BACKUP_FAILED = "sprocket-backup: run failed"


def _query(datasource: str, seconds: int, model: dict) -> dict:
    return {
        "refId": "A",
        "relativeTimeRange": {"from": seconds, "to": 0},
        "datasourceUid": datasource,
        "model": {"refId": "A", **model},
    }


def _rule(
    uid: str,
    title: str,
    query: dict,
    *,
    above: float | None = None,
    below: float | None = None,
    pending: str,
    severity: str,
    summary: str,
    no_data: str = "NoData",
) -> dict:
    """A rule: the query A, its last value per series B, and B against the limit (C)."""
    evaluator = (
        {"type": "gt", "params": [above]}
        if above is not None
        else {"type": "lt", "params": [below]}
    )
    return {
        "uid": uid,
        "title": title,
        "condition": "C",
        "data": [
            query,
            {
                "refId": "B",
                "datasourceUid": EXPRESSION,
                "model": {"refId": "B", "type": "reduce", "expression": "A", "reducer": "last"},
            },
            {
                "refId": "C",
                "datasourceUid": EXPRESSION,
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [{"evaluator": evaluator}],
                },
            },
        ],
        "noDataState": no_data,
        "execErrState": "Error",
        "for": pending,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
        "isPaused": False,
    }


def infrastructure_rules(alerts: AlertsConfig, bucket: str) -> list[dict]:
    def last_10_minutes(*filters: str, tail: str) -> dict:
        return _query(INFLUXDB_UID, 600, {"query": flux(bucket, *filters, tail=tail)})

    return [
        _rule(
            "node-cpu-high",
            "Node CPU high",
            last_10_minutes(
                'r._measurement == "cpu"',
                'r._field == "usage_idle"',
                'r.cpu == "cpu-total"',
                tail="  |> map(fn: (r) => ({r with _value: 100.0 - r._value}))\n"
                '  |> group(columns: ["host"])\n  |> mean()\n',
            ),
            above=alerts.cpu_percent,
            pending="10m",
            severity="warning",
            summary=f"{{{{ $labels.host }}}}: CPU above {alerts.cpu_percent} % for 10 minutes",
        ),
        _rule(
            "node-memory-high",
            "Node memory high",
            last_10_minutes(
                'r._measurement == "mem"',
                'r._field == "used_percent"',
                tail='  |> group(columns: ["host"])\n  |> mean()\n',
            ),
            above=alerts.memory_percent,
            pending="10m",
            severity="warning",
            summary=f"{{{{ $labels.host }}}}: memory above {alerts.memory_percent} %",
        ),
        _rule(
            "node-disk-high",
            "Node disk filling",
            last_10_minutes(
                'r._measurement == "disk"',
                'r._field == "used_percent"',
                tail='  |> group(columns: ["host", "path"])\n  |> last()\n',
            ),
            above=alerts.disk_percent,
            pending="5m",
            severity="critical",
            summary=f"{{{{ $labels.host }}}} {{{{ $labels.path }}}}: disk above "
            f"{alerts.disk_percent} %",
        ),
        _rule(
            "service-below-replicas",
            "Service below its replicas",
            last_10_minutes(
                'r._measurement == "docker_swarm"',
                '(r._field == "tasks_running" or r._field == "tasks_desired")',
                tail='  |> last()\n  |> group(columns: ["service_name"])\n'
                '  |> pivot(rowKey: ["service_name"], columnKey: ["_field"],'
                ' valueColumn: "_value")\n'
                "  |> map(fn: (r) => ({service_name: r.service_name,"
                # unsigned counts (plugins/inputs/docker/docker_test.go:744): subtracted as
                # floats, or one task too many during an update wraps round to 2^64
                " _value: float(v: r.tasks_desired) - float(v: r.tasks_running)}))\n",
            ),
            above=0,
            pending="5m",
            severity="critical",
            summary="{{ $labels.service_name }} runs fewer tasks than it should, for 5 minutes",
        ),
        _rule(
            "certificate-expiring",
            "Certificate expiring",
            _query(
                INFLUXDB_UID,
                3600,
                {
                    "query": flux(
                        bucket,
                        'r._measurement == "x509_cert"',
                        'r._field == "expiry"',
                        tail="  |> map(fn: (r) => ({r with _value:"
                        " float(v: r._value) / 86400.0}))\n"
                        '  |> group(columns: ["source"])\n  |> min()\n',
                    )
                },
            ),
            below=alerts.certificate_days,
            pending="1h",
            severity="critical",
            summary=f"{{{{ $labels.source }}}}: certificate expires in under "
            f"{alerts.certificate_days} days (Traefik renews at 30)",
        ),
    ]


def _backup_line_rule(service: str, kind: str, line: str, hours: int, **rule) -> dict:
    """A rule on the number of ``line`` log lines of ``service`` in the last ``hours``."""
    selector = f'{{service="{service}"}}'
    expr = f'sum(count_over_time({selector} |= "{line}" [{hours}h]))'
    query = _query(LOKI_UID, hours * 3600, {"expr": expr, "queryType": "instant"})
    return _rule(f"{service}-{kind}", f"Backup {kind}: {service}", query, **rule)


def backup_rules(backups: Sequence[str]) -> list[dict]:
    """Per backup service: a failed run in the last day, and no successful run in 26 hours
    (no log line at all counts as missing: noDataState Alerting)."""
    rules = []
    for service in sorted(backups):
        rules += [
            _backup_line_rule(
                service, "failed", BACKUP_FAILED, 25, above=0, pending="0s",
                severity="critical", no_data="OK",
                summary=f"{service}: the last daily backup failed (docs/runbook-restore.md)",
            ),
            _backup_line_rule(
                service, "missing", BACKUP_OK, 26, below=1, pending="1h",
                severity="critical", no_data="Alerting",
                summary=f"{service}: no successful backup in 26 hours",
            ),
        ]  # fmt: skip
    return rules


def alerting_file(
    alerts: AlertsConfig,
    *,
    infrastructure_bucket: str,
    backups: Sequence[str],
    discord_url_file: str,
    paging_url_file: str | None,
) -> str:
    receivers = [
        {
            "orgId": 1,
            "name": DISCORD,
            "receivers": [
                {
                    "uid": "discord",
                    "type": "discord",
                    "disableResolveMessage": False,
                    "settings": {"url": f"$__file{{{discord_url_file}}}"},
                }
            ],
        }
    ]
    routes: list[dict] = []
    if paging_url_file is not None:
        receivers.append(
            {
                "orgId": 1,
                "name": PAGING,
                "receivers": [
                    {
                        "uid": "paging",
                        "type": "webhook",
                        "disableResolveMessage": False,
                        "settings": {"url": f"$__file{{{paging_url_file}}}"},
                    }
                ],
            }
        )
        # Critical alerts page, and go on to Discord like every other alert.
        routes = [
            {
                "receiver": PAGING,
                "object_matchers": [["severity", "=", "critical"]],
                "continue": True,
            },
            {"receiver": DISCORD, "object_matchers": [["severity", "=~", ".+"]]},
        ]
    return yaml_document(
        {
            "apiVersion": 1,
            "contactPoints": receivers,
            "policies": [
                {
                    "orgId": 1,
                    "receiver": DISCORD,
                    "group_by": ["grafana_folder", "alertname"],
                    "repeat_interval": "4h",
                    **({"routes": routes} if routes else {}),
                }
            ],
            "groups": [
                {
                    "orgId": 1,
                    "name": "infrastructure",
                    "folder": FOLDER,
                    "interval": "1m",
                    "rules": infrastructure_rules(alerts, infrastructure_bucket),
                },
                {
                    "orgId": 1,
                    "name": "backups",
                    "folder": FOLDER,
                    "interval": "5m",
                    "rules": backup_rules(backups),
                },
            ],
        }
    )
