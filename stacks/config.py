"""The deployment's configuration: YAML files under ``config/``, validated in one place.

- ``config/cluster.yaml``: the Swarm cluster and what layer_1 and layer_2 serve.
- ``config/images.yaml``: every infrastructure image, pinned, in one file.
- ``config/applications.yaml``: the Sprocket applications' images and fixed settings.
- ``config/environments/<name>.yaml``: one Sprocket environment each (``main`` is production).

``load_config`` reads them all and reports every problem of every file at once as a
``ConfigError`` whose lines each name the file, the field, the value and what is allowed.
No secret belongs in any of these files; secrets come from Vault or the deploy environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from constructs_lib.validation import cidr_problem, hostname_problem, image_problem, port_problem

ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# Host prefixes services already use under the cluster hostname; an environment's
# subdomain must not shadow them (staging at "api" would collide with production's API).
RESERVED_SUBDOMAINS = frozenset(
    {"api", "image-generation", "traefik", "vault", "grafana", "n8n", "gatus", "rabbitmq"}
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def _check(problem_of):
    def validate(value):
        if problem := problem_of(value):
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


def _spaces_region(value: str) -> str:
    if not re.match(r"^[a-z]{3}[0-9]$", value):
        raise ValueError("must be a DigitalOcean Spaces region such as 'nyc3'")
    return value


def _bucket(value: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", value):
        raise ValueError("must be 3-63 lower-case letters, digits or '-' (a Spaces bucket name)")
    return value


def _image_tag(value: str) -> str:
    if not _TAG.match(value) and not _DIGEST.match(value):
        raise ValueError("must be a Docker tag ([A-Za-z0-9_.-], up to 128) or sha256:<64 hex>")
    if value == "latest":
        raise ValueError("must not be 'latest': name the build to deploy")
    return value


Hostname = Annotated[str, _check(hostname_problem)]
Port = Annotated[int, _check(port_problem)]
Cidr = Annotated[str, _check(cidr_problem)]
Image = Annotated[str, _check(image_problem)]
SpacesRegion = Annotated[str, AfterValidator(_spaces_region)]
BucketName = Annotated[str, AfterValidator(_bucket)]
ImageTag = Annotated[str, AfterValidator(_image_tag)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StateConfig(_Model):
    # Spaces bucket holding every stack's Terraform state. Created once by the bootstrap,
    # never by a stack. Changing it after the first deploy means moving the state by hand.
    bucket: BucketName
    # Default: "sprocket-infra". State objects are "<key_prefix>/<stack>.tfstate".
    # Changing it after the first deploy orphans the existing state.
    key_prefix: str = Field(default="sprocket-infra", pattern=r"^[a-z0-9][a-z0-9_./-]*[a-z0-9]$")


class PostgresConfig(_Model):
    # Name of the DigitalOcean managed PostgreSQL cluster; layer_2 creates databases in it.
    cluster_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    # Managed PostgreSQL cluster host name.
    host: Hostname
    # Managed PostgreSQL port (DigitalOcean uses 25060).
    port: Port


class SwarmConfig(_Model):
    # Name of the manager droplet; DNS points at its public address.
    manager_droplet: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$")
    # Default: "sprocket-swarm". Tag on every node droplet; the firewall applies by tag.
    node_tag: str = Field(default="sprocket-swarm", pattern=r"^[A-Za-z0-9:_-]{1,255}$")


class VaultConfig(_Model):
    # Default: "vault-secrets". Spaces bucket for Vault's encrypted storage.
    # Changing it after the first deploy starts Vault on an empty bucket.
    storage_bucket: BucketName = "vault-secrets"
    # Default: "vault_storage". Key prefix inside the bucket; same warning as above.
    storage_path: str = Field(default="vault_storage", pattern=r"^[A-Za-z0-9_.-]+$")
    # Default: 5 key shares, 3 needed to unseal.
    key_shares: int = Field(default=5, ge=1, le=10)
    key_threshold: int = Field(default=3, ge=1, le=10)
    # Operators' PGP public keys (base64, one per key share). Default: none, and Vault is
    # initialised by hand (docs/vault.md); with keys, the unsealer initialises it and every
    # share comes back encrypted to one of them.
    pgp_keys: tuple[str, ...] = ()
    # PGP public key (base64) the initial root token is encrypted to; required with pgp_keys.
    root_token_pgp_key: str | None = None

    @model_validator(mode="after")
    def _shares(self) -> VaultConfig:
        if self.key_threshold > self.key_shares:
            raise ValueError(
                f"key_threshold ({self.key_threshold}) must not exceed key_shares "
                f"({self.key_shares})"
            )
        if self.pgp_keys and len(self.pgp_keys) != self.key_shares:
            raise ValueError(
                f"pgp_keys has {len(self.pgp_keys)} keys: give exactly key_shares "
                f"({self.key_shares}), one per share"
            )
        if self.pgp_keys and not self.root_token_pgp_key:
            raise ValueError("root_token_pgp_key is required when pgp_keys are set")
        return self


class ClusterConfig(_Model):
    # Public host name every route is served under. Changing it after the first deploy
    # moves every route and re-issues every certificate.
    hostname: Hostname
    # DigitalOcean DNS zone that contains hostname.
    dns_zone: Hostname
    # Default: "nyc3". Region of the Spaces buckets (Vault storage, state, app buckets).
    spaces_region: SpacesRegion = "nyc3"
    # Networks allowed to SSH into the nodes. Default: none, SSH is closed at the firewall.
    admin_ssh_cidrs: tuple[Cidr, ...] = ()
    # Default: none. Contact address for the Let's Encrypt account.
    acme_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    state: StateConfig
    postgres: PostgresConfig
    swarm: SwarmConfig
    # Default: the defaults of each Vault setting.
    vault: VaultConfig = VaultConfig()

    @model_validator(mode="after")
    def _zone(self) -> ClusterConfig:
        if self.hostname != self.dns_zone and not self.hostname.endswith("." + self.dns_zone):
            raise ValueError(f"hostname {self.hostname!r} is not inside dns_zone {self.dns_zone!r}")
        return self

    def host(self, prefix: str | None = None) -> str:
        """``<prefix>.<hostname>``, or the bare hostname."""
        return f"{prefix}.{self.hostname}" if prefix else self.hostname

    def state_backend(self, stack: str):
        """Where ``stack`` keeps its Terraform state: one object per stack in the state bucket."""
        # Imported here: loading (and rejecting) configuration must not start the jsii runtime.
        from constructs_lib.remote_state import SpacesBackendSettings

        return SpacesBackendSettings(
            bucket=self.state.bucket,
            region=self.spaces_region,
            key=f"{self.state.key_prefix}/{stack}.tfstate",
        )


class ImagesConfig(_Model):
    # Every image is an exact version tag or a digest; moving tags are refused.
    traefik: Image
    vault: Image
    socket_proxy: Image
    redis: Image
    rabbitmq: Image
    dgraph: Image
    influxdb: Image
    grafana: Image
    n8n: Image
    neo4j: Image
    gatus: Image
    loki: Image
    telegraf: Image


LogLevel = Literal["error", "warn", "log", "debug", "verbose"]
_BOT_NAME = r"^[A-Za-z][A-Za-z0-9]{0,31}$"


class ChatwootConfig(_Model):
    # Where the Chatwoot widget loads from, e.g. https://chatwoot.sprocket.mlesports.gg.
    url: str = Field(pattern=r"^https://[a-z0-9.-]+(/[A-Za-z0-9._/-]*)?$")
    # The inbox's public website token (it is served to every browser; not a secret).
    website_token: str = Field(pattern=r"^[A-Za-z0-9]{8,64}$")


class LegacyConfig(_Model):
    # The legacy Discord bots, one service each; each bot's token is read from Vault at
    # platform/<env>/manual/legacy/bot-<name in lower case> (key "token").
    bots: tuple[Annotated[str, Field(pattern=_BOT_NAME)], ...] = Field(min_length=1)
    # Which bot's token the legacy worker uses.
    worker_bot: str = Field(pattern=_BOT_NAME)
    # Tag of the legacy images (config/applications.yaml: legacy-bot, legacy-worker).
    image_tag: ImageTag
    # The PostgreSQL role the legacy platform logs in as. It already exists (the running
    # production created it); its password is read from Vault at
    # platform/<env>/manual/legacy/database (key "password").
    database_user: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _worker_bot_known(self) -> LegacyConfig:
        if self.worker_bot not in self.bots:
            raise ValueError(f"worker_bot {self.worker_bot!r} is not one of bots {list(self.bots)}")
        if len(set(b.lower() for b in self.bots)) != len(self.bots):
            raise ValueError(f"bots {list(self.bots)} name one bot twice")
        return self


class EnvironmentConfig(_Model):
    # From the file name: config/environments/<name>.yaml. Names queues, buckets, databases.
    name: str = Field(pattern=ENVIRONMENT_NAME.pattern)
    # Tag of the Sprocket application images deployed in this environment.
    image_tag: ImageTag
    # Default: none, the environment is served at the cluster hostname itself (production).
    # Otherwise it is served at "<subdomain>.<hostname>" and "api.<subdomain>.<hostname>".
    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    # Default: true. Each deploy resolves image_tag to the digest it points at and deploys
    # that digest, so the plan shows exactly which build goes out.
    pin_image_digests: bool = True
    # Replicas per application (web, api, discord-bot, ...). Default: one of each.
    replicas: dict[str, Annotated[int, Field(ge=1, le=20)]] = {}
    # The Nest log levels the Node applications print (their config's logger.levels).
    # Default: error, warn and log.
    log_levels: tuple[LogLevel, ...] = ("error", "warn", "log")
    # Default: no Chatwoot widget on the website. With it, web reads its HMAC key from Vault
    # (platform/<env>/chatwoot hmac_key).
    chatwoot: ChatwootConfig | None = None
    # Default: no legacy platform. Production runs the legacy bots and worker.
    legacy: LegacyConfig | None = None

    @model_validator(mode="after")
    def _subdomain_free(self) -> EnvironmentConfig:
        if self.subdomain in RESERVED_SUBDOMAINS:
            raise ValueError(
                f"subdomain {self.subdomain!r} is a host other services use; "
                f"not one of {sorted(RESERVED_SUBDOMAINS)}"
            )
        return self

    @model_validator(mode="after")
    def _known_apps(self) -> EnvironmentConfig:
        from stacks.applications.catalog import APPS_BY_NAME

        if unknown := sorted(set(self.replicas) - set(APPS_BY_NAME)):
            raise ValueError(
                f"replicas names unknown applications {unknown}; known: {sorted(APPS_BY_NAME)}"
            )
        return self

    def host(self, cluster: ClusterConfig, prefix: str | None = None) -> str:
        """``[<prefix>.][<subdomain>.]<hostname>``: where this environment serves ``prefix``."""
        base = f"{self.subdomain}.{cluster.hostname}" if self.subdomain else cluster.hostname
        return f"{prefix}.{base}" if prefix else base


class RegistryConfig(_Model):
    # Registry host the application images are pulled from.
    address: Hostname = "registry-1.docker.io"
    # Default: none, images are pulled anonymously. With an account, platform deploys need
    # the sensitive variable TF_VAR_registry_password.
    username: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,254}$")


_REPOSITORY = r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"


class ApplicationConfig(_Model):
    # Image repository, without tag: the environment's image_tag is the tag.
    repository: str = Field(pattern=_REPOSITORY)
    # Keys of the application's config file that are fixed choices, not derived.
    # Default: none.
    settings: dict[str, Any] = {}
    # transport.events_application_key; "{env}" in it is the environment's name.
    # Default: "{env}-<application>".
    events_key: str | None = Field(default=None, pattern=r"^([A-Za-z0-9._-]|\{env\}){1,100}$")


class ApplicationsConfig(_Model):
    # Default: Docker Hub, pulled anonymously.
    registry: RegistryConfig = RegistryConfig()
    applications: dict[str, ApplicationConfig]

    @field_validator("applications", mode="before")
    @classmethod
    def _every_application(cls, value: Any) -> Any:
        from stacks.applications.catalog import APPS_BY_NAME, LEGACY_IMAGES

        if not isinstance(value, dict):
            return value
        known = set(APPS_BY_NAME) | set(LEGACY_IMAGES)
        problems = []
        if unknown := sorted(set(value) - known):
            problems.append(f"names unknown applications {unknown}; known: {sorted(known)}")
        if missing := sorted(known - set(value)):
            problems.append(f"lacks {missing}: every application needs its repository")
        if problems:
            raise ValueError("; ".join(problems))
        return value


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


def _read_yaml(path: Path, root: Path, problems: list[str]) -> dict | None:
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        data = yaml.safe_load(path.read_text())
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
