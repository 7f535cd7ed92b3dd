"""The README's "Adding things: A service" list is complete: a service added in a scratch copy
by following every step passes the suite's checks on services, and leaving out any step that
nothing else enforces fails them, naming what is missing.

The service added is a minimal public one (Traefik's whoami image) in layer_2; it exists only
in the scratch copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.scratch_project import PYTEST, failed, refresh_steps, run, scratch_copy

# The suite's checks that hold for every service whatever it is: the security rules (pinned
# image, limits, restarts, rollback, private secret files), routes reserved and probed,
# snapshots and the diagram current, the nodes' capacity.
SUBSET = [
    "tests/test_security_policy.py",
    "tests/test_contracts.py",
    "tests/test_snapshots.py",
    "tests/scripts/test_diagram.py",
    "tests/stacks/test_capacity.py",
]

CONSTRUCT = '''"""whoami, a minimal public service (added by tests/test_adding_a_service.py).

    Whoami(self, "whoami", WhoamiProps(image=images.whoami, host=cluster.host("whoami"),
        ingress=layer_1.ingress_network))
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_service import SwarmService, SwarmServiceProps
from stacks.shared_services.common import admin_route


@dataclass(frozen=True, kw_only=True)
class WhoamiProps:
    image: str
    host: str
    ingress: NetworkRef


class Whoami(Construct):
    def __init__(self, scope: Construct, id: str, props: WhoamiProps) -> None:
        super().__init__(scope, id)
        route = admin_route(self, name="whoami", host=props.host, port=80, ingress=props.ingress)
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="whoami",
                image=props.image,
                networks=[props.ingress],
                routes=[route],
                memory_limit_mib=64,
                cpu_limit=0.1,
            ),
        )
'''


def edit(path: Path, anchor: str, insert: str, *, before: bool = False) -> None:
    text = path.read_text()
    assert text.count(anchor) == 1, f"{path.name}: the anchor {anchor!r} moved; update this test"
    path.write_text(text.replace(anchor, insert + anchor if before else anchor + insert))


def add_service(root: Path) -> None:
    """The README's steps for a public shared service, except the two nothing else enforces:
    the reserved host prefix and the Gatus probe."""
    # a construct of its own around a SwarmService, with a TraefikRoute since it is public
    (root / "stacks" / "shared_services" / "whoami.py").write_text(CONSTRUCT)
    # a pinned image in config/images.yaml and ImagesConfig, taken through stack_images
    (root / "config" / "images.yaml").write_text(
        (root / "config" / "images.yaml").read_text() + "whoami: traefik/whoami:v1.11.0\n"
    )
    edit(root / "stacks" / "config" / "cluster.py", "    telegraf: Image\n", "    whoami: Image\n")
    layer_2 = root / "stacks" / "layer_2.py"
    edit(
        layer_2,
        "from stacks.shared_services.n8n import N8n, N8nProps\n",
        "from stacks.shared_services.whoami import Whoami, WhoamiProps\n",
    )
    edit(
        layer_2,
        "        # --- Outputs ---",
        "        Whoami(self, 'whoami', WhoamiProps(image=images.whoami, "
        "host=cluster.host('whoami'), ingress=ingress))\n\n",
        before=True,
    )


def reserve_and_probe(root: Path) -> None:
    """The README's remaining steps for a public service."""
    edit(root / "stacks" / "config" / "environment.py", '{"api", ', '"whoami", ')
    edit(
        root / "stacks" / "layer_2.py",
        '        Probe(name="n8n",',
        '        Probe(name="whoami", group="layer_2", url=f"https://{cluster.host(\'whoami\')}/"),\n',
        before=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return scratch_copy(tmp_path_factory.mktemp("project"))


def test_adding_a_service_as_the_readme_says_passes_the_checks_and_each_missed_step_fails(project):
    readme = (ROOT / "README.md").read_text()
    bullet = readme.split("- **A service**", 1)[1].split("\n- **", 1)[0]
    # GIVEN the README's list names every step this test takes
    for step in (
        "config/images.yaml",
        "ImagesConfig",
        "stack_images",
        "TraefikRoute",
        "RESERVED_SUBDOMAINS",
        "gatus_probes",
        "make refresh",
    ):
        assert step in bullet, f"the README's 'A service' list does not name {step}"

    # WHEN a service is added without reserving its host prefix or probing it
    add_service(project)
    synth = run(project, "scripts/synth.py")
    assert synth.returncode == 0, synth.stdout + synth.stderr
    result = run(project, *PYTEST, *SUBSET)
    # THEN exactly the checks for the missed steps fail, and the snapshots and the diagram
    # ask for `make refresh`
    assert failed(result) == {
        "tests/test_contracts.py::test_every_route_prefix_is_reserved_and_every_reserved_prefix_is_routed",
        "tests/test_contracts.py::test_every_public_host_has_an_uptime_check",
        "tests/test_snapshots.py::test_stack_matches_snapshot",
        "tests/scripts/test_diagram.py::test_committed_diagram_is_current",
    }, result.stdout[-4000:]
    assert "whoami" in result.stdout

    # WHEN the remaining steps are taken too, and `make refresh` run
    reserve_and_probe(project)
    for step in refresh_steps():
        done = run(project, *step)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # THEN the same checks pass
    result = run(project, *PYTEST, *SUBSET)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "whoami" in (project / "docs" / "architecture.md").read_text()
