"""Put Vault's storage back as it was at a moment: every object at its version of then.

    SPACES_ACCESS_KEY_ID=... SPACES_SECRET_ACCESS_KEY=... \\
    python scripts/restore_vault_storage.py --at 2026-12-01T03:00:00Z [--dry-run]

Vault keeps its (encrypted) storage in a versioned Spaces bucket whose overwritten and deleted
objects stay restorable for ``backups.vault_storage_versions_days`` (config/cluster.yaml).
For every object under ``vault.storage_path`` this finds the version that was current at
``--at``: an object changed since gets that version copied back on top (a new current
version: nothing is deleted, so the restore itself can be undone the same way), one deleted
since gets it back, and one created since gets a delete marker. Stop Vault before and start
it after (docs/runbook-restore.md): it caches what it read. ``--dry-run`` prints the plan
only. The bucket, prefix and region come from config/cluster.yaml unless given.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class RestoreError(Exception):
    """A problem the operator can fix; printed without a traceback."""


@dataclass(frozen=True)
class Change:
    key: str
    action: str  # "restore" (copy a version back) or "delete" (add a delete marker)
    version_id: str | None = None

    def describe(self) -> str:
        if self.action == "restore":
            return f"restore {self.key} to version {self.version_id}"
        return f"delete  {self.key} (it did not exist then)"


def plan(entries: list[dict], at: datetime) -> list[Change]:
    """The changes that make every key's current state its state at ``at``.

    ``entries``: the bucket's versions and delete markers, as S3's ListObjectVersions gives
    them (Key, VersionId, LastModified, IsLatest, ETag, and DeleteMarker for markers).
    """
    by_key: dict[str, list[dict]] = {}
    for entry in entries:
        by_key.setdefault(entry["Key"], []).append(entry)
    changes = []
    for key, history in sorted(by_key.items()):
        history.sort(key=lambda e: e["LastModified"])
        current = next((e for e in history if e.get("IsLatest")), history[-1])
        then = [e for e in history if e["LastModified"] <= at]
        was = then[-1] if then else None
        if was is None or was.get("DeleteMarker"):
            if not current.get("DeleteMarker"):
                changes.append(Change(key, "delete"))
        elif current.get("DeleteMarker") or was.get("ETag") != current.get("ETag"):
            # Compared by content (ETag): a version copied back by an earlier run is a new
            # version of the same content, with nothing left to do.
            changes.append(Change(key, "restore", was["VersionId"]))
    return changes


def _client(endpoint: str):
    import boto3

    key = os.environ.get("SPACES_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("SPACES_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise RestoreError(
            "SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY are not set: a Spaces key with "
            "access to the Vault storage bucket is needed"
        )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )


def entries_of(client, bucket: str, prefix: str) -> list[dict]:
    found = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found += page.get("Versions", [])
        found += [{**m, "DeleteMarker": True} for m in page.get("DeleteMarkers", [])]
    return found


def apply(client, bucket: str, changes: list[Change]) -> None:
    for change in changes:
        if change.action == "restore":
            client.copy_object(
                Bucket=bucket,
                Key=change.key,
                CopySource={"Bucket": bucket, "Key": change.key, "VersionId": change.version_id},
            )
        else:
            client.delete_object(Bucket=bucket, Key=change.key)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RestoreError(
            f"--at={text!r}: not a time; give one like 2026-12-01T03:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise RestoreError(f"--at={text!r}: give the time zone, e.g. a trailing Z for UTC")
    if moment > datetime.now(UTC):
        raise RestoreError(f"--at={text!r}: is in the future")
    return moment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", required=True, help="the moment to go back to, ISO 8601 with zone")
    parser.add_argument("--bucket", help="default: vault.storage_bucket in config/cluster.yaml")
    parser.add_argument("--prefix", help="default: vault.storage_path in config/cluster.yaml")
    parser.add_argument(
        "--endpoint", help="default: https://<spaces_region>.digitaloceanspaces.com"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    try:
        at = _moment(args.at)
        bucket, prefix, endpoint = args.bucket, args.prefix, args.endpoint
        if not (bucket and prefix and endpoint):
            from stacks.config import ConfigError, load_config

            try:
                cluster = load_config(Path("config")).cluster
            except ConfigError as problem:
                raise RestoreError(str(problem)) from None
            bucket = bucket or cluster.vault.storage_bucket
            prefix = prefix or cluster.vault.storage_path
            endpoint = endpoint or f"https://{cluster.spaces_region}.digitaloceanspaces.com"
        client = _client(endpoint)
        changes = plan(entries_of(client, bucket, prefix), at)
        for change in changes:
            print(change.describe())
        print(f"{len(changes)} objects to change in {bucket}/{prefix} to match {at.isoformat()}")
        if not args.dry_run:
            apply(client, bucket, changes)
            print("done: start Vault again and unseal it (docs/runbook-restore.md)")
        return 0
    except RestoreError as problem:
        print(f"restore_vault_storage: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
