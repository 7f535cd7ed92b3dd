"""InfluxDB, with a helper that keeps one bucket per environment in it.

Creates the ``influxdb`` service on the monitoring network (org ``sprocket``, the
``infrastructure`` bucket for host and container metrics, 30 days' retention), its admin
password and token generated into Vault (``infrastructure/influxdb/admin`` and
``infrastructure/influxdb/token``) and mounted as Swarm secrets, and ``influxdb-buckets``,
a small loop that creates any missing ``sprocket_<env>`` bucket. Its data and config live in
the node-local volumes ``influxdb-data`` and ``influxdb-config``, which removing the service
leaves behind (``docker volume rm`` deletes the data).

    influxdb = InfluxDb(self, "influxdb", InfluxDbProps(
        image=images.influxdb, network=monitoring.ref, vault_mount=vault.infrastructure_mount,
        environments=["main", "staging"]))
    influxdb.endpoint.url    # "http://influxdb:8086"
    influxdb.endpoint.token  # the admin token's SwarmSecret, for Grafana and Telegraf
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.overlay_network import NetworkRef
from constructs_lib.swarm_secret import SwarmSecret, generated_value_secret
from constructs_lib.swarm_service import (
    ConfigFile,
    Healthcheck,
    SwarmService,
    SwarmServiceProps,
    UpdateOrder,
    VolumeMount,
)
from stacks.contracts import EnvironmentNames, VaultRef
from stacks.shared_services.common import SECRETS, generated_secret

PORT = 8086
# The image's influxdb user (influxdata-docker influxdb/2.7/Dockerfile:28-29: uid/gid 1000).
UID = "1000"
ORGANIZATION = "sprocket"
RETENTION = "30d"
# Telegraf's host and container metrics, shared by every environment: a bucket of their own,
# so adding an environment never moves them.
INFRASTRUCTURE_BUCKET = "infrastructure"
# The all-access token InfluxDB's setup creates, as platform stacks read it (analytics).
TOKEN = VaultRef("infrastructure", "influxdb/token", "token")


@dataclass(frozen=True, kw_only=True)
class InfluxDbEndpoint:
    """Where InfluxDB answers on the monitoring network, and the token its clients mount."""

    url: str
    organization: str
    # The bucket of host and container metrics.
    infrastructure_bucket: str
    # The admin token: every client (Grafana, Telegraf) mounts this one secret.
    token: SwarmSecret


@dataclass(frozen=True, kw_only=True)
class InfluxDbProps:
    image: str
    # The network InfluxDB's clients share with it (monitoring-network).
    network: NetworkRef
    # The KV mount the generated password and token are written to.
    vault_mount: str
    # One bucket ``sprocket_<env>`` is kept per environment.
    environments: Sequence[str]

    def __post_init__(self) -> None:
        raise_if(
            "InfluxDb",
            [f"environments={self.environments!r}: list at least one environment name"]
            if isinstance(self.environments, str) or not self.environments
            else [],
        )


def buckets_script(environments: Sequence[str], *, token_file: str) -> str:
    """A loop that keeps one bucket per environment in InfluxDB (30-day retention), creating
    any that is missing: InfluxDB's own setup makes only one bucket, and only once, so an
    environment added later gets its bucket here. The token is read from its secret file into
    the process environment; it is never printed or put on a command line."""
    buckets = " ".join(EnvironmentNames(env).influx_bucket for env in sorted(environments))
    return f"""#!/bin/sh
set -u
INFLUX_TOKEN="$(cat {token_file})"
export INFLUX_TOKEN
while :; do
  for bucket in {buckets}; do
    if ! influx bucket list --org {ORGANIZATION} --name "$bucket" >/dev/null 2>&1; then
      if influx bucket create --org {ORGANIZATION} --name "$bucket" --retention {RETENTION} \\
          >/dev/null 2>&1; then
        echo "created bucket $bucket"
      else
        echo "could not create bucket $bucket; will retry"
      fi
    fi
  done
  [ "${{RUN_ONCE:-0}}" = "1" ] && exit 0
  sleep "${{CHECK_INTERVAL_S:-300}}"
done
"""


class InfluxDb(Construct):
    def __init__(self, scope: Construct, id: str, props: InfluxDbProps) -> None:
        super().__init__(scope, id)
        password = generated_secret(
            self, "admin_password", mount=props.vault_mount, path="influxdb/admin"
        )
        token = generated_secret(
            self, "admin_token", mount=props.vault_mount, path=TOKEN.path, key=TOKEN.key
        )
        password_file = generated_value_secret(
            self, "password_secret", name="influxdb-admin-password", value=password.value
        )
        token_file = generated_value_secret(
            self, "token_secret", name="influxdb-admin-token", value=token.value
        )
        self.endpoint = InfluxDbEndpoint(
            url=f"http://influxdb:{PORT}",
            organization=ORGANIZATION,
            infrastructure_bucket=INFRASTRUCTURE_BUCKET,
            token=token_file,
        )
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name="influxdb",
                image=props.image,
                networks=[props.network],
                env={
                    "DOCKER_INFLUXDB_INIT_MODE": "setup",
                    "DOCKER_INFLUXDB_INIT_USERNAME": "admin",
                    "DOCKER_INFLUXDB_INIT_PASSWORD_FILE": f"{SECRETS}/influxdb-admin-password",
                    "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE": f"{SECRETS}/influxdb-admin-token",
                    "DOCKER_INFLUXDB_INIT_ORG": ORGANIZATION,
                    "DOCKER_INFLUXDB_INIT_BUCKET": INFRASTRUCTURE_BUCKET,
                    "DOCKER_INFLUXDB_INIT_RETENTION": RETENTION,
                },
                # The entrypoint leaves root for the influxdb user before the setup reads the
                # *_FILE secrets (influxdata-docker influxdb/2.7/entrypoint.sh:492-494), so the
                # files are that user's (found by the rehearsal, tests/e2e/test_swarm.py).
                secret_files=[
                    password_file.file(f"{SECRETS}/influxdb-admin-password", uid=UID, gid=UID),
                    token_file.file(f"{SECRETS}/influxdb-admin-token", uid=UID, gid=UID),
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

        # InfluxDB's own setup makes only the first bucket, once: this loop beside it keeps
        # one per environment, so adding an environment needs no manual step.
        SwarmService(
            self,
            "buckets",
            SwarmServiceProps(
                name="influxdb-buckets",
                image=props.image,
                command=["/bin/sh", "/usr/local/bin/influxdb-buckets"],
                networks=[props.network],
                env={"INFLUX_HOST": self.endpoint.url},
                config_files=[
                    ConfigFile(
                        target="/usr/local/bin/influxdb-buckets",
                        content=buckets_script(
                            props.environments, token_file=f"{SECRETS}/influxdb-admin-token"
                        ),
                        mode=0o555,
                    )
                ],
                secret_files=[token_file.file(f"{SECRETS}/influxdb-admin-token")],
                memory_limit_mib=64,
                cpu_limit=0.1,
            ),
        )
