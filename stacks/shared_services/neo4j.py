"""Neo4j (community edition), the graph the platform applications share.

Creates the ``neo4j`` service on the platform network, nothing published or routed; the
password of its ``neo4j`` user generated into Vault (``infrastructure/neo4j``) and handed
to it as ``NEO4J_AUTH_FILE``. Its graph lives in the node-local volume ``neo4j-data``,
which removing the service leaves behind (``docker volume rm`` deletes the data).

    neo4j = Neo4j(self, "neo4j", Neo4jProps(
        image=images.neo4j, network=platform.ref, vault_mount=vault.infrastructure_mount))
    neo4j.endpoint.bolt_url  # "bolt://neo4j:7687"
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_secret import generated_value_secret, text_value
from constructs_lib.swarm_service import (
    Healthcheck,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.shared_services.common import SECRETS, generated_secret

HTTP_PORT = 7474
BOLT_PORT = 7687
# The neo4j image's user and group; the auth file must be theirs.
UID = GID = "7474"


@dataclass(frozen=True, kw_only=True)
class Neo4jEndpoint:
    """Where Neo4j answers on the platform network."""

    bolt_url: str


@dataclass(frozen=True, kw_only=True)
class Neo4jProps:
    image: str
    # The network the platform applications reach it on (platform-network).
    network: NetworkRef
    # The KV mount the generated password is written to.
    vault_mount: str


class Neo4j(Construct):
    def __init__(self, scope: Construct, id: str, props: Neo4jProps) -> None:
        super().__init__(scope, id)
        password = generated_secret(self, "password", mount=props.vault_mount, path="neo4j")
        # NEO4J_AUTH's format: "<user>/<password>".
        auth = generated_value_secret(
            self, "auth_secret", name="neo4j-auth", value=text_value("neo4j/%s", password.value)
        )
        self.endpoint = Neo4jEndpoint(bolt_url=f"bolt://neo4j:{BOLT_PORT}")
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="neo4j",
                image=props.image,
                networks=[props.network],
                env={
                    "NEO4J_AUTH_FILE": f"{SECRETS}/neo4j-auth",
                    "NEO4J_server_memory_heap_initial__size": "512m",
                    "NEO4J_server_memory_heap_max__size": "512m",
                    "NEO4J_server_memory_pagecache_size": "256m",
                },
                secret_files=[auth.file(f"{SECRETS}/neo4j-auth", uid=UID, gid=GID)],
                volumes=[VolumeMount(name="data", target="/data")],
                memory_limit_mib=1280,
                # The JVM takes its whole heap (initial = max) and the page cache at start.
                memory_reservation_mib=768,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD-SHELL",
                        f"wget -q -O /dev/null http://127.0.0.1:{HTTP_PORT} || exit 1",
                    ),
                    start_period_s=60,
                ),
            ),
        )
