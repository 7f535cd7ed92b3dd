"""The cloud firewall in front of every Swarm node.

Creates one ``digitalocean_firewall`` applied by droplet tag, so a new node is
covered the moment it is tagged. Inbound: HTTP and HTTPS from anywhere; the deploy
tunnel's WireGuard port from anywhere (deploys and operators reach SSH and the Docker
API only through it: docs/decisions/deploy-path.md); SSH only from the admin networks,
for break-glass access; Swarm's own ports only from other tagged nodes; nothing else.
Outbound: open, as the architecture specifies for now.

    DropletFirewall(self, "firewall", DropletFirewallProps(
        name="sprocket-swarm", droplet_tag="sprocket-swarm", tunnel_port=51820,
        admin_ssh_cidrs=["203.0.113.0/24"]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktf_cdktf_provider_digitalocean.firewall import (
    Firewall,
    FirewallInboundRule,
    FirewallOutboundRule,
)
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.validation import admin_network_problem

ANYWHERE = ["0.0.0.0/0", "::/0"]
PUBLIC_TCP_PORTS = (80, 443)
# Swarm control plane (2377/tcp), node gossip (7946/tcp+udp) and overlay traffic (4789/udp).
SWARM_PORTS = (("tcp", "2377"), ("tcp", "7946"), ("udp", "7946"), ("udp", "4789"))


@dataclass(frozen=True, kw_only=True)
class DropletFirewallProps:
    name: str
    # Tag carried by every Swarm node droplet.
    droplet_tag: str
    # Networks allowed to reach SSH directly (break-glass). Default: none, SSH is closed.
    admin_ssh_cidrs: Sequence[str] = ()
    # UDP port of the deploy tunnel (WireGuard), open to every address: WireGuard answers
    # no packet that is not from a configured key. Default: none, no tunnel.
    tunnel_port: int | None = None

    def __post_init__(self) -> None:
        problems = [
            f"admin_ssh_cidrs: {cidr!r} {problem}"
            for cidr in self.admin_ssh_cidrs
            if (problem := admin_network_problem(cidr))
        ]
        raise_if("DropletFirewall", problems)


def inbound_rules(props: DropletFirewallProps) -> list[dict]:
    """The inbound rules as plain values, in the order they are emitted."""
    rules: list[dict] = [
        {"protocol": "tcp", "port_range": str(port), "source_addresses": ANYWHERE}
        for port in PUBLIC_TCP_PORTS
    ]
    if props.tunnel_port is not None:
        rules.append(
            {"protocol": "udp", "port_range": str(props.tunnel_port), "source_addresses": ANYWHERE}
        )
    if props.admin_ssh_cidrs:
        rules.append(
            {
                "protocol": "tcp",
                "port_range": "22",
                "source_addresses": sorted(props.admin_ssh_cidrs),
            }
        )
    rules += [
        {"protocol": protocol, "port_range": port, "source_tags": [props.droplet_tag]}
        for protocol, port in SWARM_PORTS
    ]
    return rules


class DropletFirewall(Construct):
    def __init__(self, scope: Construct, id: str, props: DropletFirewallProps) -> None:
        super().__init__(scope, id)
        self.resource = Firewall(
            self,
            "Default",
            name=props.name,
            tags=[props.droplet_tag],
            inbound_rule=[FirewallInboundRule(**rule) for rule in inbound_rules(props)],
            outbound_rule=[
                FirewallOutboundRule(
                    protocol=protocol, port_range="1-65535", destination_addresses=ANYWHERE
                )
                for protocol in ("tcp", "udp")
            ]
            + [FirewallOutboundRule(protocol="icmp", destination_addresses=ANYWHERE)],
        )
