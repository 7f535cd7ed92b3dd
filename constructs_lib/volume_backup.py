"""The daily, encrypted backup of one stack's Docker volumes to a Spaces bucket of its own.

Creates a private ``SpacesBucket`` ``<bucket_prefix>-<stack>`` with a key granted that bucket
only; the restic repository's password (``random_password``, kept in the stack's state: a
rebuilt stack gets the same one back, so its old backups stay readable); and the service
``<name>`` (restic's image) on the volume node, mounting each volume read-only at
``/volumes/<volume>`` and running ``sprocket-backup schedule``
(``constructs_lib/assets/sprocket-backup.sh``): every day at ``daily_at_utc`` it backs each
volume up as one snapshot tagged with the volume's name, then forgets and prunes what the
retention no longer keeps. restic encrypts everything it stores (AES-256 with the password,
restic's design document, "Keys, Encryption and MAC"): the bucket holds only ciphertext.

Each run ends in a log line "sprocket-backup: run ok" or "sprocket-backup: run failed", which
the alert rules watch. ``scripts/restore_volume.py`` restores a volume with this service's own
image, secrets and script (docs/runbook-restore.md).

    VolumeBackup(self, "backup", VolumeBackupProps(
        name="layer-2-backup", stack="layer_2", image=images.restic,
        volumes=stack_volumes(self), bucket_prefix="sprocket-backups",
        region="nyc3", schedule=BackupSchedule(daily_at_utc="03:30")))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from cdktf_cdktf_provider_random.password import Password
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.overlay_network import OverlayNetwork, OverlayNetworkProps
from constructs_lib.service_roles import ROLE_LABEL, VOLUME_BACKUP
from constructs_lib.spaces_bucket import SpacesBucket, SpacesBucketProps
from constructs_lib.swarm_secret import SwarmSecret, SwarmSecretProps, text_value
from constructs_lib.swarm_service import (
    ConfigFile,
    ExistingVolumeMount,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
)

SCRIPT = resources.files("constructs_lib").joinpath("assets/sprocket-backup.sh").read_text()
SCRIPT_PATH = "/usr/local/bin/sprocket-backup"
VOLUMES_DIR = "/volumes"
PASSWORD_FILE = "/run/secrets/restic-password"
CREDENTIALS_FILE = "/run/secrets/backup-credentials"
# Where restic keeps its cache: in the container, rebuilt from the repository when lost.
CACHE_DIR = "/tmp/restic-cache"
DELETED_KEPT_DAYS = 14


@dataclass(frozen=True, kw_only=True)
class BackupSchedule:
    # When the daily backup starts, UTC, "HH:MM".
    daily_at_utc: str
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6


@dataclass(frozen=True, kw_only=True)
class VolumeBackupProps:
    # The service's name, e.g. "layer-2-backup"; its network is "<name>".
    name: str
    # The stack the volumes belong to: the bucket's suffix and the snapshots' host name.
    stack: str
    image: str
    # Each volume's name and the reference to it (SwarmService.volume_names).
    volumes: Mapping[str, str]
    bucket_prefix: str
    region: str
    schedule: BackupSchedule

    def __post_init__(self) -> None:
        problems = []
        if not self.volumes:
            problems.append("volumes: empty; a stack without volumes needs no backup")
        raise_if("VolumeBackup", problems)

    @property
    def bucket(self) -> str:
        return f"{self.bucket_prefix}-{self.stack.replace('_', '-')}"


class VolumeBackup(Construct):
    def __init__(self, scope: Construct, id: str, props: VolumeBackupProps) -> None:
        super().__init__(scope, id)
        self.props = props
        bucket = SpacesBucket(
            self,
            "bucket",
            SpacesBucketProps(
                name=props.bucket,
                region=props.region,
                # What restic's prune deletes, or a leaked key overwrites, stays restorable
                # for this long; after it, the space is freed.
                noncurrent_version_days=DELETED_KEPT_DAYS,
            ),
        )
        key = bucket.access_key("key", props.name)
        # Changing the password makes every existing snapshot unreadable to this service:
        # there is no rotation path but `restic key add` by hand (docs/runbook-restore.md).
        password = Password(self, "password", length=48, special=False)
        password_secret = SwarmSecret(
            self,
            "password_secret",
            SwarmSecretProps(
                name=f"{props.name}-password", value=password.result, version_marker=password.result
            ),
        )
        credentials = SwarmSecret(
            self,
            "credentials_secret",
            SwarmSecretProps(
                name=f"{props.name}-credentials",
                value=text_value(
                    "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                    key.access_key,
                    key.secret_key,
                ),
                version_marker=key.access_key,
            ),
        )
        network = OverlayNetwork(self, "network", OverlayNetworkProps(name=props.name)).ref
        schedule = props.schedule
        self.repository = f"s3:https://{props.region}.digitaloceanspaces.com/{props.bucket}/restic"
        self.service = SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name=props.name,
                image=props.image,
                command=["/bin/sh", SCRIPT_PATH, "schedule"],
                # Its own network: the only way out is to Spaces, and no other service shares it.
                networks=[network],
                env={
                    "RESTIC_REPOSITORY": self.repository,
                    "RESTIC_PASSWORD_FILE": PASSWORD_FILE,
                    "AWS_SHARED_CREDENTIALS_FILE": CREDENTIALS_FILE,
                    "RESTIC_CACHE_DIR": CACHE_DIR,
                    "BACKUP_HOST": props.stack,
                    "DAILY_AT_UTC": schedule.daily_at_utc,
                    "KEEP_DAILY": str(schedule.keep_daily),
                    "KEEP_WEEKLY": str(schedule.keep_weekly),
                    "KEEP_MONTHLY": str(schedule.keep_monthly),
                },
                config_files=[ConfigFile(target=SCRIPT_PATH, content=SCRIPT, mode=0o555)],
                secret_files=[
                    password_secret.file(PASSWORD_FILE),
                    credentials.file(CREDENTIALS_FILE),
                ],
                # The volumes the stack's services created (SwarmService), read-only here. A
                # restore writes through a one-off job (scripts/restore_volume.py), never this.
                existing_volumes=[
                    ExistingVolumeMount(source=source, target=f"{VOLUMES_DIR}/{name}")
                    for name, source in sorted(props.volumes.items())
                ],
                # What tools (scripts/diagram.py) tell a stack's backup apart by.
                labels={ROLE_LABEL: VOLUME_BACKUP},
                memory_limit_mib=256,
                cpu_limit=0.5,
                update_order=UpdateOrder.STOP_FIRST,
                # A shell loop that sleeps until the next run: nothing to probe but the process.
            ),
        )


def stack_volumes(scope: Construct) -> dict[str, str]:
    """Every volume the ``SwarmService``s under ``scope`` create on the volume node, by name:
    what a stack's backup mounts. Global services' volumes are per node and not included."""
    volumes: dict[str, str] = {}
    for construct in scope.node.find_all():
        if isinstance(construct, SwarmService) and not construct.props.global_mode:
            volumes.update(construct.volume_names)
    return volumes
