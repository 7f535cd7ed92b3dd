"""A Traefik v3 route for one Swarm service, expressed as service labels.

Traefik's Swarm provider reads routers and services from service labels. This
module builds those labels with a pure function (``traefik_labels``) and wraps it
in a construct that also keeps router names unique across every stack, since two
services declaring the same router name silently shadow each other in Traefik.

    route = TraefikRoute(self, "web_route", TraefikRouteProps(
        name="web", hosts=["sprocket.example.com"], port=3000, network="traefik-ingress"))
    SwarmService(self, "web", SwarmServiceProps(
        name="web", image="example/web:1.2.3", networks=[ingress], routes=[route], ...))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from cdktf import TerraformStack
from constructs import Construct

from constructs_lib.errors import PropsError, raise_if
from constructs_lib.validation import hostname_problem, port_problem

DEFAULT_CERT_RESOLVER = "letsencrypt"
SWARM_PLACEHOLDER_PORT = 9
_ROUTER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_MIDDLEWARE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*(@(file|swarm|internal))?$")
_INTERNAL_SERVICE = re.compile(r"^[a-z0-9-]+@internal$")


class RouterKind(Enum):
    HTTP = "http"
    # TCP routers match on TLS SNI, so they always terminate TLS.
    TCP = "tcp"


class EntryPoint(Enum):
    WEB = "web"
    WEBSECURE = "websecure"


@dataclass(frozen=True, kw_only=True)
class TraefikRouteProps:
    # Router (and Traefik service) name; must be unique within the stack.
    name: str
    # Host names the router answers for, matched exactly.
    hosts: Sequence[str]
    # Container port Traefik forwards to. Required unless internal_service is set.
    port: int | None = None
    # Default: the service's own containers. "api@internal" routes to Traefik's dashboard.
    internal_service: str | None = None
    # Default: HTTP router.
    kind: RouterKind = RouterKind.HTTP
    # Default: websecure (:443). Plain-HTTP traffic is redirected there by Traefik itself.
    entrypoint: EntryPoint = EntryPoint.WEBSECURE
    # Default: certificates from Let's Encrypt through the resolver Traefik's static config defines.
    cert_resolver: str = DEFAULT_CERT_RESOLVER
    # Default: none beyond the entrypoint's own (HSTS on websecure). e.g. "dashboard-auth@file".
    middlewares: Sequence[str] = ()
    # Default: the network named in Traefik's static config. Set it when the service is on
    # several networks Traefik could reach it through.
    network: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not _ROUTER_NAME.match(self.name):
            problems.append(
                f"name={self.name!r}: must be 1-63 lower-case letters, digits or '-', "
                "starting with a letter or digit"
            )
        if isinstance(self.hosts, str) or not self.hosts:
            problems.append(f"hosts={self.hosts!r}: must be a non-empty list of host names")
        else:
            for host in self.hosts:
                if problem := hostname_problem(host):
                    problems.append(f"hosts: {host!r} {problem}")
        if (self.port is None) == (self.internal_service is None):
            problems.append(
                f"port={self.port!r}, internal_service={self.internal_service!r}: "
                "set exactly one of them"
            )
        if self.port is not None and (problem := port_problem(self.port)):
            problems.append(f"port={self.port!r}: {problem}")
        if self.internal_service is not None:
            if not _INTERNAL_SERVICE.match(self.internal_service):
                problems.append(
                    f"internal_service={self.internal_service!r}: must name a Traefik internal "
                    "service such as 'api@internal'"
                )
            if self.kind is RouterKind.TCP:
                problems.append("internal_service: only HTTP routers can use internal services")
        if self.kind is RouterKind.TCP and self.entrypoint is not EntryPoint.WEBSECURE:
            problems.append(
                f"entrypoint={self.entrypoint.value!r}: TCP routers match on TLS SNI and must "
                "use 'websecure'"
            )
        for middleware in self.middlewares:
            if not _MIDDLEWARE.match(middleware):
                problems.append(
                    f"middlewares: {middleware!r} must be a middleware name, optionally with "
                    "@file, @swarm or @internal"
                )
        if self.kind is RouterKind.TCP and self.middlewares:
            problems.append("middlewares: HTTP middlewares cannot be attached to a TCP router")
        raise_if("TraefikRoute", problems)


def traefik_labels(props: TraefikRouteProps) -> dict[str, str]:
    """The Swarm service labels that declare ``props`` to Traefik v3, sorted by key."""
    kind = props.kind.value
    router = f"traefik.{kind}.routers.{props.name}"
    matcher = "HostSNI" if props.kind is RouterKind.TCP else "Host"
    labels = {
        "traefik.enable": "true",
        f"{router}.rule": " || ".join(f"{matcher}(`{host}`)" for host in props.hosts),
        f"{router}.entrypoints": props.entrypoint.value,
    }
    if props.entrypoint is EntryPoint.WEBSECURE:
        labels[f"{router}.tls"] = "true"
        labels[f"{router}.tls.certresolver"] = props.cert_resolver
    if props.middlewares:
        labels[f"{router}.middlewares"] = ",".join(props.middlewares)
    if props.internal_service is not None:
        labels[f"{router}.service"] = props.internal_service
        # Traefik's Swarm provider drops a service, and every router on it, unless some
        # load-balancer port is declared ("port is missing"). An internal service has none,
        # so a placeholder one is declared, as Traefik's Swarm documentation does; nothing
        # routes to it.
        labels[f"traefik.{kind}.services.{props.name}.loadbalancer.server.port"] = str(
            SWARM_PLACEHOLDER_PORT
        )
    else:
        labels[f"{router}.service"] = props.name
        labels[f"traefik.{kind}.services.{props.name}.loadbalancer.server.port"] = str(props.port)
    if props.network is not None:
        labels["traefik.swarm.network"] = props.network
    return dict(sorted(labels.items()))


# App (jsii reference) -> router name -> the stack whose route has it.
_ROUTER_NAMES: dict[str, dict[str, str]] = {}


class TraefikRoute(Construct):
    """Holds one route's labels; a ``SwarmService`` applies them when given the route."""

    def __init__(self, scope: Construct, id: str, props: TraefikRouteProps) -> None:
        super().__init__(scope, id)
        # Traefik's Swarm provider reads the services of every stack on the swarm: a router
        # name is global, so it is kept unique across the whole app, not per stack.
        # jsii hands out a new proxy of the app on every read: key by its runtime reference.
        taken = _ROUTER_NAMES.setdefault(self.node.root.__jsii_ref__.ref, {})
        stack = TerraformStack.of(self).node.id
        if props.name in taken:
            raise PropsError(
                "TraefikRoute",
                [
                    f"name={props.name!r}: stack {taken[props.name]!r} already has a route of "
                    "this name; router names are global to the swarm, so they must be unique "
                    "across every stack"
                ],
            )
        taken[props.name] = stack
        self.props = props
        self.labels = traefik_labels(props)
