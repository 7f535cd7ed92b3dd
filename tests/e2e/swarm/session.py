"""The rehearsal of one test session: the engine, the images and the deployed stacks.

``rehearse`` starts the engine, builds the images, deploys ``layer_1``, ``layer_2`` and one
platform environment (the first that runs no legacy platform) and, from every other
environment, only its datastores (so that one environment's reach into another's can be
tried), then waits for every service to converge. The report it writes is printed at the end
of the test run (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stacks.capacity import node_labels
from tests.conftest import CONFIG
from tests.e2e.swarm import images, provider
from tests.e2e.swarm.engine import Engine
from tests.e2e.swarm.rehearsal import Rehearsal, describe_deviations
from tests.e2e.swarm.spaces import spaces_stand_in

CONVERGE_TIMEOUT_S = 240


@dataclass
class Session:
    engine: Engine
    rehearsal: Rehearsal
    environment: str
    other_environments: tuple[str, ...]
    problems: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    built: dict[str, str] = field(default_factory=dict)

    @property
    def stacks(self) -> tuple[str, ...]:
        return ("layer_1", "layer_2", f"platform-{self.environment}")

    def report(self) -> str:
        lines = [describe_deviations(), "", "Rehearsal timings:"]
        lines += [f"  {step}: {seconds:.1f} s" for step, seconds in self.timings.items()]
        stand_ins = sorted(ref for ref, recipe in self.built.items() if recipe == "stand-in")
        real = sorted(ref for ref, recipe in self.built.items() if recipe != "stand-in")
        lines += ["Real programs: " + ", ".join(real), "Stand-ins: " + ", ".join(stand_ins)]
        return "\n".join(lines)


def is_datastore(kind: str, resource: Mapping) -> bool:
    """A resource of an environment's datastores construct (stacks/platform_datastores.py)."""
    return "/datastores/" in resource.get("//", {}).get("metadata", {}).get("path", "")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def image_references(
    stacks: Mapping[str, dict], selection: Mapping[str, object]
) -> dict[str, set[int]]:
    references: dict[str, set[int]] = {}
    for stack, only in selection.items():
        for raw in stacks[stack]["resource"].get("docker_service", {}).values():
            if only is not None and not only("docker_service", raw):
                continue
            spec = provider.service_spec({k: v for k, v in raw.items() if k != "//"})
            reference = spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
            references.setdefault(reference, set()).update(images.stand_in_ports(spec))
    return references


def label_node(api, labels: Mapping[str, str], remove: tuple[str, ...] = ()) -> None:
    """Give the engine's one node ``labels`` and take ``remove`` away, as `docker node update
    --label-add` and `--label-rm` do."""
    (node,) = api.get("/nodes")
    kept = {k: v for k, v in (node["Spec"].get("Labels") or {}).items() if k not in remove}
    spec = {**node["Spec"], "Labels": {**kept, **labels}}
    api.request(
        "POST",
        f"/nodes/{node['ID']}/update",
        query={"version": node["Version"]["Index"]},
        body=spec,
    )


@contextlib.contextmanager
def rehearse(
    stacks: Mapping[str, dict], environment: str, others: tuple[str, ...], workdir: Path
) -> Iterator[Session]:
    timings: dict[str, float] = {}
    started = time.monotonic()
    with contextlib.ExitStack() as stack, Engine.started() as engine:
        timings["engine and swarm started"] = time.monotonic() - started
        # The one node plays the manager, with the labels its configuration entry gives it
        # (the volume node's: the stateful services are pinned to it).
        swarm = CONFIG.cluster.swarm
        (manager,) = (node for node in swarm.nodes if node.name == swarm.manager_droplet)
        label_node(engine.api, node_labels(manager))
        gateway = engine.api.get("/networks/docker_gwbridge")["IPAM"]["Config"][0]["Gateway"]
        spaces = stack.enter_context(spaces_stand_in(gateway, workdir / "moto.log"))
        rehearsal = Rehearsal(
            engine.api,
            stacks,
            engine.socket,
            {80: _free_port(), 443: _free_port()},
            spaces=spaces,
            engine_data_root=str(engine.root / "data"),
        )
        selection = {"layer_1": None, "layer_2": None, f"platform-{environment}": None}
        selection.update({f"platform-{other}": is_datastore for other in others})
        step = time.monotonic()
        built = images.build_images(
            engine.api, images.plans_for(image_references(stacks, selection)), workdir
        )
        timings["images built"] = time.monotonic() - step
        step = time.monotonic()
        for stack, only in selection.items():
            rehearsal.deploy(stack, only)
        timings["stacks deployed"] = time.monotonic() - step
        step = time.monotonic()
        problems = rehearsal.wait_converged(CONVERGE_TIMEOUT_S)
        timings["services converged"] = time.monotonic() - step
        session = Session(engine, rehearsal, environment, others, problems, timings, built)
        yield session
        step = time.monotonic()
    timings["engine stopped"] = time.monotonic() - step
    timings["whole rehearsal, its tests included"] = time.monotonic() - started
