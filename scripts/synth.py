"""Synthesize every stack into cdktf.out, replacing it only when synthesis succeeds.

``main.py`` writes into a fresh generation under ``.cdktf.out/``; only a complete synthesis
whose every stack parses is swapped in, and the swap is one atomic rename of the
``cdktf.out`` symlink onto the new generation. So a configuration error, a crash or an
interruption at any point leaves the previous output exactly as it was; what an interrupted
run left under ``.cdktf.out/`` is removed by the next one. Prints one summary line per stack.

Exit status: 0 done; 2 the configuration is wrong (every problem printed); 3 the tool failed
(not your input: the message says what failed, ``SYNTH_DEBUG=1`` adds the traceback). Through
``make`` both end in make's own status 2, and make's last line says ``Error 2`` or ``Error 3``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import runpy
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from stacks.config.redaction import printable, tool_failure

ROOT = Path(__file__).resolve().parent.parent
USER_ERROR, TOOL_ERROR = 2, 3
GENERATIONS = ".cdktf.out"
# Variables that change what cdktf or its Node runtime writes or how it starts; `make synth`
# ignores them, saying so (the cdktf CLI sets some itself: `npm run cdktf -- synth` is unaffected).
IGNORED_VARIABLES = {
    "SYNTH_HCL_OUTPUT": "make synth always writes Terraform JSON",
    "CDKTF_CONTEXT_JSON": "the files under config/ are the only input",
    "NODE_OPTIONS": "it changes how the jsii Node runtime starts",
}
ALLOWED_JSII_VARIABLES = (
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_RUNTIME_PACKAGE_CACHE_ROOT",
)


def summary(stack_dir: Path) -> str:
    document = json.loads((stack_dir / "cdk.tf.json").read_text())
    resources = Counter({kind: len(items) for kind, items in document.get("resource", {}).items()})
    data = sum(len(items) for items in document.get("data", {}).values())
    outputs = len(document.get("output", {}))
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(resources.items()))
    return (
        f"{stack_dir.name}: {sum(resources.values())} resources ({kinds}), "
        f"{data} data sources, {outputs} outputs"
    )


def scrub_environment(environ: dict[str, str]) -> list[str]:
    """Drop the variables that would change the output's format or the runtime's start;
    a warning for each."""
    reasons = {name: why for name, why in IGNORED_VARIABLES.items() if name in environ}
    for name in environ:
        if name.startswith("JSII_") and name not in ALLOWED_JSII_VARIABLES:
            reasons.setdefault(name, "it changes how the jsii Node runtime starts")
    for name in reasons:
        del environ[name]
    return [f"warning: ignoring {printable(name)}: {why}" for name, why in sorted(reasons.items())]


def check_output(staging: Path) -> list[str]:
    """Why the synthesized ``staging`` directory is not a complete output ("" each)."""
    stacks = staging / "stacks"
    if not stacks.is_dir() or not any(stacks.iterdir()):
        return ["no stacks were written"]
    problems = []
    for stack_dir in sorted(stacks.iterdir()):
        try:
            json.loads((stack_dir / "cdk.tf.json").read_text())
        except (OSError, ValueError) as error:
            problems.append(f"{stack_dir.name}: no readable cdk.tf.json ({type(error).__name__})")
    return problems


def _clean_generations(generations: Path, keep: Path | None) -> None:
    for entry in generations.iterdir() if generations.is_dir() else []:
        if entry.name == "lock":
            continue
        if keep is None or entry.resolve() != keep.resolve():
            if entry.is_symlink() or entry.is_file():
                entry.unlink(missing_ok=True)
            else:
                shutil.rmtree(entry, ignore_errors=True)


def swap_in(root: Path, outdir_name: str, staging: Path) -> None:
    """Point ``root/outdir_name`` at ``staging`` in one atomic rename (a symlink replaced by
    another); a real directory from before (or from ``npm run cdktf -- synth``) is moved aside
    first, once."""
    outdir = root / outdir_name
    generations = staging.parent
    if outdir.exists() and not outdir.is_symlink():
        outdir.rename(Path(tempfile.mkdtemp(prefix="previous-", dir=generations)) / "out")
    link = generations / f"link-{staging.name}"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(GENERATIONS) / staging.name)
    os.replace(link, outdir)
    _clean_generations(generations, keep=staging)


@contextlib.contextmanager
def _exclusive(generations: Path) -> Iterator[None]:
    """One synthesis per checkout at a time: a second waits (each run cleans up what earlier
    runs left in ``.cdktf.out/``, which would otherwise be another run's work in progress)."""
    with (generations / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another synthesis of this checkout to finish", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def synth(root: Path = ROOT, outdir_name: str = "cdktf.out") -> int:
    generations = root / GENERATIONS
    generations.mkdir(exist_ok=True)
    with _exclusive(generations):
        return _synth(root, outdir_name, generations)


def _synth(root: Path, outdir_name: str, generations: Path) -> int:
    current = root / outdir_name
    # What an interrupted run left behind: everything but the current output.
    _clean_generations(generations, keep=current if current.is_symlink() else None)
    staging = Path(tempfile.mkdtemp(prefix="gen-", dir=generations))
    swapped = False
    try:
        # main.py runs in this process (one interpreter start, not two). The output
        # directory is passed, not left to CDKTF_OUTDIR: jsii's Node runtime reads the
        # environment once, when the first synthesis of a process starts it.
        os.environ["CDKTF_OUTDIR"] = str(staging)
        status = runpy.run_path(str(root / "main.py"), run_name="synth")["main"](str(staging))
        if status != 0:
            print(f"synth failed; {outdir_name}/ left unchanged", file=sys.stderr)
            return status
        problems = check_output(staging)
        if problems:
            print(
                "synth failed (the tool, not your input): the output is incomplete: "
                + "; ".join(problems)
                + f"; {outdir_name}/ left unchanged",
                file=sys.stderr,
            )
            return TOOL_ERROR
        swap_in(root, outdir_name, staging)
        swapped = True
    finally:
        if not swapped:
            shutil.rmtree(staging, ignore_errors=True)
    for stack_dir in sorted((current / "stacks").iterdir()):
        print(summary(stack_dir))
    return 0


def main(argv: list[str]) -> int:
    import argparse

    argparse.ArgumentParser(
        prog="synth.py",
        description="Synthesize every stack from config/ into cdktf.out/stacks/<stack>/ "
        "(what `make synth` runs). The previous cdktf.out is replaced only when every stack "
        "synthesized; a configuration mistake prints every problem and exits 2; a failure of "
        "the tool itself exits 3.",
    ).parse_args(argv)
    for warning in scrub_environment(os.environ):
        print(warning, file=sys.stderr)
    try:
        return synth()
    except KeyboardInterrupt:
        print("synth interrupted; cdktf.out/ left unchanged", file=sys.stderr)
        return 130
    except Exception as error:  # the tool failed: the user gets one line, not a traceback
        if os.environ.get("SYNTH_DEBUG"):
            traceback.print_exc()
        print(
            f"{tool_failure(error)}; cdktf.out/ left unchanged (SYNTH_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return TOOL_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
