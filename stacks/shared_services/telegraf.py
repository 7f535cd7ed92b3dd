"""Telegraf on every node, with a read-only Docker API of its own.

Creates ``telegraf`` in global mode (one task per node) on the monitoring network and the
metrics socket network: host metrics from the node's ``/proc`` and ``/sys`` (bind-mounted
read-only) and container metrics from ``metrics-socket-proxy``, a socket proxy that opens
only the read-only API sections Telegraf's docker input reads and is reachable only on the
metrics socket network. Everything is written to InfluxDB's infrastructure bucket with
InfluxDB's token, read from Telegraf's Docker secret store. Nothing here keeps state.

    Telegraf(self, "telegraf", TelegrafProps(
        image=images.telegraf, socket_proxy_image=images.socket_proxy,
        monitoring=monitoring.ref, socket_network=metrics_socket.ref,
        influxdb=influxdb.endpoint))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import tomli_w
from constructs import Construct

from constructs_lib.docker_socket_proxy import DockerSocketProxy, DockerSocketProxyProps
from constructs_lib.log_labels import LOG_LABELS
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_service import BindMount, ConfigFile, SwarmService, SwarmServiceProps
from stacks.shared_services.common import SECRETS
from stacks.shared_services.influxdb import InfluxDbEndpoint

# Group that may read the secrets of images whose user id is not fixed (Telegraf's).
SECRET_READER_GID = "2000"
# Telegraf's secret store wants names of letters, digits and '_'.
TOKEN_SECRET = "influx_token"


@dataclass(frozen=True, kw_only=True)
class TelegrafProps:
    image: str
    socket_proxy_image: str
    # The network InfluxDB answers on.
    monitoring: NetworkRef
    # An internal network for Telegraf and its socket proxy only; nothing else may join it.
    socket_network: NetworkRef
    influxdb: InfluxDbEndpoint
    # Traefik's metrics endpoint, and the network it answers on (Traefik's and Telegraf's only).
    traefik_metrics_url: str
    traefik_metrics: NetworkRef
    # Public host names whose certificates are checked.
    public_hosts: Sequence[str]


def telegraf_conf(
    *,
    influx_url: str,
    organization: str,
    bucket: str,
    token_secret: str,
    docker_endpoint: str,
    traefik_metrics_url: str,
    certificate_sources: Sequence[str],
) -> str:
    """Host and container metrics to InfluxDB; the token comes from Telegraf's Docker
    secret store (a file under /run/secrets), never from this file or the environment."""
    config = {
        "agent": {"interval": "10s", "flush_interval": "10s", "omit_hostname": False},
        # Telegraf's TOML arrays of tables ([[...]]) are lists of dicts here.
        "secretstores": {"docker": [{"id": "docker_secrets"}]},
        "outputs": {
            "influxdb_v2": [
                {
                    "urls": [influx_url],
                    # A secret-store reference, @{store_id:secret}, resolved by Telegraf.
                    "token": f"@{{docker_secrets:{token_secret}}}",
                    "organization": organization,
                    "bucket": bucket,
                }
            ]
        },
        "inputs": {
            "cpu": [{"percpu": False, "totalcpu": True}],
            "mem": [{}],
            "swap": [{}],
            "system": [{}],
            "disk": [{"ignore_fs": ["tmpfs", "devtmpfs", "overlay", "squashfs"]}],
            "diskio": [{}],
            "net": [{}],
            "docker": [
                {
                    "endpoint": docker_endpoint,
                    "gather_services": True,
                    "timeout": "5s",
                    # The containers' labels that say whose they are, as tags
                    # (plugins/inputs/docker/sample.conf: docker_label_include).
                    "docker_label_include": sorted(LOG_LABELS),
                }
            ],
            # Traefik's Prometheus endpoint (metric_version 2: measurement "prometheus", one
            # field per metric; plugins/parsers/prometheus/metric_v2.go).
            "prometheus": [{"urls": [traefik_metrics_url], "metric_version": 2}],
            # Every public host's certificate, as the internet sees it: "expiry" is the
            # seconds left (plugins/inputs/x509_cert/README.md).
            "x509_cert": [{"sources": list(certificate_sources), "timeout": "5s"}],
        },
    }
    return tomli_w.dumps(config)


class Telegraf(Construct):
    def __init__(self, scope: Construct, id: str, props: TelegrafProps) -> None:
        super().__init__(scope, id)
        proxy = DockerSocketProxy(
            self,
            "socket_proxy",
            DockerSocketProxyProps(
                name="metrics-socket-proxy",
                image=props.socket_proxy_image,
                network=props.socket_network,
                # What Telegraf's docker input reads: containers (with stats), info, services.
                allow=frozenset({"CONTAINERS", "INFO", "SERVICES", "TASKS", "NODES"}),
            ),
        )
        influxdb = props.influxdb
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="telegraf",
                image=props.image,
                global_mode=True,
                networks=[props.monitoring, props.socket_network, props.traefik_metrics],
                # The node's own view, not the container's: its root read-only at /hostfs
                # (plugins/inputs/disk/README.md, "Docker container").
                env={
                    "HOST_MOUNT_PREFIX": "/hostfs",
                    "HOST_ETC": "/hostfs/etc",
                    "HOST_PROC": "/hostfs/proc",
                    "HOST_SYS": "/hostfs/sys",
                },
                hostname="{{.Node.Hostname}}",
                config_files=[
                    ConfigFile(
                        target="/etc/telegraf/telegraf.conf",
                        content=telegraf_conf(
                            influx_url=influxdb.url,
                            organization=influxdb.organization,
                            bucket=influxdb.infrastructure_bucket,
                            token_secret=TOKEN_SECRET,
                            docker_endpoint=proxy.endpoint,
                            traefik_metrics_url=props.traefik_metrics_url,
                            certificate_sources=[f"https://{h}:443" for h in props.public_hosts],
                        ),
                    )
                ],
                secret_files=[
                    influxdb.token.file(
                        f"{SECRETS}/{TOKEN_SECRET}", mode=0o440, gid=SECRET_READER_GID
                    )
                ],
                # The image drops to a "telegraf" user whose id is not fixed; this group keeps
                # the token readable to it without making the file world-readable.
                groups=[SECRET_READER_GID],
                binds=[BindMount(source="/", target="/hostfs")],
                memory_limit_mib=128,
                cpu_limit=0.25,
            ),
        )
