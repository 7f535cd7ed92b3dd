"""A real OpenBao server (the open-source Vault) on loopback, for end-to-end tests.

``bao_dev_server`` starts ``bao server -dev`` with a known root token; ``start_bao``
starts any ``bao server`` configuration and waits until it answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest
import requests

BAO = Path(sys.executable).with_name("bao")
ROOT_TOKEN = "e2e-root-token"  # the dev server's root token: a throwaway, loopback-only server
START_TIMEOUT = 20
STOP_TIMEOUT = 10
REQUEST_TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_session() -> requests.Session:
    """A requests session that never goes through an HTTP(S) proxy from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str) -> int | None:
    """The HTTP status ``url`` answers with, or None when nothing answers yet."""
    try:
        with _NO_PROXY.open(url, timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class BaoServer:
    process: subprocess.Popen
    address: str
    log: Path

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(
            url=self.address, token=token, timeout=REQUEST_TIMEOUT, session=loopback_session()
        )

    def seal_status(self) -> dict:
        with _NO_PROXY.open(f"{self.address}/v1/sys/seal-status", timeout=5) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def start_bao(workdir: Path, args: Callable[[int], list[str]], *, ready: set[int]) -> BaoServer:
    """Start ``bao server`` on a free loopback port; return once it answers with a ``ready`` status.

    ``args(port)`` gives the arguments after ``bao server``. A port taken between choosing and
    binding makes the server exit: then it is retried on another port, at most three times.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    for attempt in range(3):
        port = free_port()
        log = workdir / f"bao-{attempt}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(BAO), "server", *args(port)],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = BaoServer(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if http_status(f"{server.address}/v1/sys/health") in ready:
                return server
            time.sleep(0.1)
        server.stop()
        if process.returncode not in (None, 0) and "address already in use" in log.read_text():
            continue
        break
    raise AssertionError(f"bao server did not become ready:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def bao_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    workdir = tmp_path_factory.mktemp("bao-dev")
    server = start_bao(
        workdir,
        lambda port: [
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ],
        ready={200},
    )
    try:
        yield server
    finally:
        server.stop()
