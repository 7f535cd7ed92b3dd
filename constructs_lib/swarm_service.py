"""A Docker Swarm service with the operational defaults Sprocket needs everywhere.

Creates one ``docker_service`` (named ``Default``, so its Terraform address is the
construct's id), plus a ``docker_volume`` per named volume and a content-hashed
``docker_config`` per config file. Every service gets a pinned image, resource
limits and reservations, a restart policy that never gives up, and an update that rolls back
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

from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_docker.config import Config
from cdktf_cdktf_provider_docker.service import (
    Service,
    ServiceAuth,
    ServiceConvergeConfig,
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
    ServiceTaskSpecContainerSpecLabels,
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

from constructs_lib.log_labels import (
    ENVIRONMENT_CONTEXT,
    ENVIRONMENT_LABEL,
    SHARED,
    STACK_CONTEXT,
    STACK_LABEL,
)
from constructs_lib.naming import HASH_LENGTH, hashed_name, slug
from constructs_lib.swarm_service_props import (
    BindMount,
    ConfigFile,
    ExistingVolumeMount,
    Healthcheck,
    PlacementRole,
    PublishedPort,
    RegistryLogin,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from constructs_lib.tokens import is_unresolved

MIB = 1024 * 1024
NANO = 1_000_000_000
# How long an apply waits for one service to converge: a start period of a minute, the update
# monitor, and a rollback's own start and monitor after a failed update.
CONVERGE_TIMEOUT_S = 300
# The node label of the one node that holds the volumes (config/cluster.yaml swarm.nodes).
VOLUME_NODE_LABEL = "sprocket.volumes"
VOLUME_NODE_CONSTRAINT = f"node.labels.{VOLUME_NODE_LABEL} == true"
# The smallest default memory reservation.
MIN_RESERVATION_MIB = 16

__all__ = [
    "VOLUME_NODE_CONSTRAINT",
    "VOLUME_NODE_LABEL",
    "BindMount",
    "ConfigFile",
    "ExistingVolumeMount",
    "Healthcheck",
    "PlacementRole",
    "PublishedPort",
    "RegistryLogin",
    "SwarmService",
    "SwarmServiceProps",
    "UpdateOrder",
    "VolumeMount",
    "service_labels",
]


def _duration(seconds: int) -> str:
    """``seconds`` as the provider reads a duration back: Go's time.Duration.String with a
    trailing "m0s" and "h0m" cut (kreuzwerker/docker v3.9.0, unchanged since v3.6.2,
    resource_docker_service_structures.go shortDur, lines 1306-1315: 60 s reads back "1m",
    3600 s "1h"). Written any other way ("60s"), every plan would show the service changed,
    for ever."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h{minutes}m{secs}s"
    elif minutes:
        text = f"{minutes}m{secs}s"
    else:
        return f"{secs}s"
    text = text.removesuffix("m0s") + ("m" if text.endswith("m0s") else "")
    return text.removesuffix("h0m") + ("h" if text.endswith("h0m") else "")


# max_failure_ratio as the provider reads it back: strconv.FormatFloat(ratio, 'f', 1, 64)
# (resource_docker_service_structures.go:87), so "0.0", not "0" (a perpetual diff otherwise).
MAX_FAILURE_RATIO = "0.0"


def service_labels(props: SwarmServiceProps) -> dict[str, str]:
    """Route labels and extra labels of ``props``, merged and sorted."""
    merged: dict[str, str] = dict(props.labels)
    for route in props.routes:
        merged.update(route.labels)
    return dict(sorted(merged.items()))


def container_log_labels(scope: Construct) -> dict[str, str]:
    """The stack and environment labels of ``scope``'s containers, from the stack's context
    (SprocketStack sets it; a stack of another kind gets the construct path's root)."""
    stack = scope.node.try_get_context(STACK_CONTEXT) or scope.node.scopes[1].node.id
    environment = scope.node.try_get_context(ENVIRONMENT_CONTEXT) or SHARED
    return {ENVIRONMENT_LABEL: environment, STACK_LABEL: stack}


class SwarmService(Construct):
    def __init__(self, scope: Construct, id: str, props: SwarmServiceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.name = props.name

        # Each created volume's name, and the reference to it (for a backup to mount).
        self.volume_names: dict[str, str] = {}
        for v in props.volumes:
            name = f"{props.name}-{v.name}"
            self.volume_names[name] = Volume(
                self,
                f"Volume-{slug(v.name)}",
                name=name,
                # Every attribute of docker_volume is ForceNew (kreuzwerker/docker v3.9.0
                # resource_docker_volume.go:41-67): a change would delete the data. The
                # plan stops instead (docs/changes.md says how to move a volume on purpose).
                lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
            ).name
        mounts = (
            [
                ServiceTaskSpecContainerSpecMounts(
                    type="volume",
                    source=self.volume_names[f"{props.name}-{v.name}"],
                    target=v.target,
                    read_only=v.read_only,
                )
                for v in props.volumes
            ]
            + [
                ServiceTaskSpecContainerSpecMounts(
                    type="volume", source=e.source, target=e.target, read_only=e.read_only
                )
                for e in props.existing_volumes
            ]
            + [
                ServiceTaskSpecContainerSpecMounts(
                    type="bind", source=b.source, target=b.target, read_only=b.read_only
                )
                for b in props.binds
            ]
        )

        configs = []
        basenames = [posixpath.basename(c.target) for c in props.config_files]
        for config_file in props.config_files:
            basename = posixpath.basename(config_file.target)
            # The id is the file's name; two files of one name are told apart by their path.
            id_name = basename if basenames.count(basename) == 1 else config_file.target
            if is_unresolved(config_file.content):
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
        if (props.volumes or props.existing_volumes) and not props.global_mode:
            # A Docker volume lives on one node; started anywhere else, the service would
            # find an empty one. A global service keeps one volume per node by design.
            constraints.append(VOLUME_NODE_CONSTRAINT)
        self.constraints = tuple(constraints)

        memory_reservation = props.memory_reservation_mib or max(
            MIN_RESERVATION_MIB, props.memory_limit_mib // 8
        )
        cpu_reservation = props.cpu_reservation or props.cpu_limit / 20
        self.memory_reservation_mib = memory_reservation
        self.cpu_reservation = cpu_reservation
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
            # The apply waits for each create and update to converge and fails on a rollback
            # (kreuzwerker/docker v3.9.0 resource_docker_service_funcs.go:52-80, 200-222,
            # 434-450). Without it the apply goes on at once and destroys a rotated secret's
            # old version, which the rollback of a failed update then cannot find: nothing
            # runs (shown on a real engine, tests/e2e/test_swarm.py). Not for global services:
            # the provider counts replicas (resource_docker_service.go:953).
            converge_config=None
            if props.global_mode
            else ServiceConvergeConfig(delay="7s", timeout=_duration(CONVERGE_TIMEOUT_S)),
            mode=ServiceMode(global_=True)
            if props.global_mode
            else ServiceMode(replicated=ServiceModeReplicated(replicas=props.replicas)),
            task_spec=ServiceTaskSpec(
                container_spec=ServiceTaskSpecContainerSpec(
                    image=props.image,
                    # What its log lines are labelled by in Loki (constructs_lib/log_labels.py).
                    labels=[
                        ServiceTaskSpecContainerSpecLabels(label=k, value=v)
                        for k, v in container_log_labels(self).items()
                    ],
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
                # max_attempts 0 is no limit: swarmkit restarts whenever MaxAttempts == 0
                # (manager/orchestrator/restart/restart.go, shouldRestart); the window only
                # counts attempts against a limit. It is written as "0s" all the same: the
                # provider sends 0 and reads "0s" back into an attribute with no default
                # (resource_docker_service.go:622-627, structures.go:461-463), so leaving it
                # out shows a change in every plan (the rehearsal's read-back test).
                restart_policy=ServiceTaskSpecRestartPolicy(
                    condition="any",
                    delay=_duration(props.restart_delay_s),
                    max_attempts=0,
                    window=_duration(0),
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
                delay=_duration(10),
                failure_action="rollback",
                monitor=_duration(props.update_monitor_s),
                max_failure_ratio=MAX_FAILURE_RATIO,
                order=order,
            ),
            rollback_config=ServiceRollbackConfig(
                parallelism=1,
                delay=_duration(0),
                # A rollback that fails too stops where it is for an operator to look at.
                failure_action="pause",
                monitor=_duration(props.update_monitor_s),
                max_failure_ratio=MAX_FAILURE_RATIO,
                order=order,
            ),
        )
