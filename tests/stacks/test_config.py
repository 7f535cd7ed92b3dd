"""The configuration model: the shipped files load, and every kind of bad input is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stacks.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_root(tmp_path: Path) -> Path:
    """A copy of the shipped configuration to break."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def edit(root: Path, relative: str, change) -> None:
    path = root / "config" / relative
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config(root)
    return error.value.problems


def test_shipped_configuration_loads_with_production_values():
    config = load_config(ROOT)
    assert config.cluster.hostname == "sprocket.mlesports.gg"
    assert config.cluster.postgres.host.startswith("sprocketbot-postgres-d5033d2")
    assert config.cluster.postgres.port == 25060
    assert config.cluster.spaces_region == "nyc3"
    assert config.environments["main"].image_tag == "main"
    assert config.environments["main"].subdomain is None
    assert config.environments["staging"].subdomain == "staging"


def test_models_are_frozen():
    config = load_config(ROOT)
    with pytest.raises(Exception, match="frozen"):
        config.cluster.hostname = "other.example.com"


@pytest.mark.parametrize(
    ("relative", "change", "expected"),
    [
        (
            "cluster.yaml",
            lambda d: d.update(hostname="Not A Host"),
            "config/cluster.yaml: hostname: got 'Not A Host': must be a fully qualified",
        ),
        (
            "cluster.yaml",
            lambda d: d.update(hostname="sprocket.example.org"),
            "is not inside dns_zone 'mlesports.gg'",
        ),
        (
            "cluster.yaml",
            lambda d: d["postgres"].update(port=70000),
            "config/cluster.yaml: postgres.port: got 70000: must be a whole number from 1 to 65535",
        ),
        (
            "cluster.yaml",
            lambda d: d["postgres"].pop("host"),
            "config/cluster.yaml: postgres.host: is required but missing",
        ),
        (
            "cluster.yaml",
            lambda d: d.update(admin_ssh_cidrs=["10.0.0.1/8"]),
            "config/cluster.yaml: admin_ssh_cidrs.0: got '10.0.0.1/8': must be an IPv4 or IPv6",
        ),
        (
            "cluster.yaml",
            lambda d: d.update(spaces_region="mars"),
            "spaces_region: got 'mars': must be a DigitalOcean Spaces region",
        ),
        (
            "cluster.yaml",
            lambda d: d["vault"].update(key_threshold=6),
            "key_threshold (6) must not exceed key_shares (5)",
        ),
        (
            "cluster.yaml",
            lambda d: d["vault"].update(pgp_keys=["a"]),
            "pgp_keys has 1 keys: give exactly key_shares (5)",
        ),
        (
            "cluster.yaml",
            lambda d: d["state"].update(bucket="Bad_Bucket"),
            "state.bucket: got 'Bad_Bucket': must be 3-63 lower-case",
        ),
        (
            "images.yaml",
            lambda d: d.update(vault="hashicorp/vault"),
            "config/images.yaml: vault: got 'hashicorp/vault': must be pinned",
        ),
        (
            "images.yaml",
            lambda d: d.update(traefik="traefik:latest"),
            "config/images.yaml: traefik: got 'traefik:latest': must not use the moving tag",
        ),
        (
            "images.yaml",
            lambda d: d.pop("socket_proxy"),
            "config/images.yaml: socket_proxy: is required but missing",
        ),
        (
            "environments/staging.yaml",
            lambda d: d.update(image_tag="latest"),
            "config/environments/staging.yaml: image_tag: got 'latest': must not be 'latest'",
        ),
        (
            "environments/staging.yaml",
            lambda d: d.update(subdomain=None),
            "environments ['main', 'staging'] are all served at the bare hostname",
        ),
        (
            "environments/staging.yaml",
            lambda d: d.update(name="prod"),
            "config/environments/staging.yaml: name: unknown key; the name comes from the file",
        ),
    ],
)
def test_bad_value_is_reported_with_file_field_value_and_rule(
    config_root, relative, change, expected
):
    edit(config_root, relative, change)
    found = problems(config_root)
    assert any(expected in p for p in found), found


def test_unknown_key_lists_allowed_keys_and_does_not_echo_the_value(config_root):
    edit(config_root, "cluster.yaml", lambda d: d["postgres"].update(password="s3cret-value"))
    (problem,) = problems(config_root)
    assert problem.startswith("config/cluster.yaml: postgres.password: unknown key")
    assert "allowed keys: cluster_name, host, node_count, port, size, version" in problem
    assert "s3cret-value" not in problem


def test_every_problem_in_every_file_is_reported_at_once(config_root):
    edit(config_root, "cluster.yaml", lambda d: d.update(hostname="x", spaces_region="?"))
    edit(config_root, "images.yaml", lambda d: d.update(vault="vault"))
    edit(config_root, "environments/main.yaml", lambda d: d.update(image_tag="a b"))
    found = problems(config_root)
    assert len(found) == 4
    assert {p.split(":")[0] for p in found} == {
        "config/cluster.yaml",
        "config/images.yaml",
        "config/environments/main.yaml",
    }


def test_yaml_syntax_error_names_the_line(config_root):
    (config_root / "config" / "images.yaml").write_text("traefik: [unclosed\n")
    (problem,) = problems(config_root)
    assert problem.startswith("config/images.yaml: not valid YAML (line 2")


def test_file_that_is_not_a_mapping(config_root):
    (config_root / "config" / "images.yaml").write_text("- a\n- b\n")
    assert problems(config_root) == [
        "config/images.yaml: must be a mapping of keys to values, got ['a', 'b']"
    ]


def test_missing_file_and_bad_environment_file_name(config_root):
    (config_root / "config" / "images.yaml").unlink()
    (config_root / "config" / "environments" / "Prod_1.yaml").write_text("image_tag: x\n")
    found = problems(config_root)
    assert "config/images.yaml: file is missing" in found
    assert any("config/environments/Prod_1.yaml: environment name 'Prod_1'" in p for p in found)


def test_no_environment_at_all(config_root):
    for path in (config_root / "config" / "environments").iterdir():
        path.unlink()
    assert any("at least one environment" in p for p in problems(config_root))


def test_loading_configuration_does_not_start_the_jsii_runtime():
    # Bad input is reported in a fraction of a second because cdktf is not imported yet.
    import subprocess
    import sys

    code = "import sys, stacks.config; raise SystemExit('cdktf' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0
