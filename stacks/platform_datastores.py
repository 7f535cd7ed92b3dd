"""One environment's own datastores: its network, Redis, RabbitMQ and elo's DGraph.

Contract
- Inputs: the environment's ``EnvironmentNames`` and the pinned images.
- Creates: the overlay network ``<env>-platform`` its applications share; ``<env>-redis``
  (Redis 8, whose official image loads the JSON and Search modules the applications'
  ``json.*`` commands need); ``<env>-rabbitmq`` with one login and one virtual host, no guest;
  ``<env>-dgraph-zero`` and ``<env>-dgraph-alpha`` on an internal network of their own, alpha
  also on the platform network for elo. Passwords are generated once and kept in Vault under
  ``platform/<env>/generated/`` (written with the environment's own platform token).
- Returns ``DatastoreEndpoints``: where they answer, the broker URL and the Redis password
  as expressions.

Nothing here is published or routed: only services on the environment's network reach them.
Their volumes are node-local Docker volumes named after the service; removing a service
leaves its volume (``docker volume rm`` deletes the data).

    datastores = EnvironmentDatastores(
        self, "datastores", names=EnvironmentNames("main"), images=config.images
    ).endpoints
    datastores.rabbitmq_url        # amqp://sprocket-main:<expression>@main-rabbitmq:5672/main...
    datastores.redis_password.file("/app/secret/redis-password.txt")
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.overlay_network import NetworkRef, OverlayNetwork, OverlayNetworkProps
from constructs_lib.swarm_secret import (
    SwarmSecret,
    generated_value_secret,
    json_value,
    text_value,
)
from constructs_lib.swarm_service import (
    ConfigFile,
    Healthcheck,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks import datastore_files as files
from stacks.applications import broker_url_template, celery_backend_template
from stacks.config import ImagesConfig
from stacks.contracts import EnvironmentNames

SECRETS = "/run/secrets"
REDIS_MEMORY_MIB = 384
RABBITMQ_MEMORY_MIB = 768
# The official images' users: redis 999:999 (Debian image), rabbitmq 100:101 (Alpine image,
# docker-library/rabbitmq 4.3/alpine/Dockerfile:238-243). Their secret files must be theirs.
REDIS_UID = "999"
RABBITMQ_UID, RABBITMQ_GID = "100", "101"


@dataclass(frozen=True, kw_only=True)
class DatastoreEndpoints:
    network: NetworkRef
    redis_password: SwarmSecret
    # Expressions (they hold generated passwords).
    rabbitmq_url: str
    celery_backend_url: str
    dgraph_api_key: SwarmSecret


def redis_service(
    scope: Construct,
    *,
    name: str,
    image: str,
    network: NetworkRef,
    memory_limit_mib: int,
    auth: SwarmSecret,
    password_file: SwarmSecret,
    cpu_limit: float = 0.5,
) -> SwarmService:
    """A Redis 8 service ``redis`` in ``scope``: persistent, password from ``auth`` (a
    ``requirepass`` line), its healthcheck reading ``password_file``."""
    return SwarmService(
        scope,
        "redis",
        SwarmServiceProps(
            name=name,
            image=image,
            # Arguments, not a command: the image's entrypoint adds --loadmodule for every
            # bundled module (RedisJSON, Search) and drops to the redis user.
            args=["redis-server", "/usr/local/etc/redis/redis.conf"],
            networks=[network],
            config_files=[
                ConfigFile(
                    target="/usr/local/etc/redis/redis.conf",
                    content=files.redis_conf(
                        maxmemory_mib=memory_limit_mib * 3 // 4,
                        auth_include=f"{SECRETS}/redis-auth.conf",
                    ),
                )
            ],
            secret_files=[
                auth.file(f"{SECRETS}/redis-auth.conf", uid=REDIS_UID, gid=REDIS_UID),
                password_file.file(f"{SECRETS}/redis-password", uid=REDIS_UID, gid=REDIS_UID),
            ],
            volumes=[VolumeMount(name="data", target="/data")],
            memory_limit_mib=memory_limit_mib,
            cpu_limit=cpu_limit,
            update_order=UpdateOrder.STOP_FIRST,
            healthcheck=Healthcheck(
                test=(
                    "CMD-SHELL",
                    f'REDISCLI_AUTH="$(cat {SECRETS}/redis-password)" redis-cli ping '
                    "| grep -q PONG",
                ),
                start_period_s=10,
            ),
        ),
    )


class EnvironmentDatastores(Construct):
    def __init__(
        self, scope: Construct, id: str, *, names: EnvironmentNames, images: ImagesConfig
    ) -> None:
        super().__init__(scope, id)
        network = OverlayNetwork(
            self, "network", OverlayNetworkProps(name=names.platform_network)
        ).ref

        def generated(id_: str, name: str, key: str = "password") -> GeneratedSecret:
            ref = names.generated(name, key)
            return GeneratedSecret(
                self, id_, GeneratedSecretProps(mount=ref.mount, path=ref.path, key=ref.key)
            )

        def secret(id_: str, name: str, value: str) -> SwarmSecret:
            return generated_value_secret(self, id_, name=names.service(name), value=value)

        # --- Redis ------------------------------------------------------------------
        redis_password = generated("redis_password", "redis")
        redis_auth = secret(
            "redis_auth", "redis-auth", text_value("requirepass %s\n", redis_password.value)
        )
        self.redis_password_file = secret(
            "redis_password_file", "redis-password", redis_password.value
        )
        redis_service(
            self,
            name=names.service("redis"),
            image=images.redis,
            network=network,
            memory_limit_mib=REDIS_MEMORY_MIB,
            auth=redis_auth,
            password_file=self.redis_password_file,
        )

        # --- RabbitMQ ---------------------------------------------------------------
        rabbit_password = generated("rabbitmq_password", "rabbitmq")
        definitions_path = "/etc/rabbitmq/definitions.json"
        definitions = secret(
            "rabbitmq_definitions",
            "rabbitmq-definitions",
            json_value(
                files.rabbitmq_definitions(
                    [
                        files.RabbitUser(
                            name=names.rabbitmq_user,
                            password=rabbit_password.value,
                            vhosts=[names.rabbitmq_vhost],
                        )
                    ],
                    [names.rabbitmq_vhost],
                )
            ),
        )
        SwarmService(
            self,
            "rabbitmq",
            SwarmServiceProps(
                name=names.service("rabbitmq"),
                image=images.rabbitmq,
                # RabbitMQ keys its data directory by node name, which follows the host name.
                hostname=names.service("rabbitmq"),
                networks=[network],
                config_files=[
                    ConfigFile(
                        target="/etc/rabbitmq/conf.d/30-sprocket.conf",
                        content=files.rabbitmq_conf(
                            definitions_path=definitions_path,
                            memory_limit_mib=RABBITMQ_MEMORY_MIB,
                        ),
                    )
                ],
                secret_files=[
                    definitions.file(definitions_path, uid=RABBITMQ_UID, gid=RABBITMQ_GID)
                ],
                volumes=[VolumeMount(name="data", target="/var/lib/rabbitmq")],
                memory_limit_mib=RABBITMQ_MEMORY_MIB,
                cpu_limit=0.5,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=("CMD", "rabbitmq-diagnostics", "-q", "ping"),
                    interval_s=30,
                    timeout_s=20,
                    start_period_s=60,
                ),
            ),
        )

        # --- DGraph (elo's graph) ------------------------------------------------------
        # As the running infrastructure ran it (sprocket-infra global/services/dgraph/DGraph.ts):
        # one zero and one alpha of dgraph/dgraph v21.12, which elo's client speaks to over gRPC.
        dgraph_net = OverlayNetwork(
            self, "dgraph_network", OverlayNetworkProps(name=names.dgraph_network, internal=True)
        ).ref
        zero, alpha = names.service("dgraph-zero"), names.service("dgraph-alpha")
        for role, command, memory, nets in (
            ("zero", ["dgraph", "zero", f"--my={zero}:5080"], 256, [dgraph_net]),
            (
                "alpha",
                ["dgraph", "alpha", f"--my={alpha}:7080", f"--zero={zero}:5080"],
                1024,
                [dgraph_net, network],
            ),
        ):
            SwarmService(
                self,
                f"dgraph_{role}",
                SwarmServiceProps(
                    name=names.service(f"dgraph-{role}"),
                    image=images.dgraph,
                    command=command,
                    networks=nets,
                    volumes=[VolumeMount(name="data", target="/dgraph")],
                    memory_limit_mib=memory,
                    cpu_limit=0.5,
                    update_order=UpdateOrder.STOP_FIRST,
                ),
            )
        dgraph_key = generated("dgraph_api_key", "dgraph", key="api_key")

        self.endpoints = DatastoreEndpoints(
            network=network,
            redis_password=self.redis_password_file,
            celery_backend_url=text_value(celery_backend_template(names), redis_password.value),
            rabbitmq_url=text_value(broker_url_template(names), rabbit_password.value),
            dgraph_api_key=secret("dgraph_api_key_file", "dgraph-api-key", dgraph_key.value),
        )
