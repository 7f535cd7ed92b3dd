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
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return elapsed, peak


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
    return project


def slope(points: list[tuple[int, float]]) -> float:
    xs, ys = zip(*points, strict=True)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-tests", action="store_true", help="do not time `make test`")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        modules = provider_modules()
        floor_code = "import cdktf, constructs\n" + "\n".join(f"import {m}" for m in modules)
        floor, floor_peak = median_run([sys.executable, "-c", floor_code], args.repeat)
        full, full_peak = median_run(synth_command(ROOT, scratch / "full"), args.repeat)
        points = []
        for count in (1, 2, 4, 8):
            project = project_with(count, scratch)
            seconds, _ = median_run(synth_command(project, scratch / f"out-{count}"), args.repeat)
            points.append((count, seconds))
        per_env = slope(points)
        make_test = None
        if not args.skip_tests:
            make_test, _ = run(["make", "test"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    ratio = full / floor
    peak_mib = max(floor_peak, full_peak) / 1024
    print(f"provider modules imported: {len(modules)}")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| (a) import floor | {floor:.2f} s | |")
    print(f"| (b) full synth, shipped environments | {full:.2f} s | |")
    print(
        f"| (b)/(a) | {ratio:.2f} | ≤ {TARGETS['ratio']} ({verdict(ratio <= TARGETS['ratio'])}) |"
    )
    for count, seconds in points:
        print(f"| (c) synth, {count} environment(s) | {seconds:.2f} s | |")
    print(
        f"| (c) one more environment | {per_env:.3f} s | ≤ {TARGETS['per_environment_s']} s "
        f"({verdict(per_env <= TARGETS['per_environment_s'])}) |"
    )
    print(
        f"| (d) peak memory, Python + Node | {peak_mib:.0f} MiB | ≤ {TARGETS['peak_mib']} MiB "
        f"({verdict(peak_mib <= TARGETS['peak_mib'])}) |"
    )
    if make_test is not None:
        print(
            f"| (e) make test | {make_test:.1f} s | ≤ {TARGETS['make_test_s']} s "
            f"({verdict(make_test <= TARGETS['make_test_s'])}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
