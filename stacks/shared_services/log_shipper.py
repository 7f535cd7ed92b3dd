"""The log shipper: every container's log lines, from every node, into Loki.

Creates ``log-shipper`` in global mode (one task per node) on the monitoring network: Telegraf
(the pinned image, a configuration of its own) tails the node's Docker json-file logs,
bind-mounted read-only from ``/var/lib/docker/containers``, and pushes each line to Loki
labelled ``stack``, ``environment``, ``service`` (the labels the nodes' Docker writes into
every line, ``constructs_lib/log_labels.py``), ``stream`` and ``host`` (the node). Where each
file was read up to is kept in the node-local volume ``log-shipper-state``, so a restarted
shipper neither loses nor repeats lines. Why this and not Docker's Loki driver:
docs/decisions/logs.md.

    LogShipper(self, "log_shipper", LogShipperProps(
        image=images.telegraf, monitoring=monitoring.ref, loki=loki.endpoint))
"""

from __future__ import annotations

from dataclasses import dataclass

import tomli_w
from constructs import Construct

from constructs_lib.log_labels import LOG_LABELS
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_service import (
    BindMount,
    ConfigFile,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.shared_services.loki import LokiEndpoint

CONFIG_PATH = "/etc/telegraf/log-shipper.conf"
STATE_DIR = "/var/lib/telegraf"
# Where Docker keeps each container's json-file log: <root>/containers/<id>/<id>-json.log
# (moby v28.2.2 container/container.go:454-461). Rotated files (-json.log.1) do not match.
CONTAINER_LOGS = "/var/lib/docker/containers"
MEASUREMENT = "docker_log"


@dataclass(frozen=True, kw_only=True)
class LogShipperProps:
    image: str
    # The network Loki answers on.
    monitoring: NetworkRef
    loki: LokiEndpoint


def _gjson_key(label: str) -> str:
    """A label key as a GJSON path element: dots escaped with a backslash (tidwall/gjson
    SYNTAX.md, "Escape character"), so attrs."sprocket.stack" is attrs.sprocket\\.stack."""
    return label.replace(".", "\\.")


def log_shipper_conf(*, loki_url: str) -> str:
    """Telegraf's configuration: tail the json-file logs, push them to Loki.

    Each option is one the pinned Telegraf reads (influxdata/telegraf v1.39.3, the newest
    release whose source could be read: plugins/inputs/tail/tail.go:40-62,
    plugins/parsers/json_v2/parser.go:46-65, plugins/processors/strings,
    plugins/outputs/loki/loki.go:37-50); an option no plugin reads stops Telegraf at start
    (config/config.go:726).
    """
    tags = [
        {"path": f"attrs.{_gjson_key(container)}", "rename": loki, "optional": True}
        for container, loki in sorted(LOG_LABELS.items())
    ]
    tags.append({"path": "stream", "rename": "stream", "optional": True})
    config = {
        "agent": {
            "interval": "5s",
            "flush_interval": "5s",
            # The node's name (the task's hostname is the node's) is the "host" label.
            "omit_hostname": False,
            # Where each file was read up to, across restarts (tail's saved offsets).
            "statefile": f"{STATE_DIR}/log-shipper.state",
        },
        "inputs": {
            "tail": [
                {
                    "files": [f"{CONTAINER_LOGS}/*/*-json.log"],
                    # A file with no saved offset (a new container) is read from its start,
                    # so no line before the shipper first sees the file is lost.
                    "initial_read_offset": "saved-or-beginning",
                    "watch_method": "inotify",
                    # No per-container "path" label: the container id is no label of ours.
                    "path_tag": "",
                    "data_format": "json_v2",
                    "json_v2": [
                        {
                            "measurement_name": MEASUREMENT,
                            "timestamp_path": "time",
                            "timestamp_format": "rfc3339nano",
                            "timestamp_timezone": "UTC",
                            "tag": tags,
                            "field": [{"path": "log", "rename": "message", "type": "string"}],
                        }
                    ],
                }
            ]
        },
        # Docker keeps each line's newline; trim_right without a cutset drops trailing
        # whitespace (plugins/processors/strings/strings.go:227-231).
        "processors": {
            "strings": [{"namepass": [MEASUREMENT], "trim_right": [{"field": "message"}]}]
        },
        "outputs": {
            "loki": [
                {
                    "domain": loki_url,
                    "namepass": [MEASUREMENT],
                    # No "__name" label: every stream is a log stream.
                    "metric_name_label": "",
                    "timeout": "10s",
                }
            ]
        },
    }
    return tomli_w.dumps(config)


class LogShipper(Construct):
    def __init__(self, scope: Construct, id: str, props: LogShipperProps) -> None:
        super().__init__(scope, id)
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="log-shipper",
                image=props.image,
                global_mode=True,
                # A command, not the image's entrypoint, which drops to the "telegraf" user:
                # Docker writes the logs root-only (mode 0640, root:root; moby v28.2.2
                # daemon/logger/jsonfilelog/jsonfilelog.go:107), so only root reads them.
                # Its mounts are read-only but for its own offsets.
                command=["telegraf", "--config", CONFIG_PATH],
                user="0:0",
                hostname="{{.Node.Hostname}}",
                networks=[props.monitoring],
                config_files=[
                    ConfigFile(
                        target=CONFIG_PATH, content=log_shipper_conf(loki_url=props.loki.url)
                    )
                ],
                binds=[BindMount(source=CONTAINER_LOGS, target=CONTAINER_LOGS)],
                volumes=[VolumeMount(name="state", target=STATE_DIR)],
                memory_limit_mib=128,
                cpu_limit=0.25,
                update_order=UpdateOrder.STOP_FIRST,
            ),
        )
