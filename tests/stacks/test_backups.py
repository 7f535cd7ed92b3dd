"""Every stateful volume is backed up by its own stack, to a bucket only that stack can reach."""

from __future__ import annotations

import pytest

from constructs_lib.swarm_service import VOLUME_NODE_CONSTRAINT
from tests.conftest import CONFIG, config_content, resources, services

BACKED_UP_STACKS = ["layer_1", "layer_2", *(f"platform-{e}" for e in sorted(CONFIG.environments))]


def _backup(document: dict) -> dict:
    (backup,) = [s for s in services(document).values() if s["name"].endswith("-backup")]
    return backup


def _volume_names(document: dict) -> dict[str, str]:
    """'${docker_volume.<id>.name}' -> the volume's name."""
    return {
        f"${{docker_volume.{rid}.name}}": v["name"]
        for rid, v in resources(document, "docker_volume").items()
    }


def _global_services_volumes(document: dict) -> set[str]:
    found = set()
    for service in services(document).values():
        if service["mode"].get("global"):
            for mount in service["task_spec"]["container_spec"].get("mounts", []):
                if mount["type"] == "volume":
                    found.add(mount["source"])
    return found


@pytest.mark.parametrize("stack", BACKED_UP_STACKS)
def test_every_volume_of_the_stack_is_mounted_read_only_in_its_backup(stacks, stack):
    document = stacks[stack]
    backup = _backup(document)
    mounts = backup["task_spec"]["container_spec"]["mounts"]
    names = _volume_names(document)
    per_node = _global_services_volumes(document)
    expected = {ref for ref in names if ref not in per_node}
    assert expected, f"{stack} has no volume to back up"
    assert {m["source"] for m in mounts} == expected
    for mount in mounts:
        assert mount["read_only"] is True
        assert mount["target"] == f"/volumes/{names[mount['source']]}"
    # It runs where the volumes are.
    assert VOLUME_NODE_CONSTRAINT in backup["task_spec"]["placement"]["constraints"]


@pytest.mark.parametrize("stack", BACKED_UP_STACKS)
def test_each_stack_backs_up_to_a_bucket_and_key_of_its_own(stacks, stack):
    document = stacks[stack]
    backup = _backup(document)
    env = backup["task_spec"]["container_spec"]["env"]
    bucket = f"{CONFIG.cluster.backups.bucket_prefix}-{stack.replace('_', '-')}"
    region = CONFIG.cluster.spaces_region
    assert env["RESTIC_REPOSITORY"] == f"s3:https://{region}.digitaloceanspaces.com/{bucket}/restic"
    assert env["BACKUP_HOST"] == stack
    buckets = {
        rid: b for rid, b in resources(document, "digitalocean_spaces_bucket").items()
        if b["name"] == bucket
    }  # fmt: skip
    ((rid, resource),) = buckets.items()
    assert resource["acl"] == "private" and resource["versioning"]["enabled"] is True
    (rule,) = resource["lifecycle_rule"]
    assert rule["enabled"] is True and rule["noncurrent_version_expiration"]["days"] >= 1
    keys = [
        k
        for k in resources(document, "digitalocean_spaces_key").values()
        if any(g["bucket"] == f"${{digitalocean_spaces_bucket.{rid}.name}}" for g in k["grant"])
    ]
    (key,) = keys
    assert key["grant"] == [
        {"bucket": f"${{digitalocean_spaces_bucket.{rid}.name}}", "permission": "readwrite"}
    ]


def test_no_two_stacks_share_a_backup_bucket(stacks):
    buckets = [
        _backup(stacks[stack])["task_spec"]["container_spec"]["env"]["RESTIC_REPOSITORY"]
        for stack in BACKED_UP_STACKS
    ]
    assert len(set(buckets)) == len(buckets)


@pytest.mark.parametrize("stack", BACKED_UP_STACKS)
def test_the_backup_runs_daily_with_the_configured_retention_and_no_secret_in_sight(stacks, stack):
    document = stacks[stack]
    backup = _backup(document)
    spec = backup["task_spec"]["container_spec"]
    backups = CONFIG.cluster.backups
    assert spec["command"] == ["/bin/sh", "/usr/local/bin/sprocket-backup", "schedule"]
    assert spec["env"]["DAILY_AT_UTC"] == backups.daily_at_utc
    assert (spec["env"]["KEEP_DAILY"], spec["env"]["KEEP_WEEKLY"], spec["env"]["KEEP_MONTHLY"]) == (
        str(backups.keep_daily),
        str(backups.keep_weekly),
        str(backups.keep_monthly),
    )
    script = config_content(document, backup, "/usr/local/bin/sprocket-backup")
    assert "restic backup" in script and "--prune" in script
    # The password and the Spaces key reach the service as Swarm secrets only.
    secrets = {s["file_name"] for s in spec["secrets"]}
    assert secrets == {"/run/secrets/restic-password", "/run/secrets/backup-credentials"}
    assert spec["env"]["RESTIC_PASSWORD_FILE"] == "/run/secrets/restic-password"
    assert not any("PASSWORD=" in k or "SECRET" in k for k in spec["env"])
    # It never restarts itself into giving up, and stops before a new one starts.
    assert backup["task_spec"]["restart_policy"]["max_attempts"] == 0
    assert backup["update_config"]["order"] == "stop-first"


def test_vaults_storage_keeps_what_a_restore_goes_back_to(stacks):
    (bucket,) = [
        b
        for b in resources(stacks["layer_1"], "digitalocean_spaces_bucket").values()
        if b["name"] == CONFIG.cluster.vault.storage_bucket
    ]
    assert bucket["versioning"]["enabled"] is True
    (rule,) = bucket["lifecycle_rule"]
    assert rule == {
        "enabled": True,
        "id": "expire-noncurrent-versions",
        "noncurrent_version_expiration": {
            "days": CONFIG.cluster.backups.vault_storage_versions_days
        },
    }


def test_only_the_backup_services_carry_the_backup_role_that_tools_read(stacks):
    from constructs_lib.service_roles import ROLE_LABEL, VOLUME_BACKUP
    from tests.conftest import service_labels

    # scripts/diagram.py tells a stack's backup apart by this label, not by its name
    labelled = {
        (stack, service["name"])
        for stack, document in stacks.items()
        for service in services(document).values()
        if service_labels(service).get(ROLE_LABEL) == VOLUME_BACKUP
    }
    expected = {(stack, _backup(stacks[stack])["name"]) for stack in BACKED_UP_STACKS}
    assert labelled == expected
