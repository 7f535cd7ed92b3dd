"""A read-only Docker API for one consumer, instead of the Docker socket itself.

Creates one ``SwarmService`` running tecnativa/docker-socket-proxy (haproxy): the
node's socket is bind-mounted read-only, only the API sections named in
``allow`` answer, every POST is refused, and the proxy publishes no port; its
consumer reaches it over a network the two of them share.

    proxy = DockerSocketProxy(self, "socket_proxy", DockerSocketProxyProps(
        name="socket-proxy", image=images.socket_proxy, network=socket_net.ref,
        allow=frozenset({"SERVICES", "TASKS", "NETWORKS", "NODES"})))
    proxy.endpoint  # "tcp://socket-proxy:2375"
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_service import (
    BindMount,
    Healthcheck,
    PlacementRole,
    SwarmService,
    SwarmServiceProps,
)

PORT = 2375
DOCKER_SOCKET = "/var/run/docker.sock"
# Read-only API sections the proxy can open; PING and VERSION are always open.
API_SECTIONS = frozenset(
    {
        "BUILD", "COMMIT", "CONFIGS", "CONTAINERS", "DISTRIBUTION", "EVENTS", "EXEC",
        "GRPC", "IMAGES", "INFO", "NETWORKS", "NODES", "PLUGINS", "SECRETS", "SERVICES",
        "SESSION", "SWARM", "SYSTEM", "TASKS", "VOLUMES",
    }
)  # fmt: skip
# Sections that can reveal or touch secrets or run code: never opened.
NEVER = frozenset({"SECRETS", "CONFIGS", "EXEC", "BUILD", "COMMIT", "SESSION", "GRPC", "PLUGINS"})


@dataclass(frozen=True, kw_only=True)
class DockerSocketProxyProps:
    name: str
    image: str
    # The network shared with the proxy's one consumer; nothing else should join it.
    network: NetworkRef
    # API sections to open, read-only, e.g. {"SERVICES", "TASKS"}.
    allow: frozenset[str]

    def __post_init__(self) -> None:
        problems = []
        if unknown := sorted(set(self.allow) - API_SECTIONS):
            problems.append(f"allow: {unknown} are not API sections of the proxy")
        if dangerous := sorted(set(self.allow) & NEVER):
            problems.append(f"allow: {dangerous} expose secrets or code execution; never open them")
        raise_if("DockerSocketProxy", problems)


def proxy_environment(allow: frozenset[str]) -> dict[str, str]:
    """The proxy's switches: every section explicitly on or off, POST always off."""
    env = {section: ("1" if section in allow else "0") for section in sorted(API_SECTIONS)}
    return {**env, "PING": "1", "VERSION": "1", "POST": "0", "LOG_LEVEL": "warning"}


class DockerSocketProxy(Construct):
    def __init__(self, scope: Construct, id: str, props: DockerSocketProxyProps) -> None:
        super().__init__(scope, id)
        self.endpoint = f"tcp://{props.name}:{PORT}"
        self.service = SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name=props.name,
                image=props.image,
                networks=[props.network],
                env=proxy_environment(props.allow),
                binds=[BindMount(source=DOCKER_SOCKET, target=DOCKER_SOCKET, read_only=True)],
                # Only managers answer for services, tasks and nodes of the whole swarm.
                placement=PlacementRole.MANAGER,
                memory_limit_mib=64,
                cpu_limit=0.25,
                healthcheck=Healthcheck(
                    test=(
                        "CMD-SHELL",
                        f"wget -q -O /dev/null http://127.0.0.1:{PORT}/_ping || exit 1",
                    ),
                    start_period_s=10,
                ),
            ),
        )
