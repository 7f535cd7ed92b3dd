"""Gatus, the uptime checks that alert on Discord.

Creates the ``gatus`` service on the ingress and monitoring networks, routed at
``gatus.<hostname>``, probing every ``Probe`` it is given every 30 seconds; the sensitive
variable ``gatus_discord_webhook_url`` (``TF_VAR_gatus_discord_webhook_url`` at deploy
time), which reaches Gatus only inside a Swarm secret, never in its endpoints file. Its
history lives in SQLite in the node-local volume ``gatus-data``, which outlives the service.

    Gatus(self, "gatus", GatusProps(
        image=images.gatus, host=cluster.host("gatus"), ingress=layer_1.ingress_network,
        monitoring=monitoring.ref,
        probes=[Probe(name="vault", group="layer_1", url="https://vault.example/v1/sys/health")]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.sensitive_input import SensitiveInput, SensitiveInputProps
from constructs_lib.swarm_secret import (
    SwarmSecret,
    SwarmSecretProps,
    json_value,
)
from constructs_lib.swarm_service import (
    ConfigFile,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.shared_services.common import admin_route, yaml_document

PORT = 8080
# Where our configuration files go (see the service below for why not /config).
CONFIG_DIR = "/etc/gatus"


@dataclass(frozen=True, kw_only=True)
class Probe:
    name: str
    group: str
    url: str
    # Default: healthy when the URL answers 200.
    conditions: Sequence[str] = ("[STATUS] == 200",)


@dataclass(frozen=True, kw_only=True)
class GatusProps:
    image: str
    # Public host name of the status page, routed through Traefik.
    host: str
    ingress: NetworkRef
    # The network the internal services it probes (Loki) answer on.
    monitoring: NetworkRef
    # Further networks whose datastores it probes (platform-network, Neo4j's).
    datastores: Sequence[NetworkRef] = ()
    probes: Sequence[Probe]


def gatus_config(probes: Sequence[Probe], *, interval_s: int = 30) -> str:
    """Gatus endpoints; alerting lives in a separate secret file that Gatus merges in."""
    return yaml_document(
        {
            "storage": {"type": "sqlite", "path": "/data/data.db"},
            "web": {"port": PORT},
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


class Gatus(Construct):
    def __init__(self, scope: Construct, id: str, props: GatusProps) -> None:
        super().__init__(scope, id)
        # The id is the variable's name, which operators set as TF_VAR_<name> (docs/secrets.md).
        webhook = SensitiveInput(
            self,
            "gatus_discord_webhook_url",
            SensitiveInputProps(description="Discord webhook Gatus posts alerts to"),
        )
        alerting = SwarmSecret(
            self,
            "alerting_secret",
            SwarmSecretProps(
                name="gatus-alerting",
                value=json_value(gatus_alerting(webhook.value)),
                version_marker=webhook.value,
            ),
        )
        route = admin_route(self, name="gatus", host=props.host, port=PORT, ingress=props.ingress)
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="gatus",
                image=props.image,
                networks=[props.ingress, props.monitoring, *props.datastores],
                # A directory: Gatus merges every YAML file in it (TwiN/gatus config/config.go
                # LoadConfiguration and walkConfigDir, lines 199-274 at 08c4635). Not /config:
                # the image ships its demo config.yaml there (Dockerfile:16), which would be
                # merged in and put example endpoints on the status page.
                env={"GATUS_CONFIG_PATH": CONFIG_DIR},
                config_files=[
                    ConfigFile(
                        target=f"{CONFIG_DIR}/endpoints.yaml", content=gatus_config(props.probes)
                    )
                ],
                secret_files=[alerting.file(f"{CONFIG_DIR}/alerting.yaml")],
                volumes=[VolumeMount(name="data", target="/data")],
                routes=[route],
                memory_limit_mib=128,
                cpu_limit=0.25,
                update_order=UpdateOrder.STOP_FIRST,
                # Built FROM scratch: nothing in the image can run a healthcheck.
            ),
        )
