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

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = re.compile(
    r"^(?P<mount>[A-Za-z0-9_.-]+)/(?P<path>[A-Za-z0-9_.{}/-]+)#(?P<key>[A-Za-z0-9_.-]+)$"
)


class LoadError(Exception):
    pass


def plan(mapping: dict[str, str], exported: dict[str, str], environment: str) -> dict:
    """(mount, path) -> {key: value}: what to write. Raises LoadError naming every problem."""
    problems = []
    writes: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for name, target in sorted(mapping.items()):
        match = TARGET.match(target)
        if not match:
            problems.append(
                f"config/secrets-map.yaml: {name}: {target!r} is not <mount>/<path>#<key>"
            )
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
        raise LoadError("\n".join(problems))
    return dict(writes)


def write(client, writes: dict) -> list[str]:
    """Merge each secret's keys into Vault; return one line per secret (no values)."""
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
            continue
        kv.create_or_update_secret(path=path, secret={**current, **data}, mount_point=mount)
        done.append(f"wrote {mount}/{path} ({', '.join(sorted(data))})")
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
        exported = json.loads(raw)
        if not isinstance(exported, dict):
            raise ValueError("not a JSON object")
        mapping = yaml.safe_load(args.map.read_text())[args.section]
        writes = plan(mapping, exported, args.environment)
    except (ValueError, KeyError, LoadError) as error:
        # Messages name secrets and paths only: the export's values are never echoed.
        message = error if isinstance(error, LoadError) else type(error).__name__
        print(f"nothing written:\n{message}", file=sys.stderr)
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

    client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
    for line in write(client, writes):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
