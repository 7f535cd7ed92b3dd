"""InfluxDB, with a helper that keeps one bucket per environment in it.

Creates the ``influxdb`` service on the monitoring network (org ``sprocket``, the
``infrastructure`` bucket for host and container metrics, 30 days' retention), its admin
password and token generated into Vault (``infrastructure/influxdb/admin`` and
``infrastructure/influxdb/token``) and mounted as Swarm secrets, and ``influxdb-buckets``,
a small loop that creates any missing ``sprocket_<env>`` bucket and, for each environment, a
token that reads and writes that bucket only, kept in Vault at ``platform/<env>/influxdb``
(where that environment's platform stack reads it: analytics never gets the operator token).
InfluxDB generates every such token itself (influxdata/influxdb v2.7.12
authorization/http_server.go:129-135: the request has no token field), so the loop, and not
Terraform, creates it, and writes it to Vault with a token that may write those paths only.
Its data and config live in the node-local volumes ``influxdb-data`` and ``influxdb-config``,
which removing the service leaves behind (``docker volume rm`` deletes the data).

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
# The all-access token InfluxDB's setup creates (Grafana, Telegraf, the bucket loop).
TOKEN = VaultRef("infrastructure", "influxdb/token", "token")


def environment_token(env: str) -> VaultRef:
    """Where the bucket loop keeps ``env``'s own token: read and write on its bucket only."""
    return VaultRef("platform", f"{env}/influxdb", "token")


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
    # One bucket ``sprocket_<env>`` is kept per environment, with a token of its own.
    environments: Sequence[str]
    # Where the bucket loop reaches Vault (vault-network), and its token's Swarm secret.
    vault_network: NetworkRef
    vault_address: str
    vault_token: SwarmSecret

    def __post_init__(self) -> None:
        raise_if(
            "InfluxDb",
            [f"environments={self.environments!r}: list at least one environment name"]
            if isinstance(self.environments, str) or not self.environments
            else [],
        )


def buckets_script(environments: Sequence[str], *, token_file: str, vault_token_file: str) -> str:
    """A loop that keeps, for each environment, a bucket (30-day retention) and a token that
    reads and writes that bucket only, stored in Vault. InfluxDB's own setup makes only one
    bucket, once, so an environment added later gets its bucket and token here. Tokens are
    read from secret files into the process environment or passed on stdin: never printed and
    never on a command line. Each round also renews the loop's Vault token (periodic)."""
    rows = " ".join(
        f"{env}:{EnvironmentNames(env).influx_bucket}:{environment_token(env).path}"
        for env in sorted(environments)
    )
    return f"""#!/bin/sh
set -u
INFLUX_TOKEN="$(cat {token_file})"
export INFLUX_TOKEN
vault_token="$(cat {vault_token_file})"

# vault METHOD PATH [curl options]: the Vault API with the loop's token. (sh has no local
# variables: these names are the function's own.)
vault() {{
  vault_method="$1"; vault_path="$2"; shift 2
  curl -fsS -o /dev/null -X "$vault_method" -H "X-Vault-Token: $vault_token" "$@" \\
    "$VAULT_ADDR/v1/$vault_path"
}}

while :; do
  vault POST auth/token/renew-self || echo "could not renew the Vault token; will retry"
  for row in {rows}; do
    env="${{row%%:*}}"; rest="${{row#*:}}"; bucket="${{rest%%:*}}"; path="${{rest#*:}}"
    if ! influx bucket list --org {ORGANIZATION} --name "$bucket" >/dev/null 2>&1; then
      if influx bucket create --org {ORGANIZATION} --name "$bucket" --retention {RETENTION} \\
          >/dev/null 2>&1; then
        echo "created bucket $bucket"
      else
        echo "could not create bucket $bucket; will retry"
        continue
      fi
    fi
    # The environment's token exists once Vault has it: nothing to do.
    vault GET "platform/metadata/$path" && continue
    id="$(influx bucket list --org {ORGANIZATION} --name "$bucket" --hide-headers | cut -f1)"
    token="$(influx auth create --org {ORGANIZATION} --read-bucket "$id" --write-bucket "$id" \\
      --description "sprocket-$env: $bucket only" --json 2>/dev/null \\
      | sed -n 's/.*"token": *"\\([^"]*\\)".*/\\1/p')"
    if [ -z "$token" ]; then
      echo "could not create the $env token; will retry"
    elif printf '{{"data":{{"token":"%s"}}}}' "$token" | vault POST "platform/data/$path" \\
        -H "Content-Type: application/json" --data-binary @-; then
      echo "created the $env token (platform/$path)"
    else
      echo "could not store the $env token in Vault; will retry"
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
                networks=[props.network, props.vault_network],
                env={"INFLUX_HOST": self.endpoint.url, "VAULT_ADDR": props.vault_address},
                config_files=[
                    ConfigFile(
                        target="/usr/local/bin/influxdb-buckets",
                        content=buckets_script(
                            props.environments,
                            token_file=f"{SECRETS}/influxdb-admin-token",
                            vault_token_file=f"{SECRETS}/influxdb-vault-token",
                        ),
                        mode=0o555,
                    )
                ],
                secret_files=[
                    token_file.file(f"{SECRETS}/influxdb-admin-token"),
                    props.vault_token.file(f"{SECRETS}/influxdb-vault-token"),
                ],
                memory_limit_mib=64,
                cpu_limit=0.1,
            ),
        )
