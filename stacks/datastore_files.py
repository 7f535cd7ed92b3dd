"""Configuration files of each environment's Redis and RabbitMQ, rendered by pure functions.

Used by ``stacks/platform_datastores.py`` (an environment's Redis and RabbitMQ) and
``stacks/legacy.py`` (the legacy platform's Redis). Nothing here holds a secret: the
Redis password is ``include``d from its secret file, and RabbitMQ's passwords are
Terraform expressions the caller passes in.

    conf = redis_conf(maxmemory_mib=288, auth_include="/run/secrets/redis-auth.conf")
    definitions = rabbitmq_definitions(
        [RabbitUser(name="sprocket-main", password=password.value, vhosts=["main"])], ["main"])
    SwarmSecret(self, "definitions", SwarmSecretProps(
        name="main-rabbitmq-definitions", value=json_value(definitions), version_marker=...))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

REDIS_PORT = 6379
RABBITMQ_PORT = 5672
RABBITMQ_MANAGEMENT_PORT = 15672


def redis_conf(*, maxmemory_mib: int, auth_include: str) -> str:
    """redis.conf with RDB snapshots and the append-only file; the password comes last,
    from an included secret file, since Redis keeps the last value of a directive."""
    return "\n".join(
        [
            "bind 0.0.0.0",
            "protected-mode yes",
            f"port {REDIS_PORT}",
            "dir /data",
            "# RDB: snapshot after 1 change in 15 min, 10 in 5 min, 10000 in 1 min.",
            "save 900 1 300 10 60 10000",
            "appendonly yes",
            "appendfsync everysec",
            f"maxmemory {maxmemory_mib}mb",
            # Queues and matchmaking state live here too: refuse writes rather than evict.
            "maxmemory-policy noeviction",
            f"include {auth_include}",
            "",
        ]
    )


def rabbitmq_conf(*, definitions_path: str, memory_limit_mib: int) -> str:
    """rabbitmq.conf additions: users, vhosts and permissions come from the definitions file
    (so no default or guest user is ever created).

    The applications declare non-durable, non-exclusive queues (SprocketBot/sprocket
    common/src/events/rmq.service.ts:71, and Celery 5.5's worker control queue), which
    RabbitMQ 4.3 refuses by default ("Deprecated Features are Now Disabled by Default",
    release-notes/4.3.0.md:23-45): they are permitted here until the applications change.
    The memory alarm is set below the container's limit, which RabbitMQ does not read."""
    return "\n".join(
        [
            f"load_definitions = {definitions_path}",
            "loopback_users.guest = true",
            f"listeners.tcp.default = {RABBITMQ_PORT}",
            f"management.tcp.port = {RABBITMQ_MANAGEMENT_PORT}",
            "deprecated_features.permit.transient_nonexcl_queues = true",
            f"vm_memory_high_watermark.absolute = {memory_limit_mib * 1024 * 1024 * 6 // 10}",
            "",
        ]
    )


@dataclass(frozen=True, kw_only=True)
class RabbitUser:
    name: str
    # A Terraform expression of the generated password.
    password: str
    # Virtual hosts this user may use (configure, write, read on everything in them).
    vhosts: Sequence[str]
    # Default: no management tags; the user can only use its virtual hosts.
    administrator: bool = False


def rabbitmq_definitions(users: Sequence[RabbitUser], vhosts: Sequence[str]) -> dict:
    """RabbitMQ definitions (to be written as JSON); RabbitMQ hashes the passwords on import."""
    return {
        "users": [
            {
                "name": u.name,
                "password": u.password,
                "tags": ["administrator"] if u.administrator else [],
            }
            for u in users
        ],
        "vhosts": [{"name": v} for v in sorted(vhosts)],
        "permissions": [
            {"user": u.name, "vhost": v, "configure": ".*", "write": ".*", "read": ".*"}
            for u in users
            for v in sorted(u.vhosts)
        ],
    }
