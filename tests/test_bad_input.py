"""Bad-input matrix: each malformed configuration stops `make synth` the same careful way.

Each case runs scripts/synth.py's synthesis (what `make synth` runs) in this process,
against a copy of the shipped configuration with one mistake, over a previous cdktf.out,
and expects: status 2, a message naming the file, the field and the value with what is
allowed, and the previous output byte-for-byte unchanged. Three cases also run as a real
process, for the exit status and the absence of a traceback.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import CONFIG, ROOT

Edit = Callable[[Path], None]


# scripts/render/node_modules is mermaid-cli (500 MB): no synthesis needs it.
IGNORED = shutil.ignore_patterns("node_modules", "__pycache__")


def set_field(relative: str, dotted: str, value) -> Edit:
    def edit(config: Path) -> None:
        path = config / relative
        data = yaml.safe_load(path.read_text()) or {}
        *parents, leaf = dotted.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[leaf] = value
        path.write_text(yaml.safe_dump(data))

    return edit


def drop_field(relative: str, dotted: str) -> Edit:
    def edit(config: Path) -> None:
        path = config / relative
        data = yaml.safe_load(path.read_text())
        *parents, leaf = dotted.split(".")
        target = data
        for key in parents:
            target = target[key]
        del target[leaf]
        path.write_text(yaml.safe_dump(data))

    return edit


def append(relative: str, text: str) -> Edit:
    def edit(config: Path) -> None:
        path = config / relative
        path.write_text(path.read_text() + text)

    return edit


def write(relative: str, text: str) -> Edit:
    def edit(config: Path) -> None:
        (config / relative).write_text(text)

    return edit


def write_bytes(relative: str, data: bytes) -> Edit:
    def edit(config: Path) -> None:
        (config / relative).write_bytes(data)

    return edit


def replace_with_directory(relative: str) -> Edit:
    def edit(config: Path) -> None:
        (config / relative).unlink()
        (config / relative).mkdir()

    return edit


# Made-up credentials of the shapes the redaction knows: none is real.
FAKE_GITHUB_TOKEN = "ghp_" + "T3stT0kenNotReal" * 3
FAKE_PASSWORD = "hunter2-not-a-real-one"
FAKE_PRIVATE_KEY = (
    "-" * 5
    + "BEGIN PGP PRIVATE KEY BLOCK"
    + "-" * 5
    + "\nbm90IGEga2V5\n"
    + "-" * 5
    + "END PGP PRIVATE KEY BLOCK"
    + "-" * 5
)
BOMB = "".join(f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}, *l{i - 1}]\n" for i in range(1, 9))

CLUSTER, IMAGES, APPS = "cluster.yaml", "images.yaml", "applications.yaml"
STAGING, MAIN = "environments/staging.yaml", "environments/main.yaml"

CASES: list[tuple[str, Edit, str]] = [
    ("unknown-key", set_field(CLUSTER, "hostnme", "x"), "config/cluster.yaml: hostnme: unknown key; allowed keys: acme_email, admin_networks, admin_ssh_cidrs"),
    ("missing-hostname", drop_field(CLUSTER, "hostname"), "config/cluster.yaml: hostname: is required but missing"),
    ("bad-hostname", set_field(CLUSTER, "hostname", "sprocket_gg"), "config/cluster.yaml: hostname: got 'sprocket_gg': must be a fully qualified"),
    ("hostname-outside-zone", set_field(CLUSTER, "hostname", "sprocket.example.org"), "hostname 'sprocket.example.org' is not inside dns_zone 'mlesports.gg'"),
    ("port-zero", set_field(CLUSTER, "postgres.port", 0), "config/cluster.yaml: postgres.port: got 0: must be a whole number from 1 to 65535"),
    ("port-too-big", set_field(CLUSTER, "postgres.port", 65536), "config/cluster.yaml: postgres.port: got 65536"),
    ("port-not-a-number", set_field(CLUSTER, "postgres.port", "five"), "config/cluster.yaml: postgres.port: got 'five': Input should be a valid integer"),
    ("cidr-host-bits", set_field(CLUSTER, "admin_ssh_cidrs", ["203.0.113.7/24"]), "config/cluster.yaml: admin_ssh_cidrs.0: got '203.0.113.7/24': must be an IPv4 or IPv6 network"),
    ("cidr-garbage", set_field(CLUSTER, "admin_ssh_cidrs", ["office"]), "admin_ssh_cidrs.0: got 'office'"),
    ("bad-region", set_field(CLUSTER, "spaces_region", "NYC-3"), "config/cluster.yaml: spaces_region: got 'NYC-3': must be a DigitalOcean Spaces region"),
    ("bad-state-bucket", set_field(CLUSTER, "state.bucket", "State_Bucket"), "config/cluster.yaml: state.bucket: got 'State_Bucket': must be 3-63 lower-case"),
    ("bad-key-prefix", set_field(CLUSTER, "state.key_prefix", "/abs"), "config/cluster.yaml: state.key_prefix: got '/abs': String should match pattern"),
    ("threshold-over-shares", set_field(CLUSTER, "vault.key_threshold", 9), "key_threshold (9) must not exceed key_shares (5)"),
    ("pgp-key-count", set_field(CLUSTER, "vault.pgp_keys", ["a", "b"]), "pgp_keys has 2 keys: give exactly key_shares (5)"),
    ("bad-acme-email", set_field(CLUSTER, "acme_email", "ops-at-example"), "config/cluster.yaml: acme_email: got 'ops-at-example'"),
    ("untagged-image", set_field(IMAGES, "redis", "redis"), "config/images.yaml: redis: got 'redis': must be pinned: add an exact version tag"),
    ("latest-image", set_field(IMAGES, "grafana", "grafana/grafana:latest"), "config/images.yaml: grafana: got 'grafana/grafana:latest': must not use the moving tag 'latest'"),
    ("unknown-image", set_field(IMAGES, "chatwoot", "chatwoot/chatwoot:v4.0.0"), "config/images.yaml: chatwoot: unknown key; allowed keys: dgraph, gatus, grafana"),
    ("missing-image", drop_field(IMAGES, "loki"), "config/images.yaml: loki: is required but missing"),
    ("latest-app-tag", set_field(STAGING, "image_tag", "latest"), "config/environments/staging.yaml: image_tag: got 'latest': must not be 'latest'"),
    ("bad-app-tag", set_field(STAGING, "image_tag", "v1 beta"), "config/environments/staging.yaml: image_tag: got 'v1 beta': must be a Docker tag"),
    ("unknown-env-key", set_field(STAGING, "replica", 2), "config/environments/staging.yaml: replica: unknown key; allowed keys: chatwoot, image_tag, legacy, log_levels, name, pin_image_digests, replicas, subdomain"),
    ("replicas-unknown-app", set_field(STAGING, "replicas", {"webb": 2}), "replicas names unknown applications ['webb']"),
    ("replicas-zero", set_field(STAGING, "replicas", {"web": 0}), "config/environments/staging.yaml: replicas.web: got 0: Input should be greater than or equal to 1"),
    ("reserved-subdomain", set_field(STAGING, "subdomain", "api"), "subdomain 'api' is a host other services use"),
    ("two-bare-environments", drop_field(STAGING, "subdomain"), "environments ['main', 'staging'] are all served at the bare hostname"),
    ("bad-env-file-name", write("environments/QA.yaml", "image_tag: qa\n"), "config/environments/QA.yaml: environment name 'QA' (from the file name) must be"),
    ("yaml-syntax", write(CLUSTER, "hostname: [sprocket\n"), "config/cluster.yaml: not valid YAML (line 2"),
    ("empty-file", write(IMAGES, ""), "config/images.yaml: must be a mapping of keys to values, got None"),
    ("admin-uis-open-to-all", set_field(CLUSTER, "admin_networks", ["0.0.0.0/0"]), "config/cluster.yaml: admin_networks.0: got '0.0.0.0/0': opens the admin UIs to the whole internet"),
    ("admin-network-garbage", set_field(CLUSTER, "admin_networks", ["office wifi"]), "config/cluster.yaml: admin_networks.0: got 'office wifi': must be an IPv4 or IPv6 network"),
    ("ssh-open-to-all", set_field(CLUSTER, "admin_ssh_cidrs", ["0.0.0.0/0"]), "config/cluster.yaml: admin_ssh_cidrs.0: got '0.0.0.0/0': opens SSH to the whole internet"),
    ("ssh-open-to-all-ipv6", set_field(CLUSTER, "admin_ssh_cidrs", ["0::/0"]), "admin_ssh_cidrs.0: got '0::/0': opens SSH to the whole internet"),
    ("ssh-open-to-all-netmask", set_field(CLUSTER, "admin_ssh_cidrs", ["0.0.0.0/0.0.0.0"]), "admin_ssh_cidrs.0: got '0.0.0.0/0.0.0.0': opens SSH to the whole internet"),
    ("ssh-open-to-all-halves", set_field(CLUSTER, "admin_ssh_cidrs", ["0.0.0.0/1", "128.0.0.0/1"]), "admin_ssh_cidrs.1: got '128.0.0.0/1': opens SSH to 2,147,483,648 addresses"),
    ("duplicate-key", append(CLUSTER, "hostname: elsewhere.example.com\n"), "column 1): found the key 'hostname' twice"),
    ("yml-environment", write("environments/dev.yml", "image_tag: dev\nsubdomain: dev\n"), "config/environments/dev.yml: not an environment file (environments are <name>.yaml files); rename it to dev.yaml"),
    ("hostname-trailing-newline", set_field(CLUSTER, "hostname", "sprocket.mlesports.gg\n"), "config/cluster.yaml: hostname: got 'sprocket.mlesports.gg\\n': must be a fully qualified"),
    ("boolean-port", set_field(CLUSTER, "postgres.port", True), "config/cluster.yaml: postgres.port: got True: Input should be a valid integer"),
    ("moving-image-tag", set_field(IMAGES, "redis", "redis:alpine"), "config/images.yaml: redis: got 'redis:alpine': must not use the moving tag 'alpine'"),
    ("app-setting-missing", drop_field(APPS, "applications.api.settings.auth.jwt_expiry"), "config/applications.yaml: applications.api.settings: api (main) config key auth.jwt_expiry is missing; api reads it at core/src/identity/auth/auth.module.ts:27"),
    ("app-setting-wrong-type", set_field(APPS, "applications.api.settings.defaultOrganizationId", "2"), "config/applications.yaml: applications.api.settings: api (main) config key defaultOrganizationId is a str, api reads a number"),
    ("app-setting-derived", set_field(APPS, "applications.api.settings.db", {"host": "db.example.com"}), "config/applications.yaml: applications.api.settings.db.host: is derived from the environment (main); remove it from the settings"),
    ("app-unknown", set_field(APPS, "applications.webb", {"repository": "asaxplayinghorse/webb"}), "names unknown applications ['webb']; known: ['analytics', 'api',"),
    ("app-missing", drop_field(APPS, "applications.elo"), "...: lacks ['elo']: every application needs its repository"),
    ("app-bad-repository", set_field(APPS, "applications.web.repository", "asaxplayinghorse/web:main"), "config/applications.yaml: applications.web.repository: got 'asaxplayinghorse/web:main'"),
    ("app-duplicate-events-key", set_field(APPS, "applications.notification.events_key", "{env}-api"), "config/applications.yaml: applications.notification.events_key: 'main-api' is also api's in main"),
    ("not-utf8", write_bytes(CLUSTER, b"hostname: caf\xe9.mlesports.gg\n"), "config/cluster.yaml: is not UTF-8 text: byte 0xe9 on line 1 (save the file as UTF-8)"),
    ("config-path-is-a-directory", replace_with_directory(IMAGES), "config/images.yaml: is a directory; it must be a YAML file"),
    ("alias-bomb", write(CLUSTER, "l0: &l0 [x, x, x]\n" + BOMB + "hostname: *l8\n"), "config/cluster.yaml: not valid YAML (line 2, column 10): *l0 repeats a list or mapping; write it out instead"),
    ("too-many-aliases", write(CLUSTER, "a: &a x\nb: [" + ", ".join(["*a"] * 60) + "]\n"), "config/cluster.yaml: not valid YAML (line 2, column 205): more than 50 aliases (*name)"),
    ("huge-file", write(CLUSTER, "# " + "x" * (1024 * 1024) + "\n"), "config/cluster.yaml: is 1048579 bytes; a config file is at most 1048576"),
    ("near-miss-environment-file", write("environments/dev.yaml.bak", "image_tag: dev\n"), "config/environments/dev.yaml.bak: not an environment file (environments are <name>.yaml files); rename it to dev.yaml"),
    ("control-characters-in-file-name", write("environments/d\x1b[2Jev.yml", "x: 1\n"), "config/environments/d\\x1b[2Jev.yml: not an environment file"),
    ("token-in-a-field", set_field(CLUSTER, "swarm.node_tag", FAKE_GITHUB_TOKEN), "config/cluster.yaml: swarm.node_tag: holds what looks like a secret (a token with a known credential prefix); secrets go in Vault"),
    ("password-in-an-image", set_field(IMAGES, "redis", f"https://ops:{FAKE_PASSWORD}@registry.example.com/redis:8.10.1"), "config/images.yaml: redis: holds what looks like a secret (a URL with a password in it)"),
    ("private-key-as-pgp-key", set_field(CLUSTER, "vault.root_token_pgp_key", FAKE_PRIVATE_KEY), "config/cluster.yaml: vault.root_token_pgp_key: holds what looks like a secret (a private key block)"),
    ("random-key-in-a-path", set_field(CLUSTER, "vault.storage_path", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9"), "config/cluster.yaml: vault.storage_path: holds what looks like a secret (a long random string"),
    ("region-not-offered", set_field(CLUSTER, "region", "mars1"), "config/cluster.yaml: region: got 'mars1': 'mars1' is not a region DigitalOcean offers; allowed: ['ams3', 'atl1', "),
    ("volume-too-large", set_field(CLUSTER, "volume", {"size_gib": 20000}), "config/cluster.yaml: volume.size_gib: got 20000: Input should be less than or equal to 16384"),
    ("database-size-not-offered", set_field(CLUSTER, "postgres.size", "db-huge"), "config/cluster.yaml: postgres.size: got 'db-huge': 'db-huge' is not a database size DigitalOcean offers; allowed: ['db-s-16vcpu-64gb', "),
    ("vpc-public-range", set_field(CLUSTER, "vpc", {"ip_range": "8.8.0.0/20"}), "config/cluster.yaml: vpc.ip_range: got '8.8.0.0/20': must be a private IPv4 range from /16 to /24"),
    ("tunnel-overlaps-vpc", set_field(CLUSTER, "deploy_tunnel", {"network": "10.10.0.0/24"}), "deploy_tunnel.network 10.10.0.0/24 overlaps vpc.ip_range 10.10.0.0/20"),
    ("tunnel-peer-outside", set_field(CLUSTER, "deploy_tunnel", {"peers": [{"name": "ci", "public_key": "A" * 43 + "=", "address": "10.201.0.2"}]}), "peers: ci's address 10.201.0.2 must be in 10.200.0.0/24 and not the manager's 10.200.0.1"),
    ("tunnel-peer-bad-key", set_field(CLUSTER, "deploy_tunnel", {"peers": [{"name": "ci", "public_key": "not-a-key", "address": "10.200.0.2"}]}), "config/cluster.yaml: deploy_tunnel.peers.0.public_key: got 'not-a-key': String should match pattern"),
    ("edge-rate-zero", set_field(CLUSTER, "edge", {"rate_limit_average": 0}), "config/cluster.yaml: edge.rate_limit_average: got 0: Input should be greater than or equal to 1"),
    ("node-bad-role", set_field(CLUSTER, "swarm.nodes", [{"name": "sprocket-manager-1", "role": "boss", "size": "s-4vcpu-8gb", "volumes": True}]), "config/cluster.yaml: swarm.nodes.0.role: got 'boss': Input should be 'manager' or 'worker'"),
    ("node-unknown-size", set_field(CLUSTER, "swarm.nodes", [{"name": "sprocket-manager-1", "role": "manager", "size": "s-3vcpu-7gb", "volumes": True}]), "config/cluster.yaml: swarm.nodes.0.size: got 's-3vcpu-7gb': 's-3vcpu-7gb' is not a Droplet size DigitalOcean offers; allowed: ['c-16', "),
    ("node-no-volume-holder", set_field(CLUSTER, "swarm.nodes", [{"name": "sprocket-manager-1", "role": "manager", "size": "s-4vcpu-8gb"}]), "0 nodes have volumes: true ([]): exactly one node holds the volumes"),
    ("node-manager-missing", set_field(CLUSTER, "swarm.manager_droplet", "sprocket-manager-2"), f"manager_droplet 'sprocket-manager-2' must be listed with role: manager (listed: {[n.name for n in CONFIG.cluster.swarm.nodes]})"),
    ("node-too-small", set_field(CLUSTER, "swarm.nodes", [{"name": "sprocket-manager-1", "role": "manager", "size": "s-2vcpu-4gb", "volumes": True}]), "config/cluster.yaml: swarm.nodes: node sprocket-manager-1 (s-2vcpu-4gb) has 4096 MiB, but needs "),
    ("legacy-unknown-worker-bot", set_field(MAIN, "legacy.worker_bot", "Emila"), "config/environments/main.yaml: legacy: got "),
    ("backup-time-out-of-day", set_field(CLUSTER, "backups.daily_at_utc", "24:30"), "config/cluster.yaml: backups.daily_at_utc: got '24:30': String should match pattern"),
    ("backup-keeps-nothing", set_field(CLUSTER, "backups.keep_daily", 0), "config/cluster.yaml: backups.keep_daily: got 0: Input should be greater than or equal to 1"),
    ("backup-bad-bucket-prefix", set_field(CLUSTER, "backups.bucket_prefix", "Backups_"), "config/cluster.yaml: backups.bucket_prefix: got 'Backups_': String should match pattern"),
    ("alert-cpu-over-100", set_field(CLUSTER, "alerts.cpu_percent", 150), "config/cluster.yaml: alerts.cpu_percent: got 150: Input should be less than or equal to 100"),
    ("alert-paging-not-bool", set_field(CLUSTER, "alerts.paging", "sometimes"), "config/cluster.yaml: alerts.paging: got 'sometimes': Input should be a valid boolean"),
]  # fmt: skip


def digest(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "main.py", tmp_path / "main.py")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts", ignore=IGNORED)
    shutil.copytree(ROOT / "config", tmp_path / "config")
    previous = tmp_path / "cdktf.out" / "stacks" / "layer_1"
    previous.mkdir(parents=True)
    (previous / "cdk.tf.json").write_text('{"previous": "output"}\n')
    return tmp_path


def test_the_matrix_has_at_least_twenty_distinct_mistakes():
    assert len({name for name, _, _ in CASES}) == len(CASES) >= 20


def assert_output_untouched(project: Path, before: dict[str, str]) -> None:
    assert digest(project / "cdktf.out") == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith("cdktf.out")) == [
        "cdktf.out"
    ]


def test_problems_in_different_files_are_reported_together(project, capsys, monkeypatch):
    from scripts import synth

    # GIVEN a mistake in images.yaml and another in an application's settings
    for name in ("moving-image-tag", "app-setting-missing"):
        next(case for case in CASES if case[0] == name)[1](project / "config")
    monkeypatch.setenv("CDKTF_OUTDIR", "unset-by-the-test")
    # WHEN synthesizing
    assert synth.synth(project) == 2
    err = capsys.readouterr().err
    # THEN both are reported in one run
    assert "config/images.yaml: redis: got 'redis:alpine'" in err, err
    assert "config key auth.jwt_expiry is missing" in err, err


@pytest.mark.parametrize(("name", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_precisely_and_leaves_output_alone(
    project, name, edit, expected, capsys, monkeypatch
):
    from scripts import synth

    # GIVEN a previous synthesis and one mistake in the configuration
    before = digest(project / "cdktf.out")
    edit(project / "config")
    monkeypatch.setenv("CDKTF_OUTDIR", "unset-by-the-test")
    # WHEN synthesizing as `make synth` does (in this process)
    status = synth.synth(project)
    err = capsys.readouterr().err
    # THEN it stops with status 2 and says exactly what is wrong, echoing no secret
    assert status == 2, err
    assert expected in err, err
    for secret in (FAKE_GITHUB_TOKEN, FAKE_PASSWORD, "bm90IGEga2V5", "\x1b"):
        assert secret not in err, f"{secret!r} echoed: {err}"
    # AND the previous output is untouched, with no staging directory left behind
    assert_output_untouched(project, before)


# Through a real process: the exit status, and no traceback on the terminal.
SUBPROCESS_CASES = ("unknown-key", "yaml-syntax", "app-setting-missing", "not-utf8", "alias-bomb")


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_make_synth_exits_2_without_a_traceback(project, name):
    _, edit, expected = next(case for case in CASES if case[0] == name)
    before = digest(project / "cdktf.out")
    edit(project / "config")
    result = subprocess.run(
        [sys.executable, str(project / "scripts" / "synth.py")],
        cwd=project,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert_output_untouched(project, before)
