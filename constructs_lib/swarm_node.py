"""A Swarm node: one Droplet in the cluster's VPC, booted from its cloud-init.

Creates one ``digitalocean_droplet`` tagged for the node firewall. cloud-init runs once, at
the first boot, so what only matters then is ignored afterwards: ``user_data``, ``image`` and
``ssh_keys`` are ForceNew and never read back (resource_droplet.go:55,213,223,431-477 at
v2.71.0), and a changed cloud-init, a newer image or an imported node would otherwise replace
the node. ``protect`` adds ``prevent_destroy`` (the manager, the node holding the volumes).

    node = SwarmNode(self, "node_manager", SwarmNodeProps(
        name="sprocket-manager-1", size="s-4vcpu-8gb", region="nyc3", image="debian-12-x64",
        vpc_id=vpc.id, tag="sprocket-swarm", user_data=cloud_init, protect=True))
    node.private_ipv4, node.public_ipv4, node.id
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_digitalocean.droplet import Droplet
from constructs import Construct

from constructs_lib.errors import raise_if

CREATION_ONLY = ["user_data", "image", "ssh_keys"]


@dataclass(frozen=True, kw_only=True)
class SwarmNodeProps:
    name: str
    size: str
    region: str
    image: str
    vpc_id: str
    # The tag the node firewall applies by.
    tag: str
    user_data: str
    # DigitalOcean SSH key fingerprints or IDs. Default: none.
    ssh_keys: Sequence[str] = ()
    # Default: false. prevent_destroy: destroying the node is a deliberate two-step change.
    protect: bool = False

    def __post_init__(self) -> None:
        fields = ("name", "size", "region", "image", "tag")
        problems = [f"{field} is empty" for field in fields if not getattr(self, field)]
        if not self.user_data.startswith("#cloud-config\n"):
            problems.append("user_data must begin with #cloud-config (cloud-init ignores it)")
        raise_if("SwarmNode", problems)


class SwarmNode(Construct):
    def __init__(self, scope: Construct, id: str, props: SwarmNodeProps) -> None:
        super().__init__(scope, id)
        self.droplet = Droplet(
            self,
            "Default",
            name=props.name,
            size=props.size,
            region=props.region,
            image=props.image,
            vpc_uuid=props.vpc_id,
            tags=[props.tag],
            ssh_keys=list(props.ssh_keys) or None,
            user_data=props.user_data,
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=CREATION_ONLY, prevent_destroy=props.protect
            ),
        )
        self.id: str = self.droplet.id
        self.public_ipv4: str = self.droplet.ipv4_address
        self.private_ipv4: str = self.droplet.ipv4_address_private
