"""Loki, the log store Grafana reads.

Creates the ``loki`` service on the monitoring network: single-node, filesystem storage,
seven days' retention enforced by its compactor (90 for Vault's audit log), no
authentication (only the monitoring network reaches it) and no usage reporting. Its chunks
and index live in the node-local volume ``loki-data``, which removing the service leaves
behind.

    loki = Loki(self, "loki", LokiProps(image=images.loki, network=monitoring.ref))
    loki.endpoint.url  # "http://loki:3100", Grafana's data source and Gatus's probe
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_service import (
    ConfigFile,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.shared_services.common import yaml_document

PORT = 3100
RETENTION_H = 7 * 24
# Vault's audit log (its stdout, service "vault") is kept longer: who read which secret is
# asked for long after a week. Loki's volume is backed up daily (constructs_lib/volume_backup.py).
AUDIT_RETENTION_H = 90 * 24
AUDIT_SELECTOR = '{service="vault"}'


@dataclass(frozen=True, kw_only=True)
class LokiEndpoint:
    """Where Loki answers on the monitoring network."""

    url: str


@dataclass(frozen=True, kw_only=True)
class LokiProps:
    image: str
    # The network Loki's readers share with it (monitoring-network).
    network: NetworkRef


def loki_config(*, retention_h: int = RETENTION_H) -> str:
    return yaml_document(
        {
            "auth_enabled": False,
            "server": {"http_listen_port": PORT, "grpc_listen_port": 9096},
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
            "limits_config": {
                "retention_period": f"{retention_h}h",
                # Per-stream retention (Loki docs, "Log retention": retention_stream).
                "retention_stream": [
                    {"selector": AUDIT_SELECTOR, "priority": 1, "period": f"{AUDIT_RETENTION_H}h"}
                ],
            },
            "analytics": {"reporting_enabled": False},
        }
    )


class Loki(Construct):
    def __init__(self, scope: Construct, id: str, props: LokiProps) -> None:
        super().__init__(scope, id)
        self.endpoint = LokiEndpoint(url=f"http://loki:{PORT}")
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="loki",
                image=props.image,
                args=["-config.file=/etc/loki/config.yaml"],
                networks=[props.network],
                config_files=[ConfigFile(target="/etc/loki/config.yaml", content=loki_config())],
                volumes=[VolumeMount(name="data", target="/loki")],
                memory_limit_mib=512,
                cpu_limit=0.5,
                update_order=UpdateOrder.STOP_FIRST,
                # The image has no shell or HTTP client for a healthcheck; Gatus probes /ready.
            ),
        )
