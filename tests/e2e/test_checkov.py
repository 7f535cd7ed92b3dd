"""checkov's policy scan over every synthesized stack: zero failed checks.

checkov runs from its own virtualenv (.venv-checkov, made by `make test`): its
dependency pins conflict with the project's. Skips are justified in .checkov.yaml.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACK_NAMES

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def scan(*args: str) -> dict:
    """checkov from the project root, so .checkov.yaml's relative paths (the project's own
    checks in tests/checkov_checks) resolve."""
    assert CHECKOV.exists(), "run `make test`: it installs checkov into .venv-checkov"
    command = [str(CHECKOV), "--config-file", str(ROOT / ".checkov.yaml"), *args, "-o", "json"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def without_required_version(document: dict) -> dict:
    """checkov 3.3.30 cannot parse a terraform block holding ``required_version``: it reports a
    parsing error for the file, scans nothing in it, and still exits 0 (seen on the synthesized
    stacks). The scan gets the stacks without that one key; everything else is as synthesized."""
    copy = json.loads(json.dumps(document))
    del copy["terraform"]["required_version"]
    return copy


@pytest.fixture(scope="module")
def report(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One checkov run over every stack (one process keeps the suite fast)."""
    scanned = tmp_path_factory.mktemp("checkov") / "stacks"
    for stack in sorted((synth_dir / "stacks").iterdir()):
        (scanned / stack.name).mkdir(parents=True)
        document = json.loads((stack / "cdk.tf.json").read_text())
        (scanned / stack.name / "cdk.tf.json").write_text(
            json.dumps(without_required_version(document))
        )
    return scan("-d", str(scanned))


def by_stack(checks: list[dict]) -> Counter:
    return Counter(Path(c["file_path"]).parent.name for c in checks)


def test_checkov_parsed_every_file(report):
    assert report["summary"]["parsing_errors"] == 0, report["summary"]


@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_checkov_ran_checks_on_the_stack(report, stack_name):
    # checkov exits 0 even when it skips a file: make sure it checked something in each.
    assert by_stack(report["results"]["passed_checks"])[stack_name] >= 1


def test_checkov_finds_nothing(report):
    failed = [
        (c["check_id"], c["file_path"], c["resource"]) for c in report["results"]["failed_checks"]
    ]
    assert failed == []


def test_the_project_checks_catch_a_broken_service(tmp_path, stacks):
    # GIVEN layer_2 with one service's limits removed and one secret made literal
    document = without_required_version(stacks["layer_2"])
    service = next(iter(document["resource"]["docker_service"].values()))
    del service["task_spec"]["resources"]["limits"]
    next(iter(document["resource"]["docker_secret"].values()))["data"] = "bGl0ZXJhbA=="
    (tmp_path / "cdk.tf.json").write_text(json.dumps(document))
    # THEN checkov reports exactly those two
    failed = scan("-f", str(tmp_path / "cdk.tf.json"))["results"]["failed_checks"]
    assert {c["check_id"] for c in failed} == {"CKV_SPROCKET_1", "CKV_SPROCKET_3"}


def test_the_project_checks_catch_a_node_outside_the_vpc_and_an_unprotected_volume(
    tmp_path, stacks
):
    # GIVEN the cluster stack with its droplet moved off the VPC and its volume unprotected
    document = without_required_version(stacks["cluster"])
    del next(iter(document["resource"]["digitalocean_droplet"].values()))["vpc_uuid"]
    del document["resource"]["digitalocean_volume"]["volume"]["lifecycle"]["prevent_destroy"]
    (tmp_path / "cdk.tf.json").write_text(json.dumps(document))
    # THEN checkov reports exactly those two
    failed = scan("-f", str(tmp_path / "cdk.tf.json"))["results"]["failed_checks"]
    assert {(c["check_id"], c["resource"].split(".")[-1]) for c in failed} == {
        ("CKV_SPROCKET_4", "node_sprocket_manager_1"),
        ("CKV_SPROCKET_5", "volume"),
    }
