"""The nodes' first boot and the deploy tunnel, as stacks/node_bootstrap.py writes them into
cdktf.out/bootstrap/ (their schema and the tunnel itself: tests/e2e/test_cloud_init.py and
tests/e2e/test_deploy_tunnel.py)."""

from __future__ import annotations

import json

import yaml

from stacks.config import DeployTunnelConfig, TunnelPeer
from stacks.node_bootstrap import (
    DOCKER_DAEMON,
    bootstrap_files,
    manager_tunnel_conf,
    peer_tunnel_conf,
)
from tests.conftest import CONFIG

KEY = "A" * 42 + "A="
MANAGER = f"{CONFIG.cluster.swarm.manager_droplet}.cloud-init.yaml"


def cloud_config(name: str) -> dict:
    text = bootstrap_files(CONFIG.cluster)[name]
    assert text.startswith("#cloud-config\n"), "cloud-init ignores user data without this line"
    return yaml.safe_load(text)


def files_of(config: dict) -> dict[str, dict]:
    return {f["path"]: f for f in config["write_files"]}


def test_synth_writes_the_bootstrap_files_beside_the_stacks(tmp_path, monkeypatch):
    import main

    main.write_bootstrap(str(tmp_path), CONFIG.cluster)
    assert sorted(p.name for p in (tmp_path / "bootstrap").iterdir()) == sorted(
        bootstrap_files(CONFIG.cluster)
    )


def test_the_manager_installs_docker_and_wireguard_then_initialises_the_swarm():
    config = cloud_config(MANAGER)
    assert {"docker.io", "wireguard-tools"} <= set(config["packages"])
    commands = config["runcmd"]
    init = next(i for i, c in enumerate(commands) if "docker swarm init --advertise-addr" in c)
    assert "interfaces/private/0/ipv4/address" in commands[init]
    # the tunnel is up before the Swarm exists: deploys never depend on an open SSH port
    assert commands.index("systemctl enable --now wg-quick@wg0") < init


def test_the_tunnels_private_key_is_made_on_the_node_and_never_written_anywhere_else():
    config = cloud_config(MANAGER)
    (make_key,) = [c for c in config["runcmd"] if "wg genkey" in c]
    assert make_key == (
        "[ -s /etc/wireguard/wg0.key ] || (umask 077 && wg genkey > /etc/wireguard/wg0.key)"
    )
    conf = files_of(config)["/etc/wireguard/wg0.conf"]
    assert conf["permissions"] == "0600" and "PrivateKey" not in conf["content"]
    assert "PrivateKey" not in "".join(bootstrap_files(CONFIG.cluster).values())


def test_every_node_rotates_its_container_logs():
    for name in (MANAGER, "worker.cloud-init.yaml"):
        daemon = files_of(cloud_config(name))["/etc/docker/daemon.json"]
        assert json.loads(daemon["content"]) == DOCKER_DAEMON
        assert DOCKER_DAEMON["log-opts"] == {
            "max-size": "10m",
            "max-file": "5",
            # what the log shipper turns into Loki labels (docs/decisions/logs.md)
            "labels": "sprocket.stack,sprocket.environment,com.docker.swarm.service.name",
        }
        # written before Docker restarts, so the running daemon uses it
        assert "systemctl restart docker" in cloud_config(name)["runcmd"]


def test_the_worker_joins_with_a_token_it_is_given_never_one_in_the_repository():
    config = cloud_config("worker.cloud-init.yaml")
    (join,) = [c for c in config["runcmd"] if "swarm join" in c]
    assert '"${SWARM_JOIN_TOKEN}"' in join and '"${MANAGER_ADDR}:2377"' in join
    assert "SWMTKN-" not in "".join(bootstrap_files(CONFIG.cluster).values())


def test_the_manager_carries_the_labels_its_configuration_entry_gives_it():
    from stacks.capacity import node_labels

    swarm = CONFIG.cluster.swarm
    (manager,) = (node for node in swarm.nodes if node.name == swarm.manager_droplet)
    labels = node_labels(manager)
    commands = cloud_config(MANAGER)["runcmd"]
    added = [c for c in commands if "docker node update" in c]
    assert added == [
        "docker node update "
        + " ".join(f"--label-add {k}={v}" for k, v in sorted(labels.items()))
        + ' "$(hostname)"'
    ]
    assert commands.index(added[0]) > next(i for i, c in enumerate(commands) if "swarm init" in c)


def test_the_manager_lists_every_peer_at_its_own_address_and_a_peer_routes_only_the_manager():
    tunnel = DeployTunnelConfig(
        manager_public_key=KEY,
        peers=(
            TunnelPeer(name="ci", public_key="C" * 42 + "A=", address="10.200.0.2"),
            TunnelPeer(name="ops", public_key="D" * 42 + "A=", address="10.200.0.3"),
        ),
    )
    manager = manager_tunnel_conf(tunnel)
    assert "Address = 10.200.0.1/24\nListenPort = 51820\n" in manager
    assert f"PublicKey = {'C' * 42}A=\nAllowedIPs = 10.200.0.2/32" in manager
    assert f"PublicKey = {'D' * 42}A=\nAllowedIPs = 10.200.0.3/32" in manager
    peer = peer_tunnel_conf(tunnel, tunnel.peers[0], "203.0.113.10")
    assert f"PublicKey = {KEY}\nEndpoint = 203.0.113.10:51820\nAllowedIPs = 10.200.0.1/32" in peer


def test_peer_files_are_written_once_the_managers_key_is_known():
    peers = (TunnelPeer(name="ci", public_key="C" * 42 + "A=", address="10.200.0.2"),)
    without = CONFIG.cluster.model_copy(update={"deploy_tunnel": DeployTunnelConfig(peers=peers)})
    files = bootstrap_files(without)
    assert not any(name.startswith("tunnel-") and name.endswith(".conf") for name in files)
    # the hosts line needs no key: the admin UIs' names at the manager's tunnel address
    assert files["tunnel-hosts"].startswith("10.200.0.1 traefik.sprocket.mlesports.gg ")
    known = CONFIG.cluster.model_copy(
        update={"deploy_tunnel": DeployTunnelConfig(peers=peers, manager_public_key=KEY)}
    )
    assert "tunnel-ci.conf" in bootstrap_files(known)


def test_no_node_accepts_password_logins():
    for name in (MANAGER, "worker.cloud-init.yaml"):
        assert cloud_config(name)["ssh_pwauth"] is False
