"""layer_2: Vault's configuration and the shared data services.

Contract
- Inputs: ``InfraConfig`` and ``Layer1Outputs`` (the ingress network, Vault's address).
  At deploy time: ``VAULT_TOKEN`` of an administrator, and the sensitive variable
  ``gatus_discord_webhook_url``.
- Creates: Vault's mounts, policies, GitHub login, audit device and token roles
  (``stacks/vault_configuration.py``). Networks ``platform-network``,
  ``monitoring-network``, ``chatwoot-network``, ``metrics-socket``. InfluxDB, Grafana,
  n8n, Neo4j, Gatus, Loki and Telegraf (with its own read-only socket proxy), one
  construct each in ``stacks/shared_services/``. Databases and users for Grafana and n8n
  on the managed PostgreSQL cluster. Every generated credential is written to
  ``infrastructure/...`` in Vault.
- Outputs (``Layer2Outputs``): the monitoring network analytics joins, and, at synth time
  only, each environment's ``VaultGrants`` (its platform stack grants itself what it uses;
  ``grant_platform_policies`` then writes the policies). No token: platform stacks are
  deployed with a token minted from their own role. Redis and RabbitMQ are each
  environment's own, in its platform stack.

    layer_2 = Layer2Stack(app, "layer_2", config, cluster.outputs, layer_1.outputs)
    PlatformStack(app, "platform-main", config, environment, cluster.outputs, layer_1.outputs,
                  layer_2.outputs)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from constructs import Construct

from constructs_lib.overlay_network import OverlayNetwork, OverlayNetworkProps
from constructs_lib.providers import use_vault
from constructs_lib.registry_image import stack_images
from constructs_lib.stack_output import export
from constructs_lib.swarm_secret import generated_value_secret
from constructs_lib.traefik_config import TraefikSettings
from constructs_lib.vault_config import spaces_endpoint
from stacks.base import SprocketStack, backup_service_name
from stacks.cluster import ClusterOutputs, check_postgres
from stacks.config import InfraConfig
from stacks.contracts import EnvironmentNames, Layer1Outputs, Layer2Outputs
from stacks.shared_services.gatus import Gatus, GatusProps, Probe
from stacks.shared_services.grafana import Grafana, GrafanaProps
from stacks.shared_services.influxdb import InfluxDb, InfluxDbEndpoint, InfluxDbProps
from stacks.shared_services.log_shipper import LogShipper, LogShipperProps
from stacks.shared_services.loki import Loki, LokiEndpoint, LokiProps
from stacks.shared_services.n8n import N8n, N8nProps
from stacks.shared_services.neo4j import BOLT_PORT as NEO4J_BOLT_PORT
from stacks.shared_services.neo4j import Neo4j, Neo4jProps
from stacks.shared_services.telegraf import Telegraf, TelegrafProps
from stacks.vault_configuration import VaultConfiguration, VaultConfigurationProps

PLATFORM_NETWORK = "platform-network"
MONITORING_NETWORK = "monitoring-network"
CHATWOOT_NETWORK = "chatwoot-network"
METRICS_SOCKET_NETWORK = "metrics-socket"


class Layer2Stack(SprocketStack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        config: InfraConfig,
        cluster_outputs: ClusterOutputs,
        layer_1: Layer1Outputs,
    ) -> None:
        super().__init__(scope, id, config.cluster, random=True)
        cluster, images = config.cluster, stack_images(self, config.images)
        # Grafana, n8n and Gatus are synthesized with postgres.host and port.
        check_postgres(self, cluster, cluster_outputs)
        use_vault(self, layer_1.vault_address)

        # "Default" keeps Vault's resources at the addresses they had at stack scope
        # (vault_token.platform_token_main, ...): the README's token rotation names them, and
        # platform stacks read the tokens through outputs named after them.
        vault = VaultConfiguration(
            self, "Default", VaultConfigurationProps(environments=sorted(config.environments))
        )
        mount = vault.infrastructure_mount

        # --- Networks -----------------------------------------------------------------
        platform_net = OverlayNetwork(
            self, "platform_network", OverlayNetworkProps(name=PLATFORM_NETWORK)
        ).ref
        monitoring_net = OverlayNetwork(
            self, "monitoring_network", OverlayNetworkProps(name=MONITORING_NETWORK)
        ).ref
        # Chatwoot (not deployed by these stacks) gets its own network, as the architecture has it.
        OverlayNetwork(
            self, "chatwoot_network", OverlayNetworkProps(name=CHATWOOT_NETWORK, internal=True)
        )
        metrics_socket_net = OverlayNetwork(
            self,
            "metrics_socket_network",
            OverlayNetworkProps(name=METRICS_SOCKET_NETWORK, internal=True),
        ).ref
        ingress = layer_1.ingress_network

        # --- Data services ------------------------------------------------------------
        # Redis and RabbitMQ are each environment's own (stacks/platform_datastores.py): the
        # applications' queues, caches and matchmaking state never share a server.
        influxdb = InfluxDb(
            self,
            "influxdb",
            InfluxDbProps(
                image=images.influxdb,
                network=monitoring_net,
                vault_mount=mount,
                environments=sorted(config.environments),
                vault_network=layer_1.vault_network,
                vault_address=layer_1.vault_internal_address,
                vault_token=generated_value_secret(
                    self,
                    "influxdb_vault_token",
                    name="influxdb-vault-token",
                    value=vault.influxdb_vault_token,
                ),
            ),
        ).endpoint
        loki = Loki(self, "loki", LokiProps(image=images.loki, network=monitoring_net)).endpoint
        LogShipper(
            self,
            "log_shipper",
            LogShipperProps(image=images.telegraf, monitoring=monitoring_net, loki=loki),
        )
        Grafana(
            self,
            "grafana",
            GrafanaProps(
                image=images.grafana,
                host=cluster.host("grafana"),
                ingress=ingress,
                monitoring=monitoring_net,
                vault_mount=mount,
                postgres=cluster.postgres,
                influxdb=influxdb,
                loki=loki,
                alerts=cluster.alerts,
                environment_buckets={
                    env: EnvironmentNames(env).influx_bucket for env in config.environments
                },
                backups=backup_services(config),
            ),
        )
        N8n(
            self,
            "n8n",
            N8nProps(
                image=images.n8n,
                host=cluster.host("n8n"),
                ingress=ingress,
                vault_mount=mount,
                postgres=cluster.postgres,
            ),
        )
        # Nothing reads Neo4j at SprocketBot/sprocket 46d2b40; it stays for the architecture.
        Neo4j(
            self, "neo4j", Neo4jProps(image=images.neo4j, network=platform_net, vault_mount=mount)
        )
        probes = gatus_probes(config, loki=loki, influxdb=influxdb)
        Telegraf(
            self,
            "telegraf",
            TelegrafProps(
                image=images.telegraf,
                socket_proxy_image=images.socket_proxy,
                monitoring=monitoring_net,
                socket_network=metrics_socket_net,
                influxdb=influxdb,
                traefik_metrics_url=f"http://traefik:{TraefikSettings.metrics_port}/metrics",
                traefik_metrics=layer_1.traefik_metrics_network,
                public_hosts=sorted(
                    {urlsplit(p.url).hostname for p in probes if p.url.startswith("https://")}
                ),
            ),
        )
        Gatus(
            self,
            "gatus",
            GatusProps(
                image=images.gatus,
                host=cluster.host("gatus"),
                ingress=ingress,
                monitoring=monitoring_net,
                datastores=[platform_net],
                probes=probes,
            ),
        )

        self.back_up_volumes(cluster, images.restic)

        # --- Outputs ------------------------------------------------------------------
        minio_url = spaces_endpoint(cluster.spaces_region)
        export(self, "PostgresHostname", cluster.postgres.host, "Managed PostgreSQL host")
        export(self, "PostgresPort", str(cluster.postgres.port), "Managed PostgreSQL port")
        export(self, "MonitoringNetworkId", monitoring_net.id, "monitoring-network id")
        export(self, "PlatformNetworkId", platform_net.id, "platform-network id")
        export(self, "MinioUrl", minio_url, "S3 endpoint (DigitalOcean Spaces)")
        self.vault = vault
        self.outputs = Layer2Outputs(
            platform_vault_grants=vault.platform_grants,
            monitoring_network=monitoring_net,
        )


def backup_services(config: InfraConfig) -> list[str]:
    """The backup service of every stack that has volumes (SprocketStack.back_up_volumes):
    layer_1 (Vault's init material), layer_2, and each environment (its datastores)."""
    stacks = ["layer_1", "layer_2", *(f"platform-{env}" for env in sorted(config.environments))]
    return [backup_service_name(stack) for stack in stacks]


# A public certificate fails its probe this long before it expires (Traefik renews at 30 days;
# [CERTIFICATE_EXPIRATION], TwiN/gatus v5.36.0 config/endpoint/placeholder.go:47).
CERTIFICATE_MARGIN = "[CERTIFICATE_EXPIRATION] > 240h"
# The outside APIs the applications call: Discord (the bot, logins) and Ballchasing (replay
# parsing, SprocketBot/sprocket@46d2b40 microservices/replay-parse-service/src/parser.py:514-530).
# Without a key Ballchasing answers 401: it is up if it answers below 500.
EXTERNAL_APIS = (
    Probe(
        name="discord-api",
        group="external",
        url="https://discord.com/api/v10/gateway",
        conditions=("[STATUS] == 200",),
    ),
    Probe(
        name="ballchasing-api",
        group="external",
        url="https://ballchasing.com/api/",
        conditions=("[STATUS] < 500",),
    ),
)


def gatus_probes(
    config: InfraConfig, *, loki: LokiEndpoint, influxdb: InfluxDbEndpoint
) -> list[Probe]:
    """Every public endpoint (with its certificate), the internal datastores Gatus's networks
    reach (InfluxDB and Loki on monitoring-network, Neo4j on platform-network), the database
    port, and the external APIs the applications depend on.

    Each environment's own Redis, RabbitMQ and DGraph are on networks its platform stack
    creates after layer_2; Gatus would have to join every environment's network to reach them,
    so they are watched by their healthchecks and the "below its replicas" alert instead."""
    cluster = config.cluster
    probes = [
        Probe(
            name="vault",
            group="layer_1",
            url=f"https://{cluster.host('vault')}/v1/sys/health",
        ),
        Probe(
            name="traefik-dashboard",
            group="layer_1",
            url=f"https://{cluster.host('traefik')}/dashboard/",
            conditions=("[STATUS] == 401",),
        ),
        Probe(name="grafana", group="layer_2", url=f"https://{cluster.host('grafana')}/api/health"),
        Probe(name="n8n", group="layer_2", url=f"https://{cluster.host('n8n')}/healthz"),
        Probe(name="loki", group="layer_2", url=f"{loki.url}/ready"),
        Probe(
            name="neo4j",
            group="layer_2",
            url=f"tcp://neo4j:{NEO4J_BOLT_PORT}",
            conditions=("[CONNECTED] == true",),
        ),
        Probe(
            name="influxdb",
            group="layer_2",
            url=f"{influxdb.url}/health",
            conditions=("[STATUS] == 200", "[BODY].status == pass"),
        ),
        Probe(
            name="postgres",
            group="layer_2",
            url=f"tcp://{cluster.postgres.host}:{cluster.postgres.port}",
            conditions=("[CONNECTED] == true",),
        ),
    ]
    for name, env in sorted(config.environments.items()):
        probes += [
            Probe(
                name=f"{name}-web", group=f"platform-{name}", url=f"https://{env.host(cluster)}/"
            ),
            Probe(
                name=f"{name}-api",
                group=f"platform-{name}",
                url=f"https://{env.host(cluster, 'api')}/graphql",
                conditions=("[STATUS] < 500",),
            ),
            Probe(
                name=f"{name}-image-generation",
                group=f"platform-{name}",
                url=f"https://{env.host(cluster, 'image-generation')}/",
                conditions=("[STATUS] < 500",),
            ),
        ]
    probes = [
        Probe(name=p.name, group=p.group, url=p.url, conditions=(*p.conditions, CERTIFICATE_MARGIN))
        if p.url.startswith("https://") and p.url.split("/")[2].endswith(cluster.hostname)
        else p
        for p in probes
    ]
    return [*probes, *EXTERNAL_APIS]
