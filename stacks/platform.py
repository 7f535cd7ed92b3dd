"""platform-<env>: the Sprocket applications of one environment.

Contract
- Inputs: ``InfraConfig``, the environment's ``EnvironmentConfig``, ``Layer1Outputs``
  (ingress network, Vault address) and ``Layer2Outputs`` (service tokens, networks,
  Postgres, Redis, RabbitMQ, InfluxDB, Spaces endpoints).
- Creates, all named after the environment so no two environments share anything:
  the twelve application services (``<env>-web``, ``<env>-api``, ...), their config files
  and secret files; the environment's three Spaces buckets and a Spaces key limited to
  them; its database ``sprocket_<env>`` and login; its JWT secret (generated once, kept in
  Vault at ``platform/<env>/generated/jwt``).
- Reads from Vault: manual secrets under ``platform/<env>/manual/...``, ``platform/<env>/chatwoot``
  and ``platform/ballchasing`` with this environment's platform token (which can reach no other
  environment's secrets); Redis's password, InfluxDB's token and its broker login under
  ``infrastructure/...`` with the infrastructure token.
- Outputs: ``WebUrl`` and ``ApiUrl``.
"""

from __future__ import annotations

import json

from cdktf import TerraformStack
from constructs import Construct

from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabase, ManagedPostgresDatabaseProps
from constructs_lib.providers import use_digitalocean, use_docker, use_random, use_vault
from constructs_lib.registry_image import pinned_image
from constructs_lib.remote_state import use_spaces_backend
from constructs_lib.spaces_bucket import SpacesBucket, SpacesBucketProps, spaces_access_key
from constructs_lib.stack_output import export
from constructs_lib.swarm_secret import (
    SecretFile,
    SwarmSecret,
    SwarmSecretProps,
    json_value,
    text_value,
)
from constructs_lib.swarm_service import ConfigFile, SwarmService, SwarmServiceProps
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps
from constructs_lib.vault_kv import VaultKvSecret, VaultKvSecretProps
from constructs_lib.vault_secret_mount import VaultKvRead, VaultSecretMount, VaultSecretMountProps
from stacks.applications import (
    APPS,
    IMAGE_REPOSITORY,
    App,
    Endpoints,
    Secret,
    application_config,
    broker_url_template,
    bucket_names,
)
from stacks.config import EnvironmentConfig, InfraConfig
from stacks.layer_1 import Layer1Outputs
from stacks.layer_2 import Layer2Outputs
from stacks.vault_policies import INFRASTRUCTURE, PLATFORM, SHARED_PLATFORM_SECRETS

SECRET_DIR = "/app/secret"

# Secrets read from Vault: (mount, path with {env}, key).
VAULT_SOURCES: dict[Secret, tuple[str, str, str]] = {
    Secret.GOOGLE_CLIENT_ID: (PLATFORM, "{env}/manual/oauth/google", "client_id"),
    Secret.GOOGLE_SECRET: (PLATFORM, "{env}/manual/oauth/google", "client_secret"),
    Secret.DISCORD_CLIENT_ID: (PLATFORM, "{env}/manual/oauth/discord", "client_id"),
    Secret.DISCORD_SECRET: (PLATFORM, "{env}/manual/oauth/discord", "client_secret"),
    Secret.EPIC_CLIENT_ID: (PLATFORM, "{env}/manual/oauth/epic", "client_id"),
    Secret.EPIC_SECRET: (PLATFORM, "{env}/manual/oauth/epic", "client_secret"),
    Secret.STEAM_KEY: (PLATFORM, "{env}/manual/oauth/steam", "key"),
    Secret.CHATWOOT_HMAC_KEY: (PLATFORM, "{env}/chatwoot", "hmac_key"),
    Secret.BOT_TOKEN: (PLATFORM, "{env}/manual/discord-bot", "token"),
    Secret.DGRAPH_API_KEY: (PLATFORM, "{env}/manual/dgraph", "api_key"),
    Secret.BALLCHASING_TOKEN: (PLATFORM, SHARED_PLATFORM_SECRETS[0], "token"),
    Secret.REDIS_PASSWORD: (INFRASTRUCTURE, "redis", "password"),
    Secret.INFLUX_TOKEN: (INFRASTRUCTURE, "influxdb/token", "token"),
}


class PlatformStack(TerraformStack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        config: InfraConfig,
        environment: EnvironmentConfig,
        layer_1: Layer1Outputs,
        layer_2: Layer2Outputs,
    ) -> None:
        super().__init__(scope, id)
        cluster, env = config.cluster, environment.name
        use_spaces_backend(self, cluster.state_backend(id))
        use_docker(self)
        use_digitalocean(self)
        use_random(self)
        use_vault(self, layer_1.vault_address, layer_2.platform_vault_tokens[env])
        infrastructure_vault = use_vault(
            self, layer_1.vault_address, layer_2.infrastructure_vault_token, alias="infrastructure"
        )

        # --- What this environment owns: buckets, a Spaces key, a database, a JWT secret -
        buckets = [
            SpacesBucket(
                self,
                f"bucket_{role}",
                SpacesBucketProps(name=name, region=cluster.spaces_region),
            )
            for role, name in bucket_names(env).items()
        ]
        spaces_key = spaces_access_key(self, "spaces_key", f"sprocket-{env}", buckets)
        database = ManagedPostgresDatabase(
            self,
            "database",
            ManagedPostgresDatabaseProps(
                cluster_name=cluster.postgres.cluster_name, name=f"sprocket_{env}"
            ),
        )
        jwt = GeneratedSecret(
            self,
            "jwt_secret",
            GeneratedSecretProps(
                mount=PLATFORM, path=f"{env}/generated/jwt", key="secret", length=64
            ),
        )
        VaultKvSecret(
            self,
            "generated_credentials",
            VaultKvSecretProps(
                mount=PLATFORM,
                path=f"{env}/generated/credentials",
                data={
                    "database_username": f"sprocket_{env}",
                    "database_password": database.password,
                    "spaces_access_key": spaces_key.access_key,
                    "spaces_secret_key": spaces_key.secret_key,
                },
            ),
        )
        # The broker login layer_2 generated for this environment (its own vhost only).
        rabbit_login = VaultKvRead(
            self,
            "rabbitmq_login",
            mount=INFRASTRUCTURE,
            path=f"rabbitmq/{env}",
            provider=infrastructure_vault,
        )

        # --- Secret values, one Swarm secret each, shared by the apps that read them ---
        def generated(id_: str, name: str, value: str) -> SwarmSecret:
            return SwarmSecret(
                self,
                id_,
                SwarmSecretProps(name=f"{env}-{name}", value=value, version_marker=value),
            )

        swarm_secrets: dict[Secret, SwarmSecret] = {
            Secret.DB_PASSWORD: generated("db_password", "db-password", database.password),
            Secret.JWT_SECRET: generated("jwt_secret_file", "jwt-secret", jwt.value),
            Secret.SPACES_ACCESS_KEY: generated(
                "spaces_access_key", "spaces-access-key", spaces_key.access_key
            ),
            Secret.SPACES_SECRET_KEY: generated(
                "spaces_secret_key", "spaces-secret-key", spaces_key.secret_key
            ),
        }
        needed = {source for app in APPS for source in app.secrets.values()}
        for source in sorted(needed & VAULT_SOURCES.keys(), key=lambda s: s.name):
            mount, path, key = VAULT_SOURCES[source]
            swarm_secrets[source] = VaultSecretMount(
                self,
                f"vault_{source.name.lower()}",
                VaultSecretMountProps(
                    mount=mount,
                    path=path.format(env=env),
                    key=key,
                    secret_name=f"{env}-{source.name.lower().replace('_', '-')}",
                    provider=infrastructure_vault if mount == INFRASTRUCTURE else None,
                ),
            ).secret

        # --- The applications -------------------------------------------------------
        endpoints = Endpoints(
            environment=env,
            web_url=f"https://{environment.host(cluster)}",
            api_url=f"https://{environment.host(cluster, 'api')}",
            api_service=f"{env}-api",
            rabbitmq_host=layer_2.rabbitmq_host,
            rabbitmq_port=layer_2.rabbitmq_port,
            postgres_host=layer_2.postgres_host,
            postgres_port=layer_2.postgres_port,
            redis_host=layer_2.redis_host,
            redis_port=layer_2.redis_port,
            influx_url=layer_2.influxdb_url,
            spaces_endpoint=layer_2.minio_url,
        )
        broker_url = text_value(
            broker_url_template(endpoints), f"sprocket-{env}", rabbit_login.value("password")
        )
        # The backends' config carries the broker login, so it is a secret file, not a config.
        backend_config_json = json_value(application_config(endpoints, broker_url=broker_url))
        backend_config = SwarmSecret(
            self,
            "backend_config",
            SwarmSecretProps(
                name=f"{env}-config",
                value=backend_config_json,
                version_marker=backend_config_json,
            ),
        )
        public_config = json.dumps(
            application_config(endpoints, broker_url=None), indent=2, sort_keys=True
        )

        for app in APPS:
            self._application(
                app,
                environment,
                config,
                layer_1,
                layer_2,
                swarm_secrets,
                backend_config,
                public_config,
            )

        export(self, "WebUrl", endpoints.web_url, f"Sprocket web ({env})")
        export(self, "ApiUrl", endpoints.api_url, f"Sprocket API ({env})")

    def _application(
        self,
        app: App,
        environment: EnvironmentConfig,
        config: InfraConfig,
        layer_1: Layer1Outputs,
        layer_2: Layer2Outputs,
        swarm_secrets: dict[Secret, SwarmSecret],
        backend_config: SwarmSecret,
        public_config: str,
    ) -> None:
        env = environment.name
        name = f"{env}-{app.name}"
        networks = [layer_2.platform_network]
        routes = []
        if app.port is not None and app.route_prefix is not None:
            networks.append(layer_1.ingress_network)
            routes.append(
                TraefikRoute(
                    self,
                    f"{app.name}_route",
                    TraefikRouteProps(
                        name=name,
                        hosts=[environment.host(config.cluster, app.route_prefix or None)],
                        port=app.port,
                        network=layer_1.ingress_network.name,
                    ),
                )
            )
        if app.pushes_metrics:
            networks.append(layer_2.monitoring_network)
        secret_files: list[SecretFile] = [
            swarm_secrets[source].file(f"{SECRET_DIR}/{file_name}", uid=app.uid)
            for file_name, source in sorted(app.secrets.items())
        ]
        config_files: list[ConfigFile] = []
        if app.backend:
            secret_files.append(backend_config.file(app.config_path, uid=app.uid))
        else:
            config_files.append(ConfigFile(target=app.config_path, content=public_config))
        SwarmService(
            self,
            app.name.replace("-", "_"),
            SwarmServiceProps(
                name=name,
                image=pinned_image(
                    self,
                    f"{app.name}_image",
                    f"{IMAGE_REPOSITORY}/{app.repository}:{environment.image_tag}",
                    by_digest=environment.pin_image_digests,
                ),
                command=list(app.command) if app.command else None,
                networks=networks,
                env=app.env,
                routes=routes,
                config_files=config_files,
                secret_files=secret_files,
                replicas=environment.replicas.get(app.name, app.replicas),
                memory_limit_mib=app.memory_limit_mib,
                cpu_limit=app.cpu_limit,
            ),
        )
