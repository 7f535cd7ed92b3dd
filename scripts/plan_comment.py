"""Render `terraform show -json` plans as the one Markdown comment a pull request keeps.

    python scripts/plan_comment.py plans/layer_1.json plans/layer_2.json > comment.md

Each file is one stack's plan (named <stack>.json), in Terraform's documented JSON output
format. Per stack: Terraform's own summary line; a count of every kind of change (creates,
updates, replacements, deletes, moves, imports, forgets) that adds up to the number listed;
and, collapsed, each change: its action, why (the attributes forcing a replacement, and
whether the new object is created before the old one is destroyed), where it moved from,
every changed attribute path down nested blocks with its value before and after, and the
output changes. The comment starts with a marker so the workflow updates its own comment.

Safer than printing the plan: a value Terraform marks sensitive is "(sensitive)", and so is
any other value equal to one of those (Terraform marks an attribute, not a value: terraform_data
copies a sensitive input into an unmarked output, which Terraform's own plan prints), and
anything shaped like a credential (stacks/config/redaction.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stacks.config.redaction import secret_shape

MARKER = "<!-- sprocket-infra:plan -->"
SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
VALUE_WIDTH = 80
# Terraform's action_reason values (internal/plans/resourceinstancechangeactionreason.go),
# as a reviewer reads them.
REASONS = {
    "replace_because_tainted": "tainted",
    "replace_because_cannot_update": "cannot be updated in place",
    "replace_by_request": "replaced on request (-replace)",
    "replace_by_triggers": "replace_triggered_by",
    "delete_because_no_resource_config": "no longer in the configuration",
    "delete_because_no_module": "its module is gone",
    "delete_because_wrong_repetition": "count/for_each changed",
    "delete_because_count_index": "beyond count",
    "delete_because_each_key": "key no longer in for_each",
    "delete_because_no_move_target": "move target missing",
    "read_because_config_unknown": "configuration known only after apply",
    "read_because_dependency_pending": "a dependency changes",
}
# Kind -> (symbol in the diff block, column heading).
KINDS = {
    "create": ("+", "create"),
    "update": ("~", "update"),
    "replace": ("-/+", "replace"),
    "delete": ("-", "delete"),
    "move": (">", "move"),
    "import": ("<-", "import"),
    "forget": (".", "forget"),
}


def kind_of(resource: dict) -> str | None:
    """One kind per listed change, so the counts add up to the list: an import is "import"
    whatever else it does (its update shows beneath it)."""
    actions = tuple(resource["change"]["actions"])
    if resource["change"].get("importing"):
        return "import"
    if actions in (("create", "delete"), ("delete", "create")):
        return "replace"
    if actions == ("forget",):
        return "forget"
    if actions in (("create",), ("update",), ("delete",)):
        return actions[0]
    if actions == ("no-op",) and resource.get("previous_address"):
        return "move"
    return None  # no-op, read


def _leaves(value, path: tuple = ()) -> Iterator[tuple[tuple, object]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _marked(tree, path: tuple) -> bool:
    """Whether ``path`` or a prefix of it is marked true in a sensitivity/unknown tree
    (``true`` marks a whole subtree; ``{}`` and ``[{}]`` mark nothing)."""
    node = tree
    for step in path:
        if node is True:
            return True
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return node is True


def _path(path: tuple) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(whole value)"


def sensitive_values(plans: dict[str, dict]) -> set[str]:
    """Every value any plan marks sensitive, as text, for masking it wherever else it shows."""
    found: set[str] = set()
    for plan in plans.values():
        changes = [r["change"] for r in plan.get("resource_changes", [])]
        changes += list(plan.get("output_changes", {}).values())
        for change in changes:
            for side in ("before", "after"):
                marks = change.get(f"{side}_sensitive")
                for path, value in _leaves(change.get(side)):
                    if value is not None and _marked(marks, path):
                        found.add(json.dumps(value) if not isinstance(value, str) else value)
    return {value for value in found if len(value) >= 4}


def _show(value, *, secret: bool, hidden: set[str]) -> str:
    if secret:
        return SENSITIVE
    text = value if isinstance(value, str) else json.dumps(value)
    if text in hidden or (isinstance(value, str) and secret_shape(value)):
        return SENSITIVE
    shown = json.dumps(value)
    return shown if len(shown) <= VALUE_WIDTH else shown[: VALUE_WIDTH - 1] + '…"'


def attribute_changes(change: dict, hidden: set[str]) -> list[str]:
    """``path: before -> after`` for every changed leaf, nested blocks included."""
    before = dict(_leaves(change.get("before") or {}))
    after = dict(_leaves(change.get("after") or {}))
    unknown_tree = change.get("after_unknown") or {}
    unknown = {path for path, mark in _leaves(unknown_tree) if mark is True}
    lines = []
    for path in sorted(set(before) | set(after) | unknown, key=_path):
        if path == () or (path[-1:] == ("id",) and path in before and path not in after):
            continue
        old, new = before.get(path), after.get(path)
        is_unknown = path in unknown or _marked(unknown_tree, path)
        if old == new and not is_unknown:
            continue
        secret = _marked(change.get("before_sensitive"), path) or _marked(
            change.get("after_sensitive"), path
        )
        shown_old = _show(old, secret=secret, hidden=hidden) if path in before else "null"
        shown_new = UNKNOWN if is_unknown else _show(new, secret=secret, hidden=hidden)
        if path not in after and not is_unknown:
            shown_new = "null"
        lines.append(f"{_path(path)}: {shown_old} -> {shown_new}")
    return lines


def summary_line(plan: dict) -> str:
    """Terraform's own, counted as Terraform counts (internal/command/views/plan.go): a
    replacement is one to add and one to destroy, an imported object that also changes counts
    as an import and a change, moves and forgets are not counted."""
    add = change = destroy = imports = 0
    for resource in plan.get("resource_changes", []):
        actions = resource["change"]["actions"]
        add += "create" in actions
        destroy += "delete" in actions
        change += actions == ["update"]
        imports += bool(resource["change"].get("importing"))
    if not add + change + destroy + imports:
        return "No changes."
    line = "Plan: " + (f"{imports} to import, " if imports else "")
    return line + f"{add} to add, {change} to change, {destroy} to destroy."


def describe(resource: dict, kind: str, hidden: set[str]) -> list[str]:
    change = resource["change"]
    symbol = KINDS[kind][0]
    if kind == "replace" and change["actions"][0] == "create":
        symbol = "+/-"  # as Terraform draws create-before-destroy
    reason = REASONS.get(resource.get("action_reason", ""), "")
    head = f"{symbol} {resource['address']}"
    notes = []
    if kind == "replace":
        order = (
            "create before destroy" if change["actions"][0] == "create" else "destroy, then create"
        )
        forcing = ", ".join(_path(tuple(p)) for p in change.get("replace_paths") or [])
        notes.append(order)
        if forcing:
            notes.append(f"forced by {forcing}")
        elif reason:
            notes.append(reason)
    elif kind == "delete" and reason:
        notes.append(reason)
    elif kind == "move":
        notes.append(f"moved from {resource['previous_address']}")
    elif kind == "import":
        then = ", then updated" if change["actions"] == ["update"] else ""
        notes.append(f"imported from id {change['importing'].get('id', '?')}{then}")
    elif kind == "forget":
        notes.append("no longer managed; not destroyed")
    lines = [head + (f"  ({'; '.join(notes)})" if notes else "")]
    if kind in ("update", "replace") or (kind == "import" and change["actions"] == ["update"]):
        lines += [f"    {line}" for line in attribute_changes(change, hidden)]
    return lines


def summarize(plan: dict, hidden: set[str]) -> dict:
    counts = dict.fromkeys(KINDS, 0)
    rows = []
    for resource in sorted(plan.get("resource_changes", []), key=lambda r: r["address"]):
        kind = kind_of(resource)
        if kind is None:
            continue
        counts[kind] += 1
        rows.append(describe(resource, kind, hidden))
    outputs = []
    for name, change in sorted(plan.get("output_changes", {}).items()):
        actions = change["actions"]
        if actions == ["no-op"]:
            continue
        symbol = {"create": "+", "update": "~", "delete": "-"}.get(actions[0], "~")
        old = _show(
            change.get("before"), secret=change.get("before_sensitive") is True, hidden=hidden
        )
        new = (
            UNKNOWN
            if change.get("after_unknown") is True
            else _show(
                change.get("after"), secret=change.get("after_sensitive") is True, hidden=hidden
            )
        )
        outputs.append(f"{symbol} output.{name}: {old if actions != ['create'] else 'null'} -> "
                       f"{new if actions != ['delete'] else 'null'}")  # fmt: skip
    return {"counts": counts, "rows": rows, "outputs": outputs, "terraform": summary_line(plan)}


def render(plans: dict[str, dict]) -> str:
    hidden = sensitive_values(plans)
    summaries = {name: summarize(plan, hidden) for name, plan in sorted(plans.items())}
    headings = [heading for _, heading in KINDS.values()]
    lines = [
        MARKER,
        "### Terraform plan",
        "",
        "| stack | " + " | ".join(headings) + " | outputs | Terraform |",
        "|---|" + "---:|" * (len(headings) + 1) + "---|",
    ]
    for name, summary in summaries.items():
        counts = summary["counts"]
        cells = " | ".join(str(counts[kind]) for kind in KINDS)
        lines.append(f"| `{name}` | {cells} | {len(summary['outputs'])} | {summary['terraform']} |")
    for name, summary in summaries.items():
        total = sum(summary["counts"].values())
        lines += [
            "",
            f"<details><summary><code>{name}</code>: {total} changes, "
            f"{len(summary['outputs'])} output changes</summary>",
            "",
        ]
        if not total and not summary["outputs"]:
            lines.append("No changes.")
        else:
            lines.append("```diff")
            for row in summary["rows"]:
                lines += row
            lines += summary["outputs"]
            lines.append("```")
        lines += ["", "</details>"]
    destroys = sum(s["counts"]["delete"] + s["counts"]["replace"] for s in summaries.values())
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
