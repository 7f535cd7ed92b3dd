"""The rehearsal's evaluator of Terraform expressions agrees with Terraform's own.

``tests/e2e/swarm/expressions.py`` is a stand-in for Terraform's evaluator (Terraform cannot
evaluate the synthesized expressions here: they reference resources only providers create).
This test gives every ``${...}`` of every synthesized stack to both: to ours with one made-up
value per reference, and to ``terraform console`` with the same values as locals. Skipped,
saying so, where no ``terraform`` binary is on PATH (none is promised on these machines).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.swarm.expressions import (
    evaluate_expression,
    interpolations,
    with_references_replaced,
)

TERRAFORM = shutil.which("terraform")


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        # Conditions (lifecycle preconditions) are Terraform's alone: the rehearsal evaluates
        # attributes, and tests/e2e/test_deployed_value_check.py plans those with Terraform.
        return [s for key, item in value.items() if key != "lifecycle" for s in _strings(item)]
    return []


def _value(reference: tuple[str, ...]) -> str:
    """One made-up value per reference, with characters that need escaping in JSON and HCL."""
    return 'v<&>"' + ".".join(reference) + "\\n%s"


# Terraform 1.11.4's console answers a line longer than 64 KiB with an empty line and status 0
# (measured: 65,536 characters evaluate, 65,540 do not). Three environments' expressions on one
# line are 73,788 characters, so they go in runs well under that.
CONSOLE_LINE_CHARS = 32_000


def batches(expressions: list[str], limit: int) -> list[list[str]]:
    """``expressions`` in order, cut into runs whose joined length stays under ``limit``."""
    runs: list[list[str]] = [[]]
    size = 0
    for expression in expressions:
        if runs[-1] and size + len(expression) + 2 > limit:
            runs.append([])
            size = 0
        runs[-1].append(expression)
        size += len(expression) + 2
    return runs


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH to compare with")
def test_every_synthesized_expression_evaluates_as_terraform_evaluates_it(stacks, tmp_path: Path):
    # GIVEN every interpolation of every synthesized stack, and a value for each reference
    sources = sorted(
        {
            source
            for document in stacks.values()
            for text in _strings(document.get("resource", {}))
            for source in interpolations(text)
            if "${" not in source
        }
    )
    assert len(sources) > 100, f"only {len(sources)} expressions found"
    references: dict[tuple[str, ...], str] = {}

    def key(reference: tuple[str, ...]) -> str:
        references.setdefault(reference, _value(reference))
        return f"local.r[{json.dumps('.'.join(reference))}]"

    rewritten = [with_references_replaced(source, key) for source in sources]
    ours = [evaluate_expression(source, lambda ref: references[ref]) for source in sources]
    # WHEN Terraform evaluates the same expressions with the same values
    values = {".".join(ref): value for ref, value in references.items()}
    (tmp_path / "main.tf").write_text(f"locals {{\n  r = {json.dumps(values)}\n}}\n")
    (tmp_path / "empty.tfrc").write_text("")
    theirs = []
    for batch in batches(rewritten, CONSOLE_LINE_CHARS):
        result = subprocess.run(
            [TERRAFORM, "console"],
            # One expression a run: piped into console, only the last line's value is printed.
            input="jsonencode([" + ", ".join(batch) + "])\n",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={
                **os.environ,
                "TF_CLI_CONFIG_FILE": str(tmp_path / "empty.tfrc"),
                "CHECKPOINT_DISABLE": "1",
            },
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        printed = result.stdout.strip().replace("$${", "${").replace("%%{", "%{")
        assert printed, f"terraform console printed nothing for a {len(batch)}-expression line"
        theirs += json.loads(json.loads(printed))
    assert len(theirs) == len(sources), result.stdout[-2000:]
    # THEN every value is the same
    different = [
        f"{source[:100]}\n  ours: {mine!r:.200}\n  terraform: {terraform!r:.200}"
        for source, mine, terraform in zip(sources, ours, theirs, strict=True)
        if mine != terraform
    ]
    assert not different, "\n".join(different)
