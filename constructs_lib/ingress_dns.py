"""DNS for everything Traefik serves: the apex host and a wildcard beneath it.

Points two A records in the DigitalOcean-managed zone at the Swarm manager's public
address (the cluster stack's output): ``<hostname>`` and
``*.<hostname>``. One wildcard serves every route of every stack and environment
(``api.<hostname>``, ``api.staging.<hostname>``, ...), so adding a route or an
environment needs no DNS change (docs/decisions/dns.md).

    IngressDns(self, "dns", IngressDnsProps(
        zone="example.com", hostname="sprocket.example.com", manager_ipv4=cluster.manager_ipv4))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_digitalocean.record import Record
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.validation import hostname_problem


@dataclass(frozen=True, kw_only=True)
class IngressDnsProps:
    # Zone managed in DigitalOcean DNS, e.g. "mlesports.gg".
    zone: str
    # Host every route is served under; must be inside zone.
    hostname: str
    # Public IPv4 address (an expression) of the node serving ports 80 and 443.
    manager_ipv4: str
    # Default: 5 minutes, so a rebuilt node is reachable again quickly.
    ttl_s: int = 300

    def __post_init__(self) -> None:
        problems = [
            f"{name}={value!r}: {problem}"
            for name, value in (("zone", self.zone), ("hostname", self.hostname))
            if (problem := hostname_problem(value))
        ]
        if self.hostname != self.zone and not self.hostname.endswith("." + self.zone):
            problems.append(f"hostname={self.hostname!r}: must be inside zone {self.zone!r}")
        raise_if("IngressDns", problems)

    @property
    def record_name(self) -> str:
        """The hostname relative to the zone; "@" for the zone apex."""
        return "@" if self.hostname == self.zone else self.hostname[: -len(self.zone) - 1]


class IngressDns(Construct):
    def __init__(self, scope: Construct, id: str, props: IngressDnsProps) -> None:
        super().__init__(scope, id)
        self.ipv4 = props.manager_ipv4
        apex = props.record_name
        wildcard = "*" if apex == "@" else f"*.{apex}"
        self.records = [
            Record(
                self,
                role,
                domain=props.zone,
                type="A",
                name=name,
                value=self.ipv4,
                ttl=props.ttl_s,
            )
            for role, name in (("Apex", apex), ("Wildcard", wildcard))
        ]
