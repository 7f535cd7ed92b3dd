"""The cluster stack: the VPC, the nodes, the volume, the database cluster and the zone, and
the README's commands that import the running production into it."""

from __future__ import annotations

import re

import pytest

from stacks.node_bootstrap import VOLUME_DEVICE, bootstrap_files
from tests.conftest import CONFIG, ROOT, resources

CLUSTER = CONFIG.cluster


@pytest.fixture(scope="module")
def cluster(stacks) -> dict:
    return stacks["cluster"]


def test_one_droplet_per_node_in_the_vpc_tagged_for_the_firewall(cluster):
    droplets = {d["name"]: d for d in resources(cluster, "digitalocean_droplet").values()}
    assert sorted(droplets) == sorted(node.name for node in CLUSTER.swarm.nodes)
    for node in CLUSTER.swarm.nodes:
        droplet = droplets[node.name]
        assert droplet["size"] == node.size and droplet["region"] == CLUSTER.region
        assert droplet["vpc_uuid"] == "${digitalocean_vpc.vpc.id}"
        assert droplet["tags"] == [CLUSTER.swarm.node_tag]
        # cloud-init runs once: a later change to it, the image or the keys replaces nothing
        assert droplet["lifecycle"]["ignore_changes"] == ["user_data", "image", "ssh_keys"]
    (vpc,) = resources(cluster, "digitalocean_vpc").values()
    assert (vpc["ip_range"], vpc["region"]) == (CLUSTER.vpc.ip_range, CLUSTER.region)


def test_the_manager_boots_from_the_cloud_init_make_synth_writes(cluster):
    manager = CLUSTER.swarm.manager_droplet
    (droplet,) = (
        d for d in resources(cluster, "digitalocean_droplet").values() if d["name"] == manager
    )
    assert droplet["user_data"] == bootstrap_files(CLUSTER)[f"{manager}.cloud-init.yaml"]
    assert droplet["lifecycle"]["prevent_destroy"] is True


def test_the_volume_is_attached_to_and_mounted_on_the_node_that_holds_the_volumes(cluster):
    (holder,) = (node for node in CLUSTER.swarm.nodes if node.volumes)
    (volume,) = resources(cluster, "digitalocean_volume").values()
    assert volume["size"] == CLUSTER.volume.size_gib and volume["name"] == CLUSTER.volume.name
    assert volume["lifecycle"]["prevent_destroy"] is True
    (attachment,) = resources(cluster, "digitalocean_volume_attachment").values()
    node_id = f"node_{holder.name.replace('-', '_')}"
    assert attachment["droplet_id"] == f"${{digitalocean_droplet.{node_id}.id}}"
    user_data = resources(cluster, "digitalocean_droplet")[node_id]["user_data"]
    device = VOLUME_DEVICE.format(name=CLUSTER.volume.name)
    mount = user_data.index("mount /var/lib/docker/volumes")
    assert device in user_data and mount < user_data.index("systemctl restart docker")


def test_the_database_is_in_the_vpc_and_answers_the_nodes_only(cluster):
    (database,) = resources(cluster, "digitalocean_database_cluster").values()
    assert database["name"] == CLUSTER.postgres.cluster_name and database["engine"] == "pg"
    assert database["private_network_uuid"] == "${digitalocean_vpc.vpc.id}"
    assert database["lifecycle"]["prevent_destroy"] is True
    (firewall,) = resources(cluster, "digitalocean_database_firewall").values()
    assert firewall["cluster_id"] == "${digitalocean_database_cluster.postgres.id}"
    assert firewall["rule"] == [{"type": "tag", "value": CLUSTER.swarm.node_tag}]


def test_the_zone_is_owned_without_an_address_which_would_recreate_it_on_import(cluster):
    (zone,) = resources(cluster, "digitalocean_domain").values()
    # ip_address is ForceNew and never read back (resource_domain.go:33,88-90 at v2.71.0)
    assert zone == {**zone, "name": CLUSTER.dns_zone} and "ip_address" not in zone
    assert zone["lifecycle"]["prevent_destroy"] is True


IMPORT = re.compile(r"^terraform import (\S+) ", re.M)
# The provider has no importer for attachments; applying adopts the existing one.
NOT_IMPORTED = {"digitalocean_volume_attachment"}


def test_the_readme_imports_every_resource_of_the_stack_at_its_address(cluster):
    section = (ROOT / "README.md").read_text().split("### Importing the running production")[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    imported = IMPORT.findall(block)
    addresses = {
        f"{kind}.{name}"
        for kind, items in cluster["resource"].items()
        if kind not in NOT_IMPORTED
        for name in items
    }
    # Every line names a resource of the stack, once
    assert set(imported) <= addresses and len(imported) == len(set(imported))
    # AND every resource but the nodes has its line; a node added since is created, not
    # imported, and "each further node" is the line the README spells out for a running one
    droplets = {a for a in addresses if a.startswith("digitalocean_droplet.")}
    assert set(imported) - droplets == addresses - droplets
    assert droplets == {
        f"digitalocean_droplet.node_{node.name.replace('-', '_')}" for node in CLUSTER.swarm.nodes
    }
    assert "one more `terraform import digitalocean_droplet.node_<name with _> <id>`" in section
    assert any(a.startswith("digitalocean_droplet.") for a in imported)
