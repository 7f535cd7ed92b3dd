"""scripts/jsii_cache.py, with jsii's real runtime on a package cache of the test's own: an
entry left marked complete but missing files breaks every later process until removed; the
script removes it and the next process extracts it again; a sound cache is left as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "jsii_cache.py"
# A provider after cdktf, as the app loads them: the provider's code requires 'cdktf'.
LOAD = "import cdktf, cdktf_cdktf_provider_random"


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(root)}
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def cdktf_entry(root: Path) -> Path:
    (entry,) = (root / "cdktf" / "0.21.0").iterdir()
    return entry


def tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_ino for p in sorted(path.rglob("*"))}


def test_a_damaged_entry_breaks_every_load_until_the_script_removes_it(tmp_path):
    root = tmp_path / "package-cache"
    root.mkdir(mode=0o700)
    # GIVEN a cache the runtime filled, whose cdktf entry then lost files, as an entry
    # re-extracted under a holder whose lock was broken does (package.json, lib/index.js)
    assert run(root, "-c", LOAD).returncode == 0
    entry = cdktf_entry(root)
    (entry / "package.json").unlink()
    (entry / "lib" / "index.js").write_text("")
    # THEN every process fails to load cdktf's dependants, the second as the first
    for _ in range(2):
        broken = run(root, "-c", LOAD)
        assert broken.returncode != 0
        assert "Cannot find module 'cdktf'" in broken.stderr, broken.stderr[-2000:]
    # WHEN the script runs
    repaired = run(root, str(SCRIPT))
    # THEN it names the entry it removed and what was missing
    assert repaired.returncode == 0, repaired.stderr
    assert f"removed cdktf@0.21.0's damaged entry {entry} (2 of " in repaired.stderr
    assert not entry.exists()
    # AND the next process extracts cdktf again and loads
    assert run(root, "-c", LOAD).returncode == 0
    assert (cdktf_entry(root) / "package.json").is_file()


def test_warm_fills_an_empty_cache_and_a_sound_cache_is_left_alone(tmp_path):
    root = tmp_path / "package-cache"
    root.mkdir(mode=0o700)
    # WHEN the script warms an empty cache
    warmed = run(root, str(SCRIPT), "--warm")
    assert warmed.returncode == 0, warmed.stderr
    # THEN every package the app loads has its entry
    names = {p.relative_to(root).parts[0] for p in root.iterdir()}
    assert names == {"cdktf", "constructs", "@cdktf"}
    providers = {p.name for p in (root / "@cdktf").iterdir()}
    assert providers == {
        "provider-digitalocean",
        "provider-docker",
        "provider-random",
        "provider-vault",
    }
    before = tree(root)
    # AND checking it again removes nothing and rewrites nothing
    again = run(root, str(SCRIPT))
    assert again.returncode == 0 and "removed" not in again.stderr, again.stderr
    assert tree(root) == before
