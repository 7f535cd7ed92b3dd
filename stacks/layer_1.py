"""layer_1: the foundation every other stack stands on.

Contract
- Inputs: the cluster configuration and the pinned images (``InfraConfig``); at deploy
  time the sensitive variables ``traefik_dashboard_users`` (required) and
  ``vault_unseal_keys`` (optional until Vault is initialised).
- Creates: overlay networks ``traefik-ingress``, ``vault-ingress`` (Traefik and Vault only),
  ``vault-network``, ``socket-proxy``;
  the Docker socket proxy, Traefik v3, Vault and its unsealer; Vault's storage bucket
  and a Spaces key limited to it; the apex and wildcard DNS records.
- Outputs (``Layer1Outputs``): the ingress network and Vault's public address. Named
  Terraform outputs ``IngressNetwork`` and ``VaultAddress``.
"""

from __future__ import annotations

from constructs import Construct

from constructs_lib.docker_socket_proxy import DockerSocketProxy, DockerSocketProxyProps
from constructs_lib.ingress_dns import IngressDns, IngressDnsProps
from constructs_lib.overlay_network import OverlayNetwork, OverlayNetworkProps
from constructs_lib.registry_image import stack_images
from constructs_lib.sensitive_input import SensitiveInput, SensitiveInputProps
from constructs_lib.spaces_bucket import SpacesBucket, SpacesBucketProps
from constructs_lib.stack_output import export
from constructs_lib.swarm_secret import SwarmSecret, SwarmSecretProps, text_value
from constructs_lib.swarm_service import (
    ConfigFile,
    Healthcheck,
    PlacementRole,
    PublishedPort,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from constructs_lib.traefik_config import (
    ADMIN_ALLOWLIST_MIDDLEWARE,
    DASHBOARD_AUTH_MIDDLEWARE,
    TraefikSettings,
    render_dynamic_config,
    render_static_config,
)
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps
from constructs_lib.vault_config import (
    UNSEAL_SCRIPT,
    VAULT_PORT,
    VaultServerSettings,
    render_init_request,
    render_vault_config,
)
from stacks.base import SprocketStack
from stacks.cluster import ClusterOutputs
from stacks.config import InfraConfig
from stacks.contracts import Layer1Outputs

INGRESS_NETWORK = "traefik-ingress"
# Traefik reaches Vault on a network of their own: on traefik-ingress every routed
# application could reach Vault's plaintext listener (shown on a real engine,
# tests/e2e/test_swarm.py). Not internal: Vault's storage is Spaces, outside.
VAULT_INGRESS_NETWORK = "vault-ingress"
VAULT_NETWORK = "vault-network"
SOCKET_PROXY_NETWORK = "socket-proxy"
# Where Traefik's metrics entrypoint answers: Traefik and the metrics collector only (layer_2's
# Telegraf), not every routed application.
TRAEFIK_METRICS_NETWORK = "traefik-metrics"
# The hashicorp/vault image runs the server as user "vault" (uid 100, gid 1000).
VAULT_UID, VAULT_GID = "100", "1000"
UNSEALED_PLACEHOLDER = "# unset: Vault waits sealed for an operator (docs/vault.md)"


class Layer1Stack(SprocketStack):
    def __init__(
        self, scope: Construct, id: str, config: InfraConfig, cluster_outputs: ClusterOutputs
    ) -> None:
        super().__init__(scope, id, config.cluster, random=True)
        cluster, images = config.cluster, stack_images(self, config.images)

        ingress, vault_ingress, vault_net, socket_net, metrics_net = (
            OverlayNetwork(self, id_, OverlayNetworkProps(name=name, internal=internal))
            for id_, name, internal in (
                ("traefik_ingress", INGRESS_NETWORK, False),
                ("vault_ingress", VAULT_INGRESS_NETWORK, False),
                ("vault_network", VAULT_NETWORK, True),
                ("socket_proxy_network", SOCKET_PROXY_NETWORK, True),
                ("traefik_metrics_network", TRAEFIK_METRICS_NETWORK, True),
            )
        )

        socket_proxy = DockerSocketProxy(
            self,
            "socket_proxy",
            DockerSocketProxyProps(
                name="socket-proxy",
                image=images.socket_proxy,
                network=socket_net.ref,
                # What Traefik's Swarm provider reads.
                allow=frozenset({"SERVICES", "TASKS", "NETWORKS", "NODES"}),
            ),
        )

        traefik_settings = TraefikSettings(
            acme_email=cluster.acme_email,
            swarm_endpoint=socket_proxy.endpoint,
            ingress_network=INGRESS_NETWORK,
            admin_networks=cluster.admin_sources,
            rate_limit_average=cluster.edge.rate_limit_average,
            rate_limit_burst=cluster.edge.rate_limit_burst,
            compress_min_bytes=cluster.edge.compress_min_bytes,
        )
        dashboard_users = SensitiveInput(
            self,
            "traefik_dashboard_users",
            SensitiveInputProps(
                description="htpasswd lines (bcrypt hashes) allowed into the Traefik dashboard"
            ),
        )
        dashboard_secret = SwarmSecret(
            self,
            "traefik_dashboard_users_secret",
            SwarmSecretProps(
                name="traefik-dashboard-users",
                value=dashboard_users.value,
                version_marker=dashboard_users.value,
            ),
        )
        dashboard_route = TraefikRoute(
            self,
            "traefik_dashboard_route",
            TraefikRouteProps(
                name="traefik-dashboard",
                hosts=[cluster.host("traefik")],
                internal_service="api@internal",
                middlewares=[
                    f"{ADMIN_ALLOWLIST_MIDDLEWARE}@file",
                    f"{DASHBOARD_AUTH_MIDDLEWARE}@file",
                ],
            ),
        )
        SwarmService(
            self,
            "traefik",
            SwarmServiceProps(
                name="traefik",
                image=images.traefik,
                networks=[ingress.ref, vault_ingress.ref, socket_net.ref, metrics_net.ref],
                # One Traefik per manager, bound to the node's own ports 80 and 443 so client
                # addresses survive; DNS points at the manager.
                global_mode=True,
                placement=PlacementRole.MANAGER,
                published_ports=[
                    PublishedPort(target_port=traefik_settings.web_port, published_port=80),
                    PublishedPort(target_port=traefik_settings.websecure_port, published_port=443),
                ],
                config_files=[
                    ConfigFile(
                        target="/etc/traefik/traefik.yml",
                        content=render_static_config(traefik_settings),
                    ),
                    ConfigFile(
                        target=traefik_settings.dynamic_config_path,
                        content=render_dynamic_config(traefik_settings),
                    ),
                ],
                secret_files=[dashboard_secret.file(traefik_settings.dashboard_users_file)],
                volumes=[VolumeMount(name="certificates", target="/data")],
                routes=[dashboard_route],
                memory_limit_mib=256,
                cpu_limit=1.0,
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=("CMD", "traefik", "healthcheck", "--ping"), start_period_s=10
                ),
            ),
        )

        vault_bucket = SpacesBucket(
            self,
            "vault_storage",
            SpacesBucketProps(
                name=cluster.vault.storage_bucket,
                region=cluster.spaces_region,
                # What a restore of Vault's storage can go back to (docs/runbook-restore.md).
                noncurrent_version_days=cluster.backups.vault_storage_versions_days,
            ),
        )
        vault_key = vault_bucket.access_key("VaultKey", "vault-storage")
        storage_credentials = SwarmSecret(
            self,
            "vault_storage_credentials",
            SwarmSecretProps(
                name="vault-storage-credentials",
                value=text_value(
                    "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                    vault_key.access_key,
                    vault_key.secret_key,
                ),
                version_marker=vault_key.access_key,
            ),
        )
        vault_host = cluster.host("vault")
        vault_address = f"https://{vault_host}"
        vault_route = TraefikRoute(
            self,
            "vault_route",
            TraefikRouteProps(
                name="vault",
                hosts=[vault_host],
                port=VAULT_PORT,
                network=VAULT_INGRESS_NETWORK,
                middlewares=[f"{ADMIN_ALLOWLIST_MIDDLEWARE}@file"],
            ),
        )
        credentials_path = "/run/secrets/vault-storage-credentials"
        SwarmService(
            self,
            "vault",
            SwarmServiceProps(
                name="vault",
                image=images.vault,
                args=["server"],
                networks=[vault_net.ref, vault_ingress.ref],
                env={"AWS_SHARED_CREDENTIALS_FILE": credentials_path, "SKIP_CHOWN": "true"},
                config_files=[
                    ConfigFile(
                        target="/vault/config/vault.json",
                        content=render_vault_config(
                            VaultServerSettings(
                                storage_bucket=cluster.vault.storage_bucket,
                                storage_path=cluster.vault.storage_path,
                                spaces_region=cluster.spaces_region,
                                api_addr=vault_address,
                            )
                        ),
                    )
                ],
                secret_files=[
                    storage_credentials.file(credentials_path, uid=VAULT_UID, gid=VAULT_GID)
                ],
                routes=[vault_route],
                cap_add=["IPC_LOCK"],
                memory_limit_mib=512,
                cpu_limit=1.0,
                # S3 storage has no HA lock: two Vault servers must never run at once.
                update_order=UpdateOrder.STOP_FIRST,
                healthcheck=Healthcheck(
                    test=(
                        "CMD-SHELL",
                        "wget -q -O /dev/null 'http://127.0.0.1:8200/v1/sys/health"
                        "?standbyok=true&sealedcode=200&uninitcode=200' || exit 1",
                    ),
                ),
            ),
        )

        unseal_keys = SensitiveInput(
            self,
            "vault_unseal_keys",
            SensitiveInputProps(
                description="Vault unseal key shares, one per line (at least the threshold); "
                "until set, Vault stays sealed after a restart",
                default=UNSEALED_PLACEHOLDER,
            ),
        )
        unseal_secret = SwarmSecret(
            self,
            "vault_unseal_keys_secret",
            SwarmSecretProps(
                name="vault-unseal-keys",
                value=unseal_keys.value,
                version_marker=unseal_keys.value,
            ),
        )
        unsealer_files = [
            ConfigFile(target="/usr/local/bin/vault-unseal", content=UNSEAL_SCRIPT, mode=0o555)
        ]
        if cluster.vault.pgp_keys:
            unsealer_files.append(
                ConfigFile(
                    target="/etc/vault-unsealer/init-request.json",
                    content=render_init_request(
                        key_shares=cluster.vault.key_shares,
                        key_threshold=cluster.vault.key_threshold,
                        pgp_keys=cluster.vault.pgp_keys,
                        root_token_pgp_key=cluster.vault.root_token_pgp_key or "",
                    ),
                )
            )
        vault_internal = f"http://vault:{VAULT_PORT}"
        SwarmService(
            self,
            "vault_unsealer",
            SwarmServiceProps(
                name="vault-unsealer",
                image=images.vault,
                command=["/bin/sh", "/usr/local/bin/vault-unseal"],
                networks=[vault_net.ref],
                env={"VAULT_ADDR": vault_internal, "CHECK_INTERVAL_S": "15"},
                config_files=unsealer_files,
                secret_files=[unseal_secret.file("/run/secrets/vault-unseal-keys")],
                volumes=[VolumeMount(name="init", target="/vault/init")],
                memory_limit_mib=32,
                cpu_limit=0.1,
                update_order=UpdateOrder.STOP_FIRST,
            ),
        )

        IngressDns(
            self,
            "dns",
            IngressDnsProps(
                zone=cluster.dns_zone,
                hostname=cluster.hostname,
                manager_ipv4=cluster_outputs.manager_ipv4,
            ),
        )

        self.back_up_volumes(cluster, images.restic)

        export(self, "IngressNetwork", ingress.ref.id, "Id of the traefik-ingress overlay network")
        export(self, "VaultAddress", vault_address, "Public URL of Vault's API and UI")
        self.outputs = Layer1Outputs(
            ingress_network=ingress.ref,
            vault_address=vault_address,
            vault_network=vault_net.ref,
            vault_internal_address=vault_internal,
            traefik_metrics_network=metrics_net.ref,
        )
