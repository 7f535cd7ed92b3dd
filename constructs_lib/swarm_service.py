"""A Docker Swarm service with the operational defaults Sprocket needs everywhere.

Creates one ``docker_service`` (named ``Default``, so its Terraform address is the
construct's id), plus a ``docker_volume`` per named volume and a content-hashed
``docker_config`` per config file. Every service gets a pinned image, resource
limits and reservations, a bounded restart policy, and an update that rolls back
on failure.

    SwarmService(self, "redis", SwarmServiceProps(
        name="redis", image="redis:7.4.2-alpine", networks=[platform_net],
        memory_limit_mib=512, volumes=[VolumeMount(name="data", target="/data")],
        update_order=UpdateOrder.STOP_FIRST,
        healthcheck=Healthcheck(test=("CMD", "redis-cli", "ping"))))
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from cdktf import Fn, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_docker.config import Config
from cdktf_cdktf_provider_docker.service import (
    Service,
    ServiceAuth,
    ServiceEndpointSpec,
    ServiceEndpointSpecPorts,
    ServiceLabels,
    ServiceMode,
    ServiceModeReplicated,
    ServiceRollbackConfig,
    ServiceTaskSpec,
    ServiceTaskSpecContainerSpec,
    ServiceTaskSpecContainerSpecConfigs,
    ServiceTaskSpecContainerSpecHealthcheck,
    ServiceTaskSpecContainerSpecMounts,
    ServiceTaskSpecContainerSpecSecrets,
    ServiceTaskSpecNetworksAdvanced,
    ServiceTaskSpecPlacement,
    ServiceTaskSpecResources,
    ServiceTaskSpecResourcesLimits,
    ServiceTaskSpecResourcesReservation,
    ServiceTaskSpecRestartPolicy,
    ServiceUpdateConfig,
)
from cdktf_cdktf_provider_docker.volume import Volume
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.naming import HASH_LENGTH, hashed_name, slug
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_secret import SecretFile
from constructs_lib.traefik_route import TraefikRoute
from constructs_lib.validation import docker_name_problem, image_problem, port_problem

MIB = 1024 * 1024
NANO = 1_000_000_000


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
    volumes: Sequence[VolumeMount] = ()
    binds: Sequence[BindMount] = ()
    config_files: Sequence[ConfigFile] = ()
    secret_files: Sequence[SecretFile] = ()
    # Default: no published ports; public traffic goes through Traefik.
    published_ports: Sequence[PublishedPort] = ()
    memory_limit_mib: int = 256
    # Default: half the limit is reserved, so the scheduler never overcommits a node.
    memory_reservation_mib: int | None = None
    cpu_limit: float = 0.5
    # Default: a tenth of the limit.
    cpu_reservation: float | None = None
    # Default: restart on any exit, at most 5 times within 2 minutes, 5 s apart.
    restart_max_attempts: int = 5
    restart_delay_s: int = 5
    restart_window_s: int = 120
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
        if not Token.is_unresolved(self.image) and (problem := image_problem(self.image)):
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
        if not 1 <= self.restart_max_attempts <= 100:
            problems.append(
                f"restart_max_attempts={self.restart_max_attempts}: must be from 1 to 100 "
                "(an unbounded restart loop hides a broken service)"
            )
        for key in self.env:
            if not key or "=" in key:
                problems.append(f"env: {key!r} is not a valid variable name")
        targets = [m.target for m in (*self.volumes, *self.binds, *self.config_files)]
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


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def service_labels(props: SwarmServiceProps) -> dict[str, str]:
    """Route labels and extra labels of ``props``, merged and sorted."""
    merged: dict[str, str] = dict(props.labels)
    for route in props.routes:
        merged.update(route.labels)
    return dict(sorted(merged.items()))


class SwarmService(Construct):
    def __init__(self, scope: Construct, id: str, props: SwarmServiceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.name = props.name

        mounts = [
            ServiceTaskSpecContainerSpecMounts(
                type="volume",
                source=Volume(self, f"Volume-{slug(v.name)}", name=f"{props.name}-{v.name}").name,
                target=v.target,
                read_only=v.read_only,
            )
            for v in props.volumes
        ] + [
            ServiceTaskSpecContainerSpecMounts(
                type="bind", source=b.source, target=b.target, read_only=b.read_only
            )
            for b in props.binds
        ]

        configs = []
        basenames = [posixpath.basename(c.target) for c in props.config_files]
        for config_file in props.config_files:
            basename = posixpath.basename(config_file.target)
            # The id is the file's name; two files of one name are told apart by their path.
            id_name = basename if basenames.count(basename) == 1 else config_file.target
            if Token.is_unresolved(config_file.content):
                # Public material Terraform reads (a CA certificate): hashed by Terraform.
                base = hashed_name(f"{props.name}-{basename}", "")[: -HASH_LENGTH - 1]
                name = f"{base}-{Fn.substr(Fn.sha256(config_file.content), 0, HASH_LENGTH)}"
                data = Fn.base64encode(config_file.content)
            else:
                name = hashed_name(f"{props.name}-{basename}", config_file.content)
                data = base64.b64encode(config_file.content.encode()).decode()
            config = Config(
                self,
                f"Config-{slug(id_name)}",
                name=name,
                data=data,
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            )
            configs.append(
                ServiceTaskSpecContainerSpecConfigs(
                    config_id=config.id,
                    config_name=config.name,
                    file_name=config_file.target,
                    file_mode=config_file.mode,
                )
            )

        secrets = [
            ServiceTaskSpecContainerSpecSecrets(
                secret_id=s.secret_id,
                secret_name=s.secret_name,
                file_name=s.target,
                file_mode=s.mode,
                file_uid=s.uid,
                file_gid=s.gid,
            )
            for s in props.secret_files
        ]

        healthcheck = None
        if props.healthcheck is not None:
            hc = props.healthcheck
            healthcheck = ServiceTaskSpecContainerSpecHealthcheck(
                test=list(hc.test),
                interval=_duration(hc.interval_s),
                timeout=_duration(hc.timeout_s),
                retries=hc.retries,
                start_period=_duration(hc.start_period_s),
            )

        constraints = list(props.constraints)
        if props.placement is not PlacementRole.ANY:
            constraints.insert(0, f"node.role == {props.placement.value}")

        memory_reservation = props.memory_reservation_mib or max(6, props.memory_limit_mib // 2)
        cpu_reservation = props.cpu_reservation or props.cpu_limit / 10
        order = props.update_order.value

        self.resource = Service(
            self,
            "Default",
            name=props.name,
            auth=ServiceAuth(
                server_address=props.registry_login.server_address,
                username=props.registry_login.username,
                password=props.registry_login.password,
            )
            if props.registry_login
            else None,
            labels=[ServiceLabels(label=k, value=v) for k, v in service_labels(props).items()],
            mode=ServiceMode(global_=True)
            if props.global_mode
            else ServiceMode(replicated=ServiceModeReplicated(replicas=props.replicas)),
            task_spec=ServiceTaskSpec(
                container_spec=ServiceTaskSpecContainerSpec(
                    image=props.image,
                    command=list(props.command) if props.command is not None else None,
                    args=list(props.args) if props.args is not None else None,
                    env=dict(sorted(props.env.items())) or None,
                    mounts=mounts or None,
                    configs=configs or None,
                    secrets=secrets or None,
                    healthcheck=healthcheck,
                    cap_add=list(props.cap_add) or None,
                    user=props.user,
                    groups=list(props.groups) or None,
                    hostname=props.hostname,
                    stop_grace_period=_duration(props.stop_grace_period_s),
                ),
                networks_advanced=[
                    ServiceTaskSpecNetworksAdvanced(name=n.id)
                    for n in sorted(props.networks, key=lambda n: n.name)
                ]
                or None,
                placement=ServiceTaskSpecPlacement(constraints=constraints)
                if constraints
                else None,
                resources=ServiceTaskSpecResources(
                    limits=ServiceTaskSpecResourcesLimits(
                        memory_bytes=props.memory_limit_mib * MIB,
                        nano_cpus=round(props.cpu_limit * NANO),
                    ),
                    reservation=ServiceTaskSpecResourcesReservation(
                        memory_bytes=memory_reservation * MIB,
                        nano_cpus=round(cpu_reservation * NANO),
                    ),
                ),
                restart_policy=ServiceTaskSpecRestartPolicy(
                    condition="any",
                    delay=_duration(props.restart_delay_s),
                    max_attempts=props.restart_max_attempts,
                    window=_duration(props.restart_window_s),
                ),
            ),
            endpoint_spec=ServiceEndpointSpec(
                mode="vip",
                ports=[
                    ServiceEndpointSpecPorts(
                        target_port=p.target_port,
                        published_port=p.published_port,
                        protocol=p.protocol,
                        publish_mode=p.publish_mode,
                    )
                    for p in props.published_ports
                ]
                or None,
            ),
            update_config=ServiceUpdateConfig(
                parallelism=1,
                delay="10s",
                failure_action="rollback",
                monitor=_duration(props.update_monitor_s),
                max_failure_ratio="0",
                order=order,
            ),
            rollback_config=ServiceRollbackConfig(
                parallelism=1,
                delay="0s",
                # A rollback that fails too stops where it is for an operator to look at.
                failure_action="pause",
                monitor=_duration(props.update_monitor_s),
                max_failure_ratio="0",
                order=order,
            ),
        )
