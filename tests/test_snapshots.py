"""One JSON snapshot per stack: a drift alarm, read like code in review.

Behaviour is asserted elsewhere; a snapshot diff shows everything else that changed.
Update with `.venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update`: a new
environment is a new stack, whose first snapshot that command writes.
"""

from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import STACK_NAMES

UPDATE = "pytest tests/test_snapshots.py --snapshot-update"
# Where syrupy's JSON extension keeps test_stack_matches_snapshot's files, one per stack.
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / Path(__file__).stem


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def snapshotted_stacks() -> set[str]:
    """The stacks with a snapshot file: ``test_stack_matches_snapshot[<stack>].json``."""
    prefix, suffix = f"{test_stack_matches_snapshot.__name__}[", "].json"
    return {
        p.name.removeprefix(prefix).removesuffix(suffix)
        for p in (SNAPSHOTS.iterdir() if SNAPSHOTS.is_dir() else ())
        if p.name.startswith(prefix) and p.name.endswith(suffix)
    }


def test_every_stack_has_a_snapshot_and_every_snapshot_a_stack(stacks, request):
    # The stacks main.py builds are the ones the configuration implies...
    assert sorted(stacks) == sorted(STACK_NAMES)
    if request.config.getoption("--snapshot-update"):
        return  # syrupy writes the missing snapshots and deletes the stale ones as the run ends
    # ...and each has its snapshot, with none left over from a removed environment.
    missing = sorted(set(stacks) - snapshotted_stacks())
    stale = sorted(snapshotted_stacks() - set(stacks))
    assert not missing and not stale, (
        f"stacks without a snapshot: {missing}; snapshots of no stack: {stale}. "
        f"Run `{UPDATE}` and read the snapshot diff before committing it."
    )


@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_stack_matches_snapshot(stacks, stack_name, snapshot_json):
    problem = (
        "differs from its snapshot"
        if stack_name in snapshotted_stacks()
        else "has no snapshot yet (a new environment's stack?)"
    )
    assert stacks[stack_name] == snapshot_json, (
        f"{stack_name} {problem}. If that is intended, run `{UPDATE}` "
        "and read the snapshot diff before committing it."
    )
