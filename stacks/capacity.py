"""Do the services fit on the nodes? Checked at synth time over every stack at once.

Swarm starts a task only on a node whose unreserved memory and CPUs cover the task's
reservations; a task that fits nowhere stays pending, and a deploy waiting for it to converge
fails after its timeout. So synthesis places every task the way the scheduler may (each on a
node its constraints allow, largest first, on the node with the most memory left) and refuses
the configuration when a node would need more than it has:

    reservations of the tasks placed on it
  + headroom: during a start-first update the new task runs beside the old one, and Terraform
    updates up to TERRAFORM_PARALLELISM services at once, so the largest that many start-first
    reservations on the node are counted twice
  + what the node keeps for itself (SYSTEM_MIB, SYSTEM_CPUS: the OS, dockerd, page cache)
  <= the memory and vCPUs of the node's Droplet size (config/cluster.yaml swarm.nodes).

    problems = capacity_problems(cluster.swarm.nodes, demands_of(app))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stacks.config.cluster import NodeConfig

# Terraform's default -parallelism: at most this many services are updated at once.
TERRAFORM_PARALLELISM = 10
# What a node keeps for itself: the OS, dockerd and containerd, the page cache.
SYSTEM_MIB = 1024
SYSTEM_CPUS = 0.5
FIELD = "config/cluster.yaml: swarm.nodes"

_CONSTRAINT = re.compile(
    r"^\s*(node\.(?:role|hostname|labels\.[A-Za-z0-9._-]+))\s*(==|!=)\s*(\S+)\s*$"
)


@dataclass(frozen=True, kw_only=True)
class Demand:
    """One service as the scheduler sees it."""

    stack: str
    service: str
    memory_mib: int
    cpus: float
    constraints: tuple[str, ...]
    # One task per eligible node, or this many tasks.
    global_mode: bool
    replicas: int
    start_first: bool


@dataclass
class _Node:
    config: NodeConfig
    memory_mib: int = 0
    cpus: float = 0.0
    start_first: list[Demand] = field(default_factory=list)

    def headroom(self) -> tuple[int, float]:
        largest = sorted(self.start_first, key=lambda d: (d.memory_mib, d.cpus), reverse=True)
        largest = largest[:TERRAFORM_PARALLELISM]
        return sum(d.memory_mib for d in largest), sum(d.cpus for d in largest)

    def free_mib(self) -> int:
        return self.config.memory_mib - SYSTEM_MIB - self.memory_mib


def node_labels(node: NodeConfig) -> dict[str, str]:
    """The labels the node carries, as configuration requires them."""
    from constructs_lib.swarm_service import VOLUME_NODE_LABEL

    return {VOLUME_NODE_LABEL: "true"} if node.volumes else {}


def matches(node: NodeConfig, constraint: str) -> bool | None:
    """Whether ``node`` satisfies ``constraint`` (Swarm's syntax); None if not understood."""
    found = _CONSTRAINT.match(constraint)
    if not found:
        return None
    key, operator, expected = found.groups()
    if key == "node.role":
        actual = node.role
    elif key == "node.hostname":
        actual = node.name
    else:
        actual = node_labels(node).get(key.removeprefix("node.labels."), "")
    # Values compare case-insensitively, label names exactly, and a missing label is ""
    # (swarmkit manager/constraint/constraint.go Match and NodeMatches, lines 84-100 and
    # 172-186, as vendored in moby/moby b985e23).
    equal = actual.lower() == expected.lower()
    return equal if operator == "==" else not equal


def _place(
    nodes: Sequence[NodeConfig], demands: Iterable[Demand]
) -> tuple[list[str], dict[str, _Node]]:
    """Every task on a node its constraints allow; problems for tasks that fit no node."""
    problems: list[str] = []
    placed = {node.name: _Node(node) for node in nodes}
    tasks: list[tuple[Demand, list[str]]] = []
    for demand in demands:
        results = {node.name: [matches(node, c) for c in demand.constraints] for node in nodes}
        unknown = [c for c in demand.constraints if matches(nodes[0], c) is None]
        if unknown:
            problems.append(
                f"{demand.stack}: service {demand.service}: constraint {unknown[0]!r} is not "
                "one the capacity check understands (node.role, node.hostname or "
                "node.labels.<name>, with == or !=)"
            )
            continue
        eligible = [name for name, r in results.items() if all(r)]
        if not eligible:
            problems.append(
                f"{FIELD}: no node satisfies {list(demand.constraints)} of "
                f"{demand.stack}'s service {demand.service}: it would never start"
            )
        elif demand.global_mode:
            tasks += [(demand, [name]) for name in eligible]
        else:
            tasks += [(demand, eligible)] * demand.replicas
    # Largest first, each on the eligible node with the most memory left: a placement the
    # scheduler can reach, though not necessarily the one it will choose.
    tasks.sort(key=lambda task: (task[0].memory_mib, task[0].cpus), reverse=True)
    for demand, eligible in tasks:
        node = max((placed[name] for name in eligible), key=lambda n: n.free_mib())
        node.memory_mib += demand.memory_mib
        node.cpus += demand.cpus
        if demand.start_first:
            node.start_first.append(demand)
    return problems, placed


def capacity_problems(nodes: Sequence[NodeConfig], demands: Iterable[Demand]) -> list[str]:
    """Every reason the ``demands`` do not fit on ``nodes``; empty when they do."""
    problems, placed = _place(nodes, demands)
    for node in placed.values():
        head_mib, head_cpus = node.headroom()
        need_mib = node.memory_mib + head_mib + SYSTEM_MIB
        need_cpus = node.cpus + head_cpus + SYSTEM_CPUS
        config = node.config
        if need_mib > config.memory_mib:
            problems.append(
                f"{FIELD}: node {config.name} ({config.size}) has {config.memory_mib} MiB, but "
                f"needs {need_mib} MiB: reservations {node.memory_mib} + start-first headroom "
                f"{head_mib} + system {SYSTEM_MIB}. Allowed: at least {need_mib} MiB; add a "
                "node, a larger one, or lower reservations"
            )
        if need_cpus > config.cpus + 1e-9:
            problems.append(
                f"{FIELD}: node {config.name} ({config.size}) has {config.cpus:g} vCPUs, but needs "
                f"{need_cpus:.2f}: reservations {node.cpus:.2f} + start-first headroom "
                f"{head_cpus:.2f} + system {SYSTEM_CPUS}. Allowed: at least {need_cpus:.2f}; "
                "add a node, a larger one, or lower reservations"
            )
    return problems


def usage(nodes: Sequence[NodeConfig], demands: Iterable[Demand]) -> dict[str, tuple[int, int]]:
    """Per node: (MiB needed, reservations + headroom + system; MiB it has)."""
    _, placed = _place(nodes, demands)
    return {
        name: (n.memory_mib + n.headroom()[0] + SYSTEM_MIB, n.config.memory_mib)
        for name, n in placed.items()
    }


def demands_of(app) -> list[Demand]:
    """Every SwarmService in the synthesized ``app``, as a Demand."""
    from cdktf import TerraformStack

    from constructs_lib.swarm_service import SwarmService, UpdateOrder

    demands = []
    for construct in app.node.find_all():
        if isinstance(construct, SwarmService):
            props = construct.props
            demands.append(
                Demand(
                    stack=TerraformStack.of(construct).node.id,
                    service=props.name,
                    memory_mib=construct.memory_reservation_mib,
                    cpus=construct.cpu_reservation,
                    constraints=construct.constraints,
                    global_mode=props.global_mode,
                    replicas=props.replicas,
                    start_first=props.update_order is UpdateOrder.START_FIRST,
                )
            )
    return demands
