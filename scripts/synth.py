"""Synthesize every stack into cdktf.out, replacing it only when synthesis succeeds.

``main.py`` writes into a fresh directory next to cdktf.out; only a complete,
successful synthesis is swapped in, so a configuration error leaves the previous
output exactly as it was. Prints one summary line per stack.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def synth(root: Path = ROOT, outdir_name: str = "cdktf.out") -> int:
    outdir = root / outdir_name
    staging = Path(tempfile.mkdtemp(prefix=f"{outdir_name}.", dir=root))
    try:
        # main.py runs in this process (one interpreter start, not two); cdktf reads the
        # output directory from CDKTF_OUTDIR, as it does under `npx cdktf synth`.
        os.environ["CDKTF_OUTDIR"] = str(staging)
        status = runpy.run_path(str(root / "main.py"), run_name="synth")["main"]()
        if status != 0:
            print(f"synth failed; {outdir_name}/ left unchanged", file=sys.stderr)
            return status
        previous = root / f"{outdir_name}.previous"
        shutil.rmtree(previous, ignore_errors=True)
        if outdir.exists():
            outdir.rename(previous)
        staging.rename(outdir)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stack_dir in sorted((outdir / "stacks").iterdir()):
        print(summary(stack_dir))
    return 0


def main(argv: list[str]) -> int:
    import argparse

    argparse.ArgumentParser(
        prog="synth.py",
        description="Synthesize every stack from config/ into cdktf.out/stacks/<stack>/ "
        "(what `make synth` runs). The previous cdktf.out is replaced only when every stack "
        "synthesized; a configuration mistake prints every problem and exits 2.",
    ).parse_args(argv)
    return synth()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
