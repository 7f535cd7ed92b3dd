"""Each application's config file and derived environment, rendered by pure functions.

``render_config(app, context)`` returns the JSON document ``app`` reads; ``render_env`` the
environment variables the stack derives for it. Values may be Terraform expressions
(passwords inside the broker URL): the stack writes such a document as a Swarm secret.
The keys follow the applications' own code; ``contracts/<app>.yaml`` lists each with the
file and line that reads it, and ``contract.check`` holds a rendering against it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stacks.contracts import EnvironmentNames

INFLUX_ORG = "sprocket"
SPACES_PORT = 443


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    """Where one environment's dependencies answer: plain values or Terraform expressions."""

    web_host: str
    api_host: str
    # amqp://<user>:<password>@<host>:<port>/<vhost>?heartbeat=60, an expression.
    rabbitmq_url: str
    redis_host: str
    redis_port: int
    # redis://:<password>@<host>:<port>, an expression: Celery's result backend, which the
    # replay parser reads from its config file only (src/celeryconfig.py:10).
    celery_backend_url: str
    postgres_host: str
    postgres_port: int
    influx_url: str
    # The S3 endpoint host (DigitalOcean Spaces), reached over TLS on 443.
    spaces_host: str
    # DGraph alpha's gRPC address, host:port.
    dgraph_address: str


@dataclass(frozen=True, kw_only=True)
class AppContext:
    names: EnvironmentNames
    endpoints: Endpoints
    # config/applications.yaml: the application's fixed settings, merged over the render.
    settings: Mapping[str, Any] = field(default_factory=dict)
    events_key: str
    log_levels: Sequence[str] = ("error", "warn", "log")
    # (url, website token) of the Chatwoot widget, or None for none.
    chatwoot: tuple[str, str] | None = None


class SettingConflict(ValueError):
    """A setting names a key the environment derives."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _transport(ctx: AppContext) -> dict:
    return {
        "url": ctx.endpoints.rabbitmq_url,
        **ctx.names.queues,
        "events_application_key": ctx.events_key,
    }


def _minio(ctx: AppContext) -> dict:
    buckets = ctx.names.buckets
    return {
        "endPoint": ctx.endpoints.spaces_host,
        "port": SPACES_PORT,
        "useSSL": True,
        "bucketNames": {
            "replays": buckets["replays"],
            "image_generation": buckets["image_generation"],
        },
    }


def _redis(ctx: AppContext) -> dict:
    return {
        "host": ctx.endpoints.redis_host,
        "port": ctx.endpoints.redis_port,
        "prefix": ctx.names.redis_prefix,
        "secure": False,
    }


def _node(ctx: AppContext, **blocks: Any) -> dict:
    """What every application built on SprocketBot's common library reads at start:
    the transport block (common/src/global.module.ts:7-106) and logger levels."""
    return {"transport": _transport(ctx), "logger": {"levels": list(ctx.log_levels)}, **blocks}


def _api(ctx: AppContext) -> dict:
    web = f"https://{ctx.endpoints.web_host}"
    api = f"https://{ctx.endpoints.api_host}"
    return _node(
        ctx,
        minio=_minio(ctx),
        redis=_redis(ctx),
        # The GraphQL cache reads cache.* and throws before its redis.* fallback
        # (common/src/util/config.ts:49-60).
        cache={
            "host": ctx.endpoints.redis_host,
            "port": ctx.endpoints.redis_port,
            "secure": False,
        },
        db={
            "host": ctx.endpoints.postgres_host,
            "port": ctx.endpoints.postgres_port,
            "username": ctx.names.database_user,
            "database": ctx.names.database,
        },
        web={"url": web, "api_root": api},
        auth={
            "google": {"callbackUrl": f"{api}/authentication/google/login"},
            "discord": {"callbackUrl": f"{api}/login"},
            "frontend_callback": f"{web}/auth/callback",
        },
    )


def _web(ctx: AppContext) -> dict:
    url, token = ctx.chatwoot or ("", "")
    return {
        "client": {
            # host[:port] only: the client adds the scheme and /graphql
            # (clients/web/src/lib/api/client.ts:27-39).
            "gqlUrl": ctx.endpoints.api_host,
            "secure": True,
            "chatwoot": {"enabled": ctx.chatwoot is not None, "url": url, "websiteToken": token},
        },
        "server": {},
        "stack": ctx.names.env,
    }


def _image_generation_frontend(ctx: AppContext) -> dict:
    return {
        "minio": {
            "endpoint": ctx.endpoints.spaces_host,
            "port": SPACES_PORT,
            "ssl": True,
            "bucket": ctx.names.buckets["image_generation"],
        },
        "knex": {
            "host": ctx.endpoints.postgres_host,
            "port": ctx.endpoints.postgres_port,
            "user": ctx.names.database_user,
            "database": ctx.names.database,
        },
        "transport": {
            "url": ctx.endpoints.rabbitmq_url,
            "image_generation_queue": ctx.names.queues["image_generation_queue"],
        },
    }


def _replay_parse(ctx: AppContext) -> dict:
    e = ctx.endpoints
    queue = ctx.names.queues["celery-queue"]
    return {
        "celery": {
            "broker": e.rabbitmq_url,
            "backend": e.celery_backend_url,
            "queue": queue,
        },
        "transport": {
            "url": e.rabbitmq_url,
            "celery-queue": queue,
            "analytics_queue": ctx.names.queues["analytics_queue"],
        },
        # The client takes host[:port] and ignores minio.port (src/config.py:90-92).
        "minio": {
            "hostname": e.spaces_host,
            "bucket": ctx.names.buckets["replays"],
            "secure": True,
        },
    }


RENDERERS: dict[str, Callable[[AppContext], dict]] = {
    "web": _web,
    "api": _api,
    "discord-bot": lambda ctx: _node(ctx, bot={"prefix": ctx.names.bot_prefix}, minio=_minio(ctx)),
    "image-generation-frontend": _image_generation_frontend,
    "image-generation-service": lambda ctx: _node(ctx, minio=_minio(ctx)),
    "notification": lambda ctx: _node(
        ctx,
        web={"url": f"https://{ctx.endpoints.web_host}"},
        minio=_minio(ctx),
        redis=_redis(ctx),
    ),
    "analytics": lambda ctx: _node(
        ctx,
        influx={
            "address": ctx.endpoints.influx_url,
            "org": INFLUX_ORG,
            "bucket": ctx.names.influx_bucket,
        },
    ),
    "matchmaking": lambda ctx: _node(ctx, redis=_redis(ctx)),
    "replay-parse": _replay_parse,
    # Elo is configured by its environment (render_env); its config file stays empty.
    "elo": lambda ctx: {},
    "submission": lambda ctx: _node(ctx, minio=_minio(ctx), redis=_redis(ctx)),
}


def _merge(derived: dict, settings: Mapping[str, Any], path: str = "") -> dict:
    merged = copy.copy(derived)
    for key, value in settings.items():
        where = f"{path}{key}"
        if key in derived:
            if isinstance(derived[key], dict) and isinstance(value, Mapping):
                merged[key] = _merge(derived[key], value, f"{where}.")
                continue
            raise SettingConflict(where)
        merged[key] = copy.deepcopy(value)
    return merged


def render_config(app: str, ctx: AppContext) -> dict:
    """The config document ``app`` reads. Raises ``SettingConflict`` when a setting names a
    key the environment derives (the derived value is the one that must hold)."""
    return _merge(RENDERERS[app](ctx), ctx.settings)


def render_env(app: str, ctx: AppContext) -> dict[str, str]:
    """Environment variables derived per environment (beyond the catalog's fixed ones)."""
    if app != "elo":
        return {}
    # The elo image's source is not public: these are what the running infrastructure gave it
    # (sprocket-infra platform/src/Platform.ts:355-357, microservices/EloService.ts:34).
    return {
        "REDIS_HOST": ctx.endpoints.redis_host,
        "REDIS_PORT": str(ctx.endpoints.redis_port),
        "REDIS_PREFIX": ctx.names.redis_prefix,
        "DGRAPH_DATABASE_URL": ctx.endpoints.dgraph_address,
    }
