"""The Makefile's promises: `make synth` installs only what synthesis needs, and `make help`
lists every target with what it does."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT


def dry_run(target: str, tmp_path) -> str:
    # A virtualenv that does not exist: make plans every install step, running none of them
    done = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_synth_installs_the_project_without_the_test_tools(tmp_path):
    plan = dry_run("synth", tmp_path)
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert any(line.rstrip().endswith("-e .") for line in installs), installs
    assert not any("[dev]" in line for line in installs), installs
    assert "npm" not in plan  # the cdktf CLI comes with `make cli`, when a deploy needs it


def test_make_test_installs_the_test_tools(tmp_path):
    assert "-e '.[dev]'" in dry_run("test", tmp_path)


def test_make_help_lists_every_target_with_a_description():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY: (.+)$", makefile, re.M).group(1).split()
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    names = re.findall(r"^  make (\S+)\s+\S", listed.stdout, re.M)
    assert sorted(names) == sorted(t for t in phony if t != "system-tools")
