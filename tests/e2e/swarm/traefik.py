"""Talking to the Traefik the rehearsal runs: its routes, derived from the synthesized labels,
and HTTP(S) and TLS clients that speak to it on 127.0.0.1 as a browser would (TLS with the
route's SNI, then HTTP with its Host header).

ACME is off in the rehearsal (tests/e2e/swarm/rehearsal.py, DEVIATIONS), so Traefik serves its
self-signed default certificate; the clients do not verify certificates.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import service_labels, services
from tests.e2e.swarm.images import recipe_for

TRAEFIK_STACK = "layer_1"
TRAEFIK_SERVICE = "traefik"
STATIC_CONFIG_PATH = "/etc/traefik/traefik.yml"
DASHBOARD_HOST = "traefik.sprocket.mlesports.gg"
UNKNOWN_HOST = "no-such-route.sprocket.mlesports.gg"
HSTS_MIN_AGE_S = 31_536_000
REQUEST_TIMEOUT_S = 5.0
ROUTED_TIMEOUT_S = 60.0
LOG_TAIL_LINES = 20

_HOST_MATCHER = re.compile(r"Host\(`(?P<host>[^`]+)`\)")
_ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.(?P<router>[^.]+)\.rule$")


@dataclass(frozen=True)
class Route:
    """One HTTP router declared by a Swarm service's labels."""

    stack: str
    swarm_service: str
    router: str
    hosts: tuple[str, ...]
    # The router's target: a Traefik service name, or e.g. "api@internal".
    target: str

    @property
    def internal(self) -> bool:
        return self.target.endswith("@internal")


def derive_routes(stacks: Mapping[str, dict]) -> list[Route]:
    """Every HTTP router of every ``traefik.enable=true`` service, from its synthesized labels.

    A rule must be ``Host(`a`) || Host(`b`) ...`` only, so each host fully exercises its route;
    anything else fails here, asking for this test to learn the new matcher.
    """
    routes = []
    for stack, document in sorted(stacks.items()):
        for name, resource in sorted(services(document).items()):
            labels = service_labels(resource)
            if labels.get("traefik.enable") != "true":
                continue
            for key, rule in sorted(labels.items()):
                match = _ROUTER_RULE.match(key)
                if not match:
                    continue
                router = match["router"]
                hosts = tuple(_HOST_MATCHER.findall(rule))
                rebuilt = " || ".join(f"Host(`{h}`)" for h in hosts)
                assert hosts and rebuilt == rule, f"{name}: rule {rule!r} is not host-only"
                target = labels.get(f"traefik.http.routers.{router}.service", router)
                routes.append(Route(stack, name, router, hosts, target))
    return routes


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def describe(self) -> str:
        return f"{self.status} {dict(self.headers)} {self.body[:200]!r}"


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS to a loopback address with another name's SNI (and, by the caller, Host)."""

    def __init__(self, port: int, sni: str, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S, context=context)
        self._sni = sni
        self._tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls_context.wrap_socket(raw, server_hostname=self._sni)


def unverified_client_context(
    minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A client context that accepts Traefik's self-signed default certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    return context


def read_response(
    connection: http.client.HTTPConnection, path: str, headers: dict[str, str]
) -> Response:
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return Response(response.status, response.headers, body)
    finally:
        connection.close()


@dataclass
class RunningTraefik:
    """Traefik as the rehearsal runs it: its host ports, its logs, the routes to expect."""

    swarm: object
    ports: dict[str, int]
    routes: list[Route]
    username: str
    password: str

    def https(
        self, host: str, path: str = "/", *, credentials: tuple[str, str] | None = None
    ) -> Response:
        headers = {"Host": host}
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        connection = _SniConnection(self.ports["websecure"], host, unverified_client_context())
        return read_response(connection, path, headers)

    def http(self, host: str, path: str = "/") -> Response:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.ports["web"], timeout=REQUEST_TIMEOUT_S
        )
        return read_response(connection, path, {"Host": host})

    @property
    def credentials(self) -> tuple[str, str]:
        return self.username, self.password

    def log_lines(self) -> list[str]:
        container = self.swarm.rehearsal.container_of(TRAEFIK_SERVICE)
        return self.swarm.engine.api.logs(container, tail=2000).splitlines()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Traefik's warnings and errors, then the last ``lines`` lines of its log."""
        log = self.log_lines()
        flagged = [line for line in log if re.search(r'"level":"(warn|error|fatal|panic)"', line)]
        return (
            "\n--- Traefik's warnings and errors ---\n"
            + "\n".join(line[:400] for line in flagged[-LOG_TAIL_LINES:])
            + f"\n--- last {lines} lines ---\n"
            + "\n".join(line[:300] for line in log[-lines:])
        )

    def swarm_routers(self) -> dict[str, dict]:
        """Routers of the Swarm provider, from the authenticated dashboard API, by name."""
        response = self.https(DASHBOARD_HOST, "/api/http/routers", credentials=self.credentials)
        assert response.status == 200, (
            f"the routers API on {DASHBOARD_HOST} answered {response.describe()}" + self.log_tail()
        )
        return {
            r["name"].removesuffix("@swarm"): r
            for r in json.loads(response.body)
            if r.get("provider") == "swarm"
        }


def wait_until_routed(traefik: RunningTraefik) -> None:
    """Until the Swarm provider's routers for every expected route are live."""
    expected = {route.router for route in traefik.routes}
    deadline = time.monotonic() + ROUTED_TIMEOUT_S
    last = "no attempt yet"
    while time.monotonic() < deadline:
        try:
            response = traefik.https(
                DASHBOARD_HOST, "/api/http/routers?per_page=1000", credentials=traefik.credentials
            )
            if response.status == 200:
                live = {
                    r["name"].removesuffix("@swarm")
                    for r in json.loads(response.body)
                    if r.get("provider") == "swarm"
                }
                if expected <= live:
                    return
                last = f"missing routers {sorted(expected - live)}"
            else:
                last = f"routers API {response.status}"
        except (OSError, ValueError, http.client.HTTPException) as error:
            last = repr(error)
        time.sleep(0.5)
    raise AssertionError(
        f"not every route live within {ROUTED_TIMEOUT_S} s ({last})" + traefik.log_tail()
    )


def expected_body(swarm, route: Route) -> str | None:
    """What the route's backend answers: a stand-in its image reference; a real program
    (Vault's API server) something of its own, None here."""
    image = swarm.rehearsal.service(route.swarm_service).body["TaskTemplate"]["ContainerSpec"][
        "Image"
    ]
    return f"{image}\n" if recipe_for(image) == "stand-in" else None


def handshake(port: int, context: ssl.SSLContext, sni: str) -> str:
    """The negotiated protocol version of a TLS handshake with 127.0.0.1:port."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        return str(tls.version())


def tls11_only_context() -> ssl.SSLContext:
    if not ssl.HAS_TLSv1_1:
        pytest.fail(
            f"this Python's OpenSSL ({ssl.OPENSSL_VERSION}) was built without TLS 1.1, so "
            "Traefik's refusal of TLS 1.1 cannot be demonstrated here"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = unverified_client_context(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
    # OpenSSL 3 allows TLS 1.1 only at security level 0.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def self_signed_pair(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for the control server."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls11-control.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "control.crt", directory / "control.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def control_handshake(client: ssl.SSLContext, directory: Path) -> str:
    """Handshake ``client`` with a local Python TLS server that allows TLS 1.1."""
    cert_path, key_path = self_signed_pair(directory)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server_context.minimum_version = ssl.TLSVersion.TLSv1_1
    server_context.set_ciphers("DEFAULT:@SECLEVEL=0")
    server_context.load_cert_chain(cert_path, key_path)
    server_errors: list[BaseException] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(REQUEST_TIMEOUT_S)

        def serve_one() -> None:
            try:
                connection, _ = listener.accept()
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError) as error:
                server_errors.append(error)

        thread = threading.Thread(target=serve_one, daemon=True)
        thread.start()
        try:
            return handshake(listener.getsockname()[1], client, "tls11-control.invalid")
        except ssl.SSLError as error:
            raise AssertionError(
                f"this machine's OpenSSL ({ssl.OPENSSL_VERSION}) cannot negotiate TLS 1.1 even "
                f"with a local server that allows it ({error}; server side: {server_errors}), "
                "so Traefik's refusal of TLS 1.1 cannot be told apart from the client's own"
            ) from error
        finally:
            thread.join(timeout=REQUEST_TIMEOUT_S)
