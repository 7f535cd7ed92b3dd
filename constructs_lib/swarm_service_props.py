"""What a ``SwarmService`` is given: its props and the parts they are made of.

Frozen keyword-only dataclasses, each validated as it is made (every problem at once);
``constructs_lib/swarm_service.py`` turns them into the ``docker_service`` and its configs.

    SwarmServiceProps(name="redis", image="redis:8.10.1", memory_limit_mib=384,
        volumes=[VolumeMount(name="data", target="/data")], update_order=UpdateOrder.STOP_FIRST)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from constructs_lib.errors import raise_if
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_secret import SecretFile
from constructs_lib.tokens import is_unresolved
from constructs_lib.traefik_route import TraefikRoute
from constructs_lib.validation import docker_name_problem, image_problem, port_problem


class PlacementRole(Enum):
    ANY = "any"
    MANAGER = "manager"
    WORKER = "worker"


class UpdateOrder(Enum):
    # New task starts before the old one stops: no downtime, but two tasks overlap.
    START_FIRST = "start-first"
    # Old task stops first: required when tasks share a node-local volume or a host port.
    STOP_FIRST = "stop-first"


@dataclass(frozen=True, kw_only=True)
class VolumeMount:
    # Suffix of the Docker volume name, which becomes "<service>-<name>".
    # Changing it after the first deploy starts the service on an empty volume.
    name: str
    target: str
    read_only: bool = False


@dataclass(frozen=True, kw_only=True)
class ExistingVolumeMount:
    """A Docker volume another service of the stack created (its ``volume_names``): mounted
    here, never created or destroyed here."""

    # The volume's name: the reference SwarmService.volume_names gives, so the volume exists
    # before this service does.
    source: str
    target: str
    # Default: read-only.
    read_only: bool = True


@dataclass(frozen=True, kw_only=True)
class BindMount:
    # Absolute path on the node. Must already exist there: Swarm does not create it.
    source: str
    target: str
    # Default: read-only.
    read_only: bool = True


@dataclass(frozen=True, kw_only=True)
class ConfigFile:
    """A non-secret file delivered as a Swarm config: rendered at synth time, or public
    material Terraform reads at plan time (an expression)."""

    target: str
    content: str
    # Default: 0444, world-readable (configs hold no secrets).
    mode: int = 0o444


@dataclass(frozen=True, kw_only=True)
class PublishedPort:
    target_port: int
    published_port: int
    protocol: str = "tcp"
    # Default: "host", bound on the node that runs the task, keeping client addresses.
    # "ingress" spreads it over every node through Swarm's routing mesh.
    publish_mode: str = "host"


@dataclass(frozen=True, kw_only=True)
class RegistryLogin:
    """The account nodes pull a private image with (``--with-registry-auth``)."""

    server_address: str
    username: str
    # A Terraform expression (a sensitive variable); never a literal.
    password: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck:
    test: Sequence[str]
    interval_s: int = 30
    timeout_s: int = 5
    retries: int = 3
    start_period_s: int = 30


@dataclass(frozen=True, kw_only=True)
class SwarmServiceProps:
    # Swarm service name, also its DNS name on every network it joins.
    # Changing it after the first deploy replaces the service.
    name: str
    # Exact version tag or digest; "latest" and untagged images are refused.
    image: str
    # Default: no networks, reachable by nothing.
    networks: Sequence[NetworkRef] = ()
    # Default: one replica. Ignored when global_mode is set.
    replicas: int = 1
    # Default: replicated. True runs one task on every node that matches the placement.
    global_mode: bool = False
    # Default: the image's entrypoint and command.
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    # Non-secret environment; emitted sorted. Secrets belong in secret_files.
    env: Mapping[str, str] = field(default_factory=dict)
    # Extra service labels; Traefik labels come from routes.
    labels: Mapping[str, str] = field(default_factory=dict)
    # Default: reachable only from its networks, never through Traefik.
    routes: Sequence[TraefikRoute] = ()
    # A replicated service with a volume runs only on the node labelled sprocket.volumes=true
    # (a volume is local to its node); a global one keeps a volume on every node it runs on.
    volumes: Sequence[VolumeMount] = ()
    # Volumes of other services of the stack (a backup's); they pin the service to the volume
    # node like its own volumes do.
    existing_volumes: Sequence[ExistingVolumeMount] = ()
    binds: Sequence[BindMount] = ()
    config_files: Sequence[ConfigFile] = ()
    secret_files: Sequence[SecretFile] = ()
    # Default: no published ports; public traffic goes through Traefik.
    published_ports: Sequence[PublishedPort] = ()
    memory_limit_mib: int = 256
    # Default: an eighth of the limit (at least 16 MiB). A reservation is what the scheduler
    # sets aside on a node for the task; a task whose reservation fits on no node is not
    # started at all. It is a floor, not a measurement: set it from what the service uses.
    memory_reservation_mib: int | None = None
    cpu_limit: float = 0.5
    # Default: a twentieth of the limit. Like memory, it decides where a task may start.
    cpu_reservation: float | None = None
    # Seconds between restarts. A service restarts on any exit and never gives up: Swarm stops
    # restarting a task for good once max_attempts is used up within the window, which left
    # a service down after one dependency outage at boot (seen on a real engine).
    restart_delay_s: int = 5
    # Default: start-first. Services with volumes or host ports must use stop-first.
    update_order: UpdateOrder = UpdateOrder.START_FIRST
    # Seconds a new task must stay healthy before an update continues.
    update_monitor_s: int = 30
    # Default: the image's own HEALTHCHECK, if it has one.
    healthcheck: Healthcheck | None = None
    # Default: any node.
    placement: PlacementRole = PlacementRole.ANY
    constraints: Sequence[str] = ()
    cap_add: Sequence[str] = ()
    # Default: the image's user.
    user: str | None = None
    # Extra groups (numeric gids) for the container's user, e.g. to read a secret file
    # owned by that group when the image's user id is not fixed.
    groups: Sequence[str] = ()
    # Default: the task id. Set it for services whose data is keyed by host name (RabbitMQ).
    hostname: str | None = None
    # Seconds between SIGTERM and SIGKILL.
    stop_grace_period_s: int = 10
    # Default: images are pulled anonymously.
    registry_login: RegistryLogin | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if problem := docker_name_problem(self.name):
            problems.append(f"name={self.name!r}: {problem}")
        if not is_unresolved(self.image) and (problem := image_problem(self.image)):
            problems.append(f"image={self.image!r}: {problem}")
        if not self.global_mode and self.replicas < 1:
            problems.append(
                f"replicas={self.replicas}: must be at least 1 (remove the service instead)"
            )
        if self.memory_limit_mib < 6:
            problems.append(f"memory_limit_mib={self.memory_limit_mib}: Docker needs at least 6")
        reservation = self.memory_reservation_mib
        if reservation is not None and not 0 < reservation <= self.memory_limit_mib:
            problems.append(
                f"memory_reservation_mib={reservation}: must be from 1 to memory_limit_mib "
                f"({self.memory_limit_mib})"
            )
        if not 0 < self.cpu_limit <= 64:
            problems.append(f"cpu_limit={self.cpu_limit}: must be more than 0 and at most 64 cores")
        cpu_res = self.cpu_reservation
        if cpu_res is not None and not 0 < cpu_res <= self.cpu_limit:
            problems.append(
                f"cpu_reservation={cpu_res}: must be more than 0 and at most cpu_limit "
                f"({self.cpu_limit})"
            )
        if not 1 <= self.restart_delay_s <= 300:
            problems.append(f"restart_delay_s={self.restart_delay_s}: must be from 1 to 300")
        for key in self.env:
            if not key or "=" in key:
                problems.append(f"env: {key!r} is not a valid variable name")
        targets = [
            m.target
            for m in (*self.volumes, *self.existing_volumes, *self.binds, *self.config_files)
        ]
        targets += [s.target for s in self.secret_files]
        for target in targets:
            if not target.startswith("/"):
                problems.append(f"mount target {target!r}: must be an absolute path")
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            problems.append(f"mount targets {duplicates}: each path may be mounted once")
        volume_names = [v.name for v in self.volumes]
        for volume in self.volumes:
            if problem := docker_name_problem(f"{self.name}-{volume.name}"):
                problems.append(f"volumes: {volume.name!r} {problem}")
        if len(set(volume_names)) != len(volume_names):
            problems.append(f"volumes {volume_names}: volume names must be unique")
        for bind in self.binds:
            if not bind.source.startswith("/"):
                problems.append(f"binds: source {bind.source!r} must be an absolute host path")
        for port in self.published_ports:
            for value in (port.target_port, port.published_port):
                if problem := port_problem(value):
                    problems.append(f"published_ports: {value!r} {problem}")
            if port.publish_mode not in ("host", "ingress"):
                problems.append(
                    f"published_ports: publish_mode={port.publish_mode!r} must be 'host' or "
                    "'ingress'"
                )
            if port.protocol not in ("tcp", "udp"):
                problems.append(f"published_ports: protocol={port.protocol!r} must be tcp or udp")
        stateful = self.volumes or any(p.publish_mode == "host" for p in self.published_ports)
        if stateful and self.update_order is UpdateOrder.START_FIRST:
            problems.append(
                "update_order='start-first': a service with volumes or host-mode ports must "
                "update stop-first, or two tasks would share the volume or fight for the port"
            )
        route_labels = [key for route in self.routes for key in route.labels]
        clashing = sorted(
            {k for k in route_labels if k != "traefik.enable" and route_labels.count(k) > 1}
            | (set(route_labels) & set(self.labels))
        )
        if clashing:
            problems.append(f"labels {clashing}: set by more than one route or label")
        if self.routes:
            network_names = {n.name for n in self.networks}
            for route in self.routes:
                if route.props.network is not None and route.props.network not in network_names:
                    problems.append(
                        f"routes: {route.props.name!r} is reached through network "
                        f"{route.props.network!r}, which the service does not join "
                        f"({sorted(network_names)})"
                    )
        if self.healthcheck is not None and not self.healthcheck.test:
            problems.append("healthcheck.test: must name a command, e.g. ('CMD', 'true')")
        raise_if(f"SwarmService {self.name!r}", problems)
