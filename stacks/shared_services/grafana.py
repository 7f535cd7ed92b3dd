"""Grafana, with InfluxDB and Loki provisioned as its data sources.

Creates the ``grafana`` service on the monitoring and ingress networks, routed at
``grafana.<hostname>``; its ``admin`` password generated into Vault
(``infrastructure/grafana/admin``); its own database and login ``grafana`` on the managed
PostgreSQL cluster (credentials in ``infrastructure/postgres/grafana``). Anonymous access,
sign-up and usage reporting are off. Dashboards and users live in that database; the
node-local volume ``grafana-data`` (``/var/lib/grafana``) outlives the service.

    Grafana(self, "grafana", GrafanaProps(
        image=images.grafana, host=cluster.host("grafana"), ingress=layer_1.ingress_network,
        monitoring=monitoring.ref, vault_mount=vault.infrastructure_mount,
        postgres=cluster.postgres, influxdb=influxdb.endpoint, loki=loki.endpoint))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.sensitive_input import SensitiveInput, SensitiveInputProps
from constructs_lib.swarm_secret import SwarmSecret, SwarmSecretProps, generated_value_secret
from constructs_lib.swarm_service import (
    ConfigFile,
    Healthcheck,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.config import AlertsConfig, PostgresConfig
from stacks.shared_services.common import (
    SECRETS,
    ServiceDatabase,
    ServiceDatabaseProps,
    admin_route,
    generated_secret,
    yaml_document,
)
from stacks.shared_services.grafana_alerting import alerting_file
from stacks.shared_services.grafana_dashboards import (
    DASHBOARDS_DIR,
    INFLUXDB_UID,
    LOKI_UID,
    dashboard_provider,
    dashboards,
)
from stacks.shared_services.influxdb import InfluxDbEndpoint
from stacks.shared_services.loki import LokiEndpoint

PORT = 3000
# The grafana/grafana image's user; its secret files must be its own.
UID = "472"


@dataclass(frozen=True, kw_only=True)
class GrafanaProps:
    image: str
    # Public host name of the web UI, routed through Traefik.
    host: str
    ingress: NetworkRef
    # The network InfluxDB and Loki answer on.
    monitoring: NetworkRef
    # The KV mount generated credentials are written to.
    vault_mount: str
    postgres: PostgresConfig
    influxdb: InfluxDbEndpoint
    loki: LokiEndpoint
    alerts: AlertsConfig
    # Each environment's analytics bucket, for the business dashboard.
    environment_buckets: Mapping[str, str]
    # The backup services whose runs are alerted on.
    backups: Sequence[str]


def grafana_datasources(
    *,
    influx_url: str,
    influx_organization: str,
    influx_token_file: str,
    default_bucket: str,
    loki_url: str,
) -> str:
    return yaml_document(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "InfluxDB",
                    "type": "influxdb",
                    "access": "proxy",
                    "url": influx_url,
                    "uid": INFLUXDB_UID,
                    "isDefault": True,
                    "jsonData": {
                        "version": "Flux",
                        "organization": influx_organization,
                        "defaultBucket": default_bucket,
                    },
                    # Grafana reads the file when it provisions; the token is never in here.
                    "secureJsonData": {"token": f"$__file{{{influx_token_file}}}"},
                },
                {
                    "name": "Loki",
                    "uid": LOKI_UID,
                    "type": "loki",
                    "access": "proxy",
                    "url": loki_url,
                },
            ],
        }
    )


class Grafana(Construct):
    def __init__(self, scope: Construct, id: str, props: GrafanaProps) -> None:
        super().__init__(scope, id)
        admin_password = generated_secret(
            self, "admin_password", mount=props.vault_mount, path="grafana/admin"
        )
        admin = generated_value_secret(
            self, "admin_secret", name="grafana-admin-password", value=admin_password.value
        )
        database = ServiceDatabase(
            self,
            "database",
            ServiceDatabaseProps(
                postgres=props.postgres, name="grafana", vault_mount=props.vault_mount
            ),
        )
        route = admin_route(self, name="grafana", host=props.host, port=PORT, ingress=props.ingress)
        influx_token_file = f"{SECRETS}/influxdb-token"
        # The ids are the variables' names, which operators set as TF_VAR_<name>.
        webhooks = {"discord": "alerts_discord_webhook_url"}
        if props.alerts.paging:
            webhooks["paging"] = "alerts_paging_webhook_url"
        webhook_files = {}
        for receiver, variable in webhooks.items():
            url = SensitiveInput(
                self, variable, SensitiveInputProps(description=f"Grafana's {receiver} webhook URL")
            ).value
            secret = SwarmSecret(
                self,
                f"{receiver}_webhook",
                SwarmSecretProps(name=f"grafana-{receiver}-webhook", value=url, version_marker=url),
            )
            webhook_files[receiver] = secret.file(f"{SECRETS}/grafana-{receiver}-webhook", uid=UID)
        dashboard_files = [
            ConfigFile(target=f"{DASHBOARDS_DIR}/{name}", content=content)
            for name, content in dashboards(
                infrastructure_bucket=props.influxdb.infrastructure_bucket,
                environment_buckets=props.environment_buckets,
            ).items()
        ]
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="grafana",
                image=props.image,
                networks=[props.monitoring, props.ingress],
                env={
                    "GF_SERVER_ROOT_URL": f"https://{props.host}",
                    "GF_SECURITY_ADMIN_USER": "admin",
                    "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{SECRETS}/grafana-admin-password",
                    "GF_AUTH_ANONYMOUS_ENABLED": "false",
                    "GF_USERS_ALLOW_SIGN_UP": "false",
                    "GF_ANALYTICS_REPORTING_ENABLED": "false",
                    "GF_DATABASE_TYPE": "postgres",
                    "GF_DATABASE_HOST": f"{database.host}:{database.port}",
                    "GF_DATABASE_NAME": database.name,
                    "GF_DATABASE_USER": database.name,
                    "GF_DATABASE_PASSWORD__FILE": f"{SECRETS}/grafana-db-password",
                    "GF_DATABASE_SSL_MODE": "require",
                },
                config_files=[
                    ConfigFile(
                        target="/etc/grafana/provisioning/datasources/sprocket.yaml",
                        content=grafana_datasources(
                            influx_url=props.influxdb.url,
                            influx_organization=props.influxdb.organization,
                            influx_token_file=influx_token_file,
                            default_bucket=props.influxdb.infrastructure_bucket,
                            loki_url=props.loki.url,
                        ),
                    ),
                    ConfigFile(
                        target="/etc/grafana/provisioning/dashboards/sprocket.yaml",
                        content=dashboard_provider(),
                    ),
                    ConfigFile(
                        target="/etc/grafana/provisioning/alerting/sprocket.yaml",
                        content=alerting_file(
                            props.alerts,
                            infrastructure_bucket=props.influxdb.infrastructure_bucket,
                            backups=props.backups,
                            discord_url_file=webhook_files["discord"].target,
                            paging_url_file=webhook_files["paging"].target
                            if "paging" in webhook_files
                            else None,
                        ),
                    ),
                    *dashboard_files,
                ],
                secret_files=[
                    *webhook_files.values(),
                    admin.file(f"{SECRETS}/grafana-admin-password", uid=UID),
                    database.password.file(f"{SECRETS}/grafana-db-password", uid=UID),
                    props.influxdb.token.file(influx_token_file, uid=UID),
                ],
                volumes=[VolumeMount(name="data", target="/var/lib/grafana")],
                routes=[route],
                memory_limit_mib=512,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD-SHELL",
                        f"wget -q -O /dev/null http://127.0.0.1:{PORT}/api/health || exit 1",
                    ),
                ),
            ),
        )
