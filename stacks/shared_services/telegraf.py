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

from dataclasses import dataclass

import tomli_w
from constructs import Construct

from constructs_lib.docker_socket_proxy import DockerSocketProxy, DockerSocketProxyProps
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


def telegraf_conf(
    *, influx_url: str, organization: str, bucket: str, token_secret: str, docker_endpoint: str
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
            "docker": [{"endpoint": docker_endpoint, "gather_services": True, "timeout": "5s"}],
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
                networks=[props.monitoring, props.socket_network],
                env={"HOST_PROC": "/host/proc", "HOST_SYS": "/host/sys"},
                config_files=[
                    ConfigFile(
                        target="/etc/telegraf/telegraf.conf",
                        content=telegraf_conf(
                            influx_url=influxdb.url,
                            organization=influxdb.organization,
                            bucket=influxdb.infrastructure_bucket,
                            token_secret=TOKEN_SECRET,
                            docker_endpoint=proxy.endpoint,
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
                binds=[
                    BindMount(source="/proc", target="/host/proc"),
                    BindMount(source="/sys", target="/host/sys"),
                ],
                memory_limit_mib=128,
                cpu_limit=0.25,
            ),
        )
