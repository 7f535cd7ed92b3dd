"""The ``cluster`` stack, deployed before layer_1: what the Swarm runs on.

- The VPC every node and the database join (config/cluster.yaml ``vpc``), and the firewall
  in front of every node (80, 443 and the deploy tunnel's port; SSH for break-glass only).
- One Droplet per ``swarm.nodes`` entry, tagged ``swarm.node_tag`` (the firewall applies by
  tag), created from the cloud-init of stacks/node_bootstrap.py: the manager with Docker, the
  deploy tunnel and the Swarm; a worker joining it with the token in the sensitive variable
  ``swarm_join_token`` (read through the tunnel: ``docker swarm join-token -q worker``).
- The block-storage volume (``volume``) attached to the node that holds the volumes; its
  cloud-init mounts it where Docker keeps volumes.
- The managed PostgreSQL cluster (``postgres``) in the VPC, answering the nodes only.
- The DNS zone (``dns_zone``); layer_1 owns its records.

The running production's nodes, volume, database and zone are imported, not recreated (the
README's "Importing the running production"); each construct says what it ignores after
creation so that an import, or a later change to a node's cloud-init, replaces nothing.

- Outputs (``ClusterOutputs``): the manager's public IPv4 address (layer_1's DNS records);
  named outputs also for it and for the database's host and port.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformVariable
from constructs import Construct

from constructs_lib.deployed_value_check import DeployedValueCheck, DeployedValueCheckProps
from constructs_lib.dns_zone import DnsZone, DnsZoneProps
from constructs_lib.droplet_firewall import DropletFirewall, DropletFirewallProps
from constructs_lib.node_volume import NodeVolume, NodeVolumeProps
from constructs_lib.postgres_cluster import PostgresCluster, PostgresClusterProps
from constructs_lib.private_network import PrivateNetwork, PrivateNetworkProps
from constructs_lib.stack_output import export
from constructs_lib.swarm_node import SwarmNode, SwarmNodeProps
from stacks.base import SprocketStack
from stacks.config import ClusterConfig, InfraConfig
from stacks.node_bootstrap import manager_cloud_init, volume_device, worker_cloud_init


@dataclass(frozen=True)
class ClusterOutputs:
    """What later stacks read from the cluster stack."""

    manager_ipv4: str
    # Where the managed PostgreSQL cluster answers. The stacks that use them are synthesized
    # with config/cluster.yaml postgres.host and port (application config files hash their
    # content at synthesis) and check them against these at plan time (check_postgres).
    postgres_host: str
    postgres_port: str


def check_postgres(scope: Construct, cluster: ClusterConfig, outputs: ClusterOutputs) -> None:
    """Stop the plan of a stack synthesized with another database host or port than the
    cluster stack's (a rebuilt cluster, a copy mistake), naming the field to set."""
    postgres = cluster.postgres
    for field, expected, deployed, output in (
        ("host", postgres.host, outputs.postgres_host, "PostgresHost"),
        ("port", str(postgres.port), outputs.postgres_port, "PostgresPort"),
    ):
        DeployedValueCheck(
            scope,
            f"postgres_{field}_check",
            DeployedValueCheckProps(
                field=f"config/cluster.yaml postgres.{field}",
                expected=expected,
                deployed=deployed,
                source=f"the cluster stack's output {output}",
            ),
        )


def node_id(name: str) -> str:
    """The node's Terraform address name: ``digitalocean_droplet.node_<name>``."""
    return "node_" + name.replace("-", "_").replace(".", "_")


class ClusterStack(SprocketStack):
    def __init__(self, scope: Construct, id: str, config: InfraConfig) -> None:
        super().__init__(scope, id, config.cluster, docker=False)
        cluster = config.cluster
        swarm = cluster.swarm
        vpc = PrivateNetwork(
            self,
            "vpc",
            PrivateNetworkProps(
                name=cluster.vpc.name, region=cluster.region, ip_range=cluster.vpc.ip_range
            ),
        )
        # The node firewall exists with the nodes, before anything else is deployed: the deploy
        # tunnel's port open, SSH for break-glass only (docs/decisions/deploy-path.md).
        DropletFirewall(
            self,
            "firewall",
            DropletFirewallProps(
                name=swarm.node_tag,
                droplet_tag=swarm.node_tag,
                admin_ssh_cidrs=cluster.admin_ssh_cidrs,
                tunnel_port=cluster.deploy_tunnel.port,
            ),
        )
        holder = next(node for node in swarm.nodes if node.volumes)
        manager_name = swarm.manager_droplet
        join_token = None
        if any(node.role == "worker" for node in swarm.nodes):
            join_token = TerraformVariable(
                self,
                "swarm_join_token",
                type="string",
                sensitive=True,
                nullable=False,
                description="Worker join token: docker swarm join-token -q worker, on the manager",
            ).string_value
        nodes: dict[str, SwarmNode] = {}
        # The manager first: a worker's cloud-init needs its private address.
        for node in sorted(swarm.nodes, key=lambda n: n.name != manager_name):
            device = volume_device(cluster, node.name)
            if node.name == manager_name:
                user_data = manager_cloud_init(cluster, device)
            else:
                user_data = (
                    worker_cloud_init(device)
                    .replace("${SWARM_JOIN_TOKEN}", join_token)
                    .replace("${MANAGER_ADDR}", nodes[manager_name].private_ipv4)
                )
            nodes[node.name] = SwarmNode(
                self,
                node_id(node.name),
                SwarmNodeProps(
                    name=node.name,
                    size=node.size,
                    region=cluster.region,
                    image=swarm.image,
                    vpc_id=vpc.id,
                    tag=swarm.node_tag,
                    ssh_keys=swarm.ssh_keys,
                    user_data=user_data,
                    # Losing the volume node or the manager loses the cluster's data or its
                    # control plane.
                    protect=node.role == "manager" or node is holder,
                ),
            )
        NodeVolume(
            self,
            "volume",
            NodeVolumeProps(
                name=cluster.volume.name,
                region=cluster.region,
                size_gib=cluster.volume.size_gib,
                droplet_id=nodes[holder.name].id,
            ),
        )
        postgres = cluster.postgres
        database = PostgresCluster(
            self,
            "postgres",
            PostgresClusterProps(
                name=postgres.cluster_name,
                version=postgres.version,
                size=postgres.size,
                region=cluster.region,
                node_count=postgres.node_count,
                vpc_id=vpc.id,
                node_tag=swarm.node_tag,
            ),
        )
        DnsZone(self, "zone", DnsZoneProps(name=cluster.dns_zone))
        manager = nodes[manager_name]
        export(self, "ManagerIpv4", manager.public_ipv4, "The manager's public IPv4 address")
        export(self, "PostgresHost", database.host, "Managed PostgreSQL host (postgres.host)")
        export(self, "PostgresPort", database.port, "Managed PostgreSQL port")
        self.outputs = ClusterOutputs(
            manager_ipv4=manager.public_ipv4,
            postgres_host=database.host,
            postgres_port=database.port,
        )
