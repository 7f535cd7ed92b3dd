"""The managed PostgreSQL cluster, in the VPC, answering the Swarm's nodes only.

Creates one ``digitalocean_database_cluster`` (``prevent_destroy``) and its
``digitalocean_database_firewall``, whose one rule admits the droplets carrying the node tag;
the firewall owns every rule of the cluster's trusted sources (resource_database_firewall.go:
77-79,114-116 at v2.71.0). ``private_network_uuid`` is ForceNew (resource_database_cluster.go:
148) and ignored after creation, so an imported cluster keeps its network rather than being
replaced; size, node count and version change in place (:412-443, :506-512).

    db = PostgresCluster(self, "postgres", PostgresClusterProps(
        name="sprocketbot-postgres", version="16", size="db-s-1vcpu-2gb", region="nyc3",
        node_count=1, vpc_id=vpc.id, node_tag="sprocket-swarm"))
    db.host, db.port
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_digitalocean.database_cluster import DatabaseCluster
from cdktf_cdktf_provider_digitalocean.database_firewall import (
    DatabaseFirewall,
    DatabaseFirewallRule,
)
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class PostgresClusterProps:
    name: str
    version: str
    size: str
    region: str
    node_count: int
    vpc_id: str
    # The tag of the droplets the database answers.
    node_tag: str


class PostgresCluster(Construct):
    def __init__(self, scope: Construct, id: str, props: PostgresClusterProps) -> None:
        super().__init__(scope, id)
        database = DatabaseCluster(
            self,
            "Default",
            name=props.name,
            engine="pg",
            version=props.version,
            size=props.size,
            region=props.region,
            node_count=props.node_count,
            private_network_uuid=props.vpc_id,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=True, ignore_changes=["private_network_uuid"]
            ),
        )
        DatabaseFirewall(
            scope,
            f"{id}_firewall",
            cluster_id=database.id,
            rule=[DatabaseFirewallRule(type="tag", value=props.node_tag)],
        )
        self.host: str = database.host
        self.port: str = Token.as_string(database.port)
