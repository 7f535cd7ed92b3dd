"""Reading and validating every file under config/, all problems reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from stacks.config.applications import ApplicationsConfig
from stacks.config.cluster import ClusterConfig, ImagesConfig
from stacks.config.environment import ENVIRONMENT_NAME, EnvironmentConfig
from stacks.config.types import _Model


class InfraConfig(_Model):
    cluster: ClusterConfig
    images: ImagesConfig
    applications: ApplicationsConfig
    environments: dict[str, EnvironmentConfig]

    def warnings(self) -> list[str]:
        """Valid settings with consequences an operator should not miss."""
        found = []
        if not self.cluster.admin_ssh_cidrs:
            found.append(
                "config/cluster.yaml: admin_ssh_cidrs is empty, so the firewall closes SSH: "
                "deploying over DOCKER_HOST=ssh://... stops working once layer_1 is applied. "
                "List the admin and deploy-runner networks before deploying."
            )
        return found


class ConfigError(Exception):
    """Every problem found in the configuration files, one self-contained line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last,
    so a second ``hostname:`` would silently move every route)."""

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


def _read_yaml(path: Path, root: Path, problems: list[str]) -> dict | None:
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        problems.append(f"{shown}: file is missing")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problems.append(f"{shown}: not valid YAML{where}: {getattr(exc, 'problem', exc)}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{shown}: must be a mapping of keys to values, got {_describe(data)}")
        return None
    return data


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
    env_files = sorted((config_dir / "environments").glob("*.yaml"))
    for other in sorted((config_dir / "environments").glob("*.yml")):
        # Only *.yaml files are environments: say so rather than leave one out silently.
        problems.append(
            f"config/environments/{other.name}: environment files end in .yaml; "
            f"rename it to {other.stem}.yaml"
        )
    if not env_files:
        problems.append("config/environments/: no <name>.yaml file; at least one environment")
    for path in env_files:
        shown = f"config/environments/{path.name}"
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

    if cluster and applications and environments and not problems:
        from stacks.applications import validate

        problems.extend(validate(cluster, environments, applications))

    if problems:
        raise ConfigError(problems)
    return InfraConfig(
        cluster=cluster, images=images, applications=applications, environments=environments
    )
