"""Restore one Docker volume from its stack's backup, with the backup service's own setup.

    DOCKER_HOST=... python scripts/restore_volume.py --backup main-backup \\
        --volume main-redis-data [--snapshot ID] [--list]

Reads the backup service ``--backup`` (``constructs_lib/volume_backup.py``) with
``docker service inspect``, and runs its image, environment, secrets, script and placement
once more as a Swarm job (``docker service create --mode replicated-job``) that mounts only
``--volume``, read-write, and runs ``sprocket-backup restore <volume> [snapshot]``.

The restore refuses a volume that is not empty, and this script one that a container of
another service still mounts: stop that service first (``docker service scale
<service>=0``). The backup service mounts every volume of its stack, so it is scaled to 0 for
the restore and back afterwards. ``--recreate`` removes the volume first (what is left in it
is lost); without it, a volume that is gone is created empty by the job. ``--list`` runs
``sprocket-backup snapshots`` instead. The job's log is printed and the job removed; the exit
status is the restore's. The whole procedure is docs/runbook-restore.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SCRIPT = "/usr/local/bin/sprocket-backup"
VOLUMES_DIR = "/volumes"
JOB_TIMEOUT_S = 3600


class RestoreError(Exception):
    """A problem the operator can fix; printed without a traceback."""


def docker(*args: str, check: bool = True) -> str:
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise RestoreError(
            "the docker command is not installed (docs/runbook-restore.md)"
        ) from None
    if check and result.returncode:
        raise RestoreError(f"docker {' '.join(args[:3])}: {result.stderr.strip()}")
    return result.stdout


def inspect_service(name: str) -> dict:
    output = docker("service", "inspect", name, check=False)
    found = json.loads(output or "[]")
    if not found:
        raise RestoreError(
            f"--backup={name!r}: no such service; the backups are '<stack>-backup' "
            "(docker service ls --filter name=backup)"
        )
    return found[0]


def mounting_containers(volume: str, *, besides: str) -> list[str]:
    """Running containers that mount ``volume`` on the engine DOCKER_HOST names, but for the
    service ``besides``'s."""
    output = docker("ps", "--filter", f"volume={volume}", "--format", "{{.Names}}")
    return [name for name in output.split() if not name.startswith(f"{besides}.")]


# Task states after which a task's container no longer runs (moby api/types/swarm/task.go).
STOPPED_STATES = ("Shutdown", "Complete", "Failed", "Rejected", "Orphaned", "Remove")
SCALE_TIMEOUT_S = 120


def service_tasks(service: str) -> list[str]:
    """``service``'s tasks, history included, as ``ID|desired state|current state|error``."""
    return docker(
        "service", "ps", service, "--no-trunc",
        "--format", "{{.ID}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}",
    ).splitlines()  # fmt: skip


def scale(service: str, replicas: int) -> None:
    """Set ``service``'s replicas, and return once its tasks have stopped (for 0) or
    ``replicas`` of them run.

    Waiting for the start too means a restore leaves the backup running, not still starting:
    an operator's next restore then stops a started task, never one half-way through its
    start.

    Not ``--detach=false``: the CLI then waits out the service's update monitor period (30 s
    here) after it counts the service converged (docker/cli cli/command/service/progress/
    progress.go: ``monitor`` is ``UpdateConfig.Monitor``; 30 s per scale, measured by the
    rehearsal). For a scale to 0 it counts 0 running of 0 as converged at once, even while
    the task is still stopping, so it neither waits for the right thing nor quickly."""
    docker("service", "scale", "--detach", f"{service}={replicas}")
    deadline = time.monotonic() + SCALE_TIMEOUT_S
    while True:
        tasks = service_tasks(service)
        states = [task.split("|") for task in tasks]
        if replicas:
            running = [s for s in states if s[1] == "Running" and s[2].startswith("Running")]
            if len(running) >= replicas:
                return
            waiting = [t for t, s in zip(tasks, states, strict=True) if s[1] == "Running"]
            problem = f"{len(running)} of {replicas} tasks running"
        else:
            waiting = [
                t for t, s in zip(tasks, states, strict=True) if not s[2].startswith(STOPPED_STATES)
            ]
            if not waiting:
                return
            problem = "tasks did not stop"
        if time.monotonic() > deadline:
            raise RestoreError(
                f"{service}: {problem} after {SCALE_TIMEOUT_S} s; its tasks (task|desired "
                "state|current state|error): "
                + ("; ".join(waiting) or "none")
                + f" (docker service ps {service})"
            )
        time.sleep(0.5)


def job_arguments(service: dict, volume: str | None, command: list[str], job: str) -> list[str]:
    """``docker service create`` arguments repeating ``service``'s setup for a one-off job,
    with ``volume`` (if any) mounted read-write."""
    task = service["Spec"]["TaskTemplate"]
    container = task["ContainerSpec"]
    # One attempt: a job's task is restarted on failure by default, and a refused restore
    # would be tried again for ever.
    arguments = ["--name", job, "--mode", "replicated-job", "--restart-condition", "none"]
    arguments.append("--detach")
    for item in container.get("Env") or []:
        arguments += ["--env", item]
    # Modes are written with a leading 0: the CLI reads them with strconv.ParseUint(value, 0,
    # 32) (docker/cli opts/secret.go, "mode"), so "400" would be decimal.
    for secret in container.get("Secrets") or []:
        file = secret["File"]
        arguments += [
            "--secret",
            f"source={secret['SecretName']},target={file['Name']},uid={file['UID']},"
            f"gid={file['GID']},mode=0{file['Mode']:o}",
        ]
    for config in container.get("Configs") or []:
        file = config["File"]
        arguments += [
            "--config",
            f"source={config['ConfigName']},target={file['Name']},uid={file['UID']},"
            f"gid={file['GID']},mode=0{file['Mode']:o}",
        ]
    for constraint in (task.get("Placement") or {}).get("Constraints") or []:
        arguments += ["--constraint", constraint]
    for network in task.get("Networks") or []:
        arguments += ["--network", network["Target"]]
    if volume is not None:
        arguments += ["--mount", f"type=volume,source={volume},target={VOLUMES_DIR}/{volume}"]
    image = container["Image"]
    return [*arguments, "--entrypoint", "/bin/sh", image, SCRIPT, *command]


def run_job(arguments: list[str], job: str) -> tuple[int, str]:
    docker("service", "create", *arguments)
    try:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while True:
            states = docker("service", "ps", job, "--format", "{{.CurrentState}}|{{.Error}}")
            # its one task (restart condition none: there is never a second)
            state = states.splitlines()[0] if states.strip() else ""
            if state.startswith(("Complete", "Failed", "Rejected")):
                break
            if time.monotonic() > deadline:
                raise RestoreError(f"{job} did not finish within {JOB_TIMEOUT_S} s")
            time.sleep(2)
        log = docker("service", "logs", "--raw", job, check=False)
        return (0 if state.startswith("Complete") else 1), log
    finally:
        docker("service", "rm", job, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backup", required=True, help="the backup service, e.g. layer-2-backup")
    parser.add_argument("--volume", required=True, help="the volume to restore (or to --list)")
    parser.add_argument("--snapshot", default="latest", help="snapshot ID (default: latest)")
    parser.add_argument("--list", action="store_true", help="list the snapshots, restore nothing")
    parser.add_argument(
        "--recreate", action="store_true", help="remove the volume first (its contents are lost)"
    )
    args = parser.parse_args(argv)
    try:
        service = inspect_service(args.backup)
        mounted = {
            m["Target"].removeprefix(f"{VOLUMES_DIR}/")
            for m in service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Mounts") or []
        }
        if args.volume not in mounted:
            raise RestoreError(
                f"--volume={args.volume!r}: {args.backup} does not back it up; it backs up "
                f"{sorted(mounted)}"
            )
        volume: str | None = args.volume
        if args.list:
            command, volume = ["snapshots"], None
        else:
            if users := mounting_containers(args.volume, besides=args.backup):
                raise RestoreError(
                    f"--volume={args.volume!r} is mounted by running containers {users}: "
                    "scale their service to 0 first (docs/runbook-restore.md)"
                )
            command = ["restore", args.volume, args.snapshot]
        job = f"restore-{args.volume}"[:63]
        replicas = service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1)
        if volume is not None:
            print(f"restore_volume: stopping {args.backup} for the restore", file=sys.stderr)
            scale(args.backup, 0)
        restarted: RestoreError | None = None
        try:
            if volume is not None and args.recreate:
                print(f"restore_volume: removing the volume {volume}", file=sys.stderr)
                # Swarm keeps its stopped tasks' containers, and Docker refuses to remove a
                # volume any container still names.
                stopped = docker(
                    "ps", "--all", "--quiet", "--filter", f"volume={volume}",
                    "--filter", "status=exited", "--filter", "status=created",
                ).split()  # fmt: skip
                if stopped:
                    docker("rm", *stopped)
                docker("volume", "rm", volume)
            print(f"restore_volume: running {' '.join(command)} as the job {job}", file=sys.stderr)
            status, log = run_job(job_arguments(service, volume, command, job), job)
        finally:
            if volume is not None:
                print(f"restore_volume: starting {args.backup} again", file=sys.stderr)
                try:
                    scale(args.backup, replicas)
                except RestoreError as problem:
                    restarted = problem  # said after the job's log, which it must not hide
        print(log, end="")
        print(f"restore_volume: {job} {'completed' if status == 0 else 'FAILED'}", file=sys.stderr)
        if restarted is not None:
            print(f"restore_volume: {restarted}", file=sys.stderr)
            return status or 2
        return status
    except RestoreError as problem:
        print(f"restore_volume: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
