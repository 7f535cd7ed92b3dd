"""The README's "Adding things: An environment" works as written: in a scratch copy, one file
under config/environments/ (and the node `make synth` asks for) synthesizes, the suite's
checks that derive from the environments pass for it at once, except the snapshots and the
diagram, and `make refresh` makes those pass too.

The environment is called "dev" on purpose: replay-parse's fixed parsed_object_prefix is also
"dev" (config/applications.yaml), which a check that names environments must not mistake for
one.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, add_worker
from tests.scratch_project import PYTEST, failed, refresh_steps, run, scratch_copy

NAME = "dev"
# Every check that takes its environments, stacks or nodes from config/ (tests/conftest.py),
# without a Docker engine: the stacks' behaviour, isolation, contracts, security rules,
# capacity, snapshots, the diagram, the plan guard and the synth diff.
SUBSET = [
    "tests/stacks",
    "tests/test_contracts.py",
    "tests/test_security_policy.py",
    "tests/test_snapshots.py",
    "tests/scripts/test_diagram.py",
    "tests/scripts/test_plan_guard.py",
    "tests/scripts/test_synth_diff.py",
]
# What `make refresh` rewrites (Makefile: refresh): the snapshots and docs/architecture.md.
REFRESHED = {
    "tests/test_snapshots.py::test_every_stack_has_a_snapshot_and_every_snapshot_a_stack",
    "tests/test_snapshots.py::test_stack_matches_snapshot",
    "tests/scripts/test_diagram.py::test_committed_diagram_is_current",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return scratch_copy(tmp_path_factory.mktemp("project"))


def test_adding_an_environment_as_the_readme_says_passes_the_suite(project):
    readme = (ROOT / "README.md").read_text()
    bullet = readme.split("- **An environment**", 1)[1].split("\n- **", 1)[0]
    # GIVEN the README's steps, which this test takes
    for step in ("config/environments/<name>.yaml", "image_tag", "subdomain",
                 "config/cluster.yaml", "make refresh"):  # fmt: skip
        assert step in bullet, f"the README's 'An environment' list does not name {step}"

    # WHEN an environment file with the two keys it names is added
    (project / "config" / "environments" / f"{NAME}.yaml").write_text(
        f"image_tag: {NAME}\nsubdomain: {NAME}\n"
    )
    synth = run(project, "scripts/synth.py")
    if synth.returncode == 2:
        # THEN, if the nodes are full, make synth says so and what to do
        assert "add a node" in synth.stderr and "Traceback" not in synth.stderr, synth.stderr
        add_worker(project / "config")
        synth = run(project, "scripts/synth.py")
    assert synth.returncode == 0, synth.stdout + synth.stderr
    assert re.search(rf"^platform-{NAME}: \d+ resources", synth.stdout, re.M), synth.stdout

    # THEN every check that derives from the environments holds for it, but the snapshots
    # and the diagram, which ask for `make refresh`
    result = run(project, *PYTEST, *SUBSET)
    assert failed(result) == REFRESHED, result.stdout[-4000:]

    # WHEN `make refresh` is run
    for step in refresh_steps():
        done = run(project, *step)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # THEN those pass too, the new stack's snapshot among them
    checks = ["tests/test_snapshots.py", "tests/scripts/test_diagram.py"]
    result = run(project, *PYTEST, "-rA", *checks)
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"PASSED tests/test_snapshots.py::test_stack_matches_snapshot[platform-{NAME}]" in (
        result.stdout
    )
    assert f"platform-{NAME}" in (project / "docs" / "architecture.md").read_text()
