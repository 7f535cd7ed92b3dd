"""scripts/restore_volume.py: the restore job repeats the backup service's own setup, and an
operator's mistake is named without a traceback. The whole restore runs on the real engine in
tests/e2e/test_swarm.py; here a stand-in ``docker`` command answers the inspection."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

from scripts import restore_volume

SERVICE = {
    "Spec": {
        "Mode": {"Replicated": {"Replicas": 1}},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": "restic/restic:0.19.1@sha256:" + "0" * 64,
                "Env": ["RESTIC_REPOSITORY=s3:https://nyc3.digitaloceanspaces.com/b/restic"],
                "Secrets": [
                    {
                        "SecretName": "main-backup-password-0123456789",
                        "File": {"Name": "/run/secrets/restic-password", "UID": "0", "GID": "0",
                                 "Mode": 0o400},
                    }
                ],
                "Configs": [
                    {
                        "ConfigName": "main-backup-sprocket-backup-abc",
                        "File": {"Name": "/usr/local/bin/sprocket-backup", "UID": "0",
                                 "GID": "0", "Mode": 0o555},
                    }
                ],
                "Mounts": [
                    {"Type": "volume", "Source": "main-redis-data",
                     "Target": "/volumes/main-redis-data", "ReadOnly": True}
                ],
            },
            "Placement": {"Constraints": ["node.labels.sprocket.volumes == true"]},
            "Networks": [{"Target": "n0tw0rk1d"}],
        },
    }
}  # fmt: skip


def test_the_job_repeats_the_backups_setup_with_only_the_volume_read_write():
    args = restore_volume.job_arguments(
        SERVICE, "main-redis-data", ["restore", "main-redis-data", "latest"], "restore-x"
    )
    assert args[:7] == [
        "--name", "restore-x", "--mode", "replicated-job", "--restart-condition", "none",
        "--detach",
    ]  # fmt: skip
    pairs = list(itertools.pairwise(args))
    assert ("--env", SERVICE["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"][0]) in pairs
    # modes in octal, as the CLI reads them with a leading 0
    assert (
        "--secret",
        "source=main-backup-password-0123456789,target=/run/secrets/restic-password,"
        "uid=0,gid=0,mode=0400",
    ) in pairs
    assert any(a == "--config" and b.endswith("mode=0555") for a, b in pairs)
    assert ("--constraint", "node.labels.sprocket.volumes == true") in pairs
    assert ("--network", "n0tw0rk1d") in pairs
    (mount,) = [b for a, b in pairs if a == "--mount"]
    assert mount == "type=volume,source=main-redis-data,target=/volumes/main-redis-data"
    assert "readonly" not in mount
    assert args[-5:] == [
        "restic/restic:0.19.1@sha256:" + "0" * 64,
        "/usr/local/bin/sprocket-backup",
        "restore",
        "main-redis-data",
        "latest",
    ]


def test_listing_mounts_no_volume():
    args = restore_volume.job_arguments(SERVICE, None, ["snapshots"], "restore-x")
    assert "--mount" not in args


def _run(tmp_path, *args: str, inspect: object) -> subprocess.CompletedProcess:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "docker").write_text(
        "#!/bin/sh\n"
        f"if [ \"$1 $2\" = 'service inspect' ]; then cat <<'EOF'\n{json.dumps(inspect)}\nEOF\n"
        "exit 0; fi\nexit 1\n"
    )
    (fake / "docker").chmod(0o755)
    return subprocess.run(
        [sys.executable, "scripts/restore_volume.py", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"},
        timeout=60,
    )


def test_an_unknown_backup_service_is_named(tmp_path):
    result = _run(tmp_path, "--backup", "mian-backup", "--volume", "v", inspect=[])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--backup='mian-backup': no such service" in result.stderr


def test_a_volume_the_backup_does_not_hold_is_named_with_the_ones_it_does(tmp_path):
    result = _run(tmp_path, "--backup", "main-backup", "--volume", "main-redis", inspect=[SERVICE])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--volume='main-redis': main-backup does not back it up" in result.stderr
    assert "['main-redis-data']" in result.stderr


def test_a_task_that_does_not_stop_is_named_with_its_states(monkeypatch):
    tasks = {
        "old": "t0ld|Shutdown|Shutdown 3 minutes ago|",
        "stuck": "t5tuck|Remove|Starting 2 minutes ago|",
    }
    monkeypatch.setattr(restore_volume, "docker", lambda *args, **kwargs: "\n".join(tasks.values()))
    monkeypatch.setattr(restore_volume, "SCALE_TIMEOUT_S", 0)
    try:
        restore_volume.scale("main-backup", 0)
    except restore_volume.RestoreError as problem:
        message = str(problem)
    else:
        raise AssertionError("a task still starting was taken for stopped")
    assert message.startswith("main-backup: tasks did not stop after 0 s")
    assert tasks["stuck"] in message and "t0ld" not in message


def test_scaling_up_returns_once_the_task_runs_not_when_it_starts(monkeypatch):
    answers = iter(
        [
            "",  # the scale
            "n3w|Running|Starting 1 second ago|\nt0ld|Shutdown|Shutdown 1 minute ago|",
            "n3w|Running|Running 1 second ago|\nt0ld|Shutdown|Shutdown 1 minute ago|",
        ]
    )
    monkeypatch.setattr(restore_volume, "docker", lambda *args, **kwargs: next(answers))
    monkeypatch.setattr(restore_volume.time, "sleep", lambda seconds: None)
    restore_volume.scale("main-backup", 1)
    assert next(answers, "all asked") == "all asked"


def test_a_backup_that_does_not_start_again_is_said_after_the_restores_log(monkeypatch, capsys):
    def docker(*args: str, check: bool = True) -> str:
        if args[:2] == ("service", "inspect"):
            return json.dumps([SERVICE])
        if args[:2] == ("service", "ps") and args[2] == "main-backup":
            # stopped for the restore, and never running again
            return "t0ld|Shutdown|Shutdown 1 second ago|"
        if args[:2] == ("service", "ps"):
            return "Complete 1 second ago|"
        if args[:2] == ("service", "logs"):
            return "sprocket-backup: restore ok: main-redis-data from latest\n"
        return ""

    monkeypatch.setattr(restore_volume, "docker", docker)
    monkeypatch.setattr(restore_volume, "SCALE_TIMEOUT_S", 0)
    monkeypatch.setattr(restore_volume.time, "sleep", lambda seconds: None)
    status = restore_volume.main(["--backup", "main-backup", "--volume", "main-redis-data"])
    out, err = capsys.readouterr()
    assert status == 2
    assert "restore ok: main-redis-data" in out
    assert "restore-main-redis-data completed" in err
    assert err.rstrip().endswith(
        "main-backup: 0 of 1 tasks running after 0 s; its tasks (task|desired state|current "
        "state|error): none (docker service ps main-backup)"
    )
