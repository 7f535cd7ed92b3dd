"""What every stack sets up the same way: its state, the Terraform it needs, its providers.

``SprocketStack`` keeps the stack's state at ``<state.key_prefix>/<stack id>.tfstate`` in the
state bucket, requires a Terraform that has the S3 backend's lockfile (1.10), and configures
the Docker and DigitalOcean providers (and Random where the stack generates values) from the
deploy environment. A stack whose images come from a private registry passes the registry
settings: the stack then takes the account's token as the sensitive variable
``registry_password`` and offers the login to its services as ``registry_login``.

    class Layer9Stack(SprocketStack):
        def __init__(self, scope, id, config):
            super().__init__(scope, id, config.cluster, random=True)
"""

from __future__ import annotations

from cdktf import TerraformStack
from constructs import Construct

from constructs_lib.log_labels import ENVIRONMENT_CONTEXT, SHARED, STACK_CONTEXT
from constructs_lib.providers import use_digitalocean, use_docker, use_random
from constructs_lib.remote_state import use_spaces_backend
from constructs_lib.sensitive_input import SensitiveInput, SensitiveInputProps
from constructs_lib.swarm_service import RegistryLogin
from constructs_lib.volume_backup import (
    BackupSchedule,
    VolumeBackup,
    VolumeBackupProps,
    stack_volumes,
)
from stacks.config import ClusterConfig, RegistryConfig

# The S3 backend's use_lockfile is experimental in Terraform 1.10 and generally available from
# 1.11.0 (its CHANGELOG, 1.11.0) (docs/decisions/state-locking.md).
REQUIRED_TERRAFORM = ">= 1.11.0"


class SprocketStack(TerraformStack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        cluster: ClusterConfig,
        *,
        random: bool = False,
        registry: RegistryConfig | None = None,
        docker: bool = True,
        environment: str = SHARED,
    ) -> None:
        super().__init__(scope, id)
        # Read by every SwarmService for its containers' log labels (constructs_lib/log_labels.py).
        self.node.set_context(STACK_CONTEXT, id)
        self.node.set_context(ENVIRONMENT_CONTEXT, environment)
        use_spaces_backend(self, cluster.state_backend(id))
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        self.registry_login: RegistryLogin | None = None
        if registry is not None and registry.username:
            password = SensitiveInput(
                self,
                "registry_password",
                SensitiveInputProps(
                    description=f"Access token of {registry.username} at {registry.address}"
                ),
            ).value
            self.registry_login = RegistryLogin(
                server_address=registry.address, username=registry.username, password=password
            )
            use_docker(self, registry=(registry.address, registry.username, password))
        elif docker:
            # Not for the cluster stack: the Swarm it creates is not there to connect to yet.
            use_docker(self)
        use_digitalocean(self)
        if random:
            use_random(self)

    def back_up_volumes(self, cluster: ClusterConfig, image: str) -> VolumeBackup | None:
        """The daily backup of every volume the stack's services created so far (call it
        last), in the stack's own bucket; None for a stack without volumes."""
        volumes = stack_volumes(self)
        if not volumes:
            return None
        backups = cluster.backups
        return VolumeBackup(
            self,
            "backup",
            VolumeBackupProps(
                name=backup_service_name(self.node.id),
                stack=self.node.id,
                image=image,
                volumes=volumes,
                bucket_prefix=backups.bucket_prefix,
                region=cluster.spaces_region,
                schedule=BackupSchedule(
                    daily_at_utc=backups.daily_at_utc,
                    keep_daily=backups.keep_daily,
                    keep_weekly=backups.keep_weekly,
                    keep_monthly=backups.keep_monthly,
                ),
            ),
        )


def backup_service_name(stack: str) -> str:
    """The backup service of ``stack``: "layer_1" -> "layer-1-backup"; an environment's is
    named like everything of the environment: "platform-main" -> "main-backup"."""
    return f"{stack.removeprefix('platform-').replace('_', '-')}-backup"
