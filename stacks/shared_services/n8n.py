"""n8n, the workflow automation behind ``n8n.<hostname>``.

Creates the ``n8n`` service on the ingress network, routed at ``n8n.<hostname>``, with
its webhooks served there too; its encryption key generated into Vault
(``infrastructure/n8n/encryption``: losing it makes every stored credential unreadable);
its own database and login ``n8n`` on the managed PostgreSQL cluster (credentials in
``infrastructure/postgres/n8n``). Workflows live in the database; the node-local volume
``n8n-data`` (``/home/node/.n8n``) outlives the service.

    N8n(self, "n8n", N8nProps(
        image=images.n8n, host=cluster.host("n8n"), ingress=layer_1.ingress_network,
        vault_mount=vault.infrastructure_mount, postgres=cluster.postgres))
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_secret import generated_value_secret
from constructs_lib.swarm_service import (
    Healthcheck,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.config import PostgresConfig
from stacks.shared_services.common import (
    SECRETS,
    ServiceDatabase,
    ServiceDatabaseProps,
    admin_route,
    generated_secret,
)

PORT = 5678
# The n8nio/n8n image's "node" user; its secret files must be its own.
UID = "1000"


@dataclass(frozen=True, kw_only=True)
class N8nProps:
    image: str
    # Public host name of the editor and the webhooks, routed through Traefik.
    host: str
    ingress: NetworkRef
    # The KV mount generated credentials are written to.
    vault_mount: str
    postgres: PostgresConfig


class N8n(Construct):
    def __init__(self, scope: Construct, id: str, props: N8nProps) -> None:
        super().__init__(scope, id)
        key = generated_secret(
            self, "encryption_key", mount=props.vault_mount, path="n8n/encryption", key="key"
        )
        key_file = generated_value_secret(
            self, "encryption_key_secret", name="n8n-encryption-key", value=key.value
        )
        database = ServiceDatabase(
            self,
            "database",
            ServiceDatabaseProps(
                postgres=props.postgres, name="n8n", vault_mount=props.vault_mount
            ),
        )
        route = admin_route(self, name="n8n", host=props.host, port=PORT, ingress=props.ingress)
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="n8n",
                image=props.image,
                networks=[props.ingress],
                env={
                    "N8N_HOST": props.host,
                    "N8N_PORT": str(PORT),
                    "N8N_PROTOCOL": "https",
                    "WEBHOOK_URL": f"https://{props.host}/",
                    "N8N_ENCRYPTION_KEY_FILE": f"{SECRETS}/n8n-encryption-key",
                    "N8N_DIAGNOSTICS_ENABLED": "false",
                    "DB_TYPE": "postgresdb",
                    "DB_POSTGRESDB_HOST": database.host,
                    "DB_POSTGRESDB_PORT": str(database.port),
                    "DB_POSTGRESDB_DATABASE": database.name,
                    "DB_POSTGRESDB_USER": database.name,
                    "DB_POSTGRESDB_PASSWORD_FILE": f"{SECRETS}/n8n-db-password",
                    "DB_POSTGRESDB_SSL_ENABLED": "true",
                },
                secret_files=[
                    key_file.file(f"{SECRETS}/n8n-encryption-key", uid=UID),
                    database.password.file(f"{SECRETS}/n8n-db-password", uid=UID),
                ],
                volumes=[VolumeMount(name="data", target="/home/node/.n8n")],
                routes=[route],
                memory_limit_mib=1024,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD",
                        "node",
                        "-e",
                        f"fetch('http://127.0.0.1:{PORT}/healthz')"
                        ".then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
                    ),
                ),
            ),
        )
