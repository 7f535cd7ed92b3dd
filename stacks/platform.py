"""platform-<env>: the Sprocket applications of one environment, and what only they use.

Contract
- Inputs: ``InfraConfig``, the environment's ``EnvironmentConfig``, ``Layer1Outputs``
  (ingress network, Vault address) and ``Layer2Outputs`` (service tokens, the monitoring
  network). At deploy time, with a registry account configured, the sensitive variable
  ``registry_password``.
- Creates, all named after the environment (``stacks.contracts.EnvironmentNames``) so no
  two environments share anything: its datastores (``stacks/platform_datastores.py``); the
  eleven application services, each with its own config file rendered from the
  application's contract (``stacks/applications``) and the secret files it opens; its three
  Spaces buckets and a Spaces key limited to them; its database ``sprocket_<env>`` and
  login; its JWT secret; the legacy platform where configured (``stacks/legacy.py``).
- Reads from Vault: manual secrets under ``platform/<env>/manual/...`` and
  ``platform/ballchasing`` with this environment's platform token; InfluxDB's token with the
  infrastructure token.
- Outputs: ``WebUrl`` and ``ApiUrl``.
"""

from __future__ import annotations

from constructs import Construct

from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabase, ManagedPostgresDatabaseProps
from constructs_lib.providers import use_vault
from constructs_lib.registry_image import stack_images
from constructs_lib.spaces_bucket import SpacesBucket, SpacesBucketProps, spaces_access_key
from constructs_lib.stack_output import export
from constructs_lib.swarm_secret import SwarmSecret, generated_value_secret
from constructs_lib.vault_kv import VaultKvSecret, VaultKvSecretProps
from constructs_lib.vault_secret_mount import VaultSecretMount, VaultSecretMountProps
from stacks import applications as apps
from stacks.applications.catalog import Secret, Uses
from stacks.base import SprocketStack
from stacks.cluster import ClusterOutputs, check_postgres
from stacks.config import EnvironmentConfig, InfraConfig
from stacks.contracts import EnvironmentNames, Layer1Outputs, Layer2Outputs, VaultRef
from stacks.legacy import LegacyPlatform
from stacks.platform_datastores import EnvironmentDatastores
from stacks.shared_services import influxdb
from stacks.sprocket_app import SprocketApp, SprocketAppProps
from stacks.vault_policies import PLATFORM, SHARED_PLATFORM_SECRETS


def vault_sources(names: EnvironmentNames) -> dict[Secret, VaultRef]:
    """Secrets operators load into Vault (docs/secrets.md), and the environment's InfluxDB
    token (written by layer_2's bucket loop)."""
    return {
        Secret.GOOGLE_CLIENT_ID: names.manual("oauth/google", "client_id"),
        Secret.GOOGLE_SECRET: names.manual("oauth/google", "client_secret"),
        Secret.DISCORD_CLIENT_ID: names.manual("oauth/discord", "client_id"),
        Secret.DISCORD_SECRET: names.manual("oauth/discord", "client_secret"),
        Secret.CHATWOOT_HMAC_KEY: VaultRef(PLATFORM, f"{names.env}/chatwoot", "hmac_key"),
        Secret.BOT_TOKEN: names.manual("discord-bot", "token"),
        Secret.BALLCHASING_TOKEN: VaultRef(PLATFORM, SHARED_PLATFORM_SECRETS[0], "token"),
        # The environment's own: read and write on its bucket only (the bucket loop's).
        Secret.INFLUX_TOKEN: influxdb.environment_token(names.env),
    }


class PlatformStack(SprocketStack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        config: InfraConfig,
        environment: EnvironmentConfig,
        cluster_outputs: ClusterOutputs,
        layer_1: Layer1Outputs,
        layer_2: Layer2Outputs,
    ) -> None:
        super().__init__(
            scope,
            id,
            config.cluster,
            random=True,
            registry=config.applications.registry,
            environment=environment.name,
        )
        cluster = config.cluster
        names = EnvironmentNames(environment.name)
        # The applications' config files are synthesized with postgres.host and port.
        check_postgres(self, cluster, cluster_outputs)
        # Deployed with a token minted from this environment's role (VAULT_TOKEN, README):
        # no token is read from another stack. Every Vault secret below grants itself to the
        # environment's policy, which layer_2 writes from these grants.
        use_vault(self, layer_1.vault_address)
        self.vault_grants = layer_2.platform_vault_grants[names.env].attach(self)

        # --- What this environment owns: buckets, a Spaces key, a database, a JWT secret -
        buckets = [
            SpacesBucket(
                self, f"bucket_{role}", SpacesBucketProps(name=name, region=cluster.spaces_region)
            )
            for role, name in names.buckets.items()
        ]
        spaces_key = spaces_access_key(self, "spaces_key", names.spaces_key, buckets)
        database = ManagedPostgresDatabase(
            self,
            "database",
            ManagedPostgresDatabaseProps(
                cluster_name=cluster.postgres.cluster_name, name=names.database
            ),
        )
        jwt_ref = names.generated("jwt", "secret")
        jwt = GeneratedSecret(
            self,
            "jwt_secret",
            GeneratedSecretProps(
                mount=jwt_ref.mount, path=jwt_ref.path, key=jwt_ref.key, length=64
            ),
        )
        credentials = names.generated("credentials", "")
        VaultKvSecret(
            self,
            "generated_credentials",
            VaultKvSecretProps(
                mount=credentials.mount,
                path=credentials.path,
                data={
                    "database_username": names.database_user,
                    "database_password": database.password,
                    "spaces_access_key": spaces_key.access_key,
                    "spaces_secret_key": spaces_key.secret_key,
                },
            ),
        )
        self.datastores = EnvironmentDatastores(
            self, "datastores", names=names, images=stack_images(self, config.images)
        ).endpoints

        # --- Secret values, one Swarm secret each, shared by the apps that read them ---
        def generated(id_: str, secret: Secret, value: str) -> SwarmSecret:
            return generated_value_secret(self, id_, name=names.service(secret.value), value=value)

        self.swarm_secrets: dict[Secret, SwarmSecret] = {
            Secret.DB_PASSWORD: generated("db_password", Secret.DB_PASSWORD, database.password),
            Secret.JWT_SECRET: generated("jwt_secret_file", Secret.JWT_SECRET, jwt.value),
            Secret.SPACES_ACCESS_KEY: generated(
                "spaces_access_key", Secret.SPACES_ACCESS_KEY, spaces_key.access_key
            ),
            Secret.SPACES_SECRET_KEY: generated(
                "spaces_secret_key", Secret.SPACES_SECRET_KEY, spaces_key.secret_key
            ),
            Secret.REDIS_PASSWORD: self.datastores.redis_password,
            Secret.DGRAPH_API_KEY: self.datastores.dgraph_api_key,
        }
        needed = {
            source for app in apps.APPS for source in apps.secret_files(app, environment).values()
        }
        for source, ref in sorted(vault_sources(names).items(), key=lambda item: item[0].name):
            if source not in needed:
                continue
            self.swarm_secrets[source] = VaultSecretMount(
                self,
                f"vault_{source.name.lower()}",
                VaultSecretMountProps(
                    mount=ref.mount,
                    path=ref.path,
                    key=ref.key,
                    secret_name=names.service(source.value),
                ),
            ).secret

        # --- The applications -------------------------------------------------------
        endpoints = apps.endpoints(
            names,
            cluster,
            environment,
            rabbitmq_url=self.datastores.rabbitmq_url,
            celery_backend_url=self.datastores.celery_backend_url,
        )
        for app in apps.APPS:
            networks = [self.datastores.network]
            if Uses.INFLUXDB in app.uses:
                networks.append(layer_2.monitoring_network)
            SprocketApp(
                self,
                app.name.replace("-", "_"),
                SprocketAppProps(
                    app=app,
                    context=apps.app_context(
                        app, names, endpoints, environment, config.applications
                    ),
                    environment=environment,
                    cluster=cluster,
                    repository=config.applications.applications[app.name].repository,
                    networks=networks,
                    ingress=layer_1.ingress_network,
                    secret_files={
                        path: self.swarm_secrets[source]
                        for path, source in apps.secret_files(app, environment).items()
                    },
                    registry_login=self.registry_login,
                ),
            )

        if environment.legacy is not None:
            LegacyPlatform(
                self,
                "legacy",
                names=names,
                legacy=environment.legacy,
                config=config,
                database=database,
                spaces_access_key=spaces_key.access_key,
                spaces_secret_key=spaces_key.secret_key,
                registry_login=self.registry_login,
            )

        self.back_up_volumes(cluster, stack_images(self, config.images).restic)

        export(self, "WebUrl", f"https://{endpoints.web_host}", f"Sprocket web ({names.env})")
        export(self, "ApiUrl", f"https://{endpoints.api_host}", f"Sprocket API ({names.env})")
