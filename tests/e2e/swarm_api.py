"""A stand-in Docker Swarm API and stub backends, built from the synthesized stacks.

Traefik's Swarm provider reads services, networks, tasks and nodes from a Docker API. This
module serves those objects, in Docker API JSON shapes, from the ``docker_service`` and
``docker_network`` resources of every synthesized stack, on 127.0.0.1 only:

- one Swarm network per ``docker_network`` resource (scope ``swarm``, driver ``overlay``);
- one Swarm service per ``docker_service``: ``Spec.Name``, ``Spec.Labels`` from the resource's
  ``labels``, ``Spec.Mode`` from the resource's mode (replicated or global);
- one running task per service on one manager node. The task is attached to every network the
  service is on (``networks_of``); on ``traefik-ingress`` its address is the service's own
  loopback address ``127.0.0.N/8``. Other networks get addresses in other 127/8 blocks where
  nothing listens, so a route that picked the wrong network fails instead of passing by luck.

For every service that declares a Traefik route with a ``...loadbalancer.server.port`` label,
``StubBackends`` serves HTTP 200 on (its ingress address, that port) with a body naming the
service.

    model = build_swarm_model(stacks)
    with SwarmApi(model) as api, StubBackends(model.backends) as backends:
        endpoint = api.endpoint  # "tcp://127.0.0.1:PORT" for providers.swarm.endpoint
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from tests.conftest import networks_of, resources, service_labels, services

INGRESS_NETWORK = "traefik-ingress"
API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
ENGINE_VERSION = "27.5.1"
CREATED_AT = "2025-01-01T00:00:00.000000000Z"
NODE_ID = "standinnode000000000000001"
_SERVICE_PORT = re.compile(r"^traefik\.http\.services\.(?P<svc>[^.]+)\.loadbalancer\.server\.port$")
_VERSION_PREFIX = re.compile(r"^/v\d+(\.\d+)?(?=/)")


def docker_id(kind: str, name: str, length: int = 25) -> str:
    """A stable Docker-style object id for ``name`` (Swarm ids are 25 lower-case characters)."""
    return hashlib.sha256(f"{kind}/{name}".encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Backend:
    """A stub HTTP server standing in for one routed service's task."""

    service: str
    address: str
    port: int


@dataclass(frozen=True)
class SwarmModel:
    """Docker API objects (already in Docker JSON shape) and the backends to start."""

    networks: list[dict]
    services: list[dict]
    tasks: list[dict]
    nodes: dict[str, dict]
    backends: list[Backend]
    # Swarm service name -> its task's address on the ingress network (no prefix length).
    ingress_addresses: dict[str, str] = field(default_factory=dict)


def _network_resources(stacks: Mapping[str, dict]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for document in stacks.values():
        for resource in resources(document, "docker_network").values():
            found[resource["name"]] = resource
    return found


def _network_json(name: str, resource: dict) -> dict:
    return {
        "Name": name,
        "Id": docker_id("network", name),
        "Created": CREATED_AT,
        "Scope": "swarm",
        "Driver": resource.get("driver", "overlay"),
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": []},
        "Internal": bool(resource.get("internal", False)),
        "Attachable": bool(resource.get("attachable", False)),
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {},
        "Options": {},
        "Labels": {},
    }


def _node_json() -> dict:
    return {
        "ID": NODE_ID,
        "Version": {"Index": 1},
        "CreatedAt": CREATED_AT,
        "UpdatedAt": CREATED_AT,
        "Spec": {"Labels": {}, "Role": "manager", "Availability": "active"},
        "Description": {
            "Hostname": "stand-in-manager",
            "Platform": {"Architecture": "x86_64", "OS": "linux"},
            "Engine": {"EngineVersion": ENGINE_VERSION},
        },
        "Status": {"State": "ready", "Addr": "127.0.0.1"},
        "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:2377"},
    }


def build_swarm_model(
    stacks: Mapping[str, dict],
    *,
    first_host: int = 10,
    ingress_network: str = INGRESS_NETWORK,
) -> SwarmModel:
    """Docker API objects for every ``docker_service`` of every stack.

    Services are numbered in stack then name order; service ``i`` gets the ingress address
    ``127.0.0.<first_host + i>``. On the ``k``-th other network (sorted by name) its address is
    ``127.<k + 100>.0.<first_host + i>``, where nothing listens.
    """
    network_resources = _network_resources(stacks)
    networks = {name: _network_json(name, r) for name, r in sorted(network_resources.items())}
    other_networks = sorted(n for n in networks if n != ingress_network)
    service_docs: list[dict] = []
    task_docs: list[dict] = []
    backends: list[Backend] = []
    ingress_addresses: dict[str, str] = {}

    ordered = [
        (stack_name, name, resource)
        for stack_name, document in sorted(stacks.items())
        for name, resource in sorted(services(document).items())
    ]
    assert len(ordered) + first_host < 255, "too many services for one 127.0.0.0/24 block"
    for index, (stack_name, name, resource) in enumerate(ordered):
        host = first_host + index
        document = stacks[stack_name]
        labels = service_labels(resource)
        service_id = docker_id("service", name)
        task_id = docker_id("task", name)
        mode_spec = resource.get("mode") or {}
        is_global = bool(mode_spec.get("global"))
        if is_global:
            mode = {"Global": {}}
        else:
            replicas = (mode_spec.get("replicated") or {}).get("replicas", 1)
            mode = {"Replicated": {"Replicas": replicas}}
        attached = sorted(networks_of(document, resource, stacks))
        unknown = [n for n in attached if n not in networks]
        assert not unknown, f"service {name} is on undeclared networks {unknown}"

        attachments = []
        virtual_ips = []
        for network in attached:
            if network == ingress_network:
                address = f"127.0.0.{host}"
                ingress_addresses[name] = address
            else:
                address = f"127.{other_networks.index(network) + 100}.0.{host}"
            net = networks[network]
            attachments.append(
                {
                    "Network": {
                        "ID": net["Id"],
                        "Version": {"Index": 1},
                        "CreatedAt": CREATED_AT,
                        "UpdatedAt": CREATED_AT,
                        "Spec": {
                            "Name": network,
                            "Labels": {},
                            "DriverConfiguration": {"Name": net["Driver"]},
                            "Internal": net["Internal"],
                            "Attachable": net["Attachable"],
                            "Scope": "swarm",
                        },
                        "DriverState": {"Name": net["Driver"]},
                        "IPAMOptions": {"Driver": {"Name": "default"}, "Configs": []},
                    },
                    "Addresses": [f"{address}/8"],
                }
            )
            # The service's virtual IP: unreachable on purpose (Traefik balances over tasks
            # unless a service sets traefik.swarm.lbswarm, which none of ours does).
            virtual_ips.append({"NetworkID": net["Id"], "Addr": f"127.200.{host}.1/8"})

        image = resource["task_spec"]["container_spec"].get("image", "")
        endpoint_mode = (resource.get("endpoint_spec") or {}).get("mode", "vip")
        task_template = {
            "ContainerSpec": {"Image": image, "Labels": {}},
            "Networks": [{"Target": networks[n]["Id"]} for n in attached],
            "ForceUpdate": 0,
            "Runtime": "container",
        }
        service_docs.append(
            {
                "ID": service_id,
                "Version": {"Index": 1},
                "CreatedAt": CREATED_AT,
                "UpdatedAt": CREATED_AT,
                "Spec": {
                    "Name": name,
                    "Labels": labels,
                    "TaskTemplate": task_template,
                    "Mode": mode,
                    "EndpointSpec": {"Mode": endpoint_mode},
                },
                "Endpoint": {"Spec": {"Mode": endpoint_mode}, "VirtualIPs": virtual_ips},
            }
        )
        task_docs.append(
            {
                "ID": task_id,
                "Version": {"Index": 1},
                "CreatedAt": CREATED_AT,
                "UpdatedAt": CREATED_AT,
                "Labels": {},
                "Spec": task_template,
                "ServiceID": service_id,
                # Docker leaves Slot at 0 for tasks of global services.
                "Slot": 0 if is_global else 1,
                "NodeID": NODE_ID,
                "Status": {
                    "Timestamp": CREATED_AT,
                    "State": "running",
                    "Message": "started",
                    "ContainerStatus": {
                        "ContainerID": docker_id("container", name, 64),
                        "PID": 1000 + index,
                        "ExitCode": 0,
                    },
                    "PortStatus": {},
                },
                "DesiredState": "running",
                "NetworksAttachments": attachments,
            }
        )

        if labels.get("traefik.enable") == "true":
            for key, value in sorted(labels.items()):
                if _SERVICE_PORT.match(key) and name in ingress_addresses:
                    backends.append(Backend(name, ingress_addresses[name], int(value)))

    return SwarmModel(
        networks=list(networks.values()),
        services=service_docs,
        tasks=task_docs,
        nodes={NODE_ID: _node_json()},
        backends=backends,
        ingress_addresses=ingress_addresses,
    )


def parse_filters(query: str) -> dict[str, set[str]]:
    """Docker's ``filters`` query parameter, in either of its JSON forms, as name -> values."""
    raw = parse_qs(query).get("filters", ["{}"])[0]
    decoded = json.loads(raw or "{}")
    parsed: dict[str, set[str]] = {}
    for name, values in decoded.items():
        if isinstance(values, dict):
            parsed[name] = {v for v, enabled in values.items() if enabled}
        else:
            parsed[name] = set(values)
    return parsed


def _matches(filters: Mapping[str, set[str]], candidates: Mapping[str, Iterable[str]]) -> bool:
    """True when every filter this API knows has at least one candidate value in its set."""
    for name, wanted in filters.items():
        if name not in candidates:
            continue
        if not wanted & set(candidates[name]):
            return False
    return True


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _ApiHttpServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK hold every response back about 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # quiet: see SwarmApi.requests
        pass

    def _send(self, status: int, body: object, *, head: bool = False) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        content_type = "text/plain" if isinstance(body, bytes) else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")
        self.send_header("Server", f"Docker/{ENGINE_VERSION} (linux)")
        self.send_header("Swarm", "active/manager")
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        self.server.api.record(self.command, self.path, known=False)
        self._send(405, {"message": "the stand-in Swarm API is read-only"})

    def _dispatch(self, *, head: bool) -> None:
        api = self.server.api
        model = api.model
        url = urlsplit(self.path)
        path = _VERSION_PREFIX.sub("", url.path).rstrip("/") or "/"
        filters = parse_filters(url.query)
        known = True
        if path == "/_ping":
            self._send(200, b"OK", head=head)
        elif path == "/version":
            self._send(
                200,
                {
                    "Version": ENGINE_VERSION,
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": "amd64",
                    "KernelVersion": "6.1.0",
                    "GoVersion": "go1.22.11",
                    "GitCommit": "stand-in",
                    "BuildTime": CREATED_AT,
                    "Components": [
                        {"Name": "Engine", "Version": ENGINE_VERSION, "Details": {}},
                    ],
                },
                head=head,
            )
        elif path == "/services":
            self._send(
                200,
                [
                    s
                    for s in model.services
                    if _matches(
                        filters,
                        {"id": [s["ID"]], "name": [s["Spec"]["Name"]]},
                    )
                ],
                head=head,
            )
        elif path.startswith("/services/"):
            key = path.removeprefix("/services/")
            found = [s for s in model.services if key in (s["ID"], s["Spec"]["Name"])]
            if found:
                self._send(200, found[0], head=head)
            else:
                self._send(404, {"message": f"service {key} not found"}, head=head)
        elif path == "/networks":
            self._send(
                200,
                [
                    n
                    for n in model.networks
                    if _matches(
                        filters,
                        {
                            "scope": [n["Scope"]],
                            "driver": [n["Driver"]],
                            "name": [n["Name"]],
                            "id": [n["Id"]],
                        },
                    )
                ],
                head=head,
            )
        elif path.startswith("/networks/"):
            key = path.removeprefix("/networks/")
            found = [n for n in model.networks if key in (n["Id"], n["Name"])]
            if found:
                self._send(200, found[0], head=head)
            else:
                self._send(404, {"message": f"network {key} not found"}, head=head)
        elif path == "/tasks":
            names = {s["ID"]: s["Spec"]["Name"] for s in model.services}
            self._send(
                200,
                [
                    t
                    for t in model.tasks
                    if _matches(
                        filters,
                        {
                            "id": [t["ID"]],
                            "service": [t["ServiceID"], names[t["ServiceID"]]],
                            "node": [t["NodeID"]],
                            "desired-state": [t["DesiredState"]],
                        },
                    )
                ],
                head=head,
            )
        elif path == "/nodes":
            self._send(200, list(model.nodes.values()), head=head)
        elif path.startswith("/nodes/"):
            key = path.removeprefix("/nodes/")
            if key in model.nodes:
                self._send(200, model.nodes[key], head=head)
            else:
                self._send(404, {"message": f"node {key} not found"}, head=head)
        else:
            known = False
            self._send(404, {"message": f"page not found: {path}"}, head=head)
        api.record(self.command, self.path, known=known)


class _ApiHttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    api: SwarmApi


class SwarmApi:
    """The stand-in Docker API on 127.0.0.1 (an ephemeral port), serving ``model``.

    ``requests`` lists every (method, path) served; ``unknown_requests`` those this API does
    not implement, to show what Traefik asked for that the stand-in lacks.
    """

    def __init__(self, model: SwarmModel, host: str = "127.0.0.1") -> None:
        self.model = model
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.unknown_requests: list[tuple[str, str]] = []
        self._server = _ApiHttpServer((host, 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"tcp://{host}:{port}"

    def record(self, method: str, path: str, *, known: bool) -> None:
        with self._lock:
            self.requests.append((method, path))
            if not known:
                self.unknown_requests.append((method, path))

    def paths_seen(self) -> set[str]:
        """Requested paths without query and API version prefix."""
        with self._lock:
            return {_VERSION_PREFIX.sub("", urlsplit(p).path) for _, p in self.requests}

    def start(self) -> SwarmApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SwarmApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def backend_body(service: str) -> str:
    """What the stub backend of ``service`` answers."""
    return f"stub backend for swarm service {service}\n"


class _BackendHandler(http.server.BaseHTTPRequestHandler):
    server: _BackendHttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, *, head: bool) -> None:
        payload = backend_body(self.server.service).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Stub-Service", self.server.service)
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)


class _BackendHttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    service: str


class StubBackends:
    """One threaded HTTP server per ``Backend``, bound on its (address, port).

    Raises ``OSError`` from ``start`` (after closing what it opened) if any address is taken.
    """

    def __init__(self, backends: Iterable[Backend]) -> None:
        self.backends = list(backends)
        self._servers: list[_BackendHttpServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> StubBackends:
        try:
            for backend in self.backends:
                server = _BackendHttpServer((backend.address, backend.port), _BackendHandler)
                server.service = backend.service
                self._servers.append(server)
        except OSError:
            self.stop()
            raise
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> StubBackends:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
