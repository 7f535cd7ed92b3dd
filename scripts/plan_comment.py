"""Render `terraform show -json` plans as the one Markdown comment a pull request keeps.

    python scripts/plan_comment.py plans/layer_1.json plans/layer_2.json > comment.md

Each file is one stack's plan (named <stack>.json), in Terraform's documented JSON
output format. The comment starts with a marker so the workflow can find and update
its own comment instead of adding a new one on every push. Sensitive values never
appear: only addresses, actions and the names of changed, non-sensitive attributes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MARKER = "<!-- sprocket-infra:plan -->"
# Terraform's action lists and how a reviewer reads them.
ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "destroy",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("read",): "read",
    ("no-op",): "no-op",
}
SYMBOL = {"create": "+", "update": "~", "destroy": "-", "replace": "-/+", "read": "<="}


def classify(actions: list[str]) -> str:
    return ACTIONS.get(tuple(actions), "+".join(actions))


def changed_attributes(change: dict) -> list[str]:
    """Top-level attributes whose value changes, leaving out sensitive ones entirely."""
    before, after = change.get("before") or {}, change.get("after") or {}
    sensitive = set()
    for key in ("before_sensitive", "after_sensitive"):
        marks = change.get(key)
        if isinstance(marks, dict):
            sensitive |= {name for name, mark in marks.items() if mark}
    unknown = change.get("after_unknown") or {}
    names = {
        name
        for name in set(before) | set(after) | set(unknown)
        if before.get(name) != after.get(name) or unknown.get(name)
    }
    return sorted(names - sensitive)


def summarize(plan: dict) -> dict:
    counts = {"create": 0, "update": 0, "destroy": 0, "replace": 0}
    rows = []
    for resource in plan.get("resource_changes", []):
        kind = classify(resource["change"]["actions"])
        if kind in ("no-op", "read"):
            continue
        counts[kind] = counts.get(kind, 0) + 1
        attributes = changed_attributes(resource["change"]) if kind == "update" else []
        rows.append((resource["address"], kind, attributes))
    return {"counts": counts, "rows": sorted(rows)}


def render(plans: dict[str, dict]) -> str:
    lines = [
        MARKER,
        "### Terraform plan",
        "",
        "| stack | add | change | destroy | replace |",
        "|---|---:|---:|---:|---:|",
    ]
    summaries = {name: summarize(plan) for name, plan in sorted(plans.items())}
    for name, summary in summaries.items():
        c = summary["counts"]
        lines.append(
            f"| `{name}` | {c['create']} | {c['update']} | {c['destroy']} | {c['replace']} |"
        )
    for name, summary in summaries.items():
        rows = summary["rows"]
        lines += ["", f"<details><summary><code>{name}</code>: {len(rows)} changes</summary>", ""]
        if not rows:
            lines.append("No changes.")
        else:
            lines.append("```diff")
            for address, kind, attributes in rows:
                detail = f" ({', '.join(attributes)})" if attributes else ""
                lines.append(f"{SYMBOL.get(kind, '?')} {address}{detail}")
            lines.append("```")
        lines += ["", "</details>"]
    destroys = sum(s["counts"]["destroy"] + s["counts"]["replace"] for s in summaries.values())
    if destroys:
        lines += ["", f"**{destroys} resources are destroyed or replaced: read them carefully.**"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="plan_comment.py",
        description="Render `terraform show -json` plans (one <stack>.json per stack) as the "
        "pull request's plan comment, in Markdown on standard output.",
    )
    parser.add_argument("plans", nargs="+", type=Path, metavar="<stack>.json")
    args = parser.parse_args(argv)
    plans: dict[str, dict] = {}
    for path in args.plans:
        try:
            plans[path.stem] = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            print(f"plan_comment.py: {path}: not a readable JSON plan ({error})", file=sys.stderr)
            return 2
    sys.stdout.write(render(plans))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
