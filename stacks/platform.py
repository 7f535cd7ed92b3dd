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

import json

from constructs import Construct

from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabase, ManagedPostgresDatabaseProps
from constructs_lib.providers import use_vault
from constructs_lib.registry_image import pinned_image
from constructs_lib.spaces_bucket import SpacesBucket, SpacesBucketProps, spaces_access_key
from constructs_lib.stack_output import export
from constructs_lib.swarm_secret import SwarmSecret, SwarmSecretProps, json_value
from constructs_lib.swarm_service import ConfigFile, SwarmService, SwarmServiceProps
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps
from constructs_lib.vault_kv import VaultKvSecret, VaultKvSecretProps
from constructs_lib.vault_secret_mount import VaultSecretMount, VaultSecretMountProps
from stacks import applications as apps
from stacks.applications.catalog import App, Secret, Uses
from stacks.base import SprocketStack
from stacks.config import EnvironmentConfig, InfraConfig
from stacks.contracts import EnvironmentNames, Layer1Outputs, Layer2Outputs, VaultRef
from stacks.legacy import LegacyPlatform
from stacks.platform_datastores import EnvironmentDatastores
from stacks.shared_services import influxdb
from stacks.vault_policies import INFRASTRUCTURE, PLATFORM, SHARED_PLATFORM_SECRETS


def vault_sources(names: EnvironmentNames) -> dict[Secret, VaultRef]:
    """Secrets operators load into Vault (docs/secrets.md), and InfluxDB's token (layer_2)."""
    return {
        Secret.GOOGLE_CLIENT_ID: names.manual("oauth/google", "client_id"),
        Secret.GOOGLE_SECRET: names.manual("oauth/google", "client_secret"),
        Secret.DISCORD_CLIENT_ID: names.manual("oauth/discord", "client_id"),
        Secret.DISCORD_SECRET: names.manual("oauth/discord", "client_secret"),
        Secret.CHATWOOT_HMAC_KEY: VaultRef(PLATFORM, f"{names.env}/chatwoot", "hmac_key"),
        Secret.BOT_TOKEN: names.manual("discord-bot", "token"),
        Secret.BALLCHASING_TOKEN: VaultRef(PLATFORM, SHARED_PLATFORM_SECRETS[0], "token"),
        Secret.INFLUX_TOKEN: influxdb.TOKEN,
    }


class PlatformStack(SprocketStack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        config: InfraConfig,
        environment: EnvironmentConfig,
        layer_1: Layer1Outputs,
        layer_2: Layer2Outputs,
    ) -> None:
        super().__init__(
            scope, id, config.cluster, random=True, registry=config.applications.registry
        )
        cluster = config.cluster
        names = EnvironmentNames(environment.name)
        use_vault(self, layer_1.vault_address, layer_2.platform_vault_tokens[names.env])
        infrastructure_vault = use_vault(
            self, layer_1.vault_address, layer_2.infrastructure_vault_token, alias="infrastructure"
        )

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
            self, "datastores", names=names, images=config.images
        ).endpoints

        # --- Secret values, one Swarm secret each, shared by the apps that read them ---
        def generated(id_: str, secret: Secret, value: str) -> SwarmSecret:
            return SwarmSecret(
                self,
                id_,
                SwarmSecretProps(
                    name=names.service(secret.value), value=value, version_marker=value
                ),
            )

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
                    provider=infrastructure_vault if ref.mount == INFRASTRUCTURE else None,
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
            self._application(app, names, environment, config, layer_1, layer_2, endpoints)

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

        export(self, "WebUrl", f"https://{endpoints.web_host}", f"Sprocket web ({names.env})")
        export(self, "ApiUrl", f"https://{endpoints.api_host}", f"Sprocket API ({names.env})")

    def _application(
        self,
        app: App,
        names: EnvironmentNames,
        environment: EnvironmentConfig,
        config: InfraConfig,
        layer_1: Layer1Outputs,
        layer_2: Layer2Outputs,
        endpoints: apps.Endpoints,
    ) -> None:
        name = names.service(app.name)
        ctx = apps.app_context(app, names, endpoints, environment, config.applications)
        document = apps.render_config(app.name, ctx)
        networks = [self.datastores.network]
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
        if Uses.INFLUXDB in app.uses:
            networks.append(layer_2.monitoring_network)
        secret_files = [
            self.swarm_secrets[source].file(path, uid=app.uid, gid=app.uid)
            for path, source in sorted(apps.secret_files(app, environment).items())
        ]
        config_files: list[ConfigFile] = []
        if Uses.RABBITMQ in app.uses:
            # The config carries the broker login (and the replay parser's Redis URL).
            value = json_value(document)
            config_secret = SwarmSecret(
                self,
                f"{app.name.replace('-', '_')}_config",
                SwarmSecretProps(name=f"{name}-config", value=value, version_marker=value),
            )
            secret_files.append(config_secret.file(app.config_path, uid=app.uid, gid=app.uid))
        else:
            config_files.append(
                ConfigFile(
                    target=app.config_path, content=json.dumps(document, indent=2, sort_keys=True)
                )
            )
        repository = config.applications.applications[app.name].repository
        SwarmService(
            self,
            app.name.replace("-", "_"),
            SwarmServiceProps(
                name=name,
                image=pinned_image(
                    self,
                    f"{app.name}_image",
                    f"{repository}:{environment.image_tag}",
                    by_digest=environment.pin_image_digests,
                ),
                command=list(app.command) if app.command else None,
                networks=networks,
                env=apps.service_env(app, ctx),
                routes=routes,
                config_files=config_files,
                secret_files=secret_files,
                replicas=environment.replicas.get(app.name, app.replicas),
                memory_limit_mib=app.memory_limit_mib,
                cpu_limit=app.cpu_limit,
                registry_login=self.registry_login,
            ),
        )
