"""A stack synthesized with another database host or port than the cluster stack deployed
stops at plan time (constructs_lib/deployed_value_check.py, stacks/cluster.py check_postgres).

Real Terraform (no provider: ``terraform_data`` and ``terraform_remote_state`` are built in)
plans the synthesized checks of every stack that has them, verbatim, against a cluster state
of its own. The state's backend is the one thing changed: a local file instead of Spaces, its
outputs named as the synthesized references name them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import CONFIG
from tests.e2e.test_remote_state import TERRAFORM, terraform, terraform_env  # noqa: F401

REMOTE = "cross-stack-reference-input-cluster"
OUTPUT = re.compile(rf"data\.terraform_remote_state\.{REMOTE}\.outputs\.([\w-]+)")
CHECKS = ("postgres_host_check", "postgres_port_check")


def checks(document: dict) -> dict[str, dict]:
    return {k: v for k, v in document["resource"].get("terraform_data", {}).items() if k in CHECKS}


def test_every_stack_synthesized_with_the_database_host_checks_it(stacks):
    # layer_2 (Grafana, n8n, Gatus) and each platform stack (the applications' config files)
    checked = {name for name, document in stacks.items() if checks(document)}
    assert checked == {"layer_2", *(n for n in stacks if n.startswith("platform-"))}
    for name in checked:
        assert set(checks(stacks[name])) == set(CHECKS), name


def _outputs(document: dict) -> dict[str, str]:
    """check id -> the cluster output its condition reads."""
    return {
        check: OUTPUT.search(body["lifecycle"]["precondition"][0]["condition"]).group(1)
        for check, body in checks(document).items()
    }


def _plan(workdir: Path, env: dict, document: dict, host: str, port: int):
    outputs = _outputs(document)
    state = workdir / "cluster.tfstate"
    state.write_text(
        json.dumps(
            {
                "version": 4,
                "terraform_version": "1.11.4",
                "serial": 1,
                "lineage": "deployed-value-check",
                "outputs": {
                    outputs["postgres_host_check"]: {"value": host, "type": "string"},
                    outputs["postgres_port_check"]: {"value": port, "type": "number"},
                },
                "resources": [],
            }
        )
    )
    config = {
        "data": {"terraform_remote_state": {REMOTE: {"backend": "local",
                                                     "config": {"path": str(state)}}}},
        "resource": {"terraform_data": {
            check: {k: v for k, v in body.items() if k != "//"}
            for check, body in checks(document).items()
        }},
    }  # fmt: skip
    (workdir / "main.tf.json").write_text(json.dumps(config, indent=1))
    terraform(workdir, env, "init")
    return terraform(workdir, env, "plan", check=False)


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")
def test_the_plan_stops_on_another_host_or_port_naming_the_field(stacks, terraform_env, tmp_path):  # noqa: F811
    postgres = CONFIG.cluster.postgres
    document = stacks["platform-main"]
    # GIVEN the cluster stack deployed where config/cluster.yaml says: the plan goes on
    same = _plan(tmp_path, terraform_env, document, postgres.host, postgres.port)
    assert same.returncode == 0, same.stdout + same.stderr
    # WHEN the cluster answers at another host (rebuilt, or copied wrong)
    moved = "sprocketbot-postgres-rebuilt-do-user-1-0.b.db.ondigitalocean.com"
    other_host = _plan(tmp_path, terraform_env, document, moved, postgres.port)
    # THEN the plan stops, naming the field, the configured value and the deployed one
    assert other_host.returncode == 1, other_host.stdout
    error = " ".join(other_host.stderr.split())
    assert (
        f"config/cluster.yaml postgres.host is '{postgres.host}', but the cluster stack's "
        f"output PostgresHost is {moved}: set config/cluster.yaml postgres.host to it"
    ) in error
    assert "postgres.port" not in error
    # AND likewise for the port, a number in the cluster's state
    other_port = _plan(tmp_path, terraform_env, document, postgres.host, postgres.port + 1)
    assert other_port.returncode == 1, other_port.stdout
    error = " ".join(other_port.stderr.split())
    assert f"postgres.port is '{postgres.port}', but the cluster stack's output" in error
    assert f"PostgresPort is {postgres.port + 1}" in error
