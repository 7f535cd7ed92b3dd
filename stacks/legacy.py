"""The legacy platform of one environment: the legacy Discord bots, their worker and Redis.

Contract
- Inputs: the environment's names and ``LegacyConfig`` (bots, worker's bot, image tag, the
  existing database login), the environment's database and Spaces key.
- Creates: the network ``<env>-legacy``; ``<env>-legacy-redis``; ``<env>-legacy-worker`` and
  one ``<env>-legacy-bot-<name>`` per bot, configured by environment variables as the
  running infrastructure configured them (sprocket-infra 9bc3efe
  platform/src/legacy/LegacyPlatform.ts:36-99). Reads each bot's token and the database
  password from Vault (``platform/<env>/manual/legacy/...``).

The legacy images' source is not public, and they read their settings, secrets included,
only from their environment: those values are Terraform expressions, so they stay out of
the synthesized JSON, but they are in the service spec (``docker service inspect``) and the
state. The database's CA certificate is mounted where the running infrastructure mounted
it, and ``NODE_EXTRA_CA_CERTS`` makes Node trust it, instead of the running system's
``NODE_TLS_REJECT_UNAUTHORIZED=0``.

    LegacyPlatform(
        self, "legacy", names=EnvironmentNames("main"), legacy=environment.legacy,
        config=config, database=database, spaces_access_key=key.access_key,
        spaces_secret_key=key.secret_key, registry_login=self.registry_login,
    )
"""

from __future__ import annotations

from cdktf import Fn
from constructs import Construct

from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabase
from constructs_lib.overlay_network import OverlayNetwork, OverlayNetworkProps
from constructs_lib.registry_image import pinned_image, stack_images
from constructs_lib.swarm_secret import (
    generated_value_secret,
    text_value,
)
from constructs_lib.swarm_service import (
    ConfigFile,
    RegistryLogin,
    SwarmService,
    SwarmServiceProps,
)
from constructs_lib.vault_secret_mount import VaultKvRead
from stacks import datastore_files as files
from stacks.config import InfraConfig, LegacyConfig
from stacks.contracts import EnvironmentNames
from stacks.platform_datastores import redis_service

CA_PATH = "/run/configs/postgres-ca.crt"
SECRETS = "/run/secrets"
REDIS_UID = "999"


class LegacyPlatform(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: EnvironmentNames,
        legacy: LegacyConfig,
        config: InfraConfig,
        database: ManagedPostgresDatabase,
        spaces_access_key: str,
        spaces_secret_key: str,
        registry_login: RegistryLogin | None,
    ) -> None:
        super().__init__(scope, id)
        cluster, images = config.cluster, stack_images(self, config.images)
        network = OverlayNetwork(
            self, "network", OverlayNetworkProps(name=names.legacy_network)
        ).ref

        # --- Its own Redis ----------------------------------------------------------------
        ref = names.generated("legacy-redis", "password")
        redis_password = GeneratedSecret(
            self,
            "redis_password",
            GeneratedSecretProps(mount=ref.mount, path=ref.path, key=ref.key),
        ).value
        auth_value = text_value("requirepass %s\n", redis_password)
        redis_auth = generated_value_secret(
            self, "redis_auth", name=names.service("legacy-redis-auth"), value=auth_value
        )
        redis = names.service("legacy-redis")
        password_file = generated_value_secret(
            self,
            "redis_password_file",
            name=names.service("legacy-redis-password"),
            value=redis_password,
        )
        redis_service(
            self,
            name=redis,
            image=images.redis,
            network=network,
            memory_limit_mib=256,
            auth=redis_auth,
            password_file=password_file,
            cpu_limit=0.25,
        )

        # --- Environment the bots and the worker read ------------------------------------
        db_password = VaultKvRead(
            self, "database_password", mount="platform", path=f"{names.env}/manual/legacy/database"
        ).value("password")
        # Public: a config, not a secret, readable by whichever user the images run as.
        ca = ConfigFile(target=CA_PATH, content=database.ca_certificate())
        common = {
            "NODE_ENV": "production",
            "NODE_EXTRA_CA_CERTS": CA_PATH,
            "REDIS_HOST": redis,
            "REDIS_PORT": str(files.REDIS_PORT),
            "REDIS_PASSWORD": redis_password,
            "connstring": text_value(
                f"postgresql://{legacy.database_user}:%s@{cluster.postgres.host}:"
                f"{cluster.postgres.port}/{names.database}?ssl=true",
                Fn.urlencode(db_password),
            ),
            "file_bucket": names.buckets["general"],
            "file_token": spaces_access_key,
            "file_token_secret": spaces_secret_key,
            "SPROCKET": "yes",
        }
        tokens = {
            bot: VaultKvRead(
                self,
                f"token_{bot.lower()}",
                mount="platform",
                path=f"{names.env}/manual/legacy/bot-{bot.lower()}",
            ).value("token")
            for bot in legacy.bots
        }
        services = {"worker": ("legacy-worker", {"bot_token": tokens[legacy.worker_bot]})}
        for bot in legacy.bots:
            services[f"bot-{bot.lower()}"] = ("legacy-bot", {"bot": bot, "bot_token": tokens[bot]})
        for role, (image_name, env) in services.items():
            repository = config.applications.applications[image_name].repository
            SwarmService(
                self,
                role.replace("-", "_"),
                SwarmServiceProps(
                    name=names.service(f"legacy-{role}"),
                    image=pinned_image(
                        self,
                        f"{role.replace('-', '_')}_image",
                        f"{repository}:{legacy.image_tag}",
                        by_digest=True,
                    ),
                    networks=[network],
                    env={**common, **env},
                    config_files=[ca],
                    memory_limit_mib=512,
                    cpu_limit=0.5,
                    registry_login=registry_login,
                ),
            )
