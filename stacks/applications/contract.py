"""What each application's own code requires, as data, and the check of a rendering against it.

``contracts/<app>.yaml`` lists the config keys the application reads (with their type and
the file and line of SprocketBot/sprocket at 46d2b40 that reads them), the secret files it
opens and the environment variables it needs. ``problems`` compares one rendered config,
the secret files the service mounts and its environment with that list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONTRACTS = Path(__file__).parent / "contracts"
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


@dataclass(frozen=True)
class Key:
    key: str
    types: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Requirement:
    """A secret file or environment variable, and where the code asks for it."""

    name: str
    source: str
    # For an environment variable: the value it must have, or None for any.
    value: str | None = None


@dataclass(frozen=True)
class Contract:
    app: str
    config_path: str
    keys: tuple[Key, ...]
    secret_files: tuple[Requirement, ...]
    env: tuple[Requirement, ...]


def _read(name: str) -> dict:
    return yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text()) or {}


@cache
def load(app: str) -> Contract:
    data = _read(app)
    base = _read(data["include"]) if "include" in data else {}
    keys = [*base.get("keys", []), *data.get("keys", [])]
    env = [*base.get("env", []), *data.get("env", [])]
    return Contract(
        app=app,
        config_path=data["config_path"],
        keys=tuple(
            Key(
                key=k["key"],
                types=tuple(k["type"]) if isinstance(k["type"], list) else (k["type"],),
                source=k["source"],
            )
            for k in keys
        ),
        secret_files=tuple(
            Requirement(name=s["file"], source=s["source"]) for s in data.get("secret_files", [])
        ),
        env=tuple(
            Requirement(name=e["name"], source=e["source"], value=e.get("value")) for e in env
        ),
    )


def lookup(document: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of a dotted key, as node-config's ``get`` walks it."""
    node: Any = document
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _type_ok(value: Any, types: tuple[str, ...]) -> bool:
    if isinstance(value, bool):
        return "boolean" in types
    return any(isinstance(value, _TYPES[t]) for t in types)


def problems(
    contract: Contract,
    config: Mapping[str, Any],
    *,
    config_path: str,
    secret_files: set[str],
    env: Mapping[str, str],
) -> list[tuple[str, str]]:
    """(key, what is wrong) for every requirement the service does not meet."""
    found: list[tuple[str, str]] = []
    if config_path != contract.config_path:
        found.append(("config_path", f"mounted at {config_path}, read from {contract.config_path}"))
    for key in contract.keys:
        present, value = lookup(config, key.key)
        if not present:
            found.append((key.key, f"is missing; {contract.app} reads it at {key.source}"))
        elif not _type_ok(value, key.types):
            found.append(
                (
                    key.key,
                    f"is a {type(value).__name__}, {contract.app} reads a "
                    f"{' or '.join(key.types)} ({key.source})",
                )
            )
    for secret in contract.secret_files:
        if secret.name not in secret_files:
            found.append(
                (secret.name, f"is not mounted; {contract.app} opens it ({secret.source})")
            )
    for var in contract.env:
        if var.name not in env:
            found.append((var.name, f"is not in the environment ({var.source})"))
        elif var.value is not None and env[var.name] != var.value:
            found.append((var.name, f"is {env[var.name]!r}, must be {var.value!r} ({var.source})"))
    return found
