"""One JSON snapshot per stack: a drift alarm, read like code in review.

Behaviour is asserted elsewhere; a snapshot diff shows everything else that changed.
Update with `.venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update`.
"""

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

STACKS = ["layer_1", "layer_2", "platform-main", "platform-staging"]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_every_stack_has_a_snapshot(stacks):
    assert sorted(stacks) == sorted(STACKS)


@pytest.mark.parametrize("stack_name", STACKS)
def test_stack_matches_snapshot(stacks, stack_name, snapshot_json):
    assert stacks[stack_name] == snapshot_json
