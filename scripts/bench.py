"""Synthesis benchmark: how far above the import floor our own code costs.

    make bench          # all measurements, including a full `make test`
    python scripts/bench.py --skip-tests --repeat 3

Reports, on this machine in one run:
  (a) the floor: a fresh process importing cdktf and exactly the provider modules the app uses;
  (b) a full synthesis of every stack for the shipped environments;
  (c) scaling: synthesis with 1, 2, 4 and 8 generated environments, and the cost of one more;
  (d) peak memory of the synthesis, Python and its Node (jsii) process together;
  (e) `make test` wall time.
Each timing is the median of --repeat fresh processes. A benchmark, not a test: it reports
numbers against the targets in docs/performance.md and fails nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"ratio": 1.5, "per_environment_s": 0.5, "peak_mib": 400, "make_test_s": 45}
ENV = {
    **os.environ,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CHECKPOINT_DISABLE": "1",
}


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1])
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def run(command: list[str], *, cwd: Path = ROOT, env: dict | None = None) -> tuple[float, int]:
    """Wall seconds and peak resident KiB (process tree, sampled every 20 ms)."""
    peak = 0
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kib(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise StepFailed(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return elapsed, peak


class StepFailed(Exception):
    """A measured command that failed; the message holds the end of its stderr."""


def median_run(command: list[str], repeat: int, **kwargs) -> tuple[float, int]:
    results = [run(command, **kwargs) for _ in range(repeat)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def provider_modules() -> list[str]:
    """The provider modules the app imports, found by building it once."""
    code = (
        "import sys, main; main.build(main.ROOT);"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('cdktf_cdktf_provider_'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def synth_command(project: Path, outdir: Path) -> list[str]:
    """A fresh process running ``project``'s main.py into ``outdir``, as `make synth` does."""
    code = (
        f"import os, runpy; os.environ['CDKTF_OUTDIR'] = {str(outdir)!r}; "
        f"raise SystemExit(runpy.run_path({str(project / 'main.py')!r})['main']())"
    )
    return [sys.executable, "-c", code]


def project_with(environments: int, scratch: Path) -> Path:
    """A copy of the app whose configuration declares ``environments`` generated environments."""
    project = scratch / f"envs-{environments}"
    shutil.copytree(ROOT / "config", project / "config")
    shutil.copy(ROOT / "main.py", project / "main.py")
    for old in (project / "config" / "environments").iterdir():
        old.unlink()
    for index in range(environments):
        name = "main" if index == 0 else f"env{index}"
        subdomain = "" if index == 0 else f"subdomain: {name}\n"
        (project / "config" / "environments" / f"{name}.yaml").write_text(
            f"image_tag: {name}\n{subdomain}"
        )
    # A worker per environment, so that the capacity check (stacks/capacity.py) passes.
    cluster = project / "config" / "cluster.yaml"
    data = yaml.safe_load(cluster.read_text())
    data["swarm"]["nodes"] += [
        {"name": f"bench-worker-{index}", "role": "worker", "size": "s-4vcpu-8gb"}
        for index in range(environments)
    ]
    cluster.write_text(yaml.safe_dump(data))
    return project


def slope(points: list[tuple[int, float]]) -> float:
    xs, ys = zip(*points, strict=True)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Measure each step in turn, saying so; print every measurement taken, and each target
    met or missed, even when a later step fails. Exit 1 when a target is missed or a step
    failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-tests", action="store_true", help="do not time `make test`")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str]] = []  # measure, result, target (and verdict)
    missed: list[str] = []

    def verdict(name: str, ok: bool) -> str:
        if not ok:
            missed.append(name)
        return "meets" if ok else "MISSES"

    failure = None
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        progress("finding the provider modules the app imports")
        modules = provider_modules()
        floor_code = "import cdktf, constructs\n" + "\n".join(f"import {m}" for m in modules)
        progress(f"(a) import floor: {len(modules)} provider modules, {args.repeat} runs")
        floor, floor_peak = median_run([sys.executable, "-c", floor_code], args.repeat)
        rows.append(("(a) import floor", f"{floor:.2f} s", ""))
        progress(f"(b) full synth of the shipped configuration, {args.repeat} runs")
        full, full_peak = median_run(synth_command(ROOT, scratch / "full"), args.repeat)
        ratio = full / floor
        rows.append(("(b) full synth, shipped environments", f"{full:.2f} s", ""))
        target = TARGETS["ratio"]
        rows.append(
            ("(b)/(a)", f"{ratio:.2f}", f"≤ {target} ({verdict('(b)/(a)', ratio <= target)})")
        )
        peak_mib = max(floor_peak, full_peak) / 1024
        target = TARGETS["peak_mib"]
        rows.append(("(d) peak memory, Python + Node", f"{peak_mib:.0f} MiB",
                     f"≤ {target} MiB ({verdict('(d)', peak_mib <= target)})"))  # fmt: skip
        points = []
        for count in (1, 2, 4, 8):
            progress(f"(c) synth with {count} environment(s), {args.repeat} runs")
            project = project_with(count, scratch)
            seconds, _ = median_run(synth_command(project, scratch / f"out-{count}"), args.repeat)
            points.append((count, seconds))
            rows.append((f"(c) synth, {count} environment(s)", f"{seconds:.2f} s", ""))
        per_env = slope(points)
        target = TARGETS["per_environment_s"]
        rows.append(("(c) one more environment", f"{per_env:.3f} s",
                     f"≤ {target} s ({verdict('(c)', per_env <= target)})"))  # fmt: skip
        if not args.skip_tests:
            progress("(e) make test (a few minutes)")
            make_test, _ = run(["make", "test"])
            target = TARGETS["make_test_s"]
            rows.append(("(e) make test", f"{make_test:.1f} s",
                         f"≤ {target} s ({verdict('(e)', make_test <= target)})"))  # fmt: skip
    except StepFailed as error:
        failure = str(error)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("| measure | result | target |")
    print("|---|---|---|")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")
    if failure:
        print(f"bench: a step failed, the measurements above are those taken:\n{failure}",
              file=sys.stderr)  # fmt: skip
    if missed:
        print(f"bench: targets missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if failure or missed else 0


if __name__ == "__main__":
    sys.exit(main())
