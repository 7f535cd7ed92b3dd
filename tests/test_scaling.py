"""Scaling is a change to configuration only, and the synth diff touches only what it must."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from scripts import synth_diff
from tests.conftest import ROOT


def synth_with(tmp_path: Path, change) -> Path:
    import main

    shutil.copytree(ROOT / "config", tmp_path / "config")
    change(tmp_path / "config")
    outdir = tmp_path / "cdktf.out"
    main.build(tmp_path, outdir=str(outdir)).synth()
    return outdir


def test_more_replicas_changes_only_that_service(tmp_path, synth_dir):
    def scale_api(config: Path) -> None:
        path = config / "environments" / "main.yaml"
        path.write_text(
            yaml.safe_dump({**yaml.safe_load(path.read_text()), "replicas": {"api": 3}})
        )

    diffs = synth_diff.diff_dirs(synth_dir, synth_with(tmp_path, scale_api))
    changed = {name: d for name, d in diffs.items() if not d.empty}
    assert list(changed) == ["platform-main"]
    assert changed["platform-main"].changed == {
        "docker_service.api": [("mode.replicated.replicas", "1", "3", [])]
    }
    assert not changed["platform-main"].added and not changed["platform-main"].removed


def test_a_new_environment_adds_its_stack_and_touches_only_the_shared_services(tmp_path, synth_dir):
    def add_dev(config: Path) -> None:
        (config / "environments" / "dev.yaml").write_text("image_tag: dev\nsubdomain: dev\n")

    diffs = synth_diff.diff_dirs(synth_dir, synth_with(tmp_path, add_dev))
    # A new stack of its own...
    assert diffs["platform-dev"] == "added"
    # ...no change to layer_1 or to the other environments...
    for name in ("layer_1", "platform-main", "platform-staging"):
        assert diffs[name].empty, name
    # ...and in layer_2 only what serves every environment: its Vault policy and token,
    # its InfluxDB bucket and its uptime checks (its datastores are in its own stack).
    layer_2 = diffs["layer_2"]
    assert not layer_2.removed
    added = {re.sub(r"_(Stored|Default)_[0-9A-F]{8}$", "", a) for a in layer_2.added}
    assert added == {
        "vault_policy.policy_platform_dev_service",
        "vault_token.platform_token_dev",
        "output.cross-stack-output-vault_tokenplatform_token_devclient_token",
    }
    touched = {re.sub(r"_[0-9A-F]{8}$", "", address) for address in layer_2.changed}
    assert touched == {
        "docker_config.influxdb_buckets_Config-influxdb-buckets",
        "docker_config.gatus_Config-endpoints-yaml",
        "output.PlatformVaultToken",
    }
