"""What a Swarm node runs at its first boot (cloud-init), and the deploy tunnel's WireGuard
configurations (docs/decisions/deploy-path.md).

`make synth` writes them to ``cdktf.out/bootstrap/``:

- ``<manager>.cloud-init.yaml``: Docker from the distribution with rotated container logs,
  WireGuard listening for the deploy peers (its private key made on the node, never leaving
  it), the Swarm initialised on the private address, the node's labels;
- ``worker.cloud-init.yaml``: Docker with rotated logs, joining the Swarm with a token given
  when the file is used (never one in the repository);
- ``tunnel-<peer>.conf``: each peer's wg-quick configuration (its private key read from a
  file it keeps), once the manager's public key is in config/cluster.yaml;
- ``tunnel-hosts``: the ``/etc/hosts`` line that sends the admin UIs' names (Vault's API
  among them) to the manager's tunnel address, where Traefik answers too.

    files = bootstrap_files(config.cluster)   # {relative path: text}
"""

from __future__ import annotations

import ipaddress
import json

import yaml

from constructs_lib.log_labels import LOG_LABELS
from stacks.capacity import node_labels
from stacks.config import ClusterConfig, DeployTunnelConfig, TunnelPeer

TUNNEL_INTERFACE = "wg0"
KEY_FILE = f"/etc/wireguard/{TUNNEL_INTERFACE}.key"
PEER_KEY_FILE = "/etc/wireguard/sprocket.key"
# Docker's json-file driver keeps at most five 10 MiB files per container: node disks cannot
# fill with logs (https://docs.docker.com/engine/logging/drivers/json-file/).
# Each line also carries the container labels the log shipper turns into Loki labels, under
# "attrs" (moby v28.2.2 daemon/logger/loginfo.go ExtraAttributes, jsonfilelog.go: the
# "labels" option; stacks/shared_services/log_shipper.py reads them).
DOCKER_DAEMON = {
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "5", "labels": ",".join(LOG_LABELS)},
}
# The private address DigitalOcean's metadata service gives the node.
PRIVATE_ADDRESS = (
    '"$(curl -fsS http://169.254.169.254/metadata/v1/interfaces/private/0/ipv4/address)"'
)
# Where DigitalOcean attaches a volume to a Droplet (its "Mount" instructions:
# https://docs.digitalocean.com/products/volumes/how-to/mount/).
VOLUME_DEVICE = "/dev/disk/by-id/scsi-0DO_Volume_{name}"
# SSH by key only: without swarm.ssh_keys DigitalOcean sets a root password and mails it.
LOGIN = {"ssh_pwauth": False}
# Peers send a keepalive so a runner behind NAT keeps its mapping while a deploy is idle.
KEEPALIVE_S = 25


def manager_tunnel_conf(tunnel: DeployTunnelConfig, key_file: str = KEY_FILE) -> str:
    """The manager's wg-quick configuration: every peer, each at its own /32. The private key
    is set from the node's key file after the interface comes up (it is not in this file)."""
    prefix = ipaddress.ip_network(tunnel.network).prefixlen
    lines = [
        "[Interface]",
        f"Address = {tunnel.manager_address}/{prefix}",
        f"ListenPort = {tunnel.port}",
        f"PostUp = wg set %i private-key {key_file}",
    ]
    for peer in tunnel.peers:
        lines += ["", f"# {peer.name}", "[Peer]", f"PublicKey = {peer.public_key}"]
        lines.append(f"AllowedIPs = {peer.address}/32")
    return "\n".join(lines) + "\n"


def peer_tunnel_conf(
    tunnel: DeployTunnelConfig,
    peer: TunnelPeer,
    endpoint: str,
    key_file: str = PEER_KEY_FILE,
) -> str:
    """``peer``'s wg-quick configuration: only the manager's tunnel address goes through it.
    Its private key is read from ``key_file`` (made with ``wg genkey``), which the peer keeps;
    ``endpoint`` is the manager's public address."""
    if not tunnel.manager_public_key:
        raise ValueError("deploy_tunnel.manager_public_key is not set yet")
    return (
        "[Interface]\n"
        f"Address = {peer.address}/32\n"
        f"PostUp = wg set %i private-key {key_file}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {tunnel.manager_public_key}\n"
        f"Endpoint = {endpoint}:{tunnel.port}\n"
        f"AllowedIPs = {tunnel.manager_address}/32\n"
        f"PersistentKeepalive = {KEEPALIVE_S}\n"
    )


def tunnel_hosts(cluster: ClusterConfig) -> str:
    """The ``/etc/hosts`` line of a peer: the admin UIs at the manager's tunnel address.
    Traefik binds the node's ports 80 and 443 in host mode (stacks/layer_1.py), so it
    answers on the tunnel address as on the public one, with the same certificates; the
    client's address it sees is the peer's tunnel address, which the admin allowlist lists
    (ClusterConfig.admin_sources)."""
    return f"{cluster.deploy_tunnel.manager_address} {' '.join(cluster.admin_hosts)}\n"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (file contents) as literal blocks, readable as written."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _cloud_config(document: dict, comment: str) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100)
    header = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return "#cloud-config\n" + header + body


def _mount_volume(device: str | None) -> list[str]:
    """Commands mounting the node's block-storage volume where Docker keeps its volumes, before
    Docker starts using them; it is attached after the node exists, so they wait for it."""
    if device is None:
        return []
    return [
        f"for i in $(seq 120); do [ -e {device} ] && break; sleep 5; done",
        "mkdir -p /var/lib/docker/volumes",
        f"grep -q '{device}' /etc/fstab || "
        f"echo '{device} /var/lib/docker/volumes ext4 defaults,nofail,discard 0 2' >> /etc/fstab",
        "mount /var/lib/docker/volumes",
    ]


def _docker_files() -> list[dict]:
    return [
        {
            "path": "/etc/docker/daemon.json",
            "permissions": "0644",
            "content": json.dumps(DOCKER_DAEMON, indent=2) + "\n",
        }
    ]


def manager_cloud_init(cluster: ClusterConfig, volume_device: str | None = None) -> str:
    swarm, tunnel = cluster.swarm, cluster.deploy_tunnel
    (manager,) = (node for node in swarm.nodes if node.name == swarm.manager_droplet)
    labels = " ".join(f"--label-add {k}={v}" for k, v in sorted(node_labels(manager).items()))
    document = {
        **LOGIN,
        "package_update": True,
        "package_upgrade": True,
        "packages": ["docker.io", "wireguard-tools", "unattended-upgrades"],
        "write_files": [
            *_docker_files(),
            {
                "path": f"/etc/wireguard/{TUNNEL_INTERFACE}.conf",
                "permissions": "0600",
                "content": manager_tunnel_conf(tunnel),
            },
        ],
        "runcmd": [
            # The tunnel's private key is made here, once, and never leaves the node; its
            # public key goes into config/cluster.yaml deploy_tunnel.manager_public_key.
            f"[ -s {KEY_FILE} ] || (umask 077 && wg genkey > {KEY_FILE})",
            f"wg pubkey < {KEY_FILE} > /etc/wireguard/{TUNNEL_INTERFACE}.pub",
            f"systemctl enable --now wg-quick@{TUNNEL_INTERFACE}",
            *_mount_volume(volume_device),
            "systemctl enable docker",
            # daemon.json is read at start: restart so the log rotation applies.
            "systemctl restart docker",
            f"docker swarm init --advertise-addr {PRIVATE_ADDRESS}",
            f'docker node update {labels} "$(hostname)"',
        ],
    }
    return _cloud_config(
        document,
        f"Swarm manager {manager.name}, from config/cluster.yaml (stacks/node_bootstrap.py).\n"
        "Docker with rotated logs, the deploy tunnel (WireGuard) and the Swarm.",
    )


def worker_cloud_init(volume_device: str | None = None) -> str:
    document = {
        **LOGIN,
        "package_update": True,
        "package_upgrade": True,
        "packages": ["docker.io", "unattended-upgrades"],
        "write_files": _docker_files(),
        "runcmd": [
            *_mount_volume(volume_device),
            "systemctl enable docker",
            "systemctl restart docker",
            'docker swarm join --token "${SWARM_JOIN_TOKEN}" "${MANAGER_ADDR}:2377"',
        ],
    }
    return _cloud_config(
        document,
        "A Swarm worker (stacks/node_bootstrap.py). Render with the manager's private address\n"
        "and the worker join token, read through the deploy tunnel:\n"
        '  MANAGER_ADDR=10.x.y.z SWARM_JOIN_TOKEN="$(docker swarm join-token -q worker)" \\\n'
        "    envsubst < worker.cloud-init.yaml > /tmp/worker.yaml\n"
        "The rendered file holds the join token: keep it out of the repository, delete it.",
    )


def volume_device(cluster: ClusterConfig, node_name: str) -> str | None:
    """The volume's device on ``node_name`` if it is the node holding the volumes."""
    holds = any(n.volumes and n.name == node_name for n in cluster.swarm.nodes)
    return VOLUME_DEVICE.format(name=cluster.volume.name) if holds else None


def bootstrap_files(cluster: ClusterConfig, endpoint: str = "<manager public IPv4>") -> dict:
    """Every file `make synth` writes to cdktf.out/bootstrap/, by relative path; the cluster
    stack creates its nodes from the same cloud-init."""
    manager = cluster.swarm.manager_droplet
    files = {
        f"{manager}.cloud-init.yaml": manager_cloud_init(cluster, volume_device(cluster, manager)),
        "worker.cloud-init.yaml": worker_cloud_init(),
        f"{cluster.swarm.manager_droplet}.{TUNNEL_INTERFACE}.conf": manager_tunnel_conf(
            cluster.deploy_tunnel
        ),
    }
    if cluster.deploy_tunnel.peers:
        files["tunnel-hosts"] = tunnel_hosts(cluster)
    if cluster.deploy_tunnel.manager_public_key:
        for peer in cluster.deploy_tunnel.peers:
            files[f"tunnel-{peer.name}.conf"] = peer_tunnel_conf(
                cluster.deploy_tunnel, peer, endpoint
            )
    return files
