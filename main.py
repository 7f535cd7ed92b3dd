"""Synthesize every stack, in deploy order, from the configuration under config/.

Run through ``make synth`` or ``npx cdktf synth``. A configuration or props error is
printed as a list of problems (no traceback) with exit status 2, before anything is
written, so the previous cdktf.out stays as it was.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from constructs_lib.errors import PropsError
from stacks.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent
# jsii prints a Node 20 end-of-life banner on every run; the CLI phones home unless told not to.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")


def build(root: Path = ROOT, outdir: str | None = None, config=None):
    """The app of every stack; ``config`` is ``load_config(root)`` when not given."""
    config = config or load_config(root)  # before importing cdktf: bad input fails fast
    from cdktf import Annotations, App

    from stacks.capacity import capacity_problems, demands_of
    from stacks.cluster import ClusterStack
    from stacks.layer_1 import Layer1Stack
    from stacks.layer_2 import Layer2Stack
    from stacks.platform import PlatformStack

    app = App(outdir=outdir) if outdir else App()
    cluster = ClusterStack(app, "cluster", config)
    layer_1 = Layer1Stack(app, "layer_1", config, cluster.outputs)
    for warning in config.warnings():
        if outdir is None and "CDKTF_OUTDIR" in os.environ:
            # Run by the cdktf CLI, which logs everything its app writes to stderr as
            # "[ERROR]"; a warning annotation it prints as "WARN [layer_1]: ..." instead.
            Annotations.of(layer_1).add_warning(warning)
        else:
            print(f"warning: {warning}", file=sys.stderr)
    layer_2 = Layer2Stack(app, "layer_2", config, cluster.outputs, layer_1.outputs)
    platforms = [
        PlatformStack(
            app,
            f"platform-{name}",
            config,
            environment,
            cluster.outputs,
            layer_1.outputs,
            layer_2.outputs,
        )
        for name, environment in sorted(config.environments.items())
    ]
    # Each platform stack has granted itself what it uses in Vault: its policy follows.
    layer_2.vault.grant_platform_policies()
    layer_2.vault.grant_plan_policy([layer_1, layer_2, *platforms])
    problems = [p for stack in platforms for p in stack.vault_grants.problems_in(stack)]
    # The services of every stack share the nodes: checked together, before anything is written.
    problems += capacity_problems(config.cluster.swarm.nodes, demands_of(app))
    if problems:
        raise ConfigError(problems)
    return app


def main(outdir: str | None = None) -> int:
    try:
        config = load_config(ROOT)
        app = build(outdir=outdir, config=config)
    except ConfigError as error:
        count = len(error.problems)
        noun = "problem" if count == 1 else "problems"
        print(f"configuration is invalid ({count} {noun}):", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except PropsError as error:
        print(error, file=sys.stderr)
        return 2
    app.synth()
    write_bootstrap(app.outdir, config.cluster)
    return 0


def write_bootstrap(outdir: str, cluster) -> None:
    """The nodes' cloud-init and the deploy tunnel's configurations (stacks/node_bootstrap.py)
    beside the stacks, in cdktf.out/bootstrap/."""
    from stacks.node_bootstrap import bootstrap_files

    into = Path(outdir) / "bootstrap"
    into.mkdir(parents=True, exist_ok=True)
    for name, text in bootstrap_files(cluster).items():
        (into / name).write_text(text)


def run() -> int:
    """``main`` as a program (``npx cdktf synth``): a failure of the tool itself, as opposed to
    a configuration mistake (2), exits 3 with one line (``SYNTH_DEBUG=1``: the traceback)."""
    try:
        return main()
    except Exception as error:
        from stacks.config.redaction import tool_failure

        if os.environ.get("SYNTH_DEBUG"):
            raise
        print(f"{tool_failure(error)} (SYNTH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(run())
