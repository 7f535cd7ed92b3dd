"""config/environments/<name>.yaml: one Sprocket environment each (``main`` is production)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from stacks.config.cluster import ClusterConfig
from stacks.config.types import ImageTag, _Model

ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}\Z")
# Host prefixes services already use under the cluster hostname; an environment's
# subdomain must not shadow them (staging at "api" would collide with production's API).
RESERVED_SUBDOMAINS = frozenset(
    {"api", "image-generation", "traefik", "vault", "grafana", "n8n", "gatus"}
)


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
    # (pydantic checks patterns with Rust's regex, where $ is the end of the text.)
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")
    # Tag of the Sprocket application images deployed in this environment.
    image_tag: ImageTag
    # Default: none, the environment is served at the cluster hostname itself (production).
    # Otherwise it is served at "<subdomain>.<hostname>" and "api.<subdomain>.<hostname>".
    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    # Default: true. Each deploy resolves image_tag to the digest it points at and deploys
    # that digest, so the plan shows exactly which build goes out.
    pin_image_digests: bool = True
    # Replicas per application (web, api, discord-bot, ...). Default: one of each.
    replicas: dict[str, Annotated[int, Field(ge=1, le=20)]] = Field(default_factory=dict)
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
