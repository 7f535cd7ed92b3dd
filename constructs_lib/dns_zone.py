"""The DNS zone, in DigitalOcean DNS.

Creates one ``digitalocean_domain`` (``prevent_destroy``) with no ``ip_address``: that is
ForceNew and never read back (resource_domain.go:33,88-90 at v2.71.0), so setting it on the
imported zone would delete and recreate the zone with every record in it. Records are the
stacks' own (constructs_lib/ingress_dns.py).

    DnsZone(self, "zone", DnsZoneProps(name="mlesports.gg"))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_digitalocean.domain import Domain
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class DnsZoneProps:
    name: str


class DnsZone(Construct):
    def __init__(self, scope: Construct, id: str, props: DnsZoneProps) -> None:
        super().__init__(scope, id)
        Domain(
            self,
            "Default",
            name=props.name,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
