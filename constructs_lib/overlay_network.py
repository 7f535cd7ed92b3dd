"""An overlay network for Swarm services, and the reference other stacks pass around.

Creates one ``docker_network`` with the overlay driver. Services join networks
through ``NetworkRef`` values, which work the same for a network made in this
stack and one read from an earlier stack's outputs.

    ingress = OverlayNetwork(self, "traefik_ingress", OverlayNetworkProps(name="traefik-ingress"))
    SwarmService(self, "web", SwarmServiceProps(
        name="web", image="nginx:1.27.3", networks=[ingress.ref], ...))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_docker.network import Network
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.validation import docker_name_problem


@dataclass(frozen=True, kw_only=True)
class NetworkRef:
    """A network a service can join: its Docker name and its id (often a Terraform token)."""

    name: str
    id: str


@dataclass(frozen=True, kw_only=True)
class OverlayNetworkProps:
    # Docker network name; services address each other by service name on it.
    # Changing it after the first deploy replaces the network and every service on it.
    name: str
    # Default: False, members also reach the outside world through the node's gateway.
    # True cuts the network off from everything but its members.
    internal: bool = False

    def __post_init__(self) -> None:
        problem = docker_name_problem(self.name)
        raise_if("OverlayNetwork", [f"name={self.name!r}: {problem}"] if problem else [])


class OverlayNetwork(Construct):
    def __init__(self, scope: Construct, id: str, props: OverlayNetworkProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.resource = Network(
            self,
            "Default",
            name=props.name,
            driver="overlay",
            internal=props.internal,
            # Only Swarm services join; stand-alone containers stay off these networks.
            attachable=False,
        )
        self.ref = NetworkRef(name=props.name, id=self.resource.id)
