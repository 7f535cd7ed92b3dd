"""config/cluster.yaml and config/images.yaml: the Swarm cluster and the pinned images."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from stacks.config.digitalocean import VOLUME_MAX_GIB, VOLUME_MIN_GIB, size_resources
from stacks.config.types import (
    AdminUiNetwork,
    BucketName,
    Cidr,
    DatabaseSize,
    DropletSize,
    Hostname,
    Image,
    Port,
    PostgresVersion,
    PrivateRange,
    Region,
    SpacesRegion,
    _Model,
)


class StateConfig(_Model):
    # Spaces bucket holding every stack's Terraform state. Created once by the bootstrap,
    # never by a stack. Changing it after the first deploy means moving the state by hand.
    bucket: BucketName
    # Default: "sprocket-infra". State objects are "<key_prefix>/<stack>.tfstate".
    # Changing it after the first deploy orphans the existing state.
    key_prefix: str = Field(default="sprocket-infra", pattern=r"^[a-z0-9][a-z0-9_./-]*[a-z0-9]$")


class PostgresConfig(_Model):
    # Name of the DigitalOcean managed PostgreSQL cluster (the cluster stack owns it);
    # layer_2 and the platform stacks create their databases in it.
    cluster_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    # The cluster's host name and port, as the cluster stack's outputs PostgresHost and
    # PostgresPort give them after its first apply (DigitalOcean chooses the host name). The
    # stacks that use them check them against those outputs at plan time (check_postgres).
    host: Hostname
    port: Port
    # Default: "db-s-1vcpu-2gb", one node, PostgreSQL 16. A larger size or more nodes resize
    # the cluster in place; a lower version is refused by DigitalOcean.
    size: DatabaseSize = "db-s-1vcpu-2gb"
    node_count: int = Field(default=1, ge=1, le=3)
    version: PostgresVersion = "16"


class VpcConfig(_Model):
    # Default: "sprocket-vpc". The private network every node and the database join.
    name: str = Field(default="sprocket-vpc", pattern=r"^[A-Za-z0-9-]{1,255}$")
    # Default: 10.10.0.0/20. Private range of the VPC; changing it replaces the VPC, and with
    # it every node (DigitalOcean cannot move a Droplet between VPCs).
    ip_range: PrivateRange = "10.10.0.0/20"


class VolumeConfig(_Model):
    # Default: "sprocket-docker-volumes". Block storage attached to the node that holds the
    # volumes and mounted where Docker keeps them (/var/lib/docker/volumes).
    name: str = Field(default="sprocket-docker-volumes", pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    # Default: 100. Size in GiB; it can grow in place, never shrink.
    size_gib: int = Field(default=100, ge=VOLUME_MIN_GIB, le=VOLUME_MAX_GIB)


NODE_NAME = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$"


class NodeConfig(_Model):
    # The node's host name, as `docker node ls` shows it (the droplet's name).
    name: str = Field(pattern=NODE_NAME)
    role: Literal["manager", "worker"]
    # The Droplet size (stacks/config/digitalocean.py lists those offered). Its memory and
    # vCPUs (s-4vcpu-8gb: 8192 MiB, 4) are what services are placed on (stacks/capacity.py).
    size: DropletSize
    # Default: false. The one node that holds the Docker volumes: every replicated service
    # with a volume runs only there (volumes are local to a node), pinned by the node label
    # sprocket.volumes=true, which the node must carry (docs/runbook-rebuild.md).
    volumes: bool = False

    @property
    def memory_mib(self) -> int:
        return size_resources(self.size)[0]

    @property
    def cpus(self) -> float:
        return float(size_resources(self.size)[1])


class SwarmConfig(_Model):
    # Name of the manager droplet; DNS points at its public address.
    manager_droplet: str = Field(pattern=NODE_NAME)
    # Default: "sprocket-swarm". Tag on every node droplet; the firewall applies by tag.
    node_tag: str = Field(default="sprocket-swarm", pattern=r"^[A-Za-z0-9:_-]{1,255}$")
    # Every node of the swarm. Synthesis refuses services whose reservations, plus the
    # headroom start-first updates need, do not fit on them (stacks/capacity.py).
    nodes: tuple[NodeConfig, ...] = Field(min_length=1)
    # Default: "debian-12-x64". The DigitalOcean image every node is created from; changing
    # it affects new nodes only (existing ones ignore it, or they would be replaced).
    image: str = Field(default="debian-12-x64", pattern=r"^[a-z0-9][a-z0-9.-]{1,63}$")
    # DigitalOcean SSH key fingerprints (or IDs) installed on new nodes, for break-glass
    # access from admin_ssh_cidrs. Default: none.
    ssh_keys: tuple[str, ...] = ()

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, nodes: tuple[NodeConfig, ...], info: ValidationInfo) -> tuple[NodeConfig, ...]:
        names = [node.name for node in nodes]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"{twice} listed more than once: each node once")
        manager_droplet = info.data.get("manager_droplet")
        manager = next((n for n in nodes if n.name == manager_droplet), None)
        if manager_droplet and (manager is None or manager.role != "manager"):
            raise ValueError(
                f"manager_droplet {manager_droplet!r} must be listed with role: manager "
                f"(listed: {names})"
            )
        holders = [node.name for node in nodes if node.volumes]
        if len(holders) != 1:
            raise ValueError(
                f"{len(holders)} nodes have volumes: true ({holders}): exactly one node holds "
                "the volumes, or a service could start on an empty one elsewhere"
            )
        return nodes


class VaultConfig(_Model):
    # Default: "vault-secrets". Spaces bucket for Vault's encrypted storage.
    # Changing it after the first deploy starts Vault on an empty bucket.
    storage_bucket: BucketName = "vault-secrets"
    # Default: "vault_storage". Key prefix inside the bucket; same warning as above.
    storage_path: str = Field(default="vault_storage", pattern=r"^[A-Za-z0-9_.-]+$")
    # Default: 5 key shares, 3 needed to unseal.
    key_shares: int = Field(default=5, ge=1, le=10)
    key_threshold: int = Field(default=3, ge=1, le=10)
    # Operators' PGP public keys (base64, one per key share). Default: none, and Vault is
    # initialised by hand (docs/vault.md); with keys, the unsealer initialises it and every
    # share comes back encrypted to one of them.
    pgp_keys: tuple[str, ...] = ()
    # PGP public key (base64) the initial root token is encrypted to; required with pgp_keys.
    root_token_pgp_key: str | None = None

    @model_validator(mode="after")
    def _shares(self) -> VaultConfig:
        if self.key_threshold > self.key_shares:
            raise ValueError(
                f"key_threshold ({self.key_threshold}) must not exceed key_shares "
                f"({self.key_shares})"
            )
        if self.pgp_keys and len(self.pgp_keys) != self.key_shares:
            raise ValueError(
                f"pgp_keys has {len(self.pgp_keys)} keys: give exactly key_shares "
                f"({self.key_shares}), one per share"
            )
        if self.pgp_keys and not self.root_token_pgp_key:
            raise ValueError("root_token_pgp_key is required when pgp_keys are set")
        return self


# The admin UIs' host prefixes: Traefik's dashboard, Vault (its UI and API), Grafana, n8n and
# Gatus. Each is routed with the admin allowlist (tests/stacks/test_deploy_tunnel_hosts.py
# holds this list to the synthesized routes).
ADMIN_UI_PREFIXES = ("traefik", "vault", "grafana", "n8n", "gatus")

WIREGUARD_KEY = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$"


class TunnelPeer(_Model):
    # Who or what deploys through the tunnel: an operator or the CI deploy job.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    # Its WireGuard public key (`wg pubkey < private.key`); the private key never leaves it.
    public_key: str = Field(pattern=WIREGUARD_KEY)
    # Its address in the tunnel network.
    address: ipaddress.IPv4Address


class DeployTunnelConfig(_Model):
    # Default: 51820. UDP port the managers' WireGuard listens on, the one port besides
    # HTTP(S) open to the Internet (WireGuard answers no packet without a known key).
    port: Port = 51820
    # Default: 10.200.0.0/24. The tunnel's network; the manager is its first address.
    network: PrivateRange = "10.200.0.0/24"
    # The manager's public key, which its first boot writes to /etc/wireguard/wg0.pub
    # (docs/runbook-rebuild.md). Default: none yet, and no peer configuration is written.
    manager_public_key: str | None = Field(default=None, pattern=WIREGUARD_KEY)
    # Everyone and everything that deploys. Default: none, and nothing can deploy.
    peers: tuple[TunnelPeer, ...] = ()

    @property
    def manager_address(self) -> ipaddress.IPv4Address:
        return next(ipaddress.ip_network(self.network).hosts())

    @model_validator(mode="after")
    def _peers(self) -> DeployTunnelConfig:
        network = ipaddress.ip_network(self.network)
        problems = []
        for field in ("name", "public_key", "address"):
            values = [str(getattr(peer, field)) for peer in self.peers]
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                problems.append(f"peers: {field} {twice} listed more than once")
        for peer in self.peers:
            if peer.address not in network or peer.address == self.manager_address:
                problems.append(
                    f"peers: {peer.name}'s address {peer.address} must be in {network} and "
                    f"not the manager's {self.manager_address}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class EdgeConfig(_Model):
    # Default: 100 and 200. Requests per second one client address may make to the public
    # routes on average, and in a burst; beyond them Traefik answers 429.
    rate_limit_average: int = Field(default=100, ge=1, le=100_000)
    rate_limit_burst: int = Field(default=200, ge=1, le=100_000)
    # Default: 1024. Responses at least this large are gzip-compressed.
    compress_min_bytes: int = Field(default=1024, ge=0, le=10 * 1024 * 1024)


class AlertsConfig(_Model):
    # Defaults: 70, 90 and 85. A node alerts when its CPU stays above cpu_percent for ten
    # minutes, its memory above memory_percent, or a disk above disk_percent.
    cpu_percent: int = Field(default=70, ge=1, le=100)
    memory_percent: int = Field(default=90, ge=1, le=100)
    disk_percent: int = Field(default=85, ge=1, le=100)
    # Default: 14. A public certificate alerts this many days before it expires (Traefik's
    # ACME client renews 30 days before).
    certificate_days: int = Field(default=14, ge=1, le=60)
    # Default: false. True: critical alerts also go to a paging webhook, whose URL is the
    # sensitive variable alerts_paging_webhook_url (TF_VAR_alerts_paging_webhook_url).
    paging: bool = False


class BackupsConfig(_Model):
    # Default: "sprocket-backups". Each stack with volumes keeps its backups in the Spaces
    # bucket "<bucket_prefix>-<stack>" (layer_1 -> "sprocket-backups-layer-1"), with a key of
    # its own. Changing it after the first backup starts new, empty repositories.
    bucket_prefix: str = Field(default="sprocket-backups", pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    # Default: "03:30". When the daily backup starts, UTC, as HH:MM.
    daily_at_utc: str = Field(default="03:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # Default: 7, 4 and 6. Snapshots kept per volume: the last of each of this many days,
    # weeks and months (restic forget --keep-daily/--keep-weekly/--keep-monthly); older ones
    # are pruned after each backup.
    keep_daily: int = Field(default=7, ge=1, le=366)
    keep_weekly: int = Field(default=4, ge=0, le=520)
    keep_monthly: int = Field(default=6, ge=0, le=240)
    # Default: 30. Days an overwritten or deleted object of Vault's storage stays restorable
    # (the bucket's noncurrent versions expire after this; docs/runbook-restore.md).
    vault_storage_versions_days: int = Field(default=30, ge=1, le=3650)


class ClusterConfig(_Model):
    # Public host name every route is served under. Changing it after the first deploy
    # moves every route and re-issues every certificate.
    hostname: Hostname
    # DigitalOcean DNS zone that contains hostname.
    dns_zone: Hostname
    # Default: "nyc3". Region of the Spaces buckets (Vault storage, state, app buckets).
    spaces_region: SpacesRegion = "nyc3"
    # Networks allowed to SSH into the nodes. Default: none, SSH is closed at the firewall.
    admin_ssh_cidrs: tuple[Cidr, ...] = ()
    # Networks the admin UIs answer (CIDR): the Traefik dashboard, Vault (its UI and API),
    # Grafana, n8n and Gatus. Default: none, and they answer 403 to every address.
    admin_networks: tuple[AdminUiNetwork, ...] = ()
    # Default: none. Contact address for the Let's Encrypt account.
    acme_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # Default: "nyc3". Region of the nodes, their VPC and volume, and the database cluster.
    region: Region = "nyc3"
    state: StateConfig
    postgres: PostgresConfig
    swarm: SwarmConfig
    # Default: the defaults of each VPC and volume setting.
    vpc: VpcConfig = VpcConfig()
    volume: VolumeConfig = VolumeConfig()
    # Default: a tunnel with no peers yet. How deploys reach the managers
    # (docs/decisions/deploy-path.md).
    deploy_tunnel: DeployTunnelConfig = DeployTunnelConfig()
    # Default: the defaults of each setting. What every public route gets at Traefik.
    edge: EdgeConfig = EdgeConfig()
    # Default: the defaults of each Vault setting.
    vault: VaultConfig = VaultConfig()
    # Default: the defaults of each setting. The daily backups of every volume.
    backups: BackupsConfig = BackupsConfig()
    # Default: the defaults of each setting. What Grafana alerts on, and whom it tells.
    alerts: AlertsConfig = AlertsConfig()

    @model_validator(mode="after")
    def _zone(self) -> ClusterConfig:
        if self.hostname != self.dns_zone and not self.hostname.endswith("." + self.dns_zone):
            raise ValueError(f"hostname {self.hostname!r} is not inside dns_zone {self.dns_zone!r}")
        vpc = ipaddress.ip_network(self.vpc.ip_range)
        tunnel = ipaddress.ip_network(self.deploy_tunnel.network)
        if vpc.overlaps(tunnel):
            raise ValueError(
                f"deploy_tunnel.network {tunnel} overlaps vpc.ip_range {vpc}: give the tunnel "
                "a range of its own"
            )
        return self

    def host(self, prefix: str | None = None) -> str:
        """``<prefix>.<hostname>``, or the bare hostname."""
        return f"{prefix}.{self.hostname}" if prefix else self.hostname

    @property
    def admin_hosts(self) -> tuple[str, ...]:
        """The host names of the admin UIs (each route with the admin allowlist)."""
        return tuple(self.host(prefix) for prefix in ADMIN_UI_PREFIXES)

    @property
    def admin_sources(self) -> tuple[str, ...]:
        """What the admin UIs answer: ``admin_networks``, and each deploy-tunnel peer's own
        tunnel address. Through the tunnel a peer's packets carry that address, and the
        manager accepts a packet from a peer only with the source its key is listed with
        (WireGuard's cryptokey routing: AllowedIPs), so the address names the key."""
        peers = tuple(f"{peer.address}/32" for peer in self.deploy_tunnel.peers)
        return tuple(dict.fromkeys((*self.admin_networks, *peers)))

    def state_backend(self, stack: str):
        """Where ``stack`` keeps its Terraform state: one object per stack in the state bucket."""
        # Imported here: loading (and rejecting) configuration must not start the jsii runtime.
        from constructs_lib.remote_state import SpacesBackendSettings

        return SpacesBackendSettings(
            bucket=self.state.bucket,
            region=self.spaces_region,
            key=f"{self.state.key_prefix}/{stack}.tfstate",
        )


class ImagesConfig(_Model):
    # Every image is an exact version tag or a digest; moving tags are refused.
    traefik: Image
    vault: Image
    socket_proxy: Image
    redis: Image
    rabbitmq: Image
    dgraph: Image
    influxdb: Image
    grafana: Image
    n8n: Image
    neo4j: Image
    gatus: Image
    loki: Image
    telegraf: Image
    restic: Image
