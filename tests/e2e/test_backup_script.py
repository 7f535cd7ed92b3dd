"""The backup script, run by BusyBox's sh with real restic against a local S3 API.

``constructs_lib/assets/sprocket-backup.sh`` is what every backup service runs. Here it runs
outside a container (its volume directory moved to a temporary one), with Debian's restic and
BusyBox's sh (the restic image is Alpine: BusyBox's ash) against moto's S3 API on 127.0.0.1,
standing in for Spaces. The real-engine test (tests/e2e/test_swarm.py) runs the same script in
the synthesized service; this one covers what a daily run cannot show there: retention, a
repository that cannot be reached, the schedule's arithmetic.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from constructs_lib.volume_backup import SCRIPT
from tests.e2e.swarm.spaces import KEY_ID, SECRET, spaces_stand_in

RESTIC = shutil.which("restic")
BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(
    not (RESTIC and BUSYBOX), reason="restic and busybox from Debian (make test installs them)"
)


@pytest.fixture(scope="module")
def spaces(tmp_path_factory):
    with spaces_stand_in("127.0.0.1", tmp_path_factory.mktemp("moto") / "moto.log") as stand_in:
        yield stand_in


@pytest.fixture
def backup(tmp_path: Path, spaces, request):
    """Run the script as a backup service would: its environment, secrets as files."""
    bucket = f"backups-{request.node.name.replace('_', '-')[:40].lower().strip('-')}"
    spaces.create_bucket(bucket)
    volumes = tmp_path / "volumes"
    volumes.mkdir()
    (tmp_path / "password").write_text("a repository password\n")
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
    )
    script = tmp_path / "sprocket-backup"
    script.write_text(SCRIPT.replace("VOLUMES=/volumes", f"VOLUMES={volumes}", 1))
    environment = {
        "PATH": os.environ["PATH"],
        "RESTIC_REPOSITORY": f"s3:{spaces.endpoint}/{bucket}/restic",
        "RESTIC_PASSWORD_FILE": str(tmp_path / "password"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
        "BACKUP_HOST": "layer_2",
        "DAILY_AT_UTC": "03:30",
        "KEEP_DAILY": "7",
        "KEEP_WEEKLY": "4",
        "KEEP_MONTHLY": "6",
    }

    def run(*args: str, **overrides: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [BUSYBOX, "sh", str(script), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**environment, **overrides},
        )

    run.volumes = volumes
    run.bucket = bucket
    return run


def _volume(root: Path, name: str, files: dict[str, str]) -> Path:
    volume = root / name
    for path, content in files.items():
        (volume / path).parent.mkdir(parents=True, exist_ok=True)
        (volume / path).write_text(content)
    return volume


def test_a_run_backs_up_every_volume_and_a_restore_brings_one_back(backup, spaces):
    grafana = _volume(backup.volumes, "grafana-data", {"grafana.db": "dashboards", "a/b": "x"})
    _volume(backup.volumes, "loki-data", {"chunks/1": "log lines"})
    (grafana / "grafana.db").chmod(0o600)

    first = backup("run")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines()[-1] == "sprocket-backup: run ok: 2 volumes"
    assert "sprocket-backup: volume ok: grafana-data" in first.stdout
    assert any(k.startswith("restic/data/") for k in spaces.keys(backup.bucket))

    # A second run finds the repository and backs up only what changed.
    (grafana / "grafana.db").write_text("more dashboards")
    second = backup("run")
    assert second.returncode == 0 and "run ok: 2 volumes" in second.stdout, second.stderr

    shutil.rmtree(grafana)
    grafana.mkdir()
    restored = backup("restore", "grafana-data")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert (grafana / "grafana.db").read_text() == "more dashboards"
    assert (grafana / "a" / "b").read_text() == "x"
    assert (grafana / "grafana.db").stat().st_mode & 0o777 == 0o600

    # Retention keeps the last snapshot of each day: the day's second run replaced the first.
    listed = backup("snapshots")
    rows = [line for line in listed.stdout.splitlines() if " grafana-data " in line]
    assert listed.returncode == 0 and len(rows) == 1, listed.stdout


def test_a_restore_refuses_a_volume_that_is_not_empty(backup):
    _volume(backup.volumes, "n8n-data", {"config": "1"})
    assert backup("run").returncode == 0
    refused = backup("restore", "n8n-data")
    assert refused.returncode == 2
    assert "is not empty; restore only into an empty volume" in refused.stdout
    assert (backup.volumes / "n8n-data" / "config").read_text() == "1"


def test_an_unreachable_repository_is_a_failed_run_not_a_new_repository(backup):
    _volume(backup.volumes, "gatus-data", {"data.db": "history"})
    failed = backup("run", RESTIC_REPOSITORY="s3:http://127.0.0.1:9/nowhere/restic")
    assert failed.returncode == 1
    assert "sprocket-backup: run failed" in failed.stdout
    assert "run ok" not in failed.stdout


def test_a_wrong_password_fails_the_run_and_replaces_nothing(backup, tmp_path, spaces):
    _volume(backup.volumes, "neo4j-data", {"graph": "nodes"})
    assert backup("run").returncode == 0
    keys = set(spaces.keys(backup.bucket))
    (tmp_path / "other").write_text("not the password\n")
    failed = backup("run", RESTIC_PASSWORD_FILE=str(tmp_path / "other"))
    assert failed.returncode == 1 and "run failed" in failed.stdout
    # restic init refused the existing repository: its config and keys are what they were.
    assert {k for k in spaces.keys(backup.bucket) if k.startswith("restic/keys/")} == {
        k for k in keys if k.startswith("restic/keys/")
    }


def test_retention_forgets_what_the_policy_no_longer_keeps(backup):
    _volume(backup.volumes, "influxdb-data", {"tsm": "points"})
    for _ in range(3):
        assert backup("run", KEEP_DAILY="1", KEEP_WEEKLY="0", KEEP_MONTHLY="0").returncode == 0
    listed = backup("snapshots")
    # Three snapshots on one day; keeping the last of one day keeps one.
    assert "\n1 snapshots\n" in listed.stdout, listed.stdout


@pytest.mark.parametrize(
    ("now", "at", "expected"),
    [
        ("00:00", "03:30", 3 * 3600 + 1800),
        ("03:30", "03:30", 86400),
        ("04:00", "03:30", 86400 - 1800),
        ("23:59", "00:00", 60),
    ],
)
def test_the_schedule_waits_until_the_next_run(tmp_path, now, at, expected):
    hours, minutes = (int(part) for part in now.split(":"))
    epoch = 20_000 * 86400 + hours * 3600 + minutes * 60
    # date stands in with a fixed clock; the rest is the script's own function.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "date").write_text(f"#!/bin/sh\necho {epoch}\n")
    (fake / "date").chmod(0o755)
    body = SCRIPT.split('case "${1:-}" in')[0] + f'seconds_until "{at}"\n'
    result = subprocess.run(
        [BUSYBOX, "sh", "-c", body],
        capture_output=True,
        text=True,
        env={"PATH": f"{fake}:{os.environ['PATH']}"},
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == expected


def test_the_schedule_stops_at_once_on_sigterm(backup, tmp_path):
    """Swarm stops a task with SIGTERM, then SIGKILL after the grace period (10 s here):
    the scheduled loop, the container's first process, ends at the first."""
    import signal
    import time

    script = backup.volumes.parent / "sprocket-backup"
    process = subprocess.Popen(
        [BUSYBOX, "sh", str(script), "schedule"],
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ["PATH"], "DAILY_AT_UTC": "03:30"},
    )
    try:
        assert "scheduled daily at 03:30 UTC" in process.stdout.readline()
        time.sleep(0.5)  # into its wait for the next run (the line comes just before)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
        # the sleep it waited on ended with it: nothing holds its output open
        assert "stopping" in process.stdout.read()
    finally:
        process.kill()
        process.wait()
