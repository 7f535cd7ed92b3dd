"""The deploy tunnel on real WireGuard: the manager's and the peers' wg-quick configurations
as stacks/node_bootstrap.py writes them, brought up by wg-quick in network namespaces of
their own on this machine (the kernel here has no WireGuard module, so wg-quick runs the
userspace wireguard-go, as it says). Behind the manager's tunnel address runs real OpenSSH
(Debian's sshd, unpacked by `make test`), as on the manager: a listed peer logs in as root
with its key, the way deploys use DOCKER_HOST=ssh://root@10.200.0.1; a key the manager does
not list gets no handshake and no connection. Real Traefik answers there too, for Vault's
name.

Namespaces stand in for the manager and the peers' machines; the veth pair between them for
the Internet. No packet leaves this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constructs_lib.traefik_config import TraefikSettings, render_dynamic_config
from stacks.config import DeployTunnelConfig, TunnelPeer
from stacks.node_bootstrap import manager_tunnel_conf, peer_tunnel_conf, tunnel_hosts
from tests.conftest import CONFIG, ROOT
from tests.e2e.test_admin_allowlist import traefik

TOOLS = ("wg", "wg-quick", "wireguard-go", "ip", "ssh", "ssh-keygen")
# Debian's OpenSSH server, unpacked (not installed: installed, it would start at every boot)
# by `make test`, which also makes its privilege-separation user as the package does.
SSHD = ROOT / ".build" / "openssh-server" / "usr" / "sbin" / "sshd"
PORT = 22
SSHD_CONFIG = """\
Port 22
HostKey {work}/ssh_host_ed25519_key
AuthorizedKeysFile {work}/authorized_keys
PidFile {work}/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
"""


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)


def in_ns(ns: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, **kwargs)


def keypair(directory: Path, name: str) -> tuple[Path, str]:
    private = directory / f"{name}.key"
    private.write_text(sh("wg", "genkey").stdout)
    private.chmod(0o600)
    public = subprocess.run(
        ["wg", "pubkey"], input=private.read_text(), capture_output=True, text=True, check=True
    ).stdout.strip()
    return private, public


CONNECT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        print(s.recv(64).decode().split("-")[:2])
except OSError as error:
    print(f"refused: {error}")
"""
SSH_BANNER = "['SSH', '2.0']"


def sshd_ready() -> None:
    assert SSHD.exists(), (
        f"make test unpacks Debian's openssh-server into {SSHD.parent.parent.parent}"
    )
    assert sh("getent", "passwd", "sshd", check=False).returncode == 0, (
        "make test creates the user sshd (OpenSSH's privilege separation), as the package does"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)


@pytest.fixture(scope="module")
def tunnel(tmp_path_factory):
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    assert not missing, f"make test installs {missing} (wireguard-tools, wireguard-go)"
    work = tmp_path_factory.mktemp("tunnel")
    os.chmod(work, 0o700)
    tag = f"{os.getpid() % 10000}"
    # Interface names are shared across namespaces by wireguard-go's control sockets.
    names = {role: f"sp{role[0]}{tag}" for role in ("manager", "ci", "intruder")}
    namespaces = {role: f"sprocket-{role}-{tag}" for role in names}
    manager_key, manager_public = keypair(work, "manager")
    ci_key, ci_public = keypair(work, "ci")
    intruder_key, _ = keypair(work, "intruder")
    config = DeployTunnelConfig(
        manager_public_key=manager_public,
        peers=(TunnelPeer(name="ci", public_key=ci_public, address="10.200.0.2"),),
    )
    # The intruder uses an address of the network, with a key the manager does not list.
    stranger = TunnelPeer(name="intruder", public_key=ci_public, address="10.200.0.9")
    underlay = {"manager": "10.99.0.1", "ci": "10.99.0.2", "intruder": "10.99.0.3"}
    servers = []
    try:
        for ns in namespaces.values():
            sh("ip", "netns", "add", ns)
            in_ns(ns, "ip", "link", "set", "lo", "up")
        # A bridge in the manager's namespace stands in for the Internet between them.
        in_ns(namespaces["manager"], "ip", "link", "add", "br0", "type", "bridge")
        in_ns(namespaces["manager"], "ip", "addr", "add", f"{underlay['manager']}/24", "dev", "br0")
        in_ns(namespaces["manager"], "ip", "link", "set", "br0", "up")
        for role in ("ci", "intruder"):
            outer, inner = f"v{role[0]}{tag}a", f"v{role[0]}{tag}b"
            sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            sh("ip", "link", "set", outer, "netns", namespaces["manager"])
            sh("ip", "link", "set", inner, "netns", namespaces[role])
            in_ns(namespaces["manager"], "ip", "link", "set", outer, "master", "br0", "up")
            in_ns(namespaces[role], "ip", "addr", "add", f"{underlay[role]}/24", "dev", inner)
            in_ns(namespaces[role], "ip", "link", "set", inner, "up")
        files = {
            "manager": manager_tunnel_conf(config, key_file=str(manager_key)),
            "ci": peer_tunnel_conf(config, config.peers[0], underlay["manager"], str(ci_key)),
            "intruder": peer_tunnel_conf(config, stranger, underlay["manager"], str(intruder_key)),
        }
        for role in ("manager", "ci", "intruder"):
            conf = work / f"{names[role]}.conf"
            conf.write_text(files[role])
            conf.chmod(0o600)
            up = in_ns(namespaces[role], "wg-quick", "up", str(conf), check=False)
            assert up.returncode == 0, up.stderr
        sshd_ready()
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "ssh_host_ed25519_key"))
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "id_ed25519"))
        (work / "authorized_keys").write_text((work / "id_ed25519.pub").read_text())
        host_key = (work / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        (work / "known_hosts").write_text(f"{config.manager_address} {' '.join(host_key)}\n")
        (work / "sshd_config").write_text(SSHD_CONFIG.format(work=work))
        servers.append(
            subprocess.Popen(
                ["ip", "netns", "exec", namespaces["manager"], str(SSHD), "-D", "-e",
                 "-f", str(work / "sshd_config")],
                stdout=subprocess.DEVNULL,
                stderr=(work / "sshd.log").open("wb"),
            )
        )  # fmt: skip
        time.sleep(0.5)
        yield config, namespaces, names, files, underlay, work
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        for role, ns in namespaces.items():
            conf = work / f"{names[role]}.conf"
            if conf.exists():
                in_ns(ns, "wg-quick", "down", str(conf), check=False)
            sh("ip", "netns", "del", ns, check=False)


def connect(ns: str, address: str, wait_s: float) -> str:
    return in_ns(ns, sys.executable, "-c", CONNECT, address, str(PORT), str(wait_s)).stdout.strip()


def test_a_listed_peer_reaches_the_manager_through_the_tunnel(tunnel):
    config, namespaces, *_ = tunnel
    # The first handshake may wait for WireGuard's retry (5 s): allow for two.
    deadline, answer = time.monotonic() + 15, ""
    while time.monotonic() < deadline and answer != SSH_BANNER:
        answer = connect(namespaces["ci"], str(config.manager_address), 3)
    assert answer == SSH_BANNER


def test_a_listed_peer_logs_in_to_the_managers_sshd_as_root_with_its_key(tunnel):
    config, namespaces, *_, work = tunnel
    # as `DOCKER_HOST=ssh://root@10.200.0.1` does: key only, the host key known beforehand
    login = in_ns(
        namespaces["ci"], "ssh", "-F", "none", "-i", str(work / "id_ed25519"),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={work / 'known_hosts'}", "-o", "ConnectTimeout=10",
        f"root@{config.manager_address}", "echo", "through-the-tunnel",
        check=False, timeout=60,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr + (work / "sshd.log").read_text()
    assert login.stdout == "through-the-tunnel\n"


def test_a_key_the_manager_does_not_list_gets_no_handshake_and_no_connection(tunnel):
    config, namespaces, names, *_ = tunnel
    answer = connect(namespaces["intruder"], str(config.manager_address), 8)
    assert answer.startswith("refused"), answer
    handshakes = in_ns(
        namespaces["intruder"], "wg", "show", names["intruder"], "latest-handshakes"
    ).stdout.split()
    assert handshakes[-1] == "0"


def test_only_the_managers_tunnel_address_is_routed_through_a_peer(tunnel):
    config, namespaces, names, files, *_ = tunnel
    # A deploy job's or an operator's other traffic stays on its own network.
    allowed = in_ns(namespaces["ci"], "wg", "show", names["ci"], "allowed-ips").stdout.split()
    assert allowed[1:] == [f"{config.manager_address}/32"]
    assert "PrivateKey" not in files["manager"] and "PrivateKey" not in files["ci"]


STATUS = """
import http.client, sys
try:
    connection = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
    connection.request("GET", "/", headers={"Host": sys.argv[3]})
    print(connection.getresponse().status)
except OSError as error:
    print(f"refused: {error}")
"""
WEB_PORT = 8080  # Traefik's entrypoint here: plain HTTP (TLS is not what is tested)
BACKEND_PORT = 8200


def http_status(ns: str, address: str, host: str) -> str:
    """The status of GET / at ``address`` (a name is resolved in ``ns``) for ``host``."""
    args = (sys.executable, "-c", STATUS, address, str(WEB_PORT), host)
    return in_ns(ns, *args).stdout.strip()


def test_a_peer_reaches_vault_by_its_name_through_the_tunnel_and_the_internet_gets_403(
    tunnel, tmp_path
):
    config, namespaces, _, _, underlay, _ = tunnel
    cluster = CONFIG.cluster.model_copy(update={"deploy_tunnel": config})
    vault = cluster.host("vault")
    # GIVEN the peer's /etc/hosts with the line `tunnel_config.py --hosts` prints (ip netns
    # exec bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for what it runs)
    etc = Path("/etc/netns") / namespaces["ci"]
    etc.mkdir(parents=True)
    (etc / "hosts").write_text("127.0.0.1 localhost\n" + tunnel_hosts(cluster))
    # AND on the manager a backend, and real Traefik bound to every address (host mode) with
    # the admin allowlist rendered from the configuration, in front of it for Vault's name
    dynamic = render_dynamic_config(TraefikSettings(admin_networks=cluster.admin_sources))
    manager = ("ip", "netns", "exec", namespaces["manager"])
    serve = (sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(BACKEND_PORT))
    backend = subprocess.Popen([*manager, *serve], cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        with traefik(
            tmp_path,
            dynamic,
            BACKEND_PORT,
            admin_host=vault,
            listen="",
            port=WEB_PORT,
            prefix=manager,
            ready=lambda port: (
                http_status(namespaces["manager"], "127.0.0.1", "public.test") == "200"
            ),
        ):
            # THEN the peer, by Vault's name, goes through the tunnel and is let in
            deadline, answer = time.monotonic() + 15, ""
            while time.monotonic() < deadline and answer != "200":
                answer = http_status(namespaces["ci"], vault, vault)
            assert answer == "200"
            # AND the same peer over the Internet (the manager's public address) gets 403,
            # as does a stranger: only the tunnel address is on the allowlist
            for role in ("ci", "intruder"):
                assert http_status(namespaces[role], underlay["manager"], vault) == "403", role
                # while the public router answers everyone
                assert http_status(namespaces[role], underlay["manager"], "public.test") == "200"
    finally:
        backend.terminate()
        backend.wait(10)
        shutil.rmtree(etc)
