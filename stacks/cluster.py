"""The ``cluster`` stack, deployed before layer_1: what the Swarm runs on.

- The VPC every node and the database join (config/cluster.yaml ``vpc``).
- One Droplet per ``swarm.nodes`` entry, tagged ``swarm.node_tag`` (the firewall applies by
  tag), created from the cloud-init of stacks/node_bootstrap.py: the manager with Docker, the
  deploy tunnel and the Swarm; a worker joining it with the token in the sensitive variable
  ``swarm_join_token`` (read through the tunnel: ``docker swarm join-token -q worker``).
- The block-storage volume (``volume``) attached to the node that holds the volumes; its
  cloud-init mounts it where Docker keeps volumes.
- The managed PostgreSQL cluster (``postgres``) in the VPC, answering the nodes only.
- The DNS zone (``dns_zone``); layer_1 owns its records.

The running production's nodes, volume, database and zone are imported, not recreated (the
README's "Importing the running production"). Nothing here is replaced by a later change to
the configuration the node was made from: cloud-init runs once, so ``user_data``, ``image``
and ``ssh_keys`` are ignored after creation (the provider would otherwise replace the node:
each is ForceNew and none is read back, resource_droplet.go:55,213,223 at v2.71.0).

- Outputs (``ClusterOutputs``): the manager's public and private IPv4 addresses, the VPC's
  id; named outputs also for the database's host and port.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle, TerraformVariable, Token
from cdktf_cdktf_provider_digitalocean.database_cluster import DatabaseCluster
from cdktf_cdktf_provider_digitalocean.database_firewall import (
    DatabaseFirewall,
    DatabaseFirewallRule,
)
from cdktf_cdktf_provider_digitalocean.domain import Domain
from cdktf_cdktf_provider_digitalocean.droplet import Droplet
from cdktf_cdktf_provider_digitalocean.volume import Volume
from cdktf_cdktf_provider_digitalocean.volume_attachment import VolumeAttachment
from cdktf_cdktf_provider_digitalocean.vpc import Vpc
from constructs import Construct

from constructs_lib.stack_output import export
from stacks.base import SprocketStack
from stacks.config import InfraConfig
from stacks.node_bootstrap import manager_cloud_init, volume_device, worker_cloud_init

# Attributes of a Droplet that only matter when it is created (see the module docstring).
CREATION_ONLY = ["user_data", "image", "ssh_keys"]


@dataclass(frozen=True)
class ClusterOutputs:
    """What layer_1 reads from the cluster stack."""

    manager_ipv4: str
    manager_private_ipv4: str
    vpc_id: str


class ClusterStack(SprocketStack):
    def __init__(self, scope: Construct, id: str, config: InfraConfig) -> None:
        super().__init__(scope, id, config.cluster, docker=False)
        cluster = config.cluster
        swarm = cluster.swarm
        vpc = Vpc(
            self, "vpc", name=cluster.vpc.name, region=cluster.region, ip_range=cluster.vpc.ip_range
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
            )
        droplets: dict[str, Droplet] = {}
        # The manager first: a worker's cloud-init needs its private address.
        for node in sorted(swarm.nodes, key=lambda n: n.name != manager_name):
            if node.name == manager_name:
                user_data = manager_cloud_init(cluster, volume_device(cluster, node.name))
            else:
                manager = droplets[manager_name]
                user_data = (
                    worker_cloud_init(volume_device(cluster, node.name))
                    .replace("${SWARM_JOIN_TOKEN}", join_token.string_value)
                    .replace("${MANAGER_ADDR}", manager.ipv4_address_private)
                )
            droplets[node.name] = Droplet(
                self,
                f"node_{node.name.replace('-', '_').replace('.', '_')}",
                name=node.name,
                size=node.size,
                region=cluster.region,
                image=swarm.image,
                vpc_uuid=vpc.id,
                tags=[swarm.node_tag],
                ssh_keys=list(swarm.ssh_keys) or None,
                user_data=user_data,
                lifecycle=TerraformResourceLifecycle(
                    ignore_changes=CREATION_ONLY,
                    # Losing the volume node or the manager loses the cluster's data or its
                    # control plane: destroying either is a deliberate, two-step change.
                    prevent_destroy=node.role == "manager" or node is holder,
                ),
            )
        volume = Volume(
            self,
            "volume",
            name=cluster.volume.name,
            region=cluster.region,
            size=cluster.volume.size_gib,
            description="Docker volumes of the node that holds the volumes",
            # Formatted once, on creation; neither is read back, so both are ignored after
            # (resource_volume.go:73,83,214-232 at v2.71.0), or an imported volume is replaced.
            initial_filesystem_type="ext4",
            initial_filesystem_label="docker-volumes",
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=True,
                ignore_changes=["initial_filesystem_type", "initial_filesystem_label"],
            ),
        )
        VolumeAttachment(
            self,
            "volume_attachment",
            droplet_id=Token.as_number(droplets[holder.name].id),
            volume_id=volume.id,
        )
        database = DatabaseCluster(
            self,
            "postgres",
            name=cluster.postgres.cluster_name,
            engine="pg",
            version=cluster.postgres.version,
            size=cluster.postgres.size,
            region=cluster.region,
            node_count=cluster.postgres.node_count,
            private_network_uuid=vpc.id,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=True,
                # ForceNew (resource_database_cluster.go:148 at v2.71.0): the running cluster
                # keeps the network it has rather than being replaced.
                ignore_changes=["private_network_uuid"],
            ),
        )
        # The database answers the Swarm's nodes only (the firewall owns every rule).
        DatabaseFirewall(
            self,
            "postgres_firewall",
            cluster_id=database.id,
            rule=[DatabaseFirewallRule(type="tag", value=swarm.node_tag)],
        )
        Domain(
            self,
            "zone",
            name=cluster.dns_zone,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        manager = droplets[manager_name]
        export(self, "ManagerIpv4", manager.ipv4_address, "The manager's public IPv4 address")
        export(self, "PostgresHost", database.host, "Managed PostgreSQL host (postgres.host)")
        export(self, "PostgresPort", Token.as_string(database.port), "Managed PostgreSQL port")
        self.droplets = droplets
        self.outputs = ClusterOutputs(
            manager_ipv4=manager.ipv4_address,
            manager_private_ipv4=manager.ipv4_address_private,
            vpc_id=vpc.id,
        )
