"""Configuration files of the layer_2 data services, rendered by pure functions.

Nothing here holds a secret: where a file needs one, the function either refers to
the secret's file (``include``, ``$__file{}``, ``@{store:key}``) or takes the secret as
an argument that the caller passes as a Terraform expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

REDIS_PORT = 6379
RABBITMQ_PORT = 5672
RABBITMQ_MANAGEMENT_PORT = 15672
INFLUXDB_PORT = 8086
GRAFANA_PORT = 3000
N8N_PORT = 5678
NEO4J_HTTP_PORT = 7474
NEO4J_BOLT_PORT = 7687
GATUS_PORT = 8080
LOKI_PORT = 3100
INFLUX_ORG = "sprocket"
INFLUX_RETENTION = "30d"
# Telegraf's host and container metrics, shared by every environment.
INFRASTRUCTURE_BUCKET = "infrastructure"
LOKI_RETENTION_H = 7 * 24


def _yaml(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def bucket_name(environment: str) -> str:
    return f"sprocket_{environment}"


def redis_conf(*, maxmemory_mib: int, auth_include: str) -> str:
    """redis.conf with RDB snapshots and the append-only file; the password comes last,
    from an included secret file, since Redis keeps the last value of a directive."""
    return "\n".join(
        [
            "bind 0.0.0.0",
            "protected-mode yes",
            f"port {REDIS_PORT}",
            "dir /data",
            "# RDB: snapshot after 1 change in 15 min, 10 in 5 min, 10000 in 1 min.",
            "save 900 1 300 10 60 10000",
            "appendonly yes",
            "appendfsync everysec",
            f"maxmemory {maxmemory_mib}mb",
            # Queues and matchmaking state live here too: refuse writes rather than evict.
            "maxmemory-policy noeviction",
            f"include {auth_include}",
            "",
        ]
    )


def rabbitmq_conf(*, definitions_path: str, memory_limit_mib: int) -> str:
    """rabbitmq.conf additions: users, vhosts and permissions come from the definitions file
    (so no default or guest user is ever created).

    The applications declare non-durable, non-exclusive queues (SprocketBot/sprocket
    common/src/events/rmq.service.ts:71, and Celery 5.5's worker control queue), which
    RabbitMQ 4.3 refuses by default ("Deprecated Features are Now Disabled by Default",
    release-notes/4.3.0.md:23-45): they are permitted here until the applications change.
    The memory alarm is set below the container's limit, which RabbitMQ does not read."""
    return "\n".join(
        [
            f"load_definitions = {definitions_path}",
            "loopback_users.guest = true",
            f"listeners.tcp.default = {RABBITMQ_PORT}",
            f"management.tcp.port = {RABBITMQ_MANAGEMENT_PORT}",
            "deprecated_features.permit.transient_nonexcl_queues = true",
            f"vm_memory_high_watermark.absolute = {memory_limit_mib * 1024 * 1024 * 6 // 10}",
            "",
        ]
    )


@dataclass(frozen=True, kw_only=True)
class RabbitUser:
    name: str
    # A Terraform expression of the generated password.
    password: str
    # Virtual hosts this user may use (configure, write, read on everything in them).
    vhosts: Sequence[str]
    administrator: bool = False


def rabbitmq_definitions(users: Sequence[RabbitUser], vhosts: Sequence[str]) -> dict:
    """RabbitMQ definitions (to be written as JSON); RabbitMQ hashes the passwords on import."""
    return {
        "users": [
            {
                "name": u.name,
                "password": u.password,
                "tags": ["administrator"] if u.administrator else [],
            }
            for u in users
        ],
        "vhosts": [{"name": v} for v in sorted(vhosts)],
        "permissions": [
            {"user": u.name, "vhost": v, "configure": ".*", "write": ".*", "read": ".*"}
            for u in users
            for v in sorted(u.vhosts)
        ],
    }


def influxdb_buckets_script(environments: Sequence[str], *, token_file: str) -> str:
    """A loop that keeps one bucket per environment in InfluxDB (30-day retention), creating
    any that is missing: InfluxDB's own setup makes only one bucket, and only once, so an
    environment added later gets its bucket here. The token is read from its secret file into
    the process environment; it is never printed or put on a command line."""
    buckets = " ".join(bucket_name(env) for env in sorted(environments))
    return f"""#!/bin/sh
set -u
INFLUX_TOKEN="$(cat {token_file})"
export INFLUX_TOKEN
while :; do
  for bucket in {buckets}; do
    if ! influx bucket list --org {INFLUX_ORG} --name "$bucket" >/dev/null 2>&1; then
      if influx bucket create --org {INFLUX_ORG} --name "$bucket" --retention {INFLUX_RETENTION} \\
          >/dev/null 2>&1; then
        echo "created bucket $bucket"
      else
        echo "could not create bucket $bucket; will retry"
      fi
    fi
  done
  [ "${{RUN_ONCE:-0}}" = "1" ] && exit 0
  sleep "${{CHECK_INTERVAL_S:-300}}"
done
"""


def grafana_datasources(*, influx_token_file: str, default_bucket: str) -> str:
    return _yaml(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "InfluxDB",
                    "type": "influxdb",
                    "access": "proxy",
                    "url": f"http://influxdb:{INFLUXDB_PORT}",
                    "isDefault": True,
                    "jsonData": {
                        "version": "Flux",
                        "organization": INFLUX_ORG,
                        "defaultBucket": default_bucket,
                    },
                    # Grafana reads the file when it provisions; the token is never in here.
                    "secureJsonData": {"token": f"$__file{{{influx_token_file}}}"},
                },
                {
                    "name": "Loki",
                    "type": "loki",
                    "access": "proxy",
                    "url": f"http://loki:{LOKI_PORT}",
                },
            ],
        }
    )


def loki_config(*, retention_h: int = LOKI_RETENTION_H) -> str:
    return _yaml(
        {
            "auth_enabled": False,
            "server": {"http_listen_port": LOKI_PORT, "grpc_listen_port": 9096},
            "common": {
                "instance_addr": "127.0.0.1",
                "path_prefix": "/loki",
                "storage": {
                    "filesystem": {
                        "chunks_directory": "/loki/chunks",
                        "rules_directory": "/loki/rules",
                    }
                },
                "replication_factor": 1,
                "ring": {"kvstore": {"store": "inmemory"}},
            },
            "schema_config": {
                "configs": [
                    {
                        "from": "2024-01-01",
                        "store": "tsdb",
                        "object_store": "filesystem",
                        "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            "compactor": {
                "working_directory": "/loki/compactor",
                "compaction_interval": "10m",
                "retention_enabled": True,
                "retention_delete_delay": "2h",
                # Loki 3 refuses retention without somewhere to keep delete requests.
                "delete_request_store": "filesystem",
            },
            "limits_config": {"retention_period": f"{retention_h}h"},
            "analytics": {"reporting_enabled": False},
        }
    )


def telegraf_conf(*, docker_endpoint: str, token_secret: str, bucket: str) -> str:
    """Host and container metrics to InfluxDB; the token comes from Telegraf's Docker
    secret store (a file under /run/secrets), never from this file or the environment."""
    return "\n".join(
        [
            "[agent]",
            '  interval = "10s"',
            '  flush_interval = "10s"',
            "  omit_hostname = false",
            "",
            "[[secretstores.docker]]",
            '  id = "docker_secrets"',
            "",
            "[[outputs.influxdb_v2]]",
            f'  urls = ["http://influxdb:{INFLUXDB_PORT}"]',
            f'  token = "@{{docker_secrets:{token_secret}}}"',
            f'  organization = "{INFLUX_ORG}"',
            f'  bucket = "{bucket}"',
            "",
            "[[inputs.cpu]]",
            "  percpu = false",
            "  totalcpu = true",
            "[[inputs.mem]]",
            "[[inputs.swap]]",
            "[[inputs.system]]",
            "[[inputs.disk]]",
            '  ignore_fs = ["tmpfs", "devtmpfs", "overlay", "squashfs"]',
            "[[inputs.diskio]]",
            "[[inputs.net]]",
            "",
            "[[inputs.docker]]",
            f'  endpoint = "{docker_endpoint}"',
            "  gather_services = true",
            '  timeout = "5s"',
            "",
        ]
    )


@dataclass(frozen=True, kw_only=True)
class Probe:
    name: str
    group: str
    url: str
    conditions: Sequence[str] = ("[STATUS] == 200",)


def gatus_config(probes: Sequence[Probe], *, interval_s: int = 30) -> str:
    """Gatus endpoints; alerting lives in a separate secret file that Gatus merges in."""
    return _yaml(
        {
            "storage": {"type": "sqlite", "path": "/data/data.db"},
            "web": {"port": GATUS_PORT},
            "endpoints": [
                {
                    "name": p.name,
                    "group": p.group,
                    "url": p.url,
                    "interval": f"{interval_s}s",
                    "conditions": list(p.conditions),
                    "alerts": [
                        {
                            "type": "discord",
                            "enabled": True,
                            "failure-threshold": 3,
                            "success-threshold": 2,
                            "send-on-resolved": True,
                        }
                    ],
                }
                for p in probes
            ],
        }
    )


def gatus_alerting(webhook_url: str) -> dict:
    """The alerting part of Gatus's configuration (written as JSON, which YAML accepts)."""
    return {"alerting": {"discord": {"webhook-url": webhook_url}}}
