"""scripts/tunnel_config.py: a peer's tunnel configuration from config/cluster.yaml, and every
mistake named at once without a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from tests.conftest import ROOT

KEY = "A" * 42 + "A="


def project(tmp_path, tunnel: dict | None):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "tunnel_config.py", tmp_path / "scripts")
    if tunnel is not None:
        cluster = tmp_path / "config" / "cluster.yaml"
        data = yaml.safe_load(cluster.read_text())
        cluster.write_text(yaml.safe_dump({**data, "deploy_tunnel": tunnel}))
    return tmp_path


def run(root, *args):
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "tunnel_config.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prints_the_peers_configuration(tmp_path):
    peer = {"name": "deploy", "public_key": "C" * 42 + "A=", "address": "10.200.0.2"}
    root = project(tmp_path, {"manager_public_key": KEY, "peers": [peer]})
    result = run(root, "deploy", "203.0.113.10")
    assert result.returncode == 0, result.stderr
    assert f"PublicKey = {KEY}\nEndpoint = 203.0.113.10:51820\n" in result.stdout
    assert "PostUp = wg set %i private-key /etc/wireguard/sprocket.key" in result.stdout


def test_names_every_mistake_at_once_without_a_traceback(tmp_path):
    root = project(tmp_path, None)  # the shipped configuration: no peers, no manager key
    result = run(root, "deploy", "not-an-address")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "config/cluster.yaml: deploy_tunnel.peers: no peer 'deploy'; listed: []",
        "endpoint: got 'not-an-address': must be the manager's IPv4 address",
        "config/cluster.yaml: deploy_tunnel.manager_public_key is not set "
        "(docs/runbook-rebuild.md, step 3)",
    ]


def test_prints_the_hosts_line_that_sends_the_admin_uis_through_the_tunnel(tmp_path):
    peer = {"name": "deploy", "public_key": "C" * 42 + "A=", "address": "10.200.0.2"}
    root = project(
        tmp_path, {"network": "10.201.0.0/24", "peers": [{**peer, "address": "10.201.0.2"}]}
    )
    result = run(root, "--hosts")
    assert result.returncode == 0, result.stderr
    # the manager's tunnel address, then every admin UI's name
    assert result.stdout == (
        "10.201.0.1 traefik.sprocket.mlesports.gg vault.sprocket.mlesports.gg "
        "grafana.sprocket.mlesports.gg n8n.sprocket.mlesports.gg gatus.sprocket.mlesports.gg\n"
    )


def test_without_a_peer_or_hosts_it_says_what_to_give(tmp_path):
    result = run(project(tmp_path, None))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "give a peer and the manager's address, or --hosts" in result.stderr
