"""`make synth` end to end: scripts/synth.py running main.py in a separate process."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PLATFORM_STACKS, STACK_NAMES

ROOT = Path(__file__).resolve().parent.parent

# Values shaped like real credentials, placed where a careless app would pick them up.
SENTINELS = {
    "DIGITALOCEAN_TOKEN": "dop_v1_" + "0" * 56,
    "SPACES_ACCESS_KEY_ID": "DO00SENTINELACCESSKEY",
    "SPACES_SECRET_ACCESS_KEY": "sentinel-spaces-secret-key-value",
    "AWS_ACCESS_KEY_ID": "AKIA" + "SENTINEL" * 2,
    "AWS_SECRET_ACCESS_KEY": "sentinel-aws-secret-access-key",
    "VAULT_TOKEN": "hvs." + "SENTINEL" * 3,
    "TF_VAR_traefik_dashboard_users": "admin:$2y$05$sentinelhash",
    "TF_VAR_vault_unseal_keys": "c2VudGluZWwta2V5",
}


# scripts/render/node_modules is mermaid-cli (500 MB): no synthesis needs it.
IGNORED = shutil.ignore_patterns("node_modules", "__pycache__")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the app's entry points and configuration; packages come from the install."""
    shutil.copy(ROOT / "main.py", tmp_path / "main.py")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts", ignore=IGNORED)
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def run_synth(project: Path, extra_env: dict[str, str] | None = None):
    env = {**os.environ, **(extra_env or {})}
    return subprocess.run(
        [sys.executable, str(project / "scripts" / "synth.py")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def tree_digest(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def fake_previous_output(project: Path) -> dict[str, str]:
    previous = project / "cdktf.out" / "stacks" / "layer_1"
    previous.mkdir(parents=True)
    (previous / "cdk.tf.json").write_text('{"previous": true}\n')
    return tree_digest(project / "cdktf.out")


def test_synth_writes_every_stack_prints_a_summary_and_leaks_no_credential(project):
    # GIVEN credentials in the environment, as on a deploy runner
    result = run_synth(project, SENTINELS)
    # THEN synthesis succeeds and summarizes each stack on one line
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == sorted(STACK_NAMES)
    for line in lines:
        name = line.split(":", 1)[0]
        document = json.loads((project / "cdktf.out" / "stacks" / name / "cdk.tf.json").read_text())
        count = sum(len(items) for items in document["resource"].values())
        assert line.startswith(f"{name}: {count} resources ("), line
    # AND none of the credentials reached any synthesized file
    for path in (project / "cdktf.out").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            leaked = [name for name, value in SENTINELS.items() if value in text]
            assert not leaked, f"{path}: {leaked}"
    # AND no staging directory is left behind
    assert sorted(p.name for p in project.iterdir() if p.name.startswith("cdktf.out")) == [
        "cdktf.out"
    ]


def test_bad_configuration_lists_every_problem_and_keeps_previous_output(project):
    # GIVEN a previous synthesis and a configuration with several mistakes
    before = fake_previous_output(project)
    cluster = project / "config" / "cluster.yaml"
    data = yaml.safe_load(cluster.read_text())
    data["postgres"]["port"] = 0
    data["hostname"] = "not a hostname"
    data["surprise"] = "value"
    cluster.write_text(yaml.safe_dump(data))
    images = project / "config" / "images.yaml"
    pins = yaml.safe_load(images.read_text())
    images.write_text(yaml.safe_dump({**pins, "traefik": "traefik", "socket_proxy": "x:latest"}))
    # WHEN synthesizing
    result = run_synth(project)
    # THEN it fails with one message naming each problem, without a traceback
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "configuration is invalid (5 problems):" in result.stderr
    for expected in (
        "config/cluster.yaml: postgres.port: got 0",
        "config/cluster.yaml: hostname: got 'not a hostname'",
        "config/cluster.yaml: surprise: unknown key",
        "config/images.yaml: traefik: got 'traefik': must be pinned",
        "config/images.yaml: socket_proxy: got 'x:latest'",
    ):
        assert expected in result.stderr
    # AND the previous output is exactly as it was
    assert tree_digest(project / "cdktf.out") == before


def test_invalid_construct_props_fail_the_same_way(project, monkeypatch, capsys):
    from constructs_lib.errors import PropsError
    from scripts import synth
    from stacks import layer_1

    # GIVEN props a construct refuses although the configuration model accepted them (the
    # model checks first, so the refusal is provoked here)
    def refuse(*args, **kwargs):
        raise PropsError("DropletFirewall", ["admin_ssh_cidrs: '198.51.100.0/24' (example)"])

    before = fake_previous_output(project)
    monkeypatch.setattr(layer_1.Layer1Stack, "__init__", refuse)
    monkeypatch.setenv("CDKTF_OUTDIR", "unset-by-the-test")
    # THEN synthesis stops with status 2, the construct's message and no traceback
    assert synth.synth(project) == 2
    err = capsys.readouterr().err
    assert "invalid DropletFirewall props" in err and "Traceback" not in err
    # AND the previous output is untouched
    assert tree_digest(project / "cdktf.out") == before


def offline_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a command in a network namespace of its own (no interface but a down loopback): a
    phone-home attempt fails there at once and the CLI logs the failure."""
    return subprocess.run(
        ["unshare", "--net", *args],
        cwd=ROOT,
        env={k: v for k, v in {**os.environ, "CI": "1", **env}.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_phones_home_unless_told_not_to(tmp_path):
    # GIVEN the pinned CLI run bare, from a shell that has not set CHECKPOINT_DISABLE
    cli = ROOT / "node_modules" / ".bin" / "cdktf"
    assert cli.exists(), "run `make test`, which installs the cdktf CLI with npm ci"
    result = offline_cli(
        [str(cli), "list", "--output", str(tmp_path / "out")], {"CHECKPOINT_DISABLE": None}
    )
    # THEN it tries to reach HashiCorp's checkpoint service (what `npm run cdktf` prevents)
    assert "checkpoint-api.hashicorp.com" in result.stdout + result.stderr


def test_npm_run_cdktf_synthesizes_the_same_stacks_without_phoning_home(tmp_path, synth_dir):
    # GIVEN an operator's shell with nothing exported
    # WHEN they synthesize with the README's command, `npm run cdktf -- synth`
    result = offline_cli(
        ["npm", "run", "--silent", "cdktf", "--", "synth", "--output", str(tmp_path / "out")],
        {"CHECKPOINT_DISABLE": None, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": None},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # THEN the CLI never tries to phone home, and jsii prints no end-of-life banner
    assert "checkpoint" not in output.lower()
    assert "end-of-life" not in output
    # AND the project's own warnings are warnings, not "[ERROR]" lines
    warnings = [line for line in output.splitlines() if "deploy_tunnel.peers is empty" in line]
    assert warnings and all(line.startswith("WARN [layer_1]: ") for line in warnings), warnings
    # AND every stack is byte-for-byte what the in-process synthesis produced
    produced = sorted(p.name for p in (tmp_path / "out" / "stacks").iterdir())
    expected = sorted(p.name for p in (synth_dir / "stacks").iterdir())
    assert produced == expected
    for name in expected:
        cli_json = (tmp_path / "out" / "stacks" / name / "cdk.tf.json").read_text()
        assert cli_json == (synth_dir / "stacks" / name / "cdk.tf.json").read_text(), name


def test_cdktf_cli_refuses_a_platform_deploy_before_the_layers_it_reads(tmp_path):
    # GIVEN the pinned CLI and no credentials at all
    cli = ROOT / "node_modules" / ".bin" / "cdktf"
    # WHEN an operator deploys a platform stack on its own
    platform = PLATFORM_STACKS[0]
    result = subprocess.run(
        [str(cli), "deploy", platform, "--auto-approve", "--output", str(tmp_path / "o")],
        cwd=ROOT,
        env={**os.environ, "CHECKPOINT_DISABLE": "1", "CI": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    # THEN the CLI stops before Terraform runs, naming the stacks it depends on
    assert result.returncode != 0
    found = re.search(
        r"The following dependencies are not included in the stacks to run: ([\w, ]+)\.",
        result.stdout + result.stderr,
    )
    assert found and sorted(found.group(1).split(", ")) == ["cluster", "layer_1", "layer_2"]
    assert not (tmp_path / "o" / "stacks" / platform / ".terraform").exists()


def test_stack_dependencies_follow_the_deploy_order(synth_dir):
    import json

    manifest = json.loads((synth_dir / "manifest.json").read_text())["stacks"]
    assert manifest["cluster"]["dependencies"] == []
    assert manifest["layer_1"]["dependencies"] == ["cluster"]
    assert sorted(manifest["layer_2"]["dependencies"]) == ["cluster", "layer_1"]
    for platform in PLATFORM_STACKS:
        expected = ["cluster", "layer_1", "layer_2"]
        assert sorted(manifest[platform]["dependencies"]) == expected, platform


def test_a_deploy_tunnel_without_peers_or_key_is_a_loud_warning_not_an_error(
    project, capsys, tmp_path
):
    import main
    from stacks.config import load_config

    # GIVEN the shipped configuration, whose deploy tunnel lists no peer yet
    # THEN building the app succeeds but says that nothing can deploy
    main.build(project, outdir=str(tmp_path / "out"))
    assert "warning: config/cluster.yaml: deploy_tunnel.peers is empty" in capsys.readouterr().err
    # AND with a peer but no manager key yet, it says no peer configuration is written
    cluster = project / "config" / "cluster.yaml"
    data = yaml.safe_load(cluster.read_text())
    peer = {"name": "ci", "public_key": "A" * 43 + "=", "address": "10.200.0.2"}
    data["deploy_tunnel"] = {"peers": [peer]}
    cluster.write_text(yaml.safe_dump(data))
    (warning,) = (w for w in load_config(project).warnings() if "deploy_tunnel" in w)
    assert "manager_public_key is not set" in warning
    # AND the warnings go once the manager's key is known
    data["deploy_tunnel"]["manager_public_key"] = "B" * 42 + "A="
    cluster.write_text(yaml.safe_dump(data))
    assert not any("deploy_tunnel" in w for w in load_config(project).warnings())


def test_no_admin_network_and_no_tunnel_peer_is_a_loud_warning_not_an_error(project):
    from stacks.config import load_config

    def admin_warnings():
        return [w for w in load_config(project).warnings() if "admin UIs" in w]

    # GIVEN the shipped configuration: no admin network and no tunnel peer
    (warning,) = admin_warnings()
    # THEN it says the admin UIs, Vault's API included, answer nobody
    assert "answer 403 to every address, Vault's API included" in warning
    cluster = project / "config" / "cluster.yaml"
    data = yaml.safe_load(cluster.read_text())
    # WHEN there is a tunnel peer (it reaches them through the tunnel), or an admin network
    peer = {"name": "ci", "public_key": "A" * 43 + "=", "address": "10.200.0.2"}
    cluster.write_text(yaml.safe_dump({**data, "deploy_tunnel": {"peers": [peer]}}))
    assert admin_warnings() == []
    cluster.write_text(yaml.safe_dump({**data, "admin_networks": ["198.51.100.0/24"]}))
    assert admin_warnings() == []


def test_every_stack_requires_a_terraform_with_the_lockfile_and_keeps_its_own_state(stacks):
    # stacks/base.py: one place for the backend, the providers and the Terraform version.
    for name, document in stacks.items():
        terraform = document["terraform"]
        assert terraform["required_version"] == ">= 1.11.0", name
        assert terraform["backend"]["s3"]["key"] == f"sprocket-infra/{name}.tfstate", name
        assert terraform["backend"]["s3"]["use_lockfile"] is True, name
        assert "digitalocean" in document["provider"], name
        if name == "cluster":
            # It creates the Swarm: there is no Docker engine to configure a provider for yet.
            assert "docker" not in document["provider"]
            assert "docker" not in terraform["required_providers"]
        else:
            assert terraform["required_providers"]["docker"]["version"] == "3.9.0", name
            assert "docker" in document["provider"], name


def _complete(outdir: Path) -> bool:
    from scripts.synth import check_output

    return outdir.exists() and check_output(outdir) == []


def test_a_killed_synth_leaves_the_previous_output_whole_and_the_next_run_cleans_up(project):
    import signal
    import time

    # GIVEN a complete previous synthesis
    assert run_synth(project).returncode == 0
    before = tree_digest(project / "cdktf.out")
    # A killed process cannot remove its temporary files (jsii's runtime among them): they go
    # to a directory of this test's, not the machine's.
    scratch = project.parent / "killed-tmp"
    scratch.mkdir(exist_ok=True)
    for delay_s in (0.5, 2.0, 3.5, 5.0):
        # WHEN a synthesis is killed at some point of its run
        process = subprocess.Popen(
            [sys.executable, str(project / "scripts" / "synth.py")],
            cwd=project,
            env={**os.environ, "TMPDIR": str(scratch)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay_s)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        # THEN cdktf.out is a whole output, byte for byte the same (synthesis is
        # deterministic, so the old one and a just-swapped new one agree)
        assert _complete(project / "cdktf.out"), f"killed after {delay_s} s"
        assert tree_digest(project / "cdktf.out") == before, f"killed after {delay_s} s"
    # AND the next run leaves only its own output behind
    assert run_synth(project).returncode == 0
    assert sorted(p.name for p in (project / ".cdktf.out").iterdir() if p.name != "lock") == [
        (project / "cdktf.out").resolve().name
    ]


def test_a_synthesis_and_a_failed_one_leave_nothing_in_the_temp_directory(project, tmp_path):
    # GIVEN an empty temporary directory for the run
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # WHEN a synthesis succeeds, and then one fails on a configuration mistake
    assert run_synth(project, {"TMPDIR": str(scratch)}).returncode == 0
    cluster = project / "config" / "cluster.yaml"
    cluster.write_text(cluster.read_text() + "\nno_such_setting: 1\n")
    assert run_synth(project, {"TMPDIR": str(scratch)}).returncode == 2
    # THEN neither left anything behind (jsii's runtime, cdktf's staging directories)
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_an_environment_variable_cannot_change_the_output_format(project):
    # GIVEN variables that would make cdktf write HCL or start Node differently
    result = run_synth(
        project, {"SYNTH_HCL_OUTPUT": "true", "NODE_OPTIONS": "--no-such-flag", "JSII_X": "1"}
    )
    # THEN they are ignored, each with a warning, and the output is Terraform JSON
    assert result.returncode == 0, result.stderr
    for name in ("SYNTH_HCL_OUTPUT", "NODE_OPTIONS", "JSII_X"):
        assert f"warning: ignoring {name}:" in result.stderr
    assert _complete(project / "cdktf.out")


def test_a_failure_of_the_tool_exits_3_in_one_line_without_secrets(monkeypatch, capsys):
    from scripts import synth

    # GIVEN a failure that is not the configuration's, whose message holds a credential
    token = "ghp_" + "N0tARealT0ken" * 3

    def broken(*args, **kwargs):
        raise RuntimeError(f"jsii runtime died while holding {token}")

    monkeypatch.setattr(synth, "synth", broken)
    # WHEN make synth runs
    status = synth.main([])
    err = capsys.readouterr().err
    # THEN it exits 3 (2 is for configuration mistakes), says so in one line, masks the token
    assert status == 3
    assert "synth failed (the tool, not your input): RuntimeError: jsii runtime died" in err
    assert token not in err and "Traceback" not in err


def test_two_syntheses_of_one_checkout_at_once_both_succeed(project):
    # GIVEN two `make synth` started together in the same checkout
    processes = [
        subprocess.Popen(
            [sys.executable, str(project / "scripts" / "synth.py")],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in processes]
    # THEN both succeed (the second waits for the first) and the output is whole
    assert [p.returncode for p in processes] == [0, 0], results
    assert _complete(project / "cdktf.out")
