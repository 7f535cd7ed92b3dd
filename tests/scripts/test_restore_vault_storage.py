"""scripts/restore_vault_storage.py against a versioned bucket of moto's S3 API (standing in for
Spaces, which is outside): changed, deleted and new objects all go back to how they were."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from tests.e2e.swarm.spaces import KEY_ID, SECRET, spaces_stand_in

SCRIPT = "scripts/restore_vault_storage.py"
PREFIX = "vault_storage"


@pytest.fixture(scope="module")
def spaces(tmp_path_factory):
    with spaces_stand_in("127.0.0.1", tmp_path_factory.mktemp("moto") / "moto.log") as stand_in:
        yield stand_in


def _run(spaces, *args: str, credentials: bool = True) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}
    if credentials:
        env |= {"SPACES_ACCESS_KEY_ID": KEY_ID, "SPACES_SECRET_ACCESS_KEY": SECRET}
    return subprocess.run(
        [sys.executable, SCRIPT, "--endpoint", spaces.endpoint, "--prefix", PREFIX, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _body(client, bucket: str, key: str) -> str | None:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except client.exceptions.NoSuchKey:
        return None


def test_every_object_goes_back_to_its_version_at_the_moment(spaces):
    bucket = "vault-restore-test"
    spaces.create_bucket(bucket)
    s3 = spaces.client()
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/core/keyring", Body=b"keyring-1")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/logical/secret", Body=b"secret-1")
    s3.put_object(Bucket=bucket, Key="elsewhere/object", Body=b"untouched-1")
    # S3 keeps modification times to the second: the moment lies a full second on each side.
    time.sleep(1.2)
    moment = datetime.now(UTC).replace(microsecond=0).isoformat()
    time.sleep(1.2)
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/core/keyring", Body=b"keyring-2")
    s3.delete_object(Bucket=bucket, Key=f"{PREFIX}/logical/secret")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/logical/new", Body=b"created after")
    s3.put_object(Bucket=bucket, Key="elsewhere/object", Body=b"untouched-2")

    dry = _run(spaces, "--bucket", bucket, "--at", moment, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "3 objects to change" in dry.stdout
    assert _body(s3, bucket, f"{PREFIX}/core/keyring") == "keyring-2"

    restored = _run(spaces, "--bucket", bucket, "--at", moment)
    assert restored.returncode == 0, restored.stderr
    assert _body(s3, bucket, f"{PREFIX}/core/keyring") == "keyring-1"
    assert _body(s3, bucket, f"{PREFIX}/logical/secret") == "secret-1"
    assert _body(s3, bucket, f"{PREFIX}/logical/new") is None
    assert _body(s3, bucket, "elsewhere/object") == "untouched-2"
    # Nothing was deleted for good: the undone version is still there to go forward to.
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"{PREFIX}/core/keyring")
    assert len(versions["Versions"]) == 3
    # Run again, nothing is left to change.
    again = _run(spaces, "--bucket", bucket, "--at", moment, "--dry-run")
    assert "0 objects to change" in again.stdout


@pytest.mark.parametrize(
    ("args", "credentials", "message"),
    [
        (["--at", "yesterday"], True, "--at='yesterday': not a time"),
        (["--at", "2026-01-01T00:00:00"], True, "give the time zone"),
        (["--at", "2999-01-01T00:00:00Z"], True, "is in the future"),
        (["--at", "2026-01-01T00:00:00Z"], False, "SPACES_ACCESS_KEY_ID"),
    ],
)
def test_a_mistake_is_named_without_a_traceback(spaces, args, credentials, message):
    result = _run(spaces, "--bucket", "vault-restore-test", *args, credentials=credentials)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
