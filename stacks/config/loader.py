"""Reading and validating every file under config/, all problems reported at once."""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from stacks.config.applications import ApplicationsConfig
from stacks.config.cluster import ClusterConfig, ImagesConfig
from stacks.config.environment import ENVIRONMENT_NAME, EnvironmentConfig
from stacks.config.redaction import printable, redact, secret_shape
from stacks.config.types import _Model

# A config file is a few KiB; anything this big is a mistake (or an attack on the reader).
MAX_FILE_BYTES = 1024 * 1024
# YAML aliases (*name) may repeat a scalar a few times; repeating a list or mapping is what an
# alias bomb does, and no config file needs it.
MAX_ALIASES = 50
# Fields that hold PGP *public* keys: long base64 by nature; only a private key is refused.
PUBLIC_KEY_FIELDS = {("vault", "pgp_keys"), ("vault", "root_token_pgp_key")}


class InfraConfig(_Model):
    cluster: ClusterConfig
    images: ImagesConfig
    applications: ApplicationsConfig
    environments: dict[str, EnvironmentConfig]

    def warnings(self) -> list[str]:
        """Valid settings with consequences an operator should not miss."""
        found = []
        tunnel = self.cluster.deploy_tunnel
        if not tunnel.peers:
            found.append(
                "config/cluster.yaml: deploy_tunnel.peers is empty, so nothing can reach the "
                "managers' SSH and Docker API once layer_1's firewall exists (only "
                "admin_ssh_cidrs can, for break-glass): list the operators and the deploy job "
                "(docs/runbook-rebuild.md, the deploy tunnel)."
            )
        elif not tunnel.manager_public_key:
            found.append(
                "config/cluster.yaml: deploy_tunnel.manager_public_key is not set, so no "
                "peer's tunnel configuration is written: set it from the manager's "
                "/etc/wireguard/wg0.pub (docs/runbook-rebuild.md)."
            )
        if not self.cluster.admin_sources:
            found.append(
                "config/cluster.yaml: admin_networks and deploy_tunnel.peers are empty, so the "
                "admin UIs (Traefik's dashboard, Vault, Grafana, n8n, Gatus) answer 403 to every "
                "address, Vault's API included: list the operators and the deploy job as tunnel "
                "peers before deploying layer_2."
            )
        return found


class ConfigError(Exception):
    """Every problem found in the configuration files, one self-contained line each, with
    anything secret-shaped masked and control characters escaped."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [printable(redact(problem)) for problem in problems]
        super().__init__("\n".join(self.problems))


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxtuple = 2, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 76, 76, 40


def _describe(value: Any) -> str:
    """A refused value, for a message: bounded before it is formatted (a huge or deeply shared
    value costs nothing), cut short, and masked where it looks secret."""
    text = _SHORT.repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return redact(text)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model that owns ``loc``'s last key, for unknown-key messages."""
    for part in loc[:-1]:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return sorted(model.model_fields)


def _problems(path: str, model: type[BaseModel], error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        kind = item["type"]
        if kind == "extra_forbidden":
            # The value is not echoed: an unknown key is where a pasted secret would land.
            allowed = ", ".join(_allowed_keys(model, loc)) or "see the file's comments"
            problems.append(f"{path}: {field}: unknown key; allowed keys: {allowed}")
        elif kind == "missing":
            problems.append(f"{path}: {field}: is required but missing")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {field}: got {_describe(item['input'])}: {message}")
    return problems


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last,
    so a second ``hostname:`` would silently move every route), an alias of a list or mapping
    and more than ``MAX_ALIASES`` aliases (what an alias bomb is made of)."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            target = self.anchors.get(event.anchor)
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name)", event.start_mark
                )
            if isinstance(target, yaml.CollectionNode):
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"*{event.anchor} repeats a list or mapping; write it out instead",
                    event.start_mark,
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found the key {key!r} twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _shown(path: Path, root: Path) -> str:
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    return printable(shown)


def _read_text(path: Path, shown: str, problems: list[str]) -> str | None:
    if not path.exists() and not path.is_symlink():
        problems.append(f"{shown}: file is missing")
        return None
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (or a broken link)"
        problems.append(f"{shown}: is {kind}; it must be a YAML file")
        return None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(f"{shown}: is {size} bytes; a config file is at most {MAX_FILE_BYTES}")
            return None
        raw = path.read_bytes()
    except OSError as error:
        problems.append(f"{shown}: cannot be read: {error.strerror}")
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        problems.append(
            f"{shown}: is not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} "
            "(save the file as UTF-8)"
        )
        return None


def read_yaml_file(path: Path, shown: str, problems: list[str]) -> Any:
    """One YAML file read as config/ files are (sizes, encodings, aliases, duplicate keys
    checked); its data, or None with the problems added."""
    text = _read_text(path, shown, problems)
    if text is None:
        return None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problems.append(f"{shown}: not valid YAML{where}: {getattr(exc, 'problem', exc)}")
    except RecursionError:
        problems.append(f"{shown}: nested too deeply to be a config file")
    return None


def _read_yaml(path: Path, root: Path, problems: list[str]) -> dict | None:
    shown = _shown(path, root)
    found = len(problems)
    data = read_yaml_file(path, shown, problems)
    if len(problems) > found:
        return None
    if not isinstance(data, dict):
        problems.append(f"{shown}: must be a mapping of keys to values, got {_describe(data)}")
        return None
    _refuse_secret_shaped(data, shown, problems)
    return data


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    elif isinstance(value, str):
        yield path, value


def _refuse_secret_shaped(data: dict, shown: str, problems: list[str]) -> None:
    """No value under config/ is secret (docs/secrets.md): one that looks like a secret is a
    pasted credential, refused before it can reach the synthesized JSON or a message."""
    for path, value in _leaves(data):
        why = secret_shape(value, public_keys=path in PUBLIC_KEY_FIELDS)
        if why:
            field = ".".join(str(p) for p in path)
            problems.append(
                f"{shown}: {field}: holds what looks like a secret ({why}); secrets go in "
                "Vault, never in config/ (docs/secrets.md)"
            )


def _validate(model: type[_Model], data: dict, shown: str, problems: list[str]):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(shown, model, exc))
        return None


def load_config(root: Path) -> InfraConfig:
    """Read and validate ``<root>/config``. Raises ``ConfigError`` listing every problem."""
    config_dir = root / "config"
    problems: list[str] = []

    cluster_data = _read_yaml(config_dir / "cluster.yaml", root, problems)
    cluster = cluster_data and _validate(
        ClusterConfig, cluster_data, "config/cluster.yaml", problems
    )
    images_data = _read_yaml(config_dir / "images.yaml", root, problems)
    images = images_data and _validate(ImagesConfig, images_data, "config/images.yaml", problems)
    applications_data = _read_yaml(config_dir / "applications.yaml", root, problems)
    applications = applications_data and _validate(
        ApplicationsConfig, applications_data, "config/applications.yaml", problems
    )

    environments: dict[str, EnvironmentConfig] = {}
    env_dir = config_dir / "environments"
    env_files = sorted(p for p in env_dir.glob("*.yaml") if not p.name.startswith("."))
    for other in sorted(env_dir.iterdir()) if env_dir.is_dir() else []:
        # Only <name>.yaml files are environments: a near miss is reported, not left out.
        if other.suffix == ".yaml" or other.name.startswith("."):
            continue
        stem = other.name.split(".")[0]
        problems.append(
            f"config/environments/{printable(other.name)}: not an environment file "
            f"(environments are <name>.yaml files); rename it to {printable(stem)}.yaml or "
            "move it out of config/environments/"
        )
    if not env_files:
        problems.append("config/environments/: no <name>.yaml file; at least one environment")
    for path in env_files:
        shown = f"config/environments/{printable(path.name)}"
        if not ENVIRONMENT_NAME.match(path.stem):
            problems.append(
                f"{shown}: environment name {path.stem!r} (from the file name) must be 1-16 "
                "lower-case letters, digits or '-', starting with a letter"
            )
            continue
        data = _read_yaml(path, root, problems)
        if data is None:
            continue
        if "name" in data:
            problems.append(f"{shown}: name: unknown key; the name comes from the file name")
            continue
        env = _validate(EnvironmentConfig, {**data, "name": path.stem}, shown, problems)
        if env is not None:
            environments[env.name] = env

    subdomains: dict[str, list[str]] = {}
    for env in environments.values():
        subdomains.setdefault(env.subdomain or "", []).append(env.name)
    for subdomain, names in sorted(subdomains.items()):
        if len(names) > 1:
            where = f"subdomain {subdomain!r}" if subdomain else "the bare hostname (no subdomain)"
            problems.append(
                f"config/environments/: environments {names} are all served at {where}; "
                "each environment needs its own subdomain"
            )

    # The applications' contracts are checked whenever the files they need are valid, beside
    # any other file's problems, so one run reports every problem at once.
    if cluster and applications and environments:
        from stacks.applications import validate

        problems.extend(validate(cluster, environments, applications))

    if problems:
        raise ConfigError(problems)
    return InfraConfig(
        cluster=cluster, images=images, applications=applications, environments=environments
    )
