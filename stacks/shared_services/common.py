"""Parts every shared data service is made of: generated secrets, routes, its own database.

- ``generated_secret``: a password generated once and kept under ``infrastructure/`` in Vault.
- ``ingress_route``: a TLS route to a service's web UI through layer_1's ingress network.
- ``ServiceDatabase``: a database and login of the service's own on the managed PostgreSQL
  cluster, its credentials kept in Vault and its password as a Swarm secret.

    password = generated_secret(self, "admin_password", mount=props.vault_mount,
        path="grafana/admin")
    admin = generated_value_secret(self, "admin_secret", name="grafana-admin-password",
        value=password.value)
    database = ServiceDatabase(self, "database", ServiceDatabaseProps(
        postgres=cluster.postgres, name="grafana", vault_mount=props.vault_mount))
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from constructs import Construct

from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabase, ManagedPostgresDatabaseProps
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_secret import generated_value_secret
from constructs_lib.traefik_config import ADMIN_ALLOWLIST_MIDDLEWARE
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps
from constructs_lib.vault_kv import VaultKvSecret, VaultKvSecretProps
from stacks.config import PostgresConfig

# Where Swarm mounts secret files unless a service needs them elsewhere.
SECRETS = "/run/secrets"


def yaml_document(document: dict) -> str:
    """YAML with sorted keys, so a rendered file changes only when its content does."""
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def generated_secret(
    scope: Construct, id: str, *, mount: str, path: str, key: str = "password"
) -> GeneratedSecret:
    """A value generated on the first apply and kept, written to ``<mount>/<path>`` ``key``."""
    return GeneratedSecret(scope, id, GeneratedSecretProps(mount=mount, path=path, key=key))


def admin_route(
    scope: Construct, *, name: str, host: str, port: int, ingress: NetworkRef
) -> TraefikRoute:
    """A TLS route at ``host`` to the service's ``port``, through the ingress network, that
    answers the admin networks only (config/cluster.yaml admin_networks)."""
    return TraefikRoute(
        scope,
        "route",
        TraefikRouteProps(
            name=name,
            hosts=[host],
            port=port,
            network=ingress.name,
            middlewares=[f"{ADMIN_ALLOWLIST_MIDDLEWARE}@file"],
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ServiceDatabaseProps:
    # The managed cluster the database is made in, and where clients reach it.
    postgres: PostgresConfig
    # Database and login name, also the Vault path ``postgres/<name>`` and the Swarm secret
    # ``<name>-db-password``. Changing it after the first deploy would replace the database:
    # the plan stops instead (prevent_destroy).
    name: str
    # The KV mount the credentials are written to.
    vault_mount: str


class ServiceDatabase(Construct):
    """``prevent_destroy`` stops any plan that would drop the database while the construct is
    in the stack; removing the construct removes that guard too, and the next apply drops it."""

    def __init__(self, scope: Construct, id: str, props: ServiceDatabaseProps) -> None:
        super().__init__(scope, id)
        database = ManagedPostgresDatabase(
            self,
            "Default",
            ManagedPostgresDatabaseProps(cluster_name=props.postgres.cluster_name, name=props.name),
        )
        VaultKvSecret(
            self,
            "credentials",
            VaultKvSecretProps(
                mount=props.vault_mount,
                path=f"postgres/{props.name}",
                data={"username": props.name, "password": database.password},
            ),
        )
        self.host: str = props.postgres.host
        self.port: int = props.postgres.port
        # The database and its login share the name.
        self.name: str = props.name
        self.password = generated_value_secret(
            self, "secret", name=f"{props.name}-db-password", value=database.password
        )
