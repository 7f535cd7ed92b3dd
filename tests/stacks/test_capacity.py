"""The capacity check: services placed on the configured nodes as the scheduler may place
them, with the headroom start-first updates need (stacks/capacity.py)."""

from __future__ import annotations

import pytest

from stacks.capacity import (
    SYSTEM_MIB,
    TERRAFORM_PARALLELISM,
    Demand,
    capacity_problems,
    matches,
    usage,
)
from stacks.config.cluster import NodeConfig

MANAGER = NodeConfig(name="m1", role="manager", size="s-2vcpu-4gb", volumes=True)
WORKER = NodeConfig(name="w1", role="worker", size="s-2vcpu-4gb")
PINNED = ("node.labels.sprocket.volumes == true",)


def demand(service: str, mib: int, *, constraints=(), start_first=False, global_mode=False,
           replicas=1, cpus=0.05) -> Demand:  # fmt: skip
    return Demand(
        stack="s",
        service=service,
        memory_mib=mib,
        cpus=cpus,
        constraints=tuple(constraints),
        global_mode=global_mode,
        replicas=replicas,
        start_first=start_first,
    )


def test_what_fits_passes_and_one_mib_more_is_refused_with_the_totals():
    # GIVEN a node of 4096 MiB, of which the system keeps SYSTEM_MIB
    room = MANAGER.memory_mib - SYSTEM_MIB
    assert capacity_problems([MANAGER], [demand("a", room)]) == []
    # THEN one MiB more is refused, naming the node and every term of the sum
    (problem,) = capacity_problems([MANAGER], [demand("a", room + 1)])
    assert problem == (
        "config/cluster.yaml: swarm.nodes: node m1 (s-2vcpu-4gb) has 4096 MiB, but needs "
        f"4097 MiB: reservations {room + 1} + start-first headroom 0 + system {SYSTEM_MIB}. "
        "Allowed: at least 4097 MiB; add a node, a larger one, or lower reservations"
    )


def test_start_first_services_count_twice_up_to_terraforms_parallelism():
    # GIVEN more start-first services than Terraform updates at once
    services = [
        demand(f"s{i}", 100 + i, start_first=True) for i in range(TERRAFORM_PARALLELISM + 3)
    ]
    needed, _ = usage([MANAGER], services)["m1"]
    largest = sorted((d.memory_mib for d in services), reverse=True)[:TERRAFORM_PARALLELISM]
    # THEN the headroom is the largest that many reservations, no more
    assert needed == sum(d.memory_mib for d in services) + sum(largest) + SYSTEM_MIB
    # ...and stop-first services need none
    stop_first = [demand(f"s{i}", 100) for i in range(5)]
    assert usage([MANAGER], stop_first)["m1"][0] == 500 + SYSTEM_MIB


def test_pinned_services_stay_on_the_volume_node_and_a_worker_takes_the_rest():
    # GIVEN stateful services pinned to the volume node, and more stateless ones than fit there
    stateful = [demand(f"db{i}", 1000, constraints=PINNED) for i in range(2)]
    stateless = [demand(f"app{i}", 1000) for i in range(3)]
    assert capacity_problems([MANAGER], stateful + stateless)
    # WHEN a worker is added
    placed = usage([MANAGER, WORKER], stateful + stateless)
    # THEN it fits, the pinned ones still on the manager, and the worker carries no volume
    assert capacity_problems([MANAGER, WORKER], stateful + stateless) == []
    assert placed["m1"][0] >= 2000 + SYSTEM_MIB
    # A pinned service too large for the volume node is refused even with room elsewhere
    (problem,) = capacity_problems([MANAGER, WORKER], [demand("db", 3500, constraints=PINNED)])
    assert problem.startswith(
        "config/cluster.yaml: swarm.nodes: node m1 (s-2vcpu-4gb) has 4096 MiB"
    )


def test_a_global_service_is_counted_once_per_node_it_runs_on():
    every = demand("agent", 500, global_mode=True)
    managers = demand("proxy", 300, global_mode=True, constraints=("node.role == manager",))
    placed = usage([MANAGER, WORKER], [every, managers])
    assert placed == {
        "m1": (800 + SYSTEM_MIB, 4096),
        "w1": (500 + SYSTEM_MIB, 4096),
    }


def test_a_service_no_node_satisfies_is_named():
    only_worker = WORKER.model_copy(update={"volumes": True})
    traefik = demand("traefik", 64, constraints=("node.role == manager",))
    (problem,) = capacity_problems([only_worker], [traefik])
    assert problem == (
        "config/cluster.yaml: swarm.nodes: no node satisfies ['node.role == manager'] of s's "
        "service traefik: it would never start"
    )


def test_cpus_are_checked_like_memory():
    (problem,) = capacity_problems([MANAGER], [demand("busy", 10, cpus=3.6)])
    assert problem.startswith(
        "config/cluster.yaml: swarm.nodes: node m1 (s-2vcpu-4gb) has 2 vCPUs, but needs 4.10"
    )


@pytest.mark.parametrize(
    ("constraint", "on_manager", "on_worker"),
    [
        ("node.role == manager", True, False),
        ("node.role != manager", False, True),
        ("node.role==MANAGER", True, False),
        ("node.hostname == w1", False, True),
        ("node.labels.sprocket.volumes == true", True, False),
        ("node.labels.sprocket.volumes != true", False, True),
        ("node.labels.other == x", False, False),
        ("node.platform.os == linux", None, None),
    ],
)
def test_constraints_match_as_swarm_matches_them(constraint, on_manager, on_worker):
    assert matches(MANAGER, constraint) is on_manager
    assert matches(WORKER, constraint) is on_worker


def test_the_shipped_configuration_fits(tmp_path):
    import main
    from stacks.capacity import demands_of
    from tests.conftest import CONFIG, ROOT

    synth_app = main.build(ROOT, outdir=str(tmp_path))  # raises ConfigError if it does not fit
    demands = demands_of(synth_app)
    # Every service of every stack is counted: one per docker_service
    assert len(demands) == len({(d.stack, d.service) for d in demands}) > 40
    assert capacity_problems(CONFIG.cluster.swarm.nodes, demands) == []
    # Every replicated service with a volume is pinned to the volume node
    from constructs_lib.swarm_service import SwarmService

    for construct in synth_app.node.find_all():
        if isinstance(construct, SwarmService) and construct.props.volumes:
            pinned = "node.labels.sprocket.volumes == true" in construct.constraints
            assert pinned is not construct.props.global_mode, construct.props.name
