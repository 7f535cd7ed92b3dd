"""scripts/load_secrets.py against a real OpenBao: Doppler's export lands in Vault KV v2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scripts import load_secrets
from tests.conftest import ENVIRONMENTS, ROOT
from tests.e2e.openbao import ROOT_TOKEN

MAPPING = {
    "GOOGLE_CLIENT_ID": "platform/{env}/manual/oauth/google#client_id",
    "GOOGLE_CLIENT_SECRET": "platform/{env}/manual/oauth/google#client_secret",
    "BALLCHASING_TOKEN": "platform/ballchasing#token",
}
EXPORT = {
    "GOOGLE_CLIENT_ID": "client-id-value-1",
    "GOOGLE_CLIENT_SECRET": "client-secret-value-2",
    "BALLCHASING_TOKEN": "ballchasing-value-3",
    "UNRELATED": "unrelated-value-4",
}


@pytest.fixture(scope="module")
def vault(bao_dev_server):
    client = bao_dev_server.client(ROOT_TOKEN)
    client.sys.enable_secrets_engine(backend_type="kv", path="platform", options={"version": "2"})
    return bao_dev_server


def run(vault, *args: str, stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VAULT_ADDR": vault.address, "VAULT_TOKEN": ROOT_TOKEN}
    env.pop("HTTP_PROXY", None), env.pop("HTTPS_PROXY", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "load_secrets.py"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def read(vault, path: str) -> dict:
    client = vault.client(ROOT_TOKEN)
    return client.secrets.kv.v2.read_secret_version(
        path=path, mount_point="platform", raise_on_deleted_version=True
    )["data"]["data"]


def test_the_plan_groups_keys_by_secret_and_fills_the_environment():
    writes = load_secrets.plan(MAPPING, EXPORT, "main")
    assert writes == {
        ("platform", "main/manual/oauth/google"): {
            "client_id": "client-id-value-1",
            "client_secret": "client-secret-value-2",
        },
        ("platform", "ballchasing"): {"token": "ballchasing-value-3"},
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_shipped_map_is_well_formed_and_covers_what_platform_stacks_read(env):
    import yaml

    mapping = yaml.safe_load((ROOT / "config" / "secrets-map.yaml").read_text())["platform"]
    fake = {name: "x" for name in mapping}
    from stacks.contracts import EnvironmentNames
    from stacks.platform import vault_sources

    targets = {f"{m}/{p}" for (m, p) in load_secrets.plan(mapping, fake, env)}
    # Exactly the platform/ secrets the platform stack reads from Vault (the legacy platform's
    # are loaded by hand: docs/secrets.md).
    from stacks.shared_services.influxdb import environment_token

    read = {f"{r.mount}/{r.path}" for r in vault_sources(EnvironmentNames(env)).values()}
    # ...but the InfluxDB token, which layer_2's bucket loop writes
    influx = environment_token(env)
    assert targets == {t for t in read if t.startswith("platform/")} - {
        f"{influx.mount}/{influx.path}"
    }
    assert f"platform/{env}/manual/oauth/google" in targets


def test_export_is_loaded_merged_and_never_printed(vault, tmp_path):
    # GIVEN a key written by hand earlier next to the ones Doppler will bring
    vault.client(ROOT_TOKEN).secrets.kv.v2.create_or_update_secret(
        path="staging/manual/oauth/google", secret={"note": "by hand"}, mount_point="platform"
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text(json.dumps({"platform": MAPPING}))
    # WHEN the export is loaded for staging
    result = run(
        vault, "--environment", "staging", "--map", str(mapping), "-", stdin=json.dumps(EXPORT)
    )
    # THEN the values are in Vault, merged with what was there
    assert result.returncode == 0, result.stderr
    assert read(vault, "staging/manual/oauth/google") == {
        "note": "by hand",
        "client_id": "client-id-value-1",
        "client_secret": "client-secret-value-2",
    }
    assert read(vault, "ballchasing") == {"token": "ballchasing-value-3"}
    # AND the output names paths and keys only
    assert "wrote platform/staging/manual/oauth/google (client_id, client_secret)" in result.stdout
    assert not any(v in result.stdout + result.stderr for v in EXPORT.values())
    # AND loading again changes nothing
    again = run(
        vault, "--environment", "staging", "--map", str(mapping), "-", stdin=json.dumps(EXPORT)
    )
    assert "unchanged platform/staging/manual/oauth/google" in again.stdout


def test_a_missing_secret_writes_nothing_and_says_which(vault, tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text(json.dumps({"platform": MAPPING}))
    partial = {k: v for k, v in EXPORT.items() if k != "BALLCHASING_TOKEN"}
    result = run(
        vault, "--environment", "qa", "--map", str(mapping), "-", stdin=json.dumps(partial)
    )
    assert result.returncode == 2
    assert "the export has no BALLCHASING_TOKEN" in result.stderr
    assert not any(v in result.stderr for v in EXPORT.values())
    client = vault.client(ROOT_TOKEN)
    listed = client.secrets.kv.v2.list_secrets(path="", mount_point="platform")["data"]["keys"]
    assert "qa/" not in listed


def test_dry_run_touches_nothing(vault, tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text(json.dumps({"platform": MAPPING}))
    result = run(
        vault,
        "--environment",
        "dev",
        "--dry-run",
        "--map",
        str(mapping),
        "-",
        stdin=json.dumps(EXPORT),
    )
    assert result.returncode == 0
    assert (
        "would write platform/dev/manual/oauth/google (client_id, client_secret)" in result.stdout
    )
    listed = vault.client(ROOT_TOKEN).secrets.kv.v2.list_secrets(path="", mount_point="platform")
    assert "dev/" not in listed["data"]["keys"]
