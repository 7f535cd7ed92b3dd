"""Names one stack or application derives and another reads, spelled in one place.

``EnvironmentNames`` is everything named after an environment: its services, networks,
database, buckets, queues and prefixes. ``VaultRef`` is one value in Vault KV v2.
``Layer1Outputs`` and ``Layer2Outputs`` are what later stacks read from the layers. Writers
and readers both take these objects instead of formatting the strings again, so a rename is
one edit and a reader can never drift from its writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.vault_grants import VaultGrants

# The queues Sprocket's applications use, as their config keys name them
# (transport.<key>, SprocketBot/sprocket common/src/util/config.ts:177-222), and the
# suffix each queue gets after the environment's name.
QUEUES: dict[str, str] = {
    "core_queue": "core",
    "bot_queue": "bot",
    "matchmaking_queue": "matchmaking",
    "analytics_queue": "analytics",
    "events_queue": "events",
    "image_generation_queue": "ig",
    "submission_queue": "submissions",
    "notification_queue": "notifications",
    "celery-queue": "celery",
}


@dataclass(frozen=True)
class VaultRef:
    """One key of one KV v2 secret: ``<mount>/data/<path>`` field ``key``."""

    mount: str
    path: str
    key: str

    def __str__(self) -> str:
        return f"{self.mount}/{self.path} {self.key}"


@dataclass(frozen=True)
class EnvironmentNames:
    """What is named after one environment (``main`` is production)."""

    env: str

    def service(self, name: str) -> str:
        """The Swarm service (and its DNS name) of ``name`` in this environment."""
        return f"{self.env}-{name}"

    @property
    def platform_network(self) -> str:
        return f"{self.env}-platform"

    @property
    def dgraph_network(self) -> str:
        return f"{self.env}-dgraph"

    @property
    def legacy_network(self) -> str:
        return f"{self.env}-legacy"

    @property
    def identifier(self) -> str:
        """The environment's name where only letters, digits and '_' may go (PostgreSQL and
        InfluxDB names): '-' becomes '_' (environment names have no '_', so two never meet)."""
        return self.env.replace("-", "_")

    @property
    def database(self) -> str:
        return f"sprocket_{self.identifier}"

    @property
    def database_user(self) -> str:
        return f"sprocket_{self.identifier}"

    @property
    def spaces_key(self) -> str:
        return f"sprocket-{self.env}"

    @cached_property
    def buckets(self) -> dict[str, str]:
        return {
            "general": f"sprocket-{self.env}-1",
            "image_generation": f"sprocket-image-gen-{self.env}-1",
            "replays": f"sprocket-replays-{self.env}-1",
        }

    @cached_property
    def queues(self) -> dict[str, str]:
        """transport.<key> -> queue name; one spelling of the environment everywhere."""
        return {key: f"{self.env}-{suffix}" for key, suffix in QUEUES.items()}

    @property
    def rabbitmq_vhost(self) -> str:
        return self.env

    @property
    def rabbitmq_user(self) -> str:
        return f"sprocket-{self.env}"

    @property
    def redis_prefix(self) -> str:
        return self.env

    @property
    def influx_bucket(self) -> str:
        return f"sprocket_{self.identifier}"

    @property
    def bot_prefix(self) -> str:
        return "s." if self.env == "main" else f"{self.env}."

    def events_key(self, application: str) -> str:
        """The default transport.events_application_key: unique per environment and app."""
        return f"{self.env}-{application}"

    # Vault: what this environment's platform stack generates and what operators load.
    def generated(self, name: str, key: str) -> VaultRef:
        return VaultRef("platform", f"{self.env}/generated/{name}", key)

    def manual(self, name: str, key: str) -> VaultRef:
        return VaultRef("platform", f"{self.env}/manual/{name}", key)


@dataclass(frozen=True, kw_only=True)
class Layer1Outputs:
    """What later stacks read from layer_1 (cdktf turns each read into an output and a
    remote-state lookup)."""

    ingress_network: NetworkRef
    # Public URL of Vault's API, for the later stacks' Vault providers.
    vault_address: str
    # Vault's own network (Vault and what must reach it from inside the swarm), and Vault's
    # address on it.
    vault_network: NetworkRef
    vault_internal_address: str
    # The network Traefik's metrics entrypoint answers on, for the metrics collector.
    traefik_metrics_network: NetworkRef


@dataclass(frozen=True, kw_only=True)
class Layer2Outputs:
    """What platform stacks read from layer_2."""

    # Environment -> what that environment's platform stack may do in Vault: it grants itself
    # each secret it reads or writes, and layer_2 writes its policy from them. A synth-time
    # object, never a Terraform output: no token or secret crosses between stacks.
    platform_vault_grants: Mapping[str, VaultGrants]
    # Where analytics reaches InfluxDB.
    monitoring_network: NetworkRef
