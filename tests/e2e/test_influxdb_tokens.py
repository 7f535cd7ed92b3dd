"""The InfluxDB bucket loop gives each environment a token of its own, kept in Vault.

The synthesized loop script (layer_2's ``influxdb-buckets`` config) runs unmodified under
``sh`` in a private mount namespace whose ``/run/secrets`` holds its two secret files, against
a real OpenBao server that has the synthesized ``influxdb-tokens`` policy and a token minted
as the synthesized ``vault_token`` says. The ``influx`` CLI is a **stand-in written here**
(InfluxDB cannot run on these machines): it keeps buckets as files, answers ``auth create``
with the JSON shape influx-cli prints (a ``"token"`` line) and a fresh token each time, and
records every call. What is proven: the script creates each environment's bucket and a token
limited to it (``--read-bucket`` and ``--write-bucket`` of that bucket's id), stores it in
Vault where the environment's platform stack reads it, never prints it, renews its own Vault
token, and creates nothing more once Vault has the token. What is not: that InfluxDB's real
CLI prints exactly this (influx-cli v2.7.5 cmd/influx/auth.go: ``--json`` prints the
authorization, token included).
"""

from __future__ import annotations

import base64
import subprocess

import hvac
import pytest

from stacks.shared_services.influxdb import environment_token
from tests.conftest import ENVIRONMENTS, resources
from tests.e2e.openbao import ROOT_TOKEN, BaoServer

SCRIPT = "/usr/local/bin/influxdb-buckets"
SCRIPT_TIMEOUT = 60

# Stand-in for influx-cli: buckets are files under $STANDIN_DIR, every call is logged.
STANDIN_INFLUX = r"""#!/bin/sh
echo "$*" >> "$STANDIN_DIR/calls"
case "$1 $2" in
  "bucket list")
    name=""; hide=0
    while [ $# -gt 0 ]; do
      [ "$1" = "--name" ] && name="$2"
      [ "$1" = "--hide-headers" ] && hide=1
      shift
    done
    [ -e "$STANDIN_DIR/bucket-$name" ] || exit 1
    [ "$hide" = 1 ] && printf 'id-%s\t%s\t720h0m0s\n' "$name" "$name"
    exit 0 ;;
  "bucket create")
    while [ $# -gt 0 ]; do [ "$1" = "--name" ] && touch "$STANDIN_DIR/bucket-$2"; shift; done
    exit 0 ;;
  "auth create")
    n=$(($(cat "$STANDIN_DIR/count" 2>/dev/null || echo 0) + 1)); echo "$n" > "$STANDIN_DIR/count"
    printf '{\n\t"id": "auth-%s",\n\t"token": "standin-token-%s-%s",\n\t"status": "active"\n}\n' \
      "$n" "$n" "$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    exit 0 ;;
esac
exit 2
"""


@pytest.fixture(scope="module")
def bao(bao_dev_server: BaoServer) -> BaoServer:
    return bao_dev_server


def _script(layer_2: dict) -> str:
    for config in resources(layer_2, "docker_config").values():
        content = base64.b64decode(config["data"]).decode()
        if content.startswith("#!/bin/sh") and "influx auth create" in content:
            return content
    raise AssertionError("no synthesized InfluxDB bucket loop")


def _writer_token(layer_2: dict, root: hvac.Client) -> str:
    (policy,) = (
        p for p in resources(layer_2, "vault_policy").values() if p["name"] == "influxdb-tokens"
    )
    root.sys.create_or_update_acl_policy(name=policy["name"], policy=policy["policy"])
    (token,) = (
        t
        for t in resources(layer_2, "vault_token").values()
        if t["display_name"] == "influxdb-tokens"
    )
    assert token["no_parent"] is True and token["renewable"] is True
    return root.auth.token.create_orphan(
        policies=[policy["name"]], period=token["period"], display_name=token["display_name"]
    )["auth"]["client_token"]


def test_the_loop_gives_each_environment_its_own_token_in_vault(layer_2, bao, tmp_path):
    root = bao.client(ROOT_TOKEN)
    if "platform/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kv", path="platform", options={"version": "2"})
    writer = _writer_token(layer_2, root)
    # GIVEN the synthesized script, its secret files, and the stand-in influx CLI
    secrets, bin_dir, standin = tmp_path / "secrets", tmp_path / "bin", tmp_path / "standin"
    for directory in (secrets, bin_dir, standin):
        directory.mkdir()
    (secrets / "influxdb-admin-token").write_text("admin-token-of-the-test")
    (secrets / "influxdb-vault-token").write_text(writer)
    (bin_dir / "influx").write_text(STANDIN_INFLUX)
    (bin_dir / "influx").chmod(0o755)
    # InfluxDB already holds the first environment's bucket (its setup made it)
    (standin / f"bucket-sprocket_{ENVIRONMENTS[0]}").touch()
    script = tmp_path / "influxdb-buckets"
    script.write_text(_script(layer_2))

    def run() -> subprocess.CompletedProcess:
        mount = f"mount --bind {secrets} /run/secrets && exec sh {script}"
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mkdir -p /run/secrets && {mount}"],
            env={"PATH": f"{bin_dir}:/usr/bin:/bin", "RUN_ONCE": "1", "STANDIN_DIR": str(standin),
                 "VAULT_ADDR": bao.address, "INFLUX_HOST": "http://influxdb:8086"},
            capture_output=True, text=True, timeout=SCRIPT_TIMEOUT,
        )  # fmt: skip

    # WHEN it runs once
    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    # THEN each environment has its bucket and, in Vault where its stack reads it, a token
    calls = (standin / "calls").read_text().splitlines()
    # only the missing buckets were created, with 30 days' retention, in org sprocket
    assert [c for c in calls if c.startswith("bucket create")] == [
        f"bucket create --org sprocket --name sprocket_{env} --retention 30d"
        for env in ENVIRONMENTS[1:]
    ]
    stored = {}
    for env in ENVIRONMENTS:
        bucket = f"sprocket_{env}"
        assert (standin / f"bucket-{bucket}").exists(), env
        # limited to that bucket: read and write on its id, nothing else
        (create,) = (c for c in calls if c.startswith("auth create") and f"sprocket-{env}:" in c)
        assert f"--read-bucket id-{bucket} --write-bucket id-{bucket}" in create
        assert "--all-access" not in create and "--operator" not in create
        ref = environment_token(env)
        stored[env] = root.secrets.kv.v2.read_secret_version(
            ref.path, mount_point=ref.mount, raise_on_deleted_version=True
        )["data"]["data"][ref.key]
        assert stored[env].startswith("standin-token-"), env
    assert len(set(stored.values())) == len(ENVIRONMENTS)
    # AND no token reached the output
    for token in (*stored.values(), writer, "admin-token-of-the-test"):
        assert token not in first.stdout + first.stderr
    # WHEN it runs again: Vault has the tokens, so no new one is made
    again = run()
    assert again.returncode == 0, again.stdout + again.stderr
    creates = [
        c for c in (standin / "calls").read_text().splitlines() if c.startswith("auth create")
    ]
    assert len(creates) == len(ENVIRONMENTS)
    # AND its Vault token was renewed, and reads none of what it wrote
    assert bao.client(writer).auth.token.lookup_self()["data"]["ttl"] > 0
    with pytest.raises(hvac.exceptions.Forbidden):
        bao.client(writer).secrets.kv.v2.read_secret_version(
            environment_token(ENVIRONMENTS[0]).path,
            mount_point="platform",
            raise_on_deleted_version=True,
        )
