"""Resource-level diff of the synthesized stacks of two git revisions, without credentials.

    python scripts/synth_diff.py                      # main vs. the working tree
    python scripts/synth_diff.py --base v1 --head HEAD
    python scripts/synth_diff.py --old-dir A --new-dir B   # two existing cdktf.out dirs

Each revision is synthesized in a temporary git worktree (no provider, no network, no
secret needed), so pull requests from forks, which get no repository secrets, still get
a review of what would change. Values of sensitive attributes are masked.
"""

from __future__ import annotations

import argparse
import base64
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Attributes whose values are masked wherever they appear, and resource kinds masked whole.
SENSITIVE_KEYS = re.compile(r"(^|[._])(password|secret|secret_key|token|client_token)($|[._\[])")
SENSITIVE_KINDS = ("docker_secret.", "vault_kv_secret_v2.", "random_password.")
MASK = "(sensitive)"
# A path one side does not have.
ABSENT = type("Absent", (), {"__repr__": lambda self: "(absent)"})()


# Fields that name a list item (a firewall rule, a label, a mount), in the order tried: items
# are matched between revisions by the first of these that, alone or with the next ones, tells
# every item apart; a list with no such fields is matched by position.
IDENTIFYING = (
    "name", "label", "key", "target", "file_name", "secret_name", "config_name", "path",
    "protocol", "port_range", "published_port", "target_port", "address",
)  # fmt: skip


def item_keys(items: list) -> list[str] | None:
    """``[protocol=tcp,port_range=443]``-style keys telling ``items`` apart, or None."""
    if not all(isinstance(item, dict) for item in items):
        return None
    fields: list[str] = []
    for name in IDENTIFYING:
        if not all(isinstance(item.get(name), str | int) for item in items):
            continue
        fields.append(name)
        keys = [",".join(f"{f}={item[f]}" for f in fields) for item in items]
        if len(set(keys)) == len(keys):
            return [f"[{key}]" for key in keys]
    return None


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": [{"name": "x", "v": 1}]}}`` -> ``{"a.b[name=x].v": 1}``: list items that
    have identifying fields are keyed by them, so one inserted item is one added item, not a
    change to every item after it. A list of plain values is one value; scalars and empty
    containers are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, object] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        if not any(isinstance(item, dict | list) for item in value):
            return {prefix: value}
        keys = item_keys(value) or [f"[{index}]" for index in range(len(value))]
        out = {}
        for key, item in zip(keys, value, strict=True):
            out.update(flatten(item, f"{prefix}{key}"))
        return out
    return {prefix: value}


def addresses(document: dict) -> dict[str, dict]:
    """Terraform address -> body (without cdktf's "//" metadata), for resources and data."""
    found = {}
    for section, prefix in (("resource", ""), ("data", "data.")):
        for kind, items in document.get(section, {}).items():
            for name, body in items.items():
                found[f"{prefix}{kind}.{name}"] = {k: v for k, v in body.items() if k != "//"}
    for name, body in document.get("output", {}).items():
        found[f"output.{name}"] = body
    return found


def readable(address: str, path: str, value: object) -> object:
    """Swarm configs are base64 text: compare them as the text services will read."""
    if address.startswith("docker_config.") and path == "data" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True).decode()
        except ValueError:
            return value
    return value


def shown(address: str, path: str, value: object) -> str:
    if value is ABSENT:
        return "(absent)"
    if address.startswith(SENSITIVE_KINDS) or SENSITIVE_KEYS.search(path):
        return MASK
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


def text_changes(old: object, new: object) -> list[str]:
    """Changed lines of two multi-line texts (configuration files, policies)."""
    if not (isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new)):
        return []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@dataclass
class StackDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # address -> [(attribute path, old shown, new shown, changed lines of a text value)]
    changed: dict[str, list[tuple[str, str, str, list[str]]]] = field(default_factory=dict)
    # address of an added or removed resource -> attribute path -> value shown (masked)
    bodies: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_documents(old: dict, new: dict) -> StackDiff:
    before, after = addresses(old), addresses(new)
    result = StackDiff(
        added=sorted(set(after) - set(before)), removed=sorted(set(before) - set(after))
    )
    for address in result.added + result.removed:
        body = after.get(address) or before[address]
        result.bodies[address] = {
            path: shown(address, path, readable(address, path, value))
            for path, value in flatten(body).items()
        }
    for address in sorted(set(before) & set(after)):
        a, b = flatten(before[address]), flatten(after[address])
        changes = []
        for path in sorted(set(a) | set(b)):
            old_value = readable(address, path, a.get(path, ABSENT))
            new_value = readable(address, path, b.get(path, ABSENT))
            if old_value == new_value:
                continue
            old_shown, new_shown = shown(address, path, old_value), shown(address, path, new_value)
            lines = [] if MASK in (old_shown, new_shown) else text_changes(old_value, new_value)
            changes.append((path, old_shown, new_shown, lines))
        if changes:
            result.changed[address] = changes
    return result


def load_stacks(outdir: Path) -> dict[str, dict]:
    stacks_dir = outdir / "stacks"
    if not stacks_dir.is_dir():
        return {}
    return {
        d.name: json.loads((d / "cdk.tf.json").read_text()) for d in sorted(stacks_dir.iterdir())
    }


def diff_dirs(old_dir: Path, new_dir: Path) -> dict[str, StackDiff | str]:
    """Stack name -> its diff, or "added"/"removed" for whole stacks."""
    old, new = load_stacks(old_dir), load_stacks(new_dir)
    result: dict[str, StackDiff | str] = {}
    for name in sorted(set(old) | set(new)):
        if name not in old:
            result[name] = "added"
        elif name not in new:
            result[name] = "removed"
        else:
            result[name] = diff_documents(old[name], new[name])
    return result


def render(diffs: dict[str, StackDiff | str]) -> str:
    lines = []
    for name, diff in diffs.items():
        if isinstance(diff, str):
            lines.append(f"## {name}: stack {diff}")
            continue
        if diff.empty:
            lines.append(f"## {name}: no change")
            continue
        lines.append(
            f"## {name}: {len(diff.added)} added, {len(diff.changed)} changed, "
            f"{len(diff.removed)} removed"
        )
        for sign, section in (("+", diff.added), ("-", diff.removed)):
            for address in section:
                lines.append(f"{sign} {address}")
                body = diff.bodies.get(address, {})
                lines += [f"    {path} = {value}" for path, value in body.items()]
        for address, changes in diff.changed.items():
            lines.append(f"~ {address}")
            for path, old, new, text in changes:
                if text:
                    lines.append(f"    {path}:")
                    lines += [f"      {line}" for line in text]
                else:
                    lines.append(f"    {path}: {old} -> {new}")
    return "\n".join(lines) + "\n"


class DiffError(Exception):
    """A revision that cannot be checked out or synthesized; the message says which."""


def synth_revision(revision: str | None, workdir: Path) -> Path:
    """Synthesize ``revision`` (None: the working tree) into ``workdir``/cdktf.out."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = ROOT
    if revision is not None:
        source = workdir / "tree"
        added = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(source), revision],
            capture_output=True,
            text=True,
        )
        if added.returncode != 0:
            raise DiffError(f"cannot check out {revision!r}: {added.stderr.strip()}")
    outdir = workdir / "cdktf.out"
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir), "PYTHONPATH": str(source)}
    try:
        if subprocess.run([sys.executable, str(source / "main.py")], env=env).returncode != 0:
            # main.py has printed every problem of that revision's configuration.
            raise DiffError(f"{revision or 'the working tree'} does not synthesize (see above)")
    finally:
        if revision is not None:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)],
                check=False,
                capture_output=True,
            )
    return outdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare from")
    parser.add_argument("--head", default=None, help="git revision (default: working tree)")
    parser.add_argument("--old-dir", type=Path, help="compare this cdktf.out instead of --base")
    parser.add_argument("--new-dir", type=Path, help="compare this cdktf.out instead of --head")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="synth-diff-"))
    try:
        old = args.old_dir or synth_revision(args.base, scratch / "base")
        new = args.new_dir or synth_revision(args.head, scratch / "head")
        print(render(diff_dirs(old, new)), end="")
    except DiffError as error:
        print(f"synth_diff.py: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
