"""The Sprocket applications: what each image needs to run unchanged, as plain data.

Each ``App`` says where the image reads its config file, which secret files it opens,
what it needs in its environment, which datastores it talks to and which port and route it
serves. The facts come from the applications' own source (SprocketBot/sprocket at
``46d2b40``), recorded with their file and line in ``contracts/<name>.yaml``; the tests hold
every rendered configuration against those contracts.

Every image at that commit is built ``FROM node:18-alpine`` (or Python) with ``WORKDIR /app``
and no ``USER`` (dockerfiles/node.Dockerfile:1-11, microservices/replay-parse-service/
Dockerfile), so each runs as root in ``/app``: relative ``./secret/x.txt`` is ``/app/secret``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, unique

SECRET_DIR = "/app/secret"
NODE_CONFIG = "/app/config/production.json"


@unique
class Secret(Enum):
    """A value an application opens as a file; ``stacks/platform.py`` says where each comes from."""

    DB_PASSWORD = "db-password"
    JWT_SECRET = "jwt-secret"
    SPACES_ACCESS_KEY = "spaces-access-key"
    SPACES_SECRET_KEY = "spaces-secret-key"
    GOOGLE_CLIENT_ID = "google-client-id"
    GOOGLE_SECRET = "google-secret"
    DISCORD_CLIENT_ID = "discord-client-id"
    DISCORD_SECRET = "discord-secret"
    REDIS_PASSWORD = "redis-password"
    CHATWOOT_HMAC_KEY = "chatwoot-hmac-key"
    BOT_TOKEN = "bot-token"
    DGRAPH_API_KEY = "dgraph-api-key"
    INFLUX_TOKEN = "influx-token"
    BALLCHASING_TOKEN = "ballchasing-token"


class Uses(Enum):
    """Datastores and networks beyond the environment's own platform network."""

    REDIS = "redis"
    RABBITMQ = "rabbitmq"
    POSTGRES = "postgres"
    DGRAPH = "dgraph"
    # InfluxDB, on layer_2's monitoring network.
    INFLUXDB = "influxdb"


MINIO = {"minio-access.txt": Secret.SPACES_ACCESS_KEY, "minio-secret.txt": Secret.SPACES_SECRET_KEY}


@dataclass(frozen=True, kw_only=True)
class App:
    # Short name; the Swarm service is "<env>-<name>", config/applications.yaml keys by it.
    name: str
    # File name under /app/secret/ -> the value it holds.
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    # Where the image reads its one JSON config file.
    config_path: str = NODE_CONFIG
    # Port Traefik forwards to, and the host prefix it routes ("" for the bare host).
    # Default: not routed, reachable only on the environment's platform network.
    port: int | None = None
    route_prefix: str | None = None
    uses: frozenset[Uses] = frozenset({Uses.RABBITMQ})
    command: tuple[str, ...] | None = None
    # Non-secret environment; values derived per environment are added by the stack.
    env: Mapping[str, str] = field(default_factory=lambda: {"NODE_ENV": "production"})
    replicas: int = 1
    memory_limit_mib: int = 512
    cpu_limit: float = 0.5
    # The image's user: every image at the pinned commit runs as root.
    uid: str = "0"


# Replay parsing has run out of memory in production: explicit limits, and Celery workers
# that recycle before they grow past them (max memory per child is in KiB).
REPLAY_PARSE_MEMORY_MIB = 2048
REPLAY_PARSE_CONCURRENCY = 2

APPS: tuple[App, ...] = (
    App(
        name="web",
        config_path="/app/clients/web/config/production.json",
        port=3000,
        route_prefix="",
        uses=frozenset(),
        # node-config reads <NODE_CONFIG_DIR>/<NODE_ENV>.json over default.json; the
        # working directory is /app, so the directory must be named
        # (clients/web/src/lib/utils/config.ts:10, config@3.3.12 lib/config.js:573).
        env={"NODE_ENV": "production", "NODE_CONFIG_DIR": "/app/clients/web/config"},
        memory_limit_mib=768,
    ),
    App(
        name="api",
        secrets={
            "db-password.txt": Secret.DB_PASSWORD,
            "jwtSecret.txt": Secret.JWT_SECRET,
            **MINIO,
            "googleClientId.txt": Secret.GOOGLE_CLIENT_ID,
            "googleSecret.txt": Secret.GOOGLE_SECRET,
            "discord-client.txt": Secret.DISCORD_CLIENT_ID,
            "discord-secret.txt": Secret.DISCORD_SECRET,
            "redis-password.txt": Secret.REDIS_PASSWORD,
        },
        port=3001,
        route_prefix="api",
        uses=frozenset({Uses.RABBITMQ, Uses.REDIS, Uses.POSTGRES}),
        command=("node", "/app/core/dist/main.js"),
        memory_limit_mib=1024,
        cpu_limit=1.0,
    ),
    App(name="discord-bot", secrets={"bot-token.txt": Secret.BOT_TOKEN, **MINIO}),
    App(
        name="image-generation-frontend",
        secrets={**MINIO, "db-secret.txt": Secret.DB_PASSWORD},
        # Read from the working directory at first request (src/config.ts:42).
        config_path="/app/src/config.json",
        port=3000,
        route_prefix="image-generation",
        uses=frozenset({Uses.RABBITMQ, Uses.POSTGRES}),
    ),
    App(name="image-generation-service", secrets=dict(MINIO), memory_limit_mib=1024),
    App(
        name="notification",
        secrets={"redis-password.txt": Secret.REDIS_PASSWORD},
        uses=frozenset({Uses.RABBITMQ, Uses.REDIS}),
    ),
    App(
        name="analytics",
        secrets={"influx-token": Secret.INFLUX_TOKEN},
        uses=frozenset({Uses.RABBITMQ, Uses.INFLUXDB}),
    ),
    App(
        name="matchmaking",
        secrets={"redis-password.txt": Secret.REDIS_PASSWORD},
        uses=frozenset({Uses.RABBITMQ, Uses.REDIS}),
    ),
    App(
        name="replay-parse",
        secrets={**MINIO, "ballchasing-token": Secret.BALLCHASING_TOKEN},
        uses=frozenset({Uses.RABBITMQ, Uses.REDIS}),
        env={
            # Selects /app/config/<ENV>.json (src/config.py:32); unset, it opens development.json.
            "ENV": "production",
            "CELERY_WORKER_CONCURRENCY": str(REPLAY_PARSE_CONCURRENCY),
            "CELERY_WORKER_MAX_TASKS_PER_CHILD": "50",
            # Each child recycles past this many KiB, so all of them fit under the limit.
            "CELERY_WORKER_MAX_MEMORY_PER_CHILD": str(
                REPLAY_PARSE_MEMORY_MIB * 1024 * 3 // 4 // REPLAY_PARSE_CONCURRENCY
            ),
        },
        memory_limit_mib=REPLAY_PARSE_MEMORY_MIB,
        cpu_limit=1.5,
    ),
    App(
        name="elo",
        secrets={
            "redis-password.txt": Secret.REDIS_PASSWORD,
            "dgraph-api-key.txt": Secret.DGRAPH_API_KEY,
        },
        uses=frozenset({Uses.RABBITMQ, Uses.REDIS, Uses.DGRAPH}),
    ),
    App(
        name="submission",
        secrets={**MINIO, "redis-password.txt": Secret.REDIS_PASSWORD},
        uses=frozenset({Uses.RABBITMQ, Uses.REDIS}),
    ),
)
APPS_BY_NAME = {app.name: app for app in APPS}
# Images of config/applications.yaml that are not one App each: the legacy platform's.
LEGACY_IMAGES = ("legacy-bot", "legacy-worker")
