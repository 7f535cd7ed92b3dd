"""A private Docker engine with a single-node swarm, started and torn down by the tests.

``Engine.start`` runs Debian's ``dockerd`` (installed by ``make test``) with its own data,
exec root, pid file and socket under a temporary directory, initialises a swarm on 127.0.0.1
and installs the egress guard; ``Engine.stop`` undoes all of it, after a failure too.

Settings of the daemon, each for a reason measured here (docs/rehearsal.md):
- ``--bridge none``: the default ``docker0`` bridge vanished once while an engine ran; the
  rehearsal depends on swarm networks only.
- ``--dns 127.0.0.1``: the containers' embedded resolver forwards names it does not know to
  this address inside the container, where nothing listens, so an outside name fails at once
  instead of reaching the machine's resolvers.
- ``DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1``: Swarm's executor skips its registry pull and uses
  the local image (moby daemon/cluster/executor/container/controller.go, ``Prepare``); no
  registry is reachable here and no pull may leave the machine.

The egress guard: Docker sends forwarded container traffic through the ``DOCKER-USER`` chain
first (docs.docker.com "Packet filtering and firewalls"); one rule there rejects everything a
container sends from the swarm's gateway bridge towards any other interface, so no container
packet leaves the machine, and a connect to a public address fails at once (TCP reset) rather
than timing out.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from stacks.node_bootstrap import DOCKER_DAEMON

API_VERSION = "v1.41"  # Engine 20.10 (Debian bookworm's docker.io)
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 120
GATEWAY_BRIDGE = "docker_gwbridge"
ROOT_PREFIX = "sprocket-engine-"
EGRESS_RULE = ("-i", GATEWAY_BRIDGE, "!", "-o", GATEWAY_BRIDGE)
EGRESS_COMMENT = "sprocket-rehearsal: no container packet leaves this machine"


# What dockerd logs as errors at every network it sets up on this machine's kernel, which has
# no IPVS (rehearsal.py: the dnsrr endpoints) and lets no bridge VLAN be set.
KNOWN_LOG_NOISE = re.compile(r"kernel parameter net\.ipv4\.vs\.|default vlan|default_pvid")


class EngineError(AssertionError):
    """The engine refused a request or could not be started; the message says why."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._socket_path)


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class EngineApi:
    """The Docker Engine API over the engine's unix socket (only what the rehearsal needs)."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
        expect: tuple[int, ...] = (200, 201, 204),
    ) -> Response:
        url = f"/{API_VERSION}{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        sent_headers = dict(headers or {})
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        connection = _UnixConnection(self.socket_path, timeout)
        try:
            connection.request(method, url, body=payload, headers=sent_headers)
            response = connection.getresponse()
            result = Response(response.status, response.read())
        finally:
            connection.close()
        if expect and result.status not in expect:
            message = result.body.decode(errors="replace")[:600]
            raise EngineError(f"{method} {path} answered {result.status}: {message}")
        return result

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query or None).json()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body=body, **kwargs).json()

    def delete(self, path: str, **kwargs: Any) -> None:
        self.request("DELETE", path, **kwargs)

    # --- a few compound calls -------------------------------------------------------------

    def tasks(self, service: str | None = None, **filters: list[str]) -> list[dict]:
        if service is not None:
            filters = {**filters, "service": [service]}
        query = {"filters": json.dumps(filters)} if filters else None
        return self.request("GET", "/tasks", query=query).json()

    def exec(self, container: str, command: list[str], user: str = "") -> tuple[int, str]:
        """Run ``command`` in a running container; its exit code and combined output."""
        created = self.post(
            f"/containers/{container}/exec",
            {"Cmd": command, "User": user, "AttachStdout": True, "AttachStderr": True},
        )
        response = self.request(
            "POST", f"/exec/{created['Id']}/start", body={"Detach": False, "Tty": False}
        )
        status = self.get(f"/exec/{created['Id']}/json")["ExitCode"]
        return status, _demultiplex(response.body)

    def logs(self, container: str, tail: int = 40) -> str:
        response = self.request(
            "GET",
            f"/containers/{container}/logs",
            query={"stdout": 1, "stderr": 1, "tail": tail},
        )
        return _demultiplex(response.body)

    def import_image(self, tarball: Path, reference: str, changes: list[str]) -> None:
        repository, _, tag = reference.rpartition(":")
        query = [("fromSrc", "-"), ("repo", repository), ("tag", tag)]
        query += [("changes", change) for change in changes]
        url = "/images/create?" + urlencode(query, quote_via=quote)
        with tarball.open("rb") as stream:
            response = self.request(
                "POST", url, raw=stream.read(), headers={"Content-Type": "application/x-tar"}
            )
        for line in response.body.decode().splitlines():
            if '"error"' in line:
                raise EngineError(f"importing {reference}: {line}")


def _demultiplex(stream: bytes) -> str:
    """The text of Docker's multiplexed stdout/stderr stream (8-byte frame headers)."""
    out, offset = [], 0
    while offset + 8 <= len(stream):
        size = int.from_bytes(stream[offset + 4 : offset + 8], "big")
        out.append(stream[offset + 8 : offset + 8 + size])
        offset += 8 + size
    return b"".join(out).decode(errors="replace")


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@dataclass
class Engine:
    """One private dockerd and its swarm. Use ``with Engine.started() as engine``."""

    root: Path
    process: subprocess.Popen | None = None
    api: EngineApi = field(init=False)
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.api = EngineApi(str(self.root / "docker.sock"))
        self.log_path = self.root / "dockerd.log"

    @property
    def socket(self) -> str:
        return str(self.root / "docker.sock")

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[Engine]:
        """A started engine, stopped on leaving, also on an error or SIGTERM. An engine a
        killed earlier run left behind is stopped first: two cannot share the swarm's
        gateway bridge and ports."""
        reap_stale_engines()
        engine = cls(Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir="/tmp")))
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: object) -> None:
            raise SystemExit(f"stopped by signal {signum}")

        signal.signal(signal.SIGTERM, on_sigterm)
        try:
            engine.start()
            yield engine
        finally:
            engine.stop()
            signal.signal(signal.SIGTERM, previous)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no dockerd log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_problems(self, lines: int = 40) -> str:
        """dockerd's last warnings and errors, but for those it logs at every network it sets
        up on this machine's kernel (``KNOWN_LOG_NOISE``); its info lines are mostly
        containerd's, four for every container started."""
        if not self.log_path.exists():
            return "(no dockerd log)"
        problems = [
            line
            for line in self.log_path.read_text(errors="replace").splitlines()
            if re.search(r"level=(warning|error|fatal)", line) and not KNOWN_LOG_NOISE.search(line)
        ]
        return "\n".join(problems[-lines:]) or "(none)"

    def command(self) -> list[str]:
        return [
            shutil.which("dockerd") or "dockerd",
            *("--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec")),
            *("--pidfile", str(self.root / "docker.pid"), "-H", f"unix://{self.socket}"),
            *("--bridge", "none", "--dns", "127.0.0.1"),
            # The nodes' own daemon settings: log rotation and the log lines' labels.
            *("--config-file", str(self.root / "daemon.json")),
        ]

    def start(self) -> None:
        problems = unavailable_reason()
        if problems:
            raise EngineError(f"no Docker engine can start here: {problems}")
        for name in ("data", "exec"):
            (self.root / name).mkdir()
        (self.root / "daemon.json").write_text(json.dumps(DOCKER_DAEMON))
        environment = {**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"}
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise EngineError(
                    f"dockerd exited with {self.process.returncode}:\n" + self.log_tail()
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.api.request("GET", "/_ping", timeout=2, expect=()).status == 200:
                    break
            if time.monotonic() > deadline:
                raise EngineError(
                    f"dockerd did not answer within {START_TIMEOUT_S} s:\n" + self.log_tail()
                )
            time.sleep(0.2)
        # The gateway bridge made before the swarm, as Docker's documentation does for a
        # customised one ("Customize the docker_gwbridge interface", docs.docker.com
        # engine/swarm/networking, with these three options): Docker would otherwise make it
        # only for the first task, and its gateway address, where the Spaces stand-in
        # listens (tests/e2e/swarm/spaces.py), must be known before the first deploy.
        self.api.post(
            "/networks/create",
            {
                "Name": GATEWAY_BRIDGE,
                "Driver": "bridge",
                "Options": {
                    "com.docker.network.bridge.name": GATEWAY_BRIDGE,
                    "com.docker.network.bridge.enable_icc": "false",
                    "com.docker.network.bridge.enable_ip_masquerade": "true",
                },
            },
        )
        self.api.post("/swarm/init", {"ListenAddr": "127.0.0.1:2377", "AdvertiseAddr": "127.0.0.1"})
        self._guard_egress()

    def _guard_egress(self) -> None:
        rule = (*EGRESS_RULE, "-m", "comment", "--comment", EGRESS_COMMENT)
        rule += ("-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset")
        other = (*EGRESS_RULE, "-m", "comment", "--comment", EGRESS_COMMENT, "-j", "REJECT")
        for spec in (other, rule):  # inserted at the top: TCP resets first, then everything else
            result = _run("iptables", "-I", "DOCKER-USER", "1", *spec)
            if result.returncode:
                raise EngineError(f"could not install the egress guard: {result.stderr.strip()}")

    def _remove_egress_guard(self) -> None:
        listing = _run("iptables", "-S", "DOCKER-USER").stdout.splitlines()
        for line in listing:
            if EGRESS_COMMENT in line and line.startswith("-A "):
                _run("iptables", "-D", *shlex.split(line[3:]))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.api.request(
                    "POST", "/swarm/leave", query={"force": "true"}, timeout=30, expect=()
                )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        _kill_leftovers(self.root)
        self._remove_egress_guard()
        _run("ip", "link", "delete", GATEWAY_BRIDGE)
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def reap_stale_engines() -> None:
    for root in Path("/tmp").glob(ROOT_PREFIX + "*"):
        stale = Engine(root)
        pid_file = root / "docker.pid"
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.2)
        stale.stop()


def _kill_leftovers(root: Path) -> None:
    """containerd shims and containers of this engine that outlived dockerd."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in command:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)


def _unmount_below(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(str(root))), reverse=True):
        _run("umount", "-l", target)


def unavailable_reason() -> str:
    """Why no engine can start on this machine, or "" when one can."""
    missing = [
        tool for tool in ("dockerd", "containerd", "runc", "iptables") if not shutil.which(tool)
    ]
    if missing:
        return f"{', '.join(missing)} not installed (make test installs Debian's docker.io)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return ""
