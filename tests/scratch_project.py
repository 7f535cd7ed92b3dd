"""A scratch copy of the project, and the suite run in it: how tests follow the README's
"Adding things" steps (tests/test_adding_a_service.py, tests/test_adding_an_environment.py)
without touching the checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PYTEST = ["-m", "pytest", "-q", "-p", "no:randomly"]


def scratch_copy(into: Path) -> Path:
    """The project's files (tracked and new, not ignored) copied to ``into``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    # The copy's modules, not the checkout's (installed editable, found after PYTHONPATH).
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(root)}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=900
    )


def failed(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"^FAILED ([^\s\[]+)", result.stdout, re.M))


def refresh_steps() -> list[list[str]]:
    """The Makefile's refresh recipe, each `$(PY) <args>` line as arguments."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrefresh:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert recipe and all(line.startswith("\t$(PY) ") for line in recipe), recipe
    return [line.removeprefix("\t$(PY) ").split() for line in recipe]
