"""The cluster's private network: one DigitalOcean VPC.

Creates one ``digitalocean_vpc``. Its region and range are ForceNew (resource_vpc.go:41,55 at
v2.71.0), and a Droplet cannot change VPC (``vpc_uuid`` is ForceNew, resource_droplet.go:257):
changing either replaces the VPC and every node in it, which the nodes' prevent_destroy stops.

    vpc = PrivateNetwork(self, "vpc", PrivateNetworkProps(
        name="sprocket-vpc", region="nyc3", ip_range="10.10.0.0/20"))
    vpc.id
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_digitalocean.vpc import Vpc
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class PrivateNetworkProps:
    name: str
    region: str
    ip_range: str


class PrivateNetwork(Construct):
    def __init__(self, scope: Construct, id: str, props: PrivateNetworkProps) -> None:
        super().__init__(scope, id)
        vpc = Vpc(self, "Default", name=props.name, region=props.region, ip_range=props.ip_range)
        self.id: str = vpc.id
