"""Load secrets exported from Doppler into Vault KV v2, without ever printing a value.

    doppler secrets download --no-file --format json --config prd \\
      | python scripts/load_secrets.py --environment main -
    python scripts/load_secrets.py --environment staging --dry-run export.json

Which Doppler name goes where is config/secrets-map.yaml. Vault is reached at VAULT_ADDR
with VAULT_TOKEN (an ops, developers or admins login). Keys are merged into existing
secrets, so values written by hand or by other loads stay. Output names paths and keys,
never values; a missing Doppler name is reported and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

from stacks.config.loader import read_yaml_file
from stacks.config.redaction import printable, redact

ROOT = Path(__file__).resolve().parent.parent
TARGET = re.compile(
    r"(?P<mount>[A-Za-z0-9_-]+)/(?P<path>[A-Za-z0-9_.{}/-]+)#(?P<key>[A-Za-z0-9_.-]+)"
)
# A section of the map writes into the Vault mount of its name, and nowhere else.
SECTIONS = ("platform", "infrastructure")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
ENVIRONMENT = re.compile(r"[a-z][a-z0-9-]{0,15}")


class LoadError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = [printable(redact(p)) for p in problems]
        super().__init__("\n".join(self.problems))


def _path_problem(path: str) -> str:
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' path segment"
    return ""


def read_map(path: Path, section: str) -> dict[str, str]:
    """The ``section`` of the secrets map, checked; raises LoadError naming every problem."""
    shown = printable(path.name if path.parent == ROOT / "config" else str(path))
    shown = f"config/{shown}" if path.parent == ROOT / "config" else shown
    problems: list[str] = []
    if section not in SECTIONS:
        raise LoadError([f"--section {section!r}: not a section; sections: {', '.join(SECTIONS)}"])
    data = read_yaml_file(path, shown, problems)
    if problems:
        raise LoadError(problems)
    if not isinstance(data, dict) or not isinstance(data.get(section), dict):
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise LoadError(
            [f"{shown}: needs a mapping {section!r} of Doppler names to targets (found {found})"]
        )
    mapping = data[section]
    for name, target in mapping.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems.append(f"{shown}: {section}: {str(name)[:40]!r} is not a Doppler secret name")
            continue
        if not isinstance(target, str) or not (match := TARGET.fullmatch(target)):
            problems.append(f"{shown}: {section}.{name}: is not <mount>/<path>#<key>")
            continue
        if match["mount"] != section:
            problems.append(
                f"{shown}: {section}.{name}: writes to mount {match['mount']!r}; the {section} "
                f"section writes only under {section}/"
            )
        elif why := _path_problem(match["path"]):
            problems.append(f"{shown}: {section}.{name}: {target!r} {why}")
    if problems:
        raise LoadError(problems)
    return mapping


def plan(mapping: dict[str, str], exported: dict[str, str], environment: str) -> dict:
    """(mount, path) -> {key: value}: what to write. Raises LoadError naming every problem."""
    problems = []
    if not ENVIRONMENT.fullmatch(environment):
        raise LoadError(
            [f"--environment {environment[:40]!r}: an environment's name (e.g. main, staging)"]
        )
    writes: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for name, target in sorted(mapping.items()):
        match = TARGET.fullmatch(target)
        if not match:
            problems.append(f"config/secrets-map.yaml: {name}: is not <mount>/<path>#<key>")
            continue
        if name not in exported:
            problems.append(f"the export has no {name} (expected for {target})")
            continue
        if not isinstance(exported[name], str) or not exported[name]:
            problems.append(f"the export's {name} is empty or not a string")
            continue
        path = match["path"].replace("{env}", environment)
        writes[(match["mount"], path)][match["key"]] = exported[name]
    if problems:
        raise LoadError(problems)
    return dict(writes)


def write(client, writes: dict, report=lambda line: None) -> list[str]:
    """Merge each secret's keys into Vault; one line per secret (no values), reported as
    each is done."""
    import hvac.exceptions

    done = []
    for (mount, path), data in sorted(writes.items()):
        kv = client.secrets.kv.v2
        try:
            current = (
                kv.read_secret_version(
                    path=path, mount_point=mount, raise_on_deleted_version=False
                )["data"]["data"]
                or {}
            )
        except hvac.exceptions.InvalidPath:
            current = {}
        if all(current.get(k) == v for k, v in data.items()):
            done.append(f"unchanged {mount}/{path} ({', '.join(sorted(data))})")
            report(done[-1])
            continue
        kv.create_or_update_secret(path=path, secret={**current, **data}, mount_point=mount)
        done.append(f"wrote {mount}/{path} ({', '.join(sorted(data))})")
        report(done[-1])
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", help="Doppler JSON export file, or - for standard input")
    parser.add_argument("--environment", required=True, help="fills {env} in the map, e.g. main")
    parser.add_argument("--map", type=Path, default=ROOT / "config" / "secrets-map.yaml")
    parser.add_argument("--section", default="platform", help="section of the map to load")
    parser.add_argument("--dry-run", action="store_true", help="say what would be written")
    args = parser.parse_args(argv)

    try:
        raw = sys.stdin.read() if args.export == "-" else Path(args.export).read_text()
    except (OSError, UnicodeDecodeError) as error:
        print(
            f"nothing written: cannot read {args.export}: {type(error).__name__}", file=sys.stderr
        )
        return 2
    try:
        try:
            exported = json.loads(raw)
        except ValueError as error:
            # Not the decoder's message: it quotes the text around the error, a value.
            raise LoadError(
                [f"{printable(args.export)}: not JSON ({type(error).__name__})"]
            ) from None
        if not isinstance(exported, dict):
            raise LoadError([f"{printable(args.export)}: not a JSON object of names to values"])
        mapping = read_map(args.map, args.section)
        writes = plan(mapping, exported, args.environment)
    except LoadError as error:
        # Messages name secrets and paths only: the export's values are never echoed.
        print("nothing written:\n" + "\n".join(error.problems), file=sys.stderr)
        return 2
    if args.dry_run:
        for (mount, path), data in sorted(writes.items()):
            print(f"would write {mount}/{path} ({', '.join(sorted(data))})")
        return 0
    missing = [name for name in ("VAULT_ADDR", "VAULT_TOKEN") if not os.environ.get(name)]
    if missing:
        print(
            f"nothing written: set {' and '.join(missing)} (Vault's address and an ops, "
            "developers or admins token), or use --dry-run",
            file=sys.stderr,
        )
        return 2
    import hvac
    import requests

    client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
    done: list[str] = []

    def report(line: str) -> None:
        done.append(line)
        print(line)

    try:
        write(client, writes, report=report)
    except (hvac.exceptions.VaultError, requests.RequestException, ValueError) as error:
        # The reason only: hvac's and requests' messages can carry the request (and its data).
        print(
            f"stopped after {len(done)} of {len(writes)} secrets: Vault at "
            f"{printable(redact(os.environ['VAULT_ADDR']))} refused or could not be reached "
            f"({type(error).__name__})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
