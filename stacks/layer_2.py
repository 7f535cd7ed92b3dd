"""layer_2: Vault's configuration and the shared data services.

Contract
- Inputs: ``InfraConfig`` and ``Layer1Outputs`` (the ingress network, Vault's address).
  At deploy time: ``VAULT_TOKEN`` of an administrator, and the sensitive variable
  ``gatus_discord_webhook_url``.
- Creates: KV v2 mounts ``infrastructure`` and ``platform``; the team and service
  policies; GitHub login for SprocketBot's teams; a stdout audit device; the
  infrastructure and platform service tokens. Networks ``platform-network``,
  ``monitoring-network``, ``chatwoot-network``, ``metrics-socket``. InfluxDB, Grafana,
  n8n, Neo4j, Gatus, Loki and Telegraf (with its own read-only socket proxy). Databases
  and users for Grafana and n8n on the managed PostgreSQL cluster.
  Every generated credential is written to ``infrastructure/...`` in Vault.
- Outputs (``Layer2Outputs``): the service tokens (sensitive; one platform token per
  environment), the networks platform
  stacks join, and where Postgres, InfluxDB, Neo4j and Spaces answer. Redis and RabbitMQ
  are each environment's own, in its platform stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.docker_socket_proxy import DockerSocketProxy, DockerSocketProxyProps
from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabase, ManagedPostgresDatabaseProps
from constructs_lib.overlay_network import NetworkRef, OverlayNetwork, OverlayNetworkProps
from constructs_lib.providers import use_vault
from constructs_lib.sensitive_input import SensitiveInput, SensitiveInputProps
from constructs_lib.stack_output import export
from constructs_lib.swarm_secret import SwarmSecret, SwarmSecretProps, json_value, text_value
from constructs_lib.swarm_service import (
    BindMount,
    ConfigFile,
    Healthcheck,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps
from constructs_lib.vault_access import (
    VaultAuditLog,
    VaultGithubAuth,
    VaultGithubAuthProps,
    VaultServiceToken,
    VaultServiceTokenProps,
)
from constructs_lib.vault_config import spaces_endpoint
from constructs_lib.vault_kv import (
    VaultKvMount,
    VaultKvMountProps,
    VaultKvSecret,
    VaultKvSecretProps,
)
from constructs_lib.vault_policy import VaultPolicy, VaultPolicyProps
from stacks import data_services as files
from stacks.base import SprocketStack
from stacks.config import InfraConfig
from stacks.layer_1 import Layer1Outputs
from stacks.vault_policies import (
    ADMINS,
    GITHUB_TEAMS,
    INFRASTRUCTURE,
    INFRASTRUCTURE_SERVICE,
    MOUNTS,
    PLATFORM,
    platform_service,
    policies,
)

GITHUB_ORGANIZATION = "SprocketBot"
PLATFORM_NETWORK = "platform-network"
MONITORING_NETWORK = "monitoring-network"
CHATWOOT_NETWORK = "chatwoot-network"
METRICS_SOCKET_NETWORK = "metrics-socket"
SECRETS = "/run/secrets"
# Group that may read the secrets of images whose user id is not fixed (Telegraf).
SECRET_READER_GID = "2000"


@dataclass(frozen=True, kw_only=True)
class Layer2Outputs:
    """What platform stacks may read from layer_2."""

    infrastructure_vault_token: str
    # Environment -> the token that reads that environment's application secrets only.
    platform_vault_tokens: Mapping[str, str]
    platform_network: NetworkRef
    monitoring_network: NetworkRef
    postgres_host: str
    postgres_port: int
    # Spaces endpoint (the applications call it their S3/MinIO endpoint).
    minio_url: str
    influxdb_url: str
    neo4j_bolt_url: str


class Layer2Stack(SprocketStack):
    def __init__(
        self, scope: Construct, id: str, config: InfraConfig, layer_1: Layer1Outputs
    ) -> None:
        super().__init__(scope, id, config.cluster, random=True)
        cluster, images = config.cluster, config.images
        environments = sorted(config.environments)
        use_vault(self, layer_1.vault_address)

        # --- Vault: mounts, policies, logins, audit, service tokens --------------------
        infra_kv = VaultKvMount(
            self,
            "infrastructure_kv",
            VaultKvMountProps(path=INFRASTRUCTURE, description="Infrastructure secrets"),
        )
        VaultKvMount(
            self,
            "platform_kv",
            VaultKvMountProps(path=PLATFORM, description="Application secrets"),
        )
        vault_policies = {
            name: VaultPolicy(
                self,
                f"policy_{name.replace('-', '_')}",
                VaultPolicyProps(
                    name=name, rules=rules, mounts=MOUNTS, administrator=name == ADMINS
                ),
            )
            for name, rules in policies(environments).items()
        }
        VaultGithubAuth(
            self,
            "github_auth",
            VaultGithubAuthProps(organization=GITHUB_ORGANIZATION, teams=GITHUB_TEAMS),
        )
        VaultAuditLog(self, "audit_log")
        infrastructure_token = VaultServiceToken(
            self,
            "infrastructure_token",
            VaultServiceTokenProps(
                name="infrastructure", policies=[vault_policies[INFRASTRUCTURE_SERVICE].name]
            ),
        )
        platform_tokens = {
            env: VaultServiceToken(
                self,
                f"platform_token_{env}",
                VaultServiceTokenProps(
                    name=f"platform-{env}", policies=[vault_policies[platform_service(env)].name]
                ),
            ).client_token
            for env in environments
        }

        # --- Networks -----------------------------------------------------------------
        platform_net = OverlayNetwork(
            self, "platform_network", OverlayNetworkProps(name=PLATFORM_NETWORK)
        )
        monitoring_net = OverlayNetwork(
            self, "monitoring_network", OverlayNetworkProps(name=MONITORING_NETWORK)
        )
        # Chatwoot (not deployed by these stacks) gets its own network, as the architecture has it.
        OverlayNetwork(
            self, "chatwoot_network", OverlayNetworkProps(name=CHATWOOT_NETWORK, internal=True)
        )
        metrics_socket_net = OverlayNetwork(
            self,
            "metrics_socket_network",
            OverlayNetworkProps(name=METRICS_SOCKET_NETWORK, internal=True),
        )
        ingress = layer_1.ingress_network

        def generated(id_: str, path: str, key: str = "password") -> GeneratedSecret:
            return GeneratedSecret(
                self, id_, GeneratedSecretProps(mount=infra_kv.path, path=path, key=key)
            )

        def route(name: str, host: str, port: int) -> TraefikRoute:
            """A TLS route at ``host`` to the service's ``port``, through the ingress network."""
            return TraefikRoute(
                self,
                f"{name}_route",
                TraefikRouteProps(name=name, hosts=[host], port=port, network=ingress.name),
            )

        def secret(id_: str, name: str, value: str) -> SwarmSecret:
            # Generated values are long and random: hashing them for the name reveals nothing.
            return SwarmSecret(
                self, id_, SwarmSecretProps(name=name, value=value, version_marker=value)
            )

        # Redis and RabbitMQ are each environment's own (stacks/platform_datastores.py): the
        # applications' queues, caches and matchmaking state never share a server.

        # --- InfluxDB -----------------------------------------------------------------
        influx_password = generated("influxdb_admin_password", "influxdb/admin")
        influx_token = generated("influxdb_admin_token", "influxdb/token", key="token")
        influx_password_file = secret(
            "influxdb_password_secret", "influxdb-admin-password", influx_password.value
        )
        influx_token_file = secret(
            "influxdb_token_secret", "influxdb-admin-token", influx_token.value
        )
        # Host and container metrics belong to no environment: they get a bucket of their own,
        # so adding an environment never moves them.
        SwarmService(
            self,
            "influxdb",
            SwarmServiceProps(
                name="influxdb",
                image=images.influxdb,
                networks=[monitoring_net.ref],
                env={
                    "DOCKER_INFLUXDB_INIT_MODE": "setup",
                    "DOCKER_INFLUXDB_INIT_USERNAME": "admin",
                    "DOCKER_INFLUXDB_INIT_PASSWORD_FILE": f"{SECRETS}/influxdb-admin-password",
                    "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE": f"{SECRETS}/influxdb-admin-token",
                    "DOCKER_INFLUXDB_INIT_ORG": files.INFLUX_ORG,
                    "DOCKER_INFLUXDB_INIT_BUCKET": files.INFRASTRUCTURE_BUCKET,
                    "DOCKER_INFLUXDB_INIT_RETENTION": files.INFLUX_RETENTION,
                },
                secret_files=[
                    influx_password_file.file(f"{SECRETS}/influxdb-admin-password"),
                    influx_token_file.file(f"{SECRETS}/influxdb-admin-token"),
                ],
                volumes=[
                    VolumeMount(name="data", target="/var/lib/influxdb2"),
                    VolumeMount(name="config", target="/etc/influxdb2"),
                ],
                memory_limit_mib=1024,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(test=("CMD", "influx", "ping"), start_period_s=30),
            ),
        )

        # One bucket per environment, kept by a small loop next to InfluxDB (its own setup makes
        # only the first bucket, once), so adding an environment needs no manual step.
        SwarmService(
            self,
            "influxdb_buckets",
            SwarmServiceProps(
                name="influxdb-buckets",
                image=images.influxdb,
                command=["/bin/sh", "/usr/local/bin/influxdb-buckets"],
                networks=[monitoring_net.ref],
                env={"INFLUX_HOST": f"http://influxdb:{files.INFLUXDB_PORT}"},
                config_files=[
                    ConfigFile(
                        target="/usr/local/bin/influxdb-buckets",
                        content=files.influxdb_buckets_script(
                            environments, token_file=f"{SECRETS}/influxdb-admin-token"
                        ),
                        mode=0o555,
                    )
                ],
                secret_files=[influx_token_file.file(f"{SECRETS}/influxdb-admin-token")],
                memory_limit_mib=64,
                cpu_limit=0.1,
            ),
        )

        # --- Loki ---------------------------------------------------------------------
        SwarmService(
            self,
            "loki",
            SwarmServiceProps(
                name="loki",
                image=images.loki,
                args=["-config.file=/etc/loki/config.yaml"],
                networks=[monitoring_net.ref],
                config_files=[
                    ConfigFile(target="/etc/loki/config.yaml", content=files.loki_config())
                ],
                volumes=[VolumeMount(name="data", target="/loki")],
                memory_limit_mib=512,
                cpu_limit=0.5,
                update_order=UpdateOrder.STOP_FIRST,
                # The image has no shell or HTTP client for a healthcheck; Gatus probes /ready.
            ),
        )

        # --- Managed PostgreSQL: Grafana's and n8n's own databases and logins ---------
        databases = {}
        for name in ("grafana", "n8n"):
            database = ManagedPostgresDatabase(
                self,
                f"{name}_database",
                ManagedPostgresDatabaseProps(cluster_name=cluster.postgres.cluster_name, name=name),
            )
            VaultKvSecret(
                self,
                f"{name}_database_credentials",
                VaultKvSecretProps(
                    mount=infra_kv.path,
                    path=f"postgres/{name}",
                    data={"username": name, "password": database.password},
                ),
            )
            databases[name] = (
                database,
                secret(f"{name}_database_secret", f"{name}-db-password", database.password),
            )
        postgres_host = f"{cluster.postgres.host}:{cluster.postgres.port}"

        # --- Grafana ------------------------------------------------------------------
        grafana_admin = generated("grafana_admin_password", "grafana/admin")
        grafana_admin_file = secret(
            "grafana_admin_secret", "grafana-admin-password", grafana_admin.value
        )
        grafana_uid = "472"
        grafana_host = cluster.host("grafana")
        SwarmService(
            self,
            "grafana",
            SwarmServiceProps(
                name="grafana",
                image=images.grafana,
                networks=[monitoring_net.ref, ingress],
                env={
                    "GF_SERVER_ROOT_URL": f"https://{grafana_host}",
                    "GF_SECURITY_ADMIN_USER": "admin",
                    "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{SECRETS}/grafana-admin-password",
                    "GF_AUTH_ANONYMOUS_ENABLED": "false",
                    "GF_USERS_ALLOW_SIGN_UP": "false",
                    "GF_ANALYTICS_REPORTING_ENABLED": "false",
                    "GF_DATABASE_TYPE": "postgres",
                    "GF_DATABASE_HOST": postgres_host,
                    "GF_DATABASE_NAME": "grafana",
                    "GF_DATABASE_USER": "grafana",
                    "GF_DATABASE_PASSWORD__FILE": f"{SECRETS}/grafana-db-password",
                    "GF_DATABASE_SSL_MODE": "require",
                },
                config_files=[
                    ConfigFile(
                        target="/etc/grafana/provisioning/datasources/sprocket.yaml",
                        content=files.grafana_datasources(
                            influx_token_file=f"{SECRETS}/influxdb-token",
                            default_bucket=files.INFRASTRUCTURE_BUCKET,
                        ),
                    )
                ],
                secret_files=[
                    grafana_admin_file.file(f"{SECRETS}/grafana-admin-password", uid=grafana_uid),
                    databases["grafana"][1].file(f"{SECRETS}/grafana-db-password", uid=grafana_uid),
                    influx_token_file.file(f"{SECRETS}/influxdb-token", uid=grafana_uid),
                ],
                volumes=[VolumeMount(name="data", target="/var/lib/grafana")],
                routes=[route("grafana", grafana_host, files.GRAFANA_PORT)],
                memory_limit_mib=512,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD-SHELL",
                        f"wget -q -O /dev/null http://127.0.0.1:{files.GRAFANA_PORT}/api/health "
                        "|| exit 1",
                    ),
                ),
            ),
        )

        # --- n8n ----------------------------------------------------------------------
        n8n_key = generated("n8n_encryption_key", "n8n/encryption", key="key")
        n8n_key_file = secret("n8n_encryption_key_secret", "n8n-encryption-key", n8n_key.value)
        n8n_host = cluster.host("n8n")
        node_uid = "1000"
        SwarmService(
            self,
            "n8n",
            SwarmServiceProps(
                name="n8n",
                image=images.n8n,
                networks=[ingress],
                env={
                    "N8N_HOST": n8n_host,
                    "N8N_PORT": str(files.N8N_PORT),
                    "N8N_PROTOCOL": "https",
                    "WEBHOOK_URL": f"https://{n8n_host}/",
                    "N8N_ENCRYPTION_KEY_FILE": f"{SECRETS}/n8n-encryption-key",
                    "N8N_DIAGNOSTICS_ENABLED": "false",
                    "DB_TYPE": "postgresdb",
                    "DB_POSTGRESDB_HOST": cluster.postgres.host,
                    "DB_POSTGRESDB_PORT": str(cluster.postgres.port),
                    "DB_POSTGRESDB_DATABASE": "n8n",
                    "DB_POSTGRESDB_USER": "n8n",
                    "DB_POSTGRESDB_PASSWORD_FILE": f"{SECRETS}/n8n-db-password",
                    "DB_POSTGRESDB_SSL_ENABLED": "true",
                },
                secret_files=[
                    n8n_key_file.file(f"{SECRETS}/n8n-encryption-key", uid=node_uid),
                    databases["n8n"][1].file(f"{SECRETS}/n8n-db-password", uid=node_uid),
                ],
                volumes=[VolumeMount(name="data", target="/home/node/.n8n")],
                routes=[route("n8n", n8n_host, files.N8N_PORT)],
                memory_limit_mib=1024,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD",
                        "node",
                        "-e",
                        f"fetch('http://127.0.0.1:{files.N8N_PORT}/healthz')"
                        ".then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
                    ),
                ),
            ),
        )

        # --- Neo4j --------------------------------------------------------------------
        neo4j_password = generated("neo4j_password", "neo4j")
        neo4j_auth = secret(
            "neo4j_auth_secret", "neo4j-auth", text_value("neo4j/%s", neo4j_password.value)
        )
        SwarmService(
            self,
            "neo4j",
            SwarmServiceProps(
                name="neo4j",
                image=images.neo4j,
                networks=[platform_net.ref],
                env={
                    "NEO4J_AUTH_FILE": f"{SECRETS}/neo4j-auth",
                    "NEO4J_server_memory_heap_initial__size": "512m",
                    "NEO4J_server_memory_heap_max__size": "512m",
                    "NEO4J_server_memory_pagecache_size": "256m",
                },
                secret_files=[neo4j_auth.file(f"{SECRETS}/neo4j-auth", uid="7474", gid="7474")],
                volumes=[VolumeMount(name="data", target="/data")],
                memory_limit_mib=1280,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD-SHELL",
                        f"wget -q -O /dev/null http://127.0.0.1:{files.NEO4J_HTTP_PORT} || exit 1",
                    ),
                    start_period_s=60,
                ),
            ),
        )

        # --- Telegraf and its own read-only Docker API ---------------------------------
        metrics_proxy = DockerSocketProxy(
            self,
            "metrics_socket_proxy",
            DockerSocketProxyProps(
                name="metrics-socket-proxy",
                image=images.socket_proxy,
                network=metrics_socket_net.ref,
                # What Telegraf's docker input reads: containers (with stats), info, services.
                allow=frozenset({"CONTAINERS", "INFO", "SERVICES", "TASKS", "NODES"}),
            ),
        )
        # Telegraf's secret store wants names of letters, digits and '_'.
        telegraf_token = "influx_token"
        SwarmService(
            self,
            "telegraf",
            SwarmServiceProps(
                name="telegraf",
                image=images.telegraf,
                global_mode=True,
                networks=[monitoring_net.ref, metrics_socket_net.ref],
                env={"HOST_PROC": "/host/proc", "HOST_SYS": "/host/sys"},
                config_files=[
                    ConfigFile(
                        target="/etc/telegraf/telegraf.conf",
                        content=files.telegraf_conf(
                            docker_endpoint=metrics_proxy.endpoint,
                            token_secret=telegraf_token,
                            bucket=files.INFRASTRUCTURE_BUCKET,
                        ),
                    )
                ],
                secret_files=[
                    influx_token_file.file(
                        f"{SECRETS}/{telegraf_token}", mode=0o440, gid=SECRET_READER_GID
                    )
                ],
                # The image drops to a "telegraf" user whose id is not fixed; this group keeps
                # the token readable to it without making the file world-readable.
                groups=[SECRET_READER_GID],
                binds=[
                    BindMount(source="/proc", target="/host/proc"),
                    BindMount(source="/sys", target="/host/sys"),
                ],
                memory_limit_mib=128,
                cpu_limit=0.25,
            ),
        )

        # --- Gatus --------------------------------------------------------------------
        webhook = SensitiveInput(
            self,
            "gatus_discord_webhook_url",
            SensitiveInputProps(description="Discord webhook Gatus posts alerts to"),
        )
        gatus_alerting = SwarmSecret(
            self,
            "gatus_alerting_secret",
            SwarmSecretProps(
                name="gatus-alerting",
                value=json_value(files.gatus_alerting(webhook.value)),
                version_marker=webhook.value,
            ),
        )
        gatus_host = cluster.host("gatus")
        SwarmService(
            self,
            "gatus",
            SwarmServiceProps(
                name="gatus",
                image=images.gatus,
                networks=[ingress, monitoring_net.ref],
                # A directory: Gatus merges every YAML file in it.
                env={"GATUS_CONFIG_PATH": "/config"},
                config_files=[
                    ConfigFile(
                        target="/config/endpoints.yaml",
                        content=files.gatus_config(gatus_probes(config)),
                    )
                ],
                secret_files=[gatus_alerting.file("/config/alerting.yaml")],
                volumes=[VolumeMount(name="data", target="/data")],
                routes=[route("gatus", gatus_host, files.GATUS_PORT)],
                memory_limit_mib=128,
                cpu_limit=0.25,
                update_order=UpdateOrder.STOP_FIRST,
                # Built FROM scratch: nothing in the image can run a healthcheck.
            ),
        )

        # --- Outputs ------------------------------------------------------------------
        minio_url = spaces_endpoint(cluster.spaces_region)
        export(
            self,
            "InfrastructureVaultToken",
            infrastructure_token.client_token,
            "Vault token for reading infrastructure/ secrets",
            sensitive=True,
        )
        export(
            self,
            "PlatformVaultToken",
            platform_tokens,
            "Vault tokens for platform/ secrets, one per environment",
            sensitive=True,
        )
        export(self, "PostgresHostname", cluster.postgres.host, "Managed PostgreSQL host")
        export(self, "PostgresPort", str(cluster.postgres.port), "Managed PostgreSQL port")
        export(self, "MonitoringNetworkId", monitoring_net.ref.id, "monitoring-network id")
        export(self, "PlatformNetworkId", platform_net.ref.id, "platform-network id")
        export(self, "MinioUrl", minio_url, "S3 endpoint (DigitalOcean Spaces)")
        self.outputs = Layer2Outputs(
            infrastructure_vault_token=infrastructure_token.client_token,
            platform_vault_tokens=platform_tokens,
            platform_network=platform_net.ref,
            monitoring_network=monitoring_net.ref,
            postgres_host=cluster.postgres.host,
            postgres_port=cluster.postgres.port,
            minio_url=minio_url,
            influxdb_url=f"http://influxdb:{files.INFLUXDB_PORT}",
            neo4j_bolt_url=f"bolt://neo4j:{files.NEO4J_BOLT_PORT}",
        )


def gatus_probes(config: InfraConfig) -> list[files.Probe]:
    """Every public endpoint, the internal ones Gatus can see, and the database port."""
    cluster = config.cluster
    probes = [
        files.Probe(
            name="vault",
            group="layer_1",
            url=f"https://{cluster.host('vault')}/v1/sys/health",
        ),
        files.Probe(
            name="traefik-dashboard",
            group="layer_1",
            url=f"https://{cluster.host('traefik')}/dashboard/",
            conditions=("[STATUS] == 401",),
        ),
        files.Probe(
            name="grafana", group="layer_2", url=f"https://{cluster.host('grafana')}/api/health"
        ),
        files.Probe(name="n8n", group="layer_2", url=f"https://{cluster.host('n8n')}/healthz"),
        files.Probe(
            name="rabbitmq-management",
            group="layer_2",
            url=f"https://{cluster.host('rabbitmq')}/",
        ),
        files.Probe(name="loki", group="layer_2", url=f"http://loki:{files.LOKI_PORT}/ready"),
        files.Probe(
            name="postgres",
            group="layer_2",
            url=f"tcp://{cluster.postgres.host}:{cluster.postgres.port}",
            conditions=("[CONNECTED] == true",),
        ),
    ]
    for name, env in sorted(config.environments.items()):
        probes += [
            files.Probe(
                name=f"{name}-web", group=f"platform-{name}", url=f"https://{env.host(cluster)}/"
            ),
            files.Probe(
                name=f"{name}-api",
                group=f"platform-{name}",
                url=f"https://{env.host(cluster, 'api')}/graphql",
                conditions=("[STATUS] < 500",),
            ),
            files.Probe(
                name=f"{name}-image-generation",
                group=f"platform-{name}",
                url=f"https://{env.host(cluster, 'image-generation')}/",
                conditions=("[STATUS] < 500",),
            ),
        ]
    return probes
