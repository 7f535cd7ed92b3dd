import base64
import json
import subprocess
import sys

from scripts import synth_diff
from tests.conftest import ROOT, STACK_NAMES


def stack(**resources) -> dict:
    return {"//": {"metadata": {}}, "resource": resources}


def test_added_removed_and_changed_resources_with_their_attributes():
    old = stack(
        docker_service={"web": {"name": "web", "mode": {"replicated": {"replicas": 1}}}},
        docker_network={"old": {"name": "old"}},
    )
    new = stack(
        docker_service={"web": {"name": "web", "mode": {"replicated": {"replicas": 3}}}},
        docker_volume={"data": {"name": "data"}},
    )
    diff = synth_diff.diff_documents(old, new)
    assert diff.added == ["docker_volume.data"]
    assert diff.removed == ["docker_network.old"]
    assert diff.changed == {"docker_service.web": [("mode.replicated.replicas", "1", "3", [])]}


def test_secrets_are_masked():
    old = stack(
        docker_secret={"s": {"data": "${base64encode(var.a)}", "name": "a"}},
        vault_token={"t": {"client_token": "x", "period": "1s"}},
    )
    new = stack(
        docker_secret={"s": {"data": "${base64encode(var.b)}", "name": "b"}},
        vault_token={"t": {"client_token": "y", "period": "2s"}},
    )
    rendered = synth_diff.render({"s": synth_diff.diff_documents(old, new)})
    assert "var.a" not in rendered and "var.b" not in rendered
    assert '"x"' not in rendered and '"y"' not in rendered
    assert "(sensitive)" in rendered and 'period: "1s" -> "2s"' in rendered


def test_config_files_are_compared_as_the_text_services_read():
    def config(text):
        return stack(docker_config={"c": {"data": base64.b64encode(text.encode()).decode()}})

    diff = synth_diff.diff_documents(config("a: 1\nb: 2\n"), config("a: 1\nb: 3\n"))
    assert diff.changed["docker_config.c"][0][3] == ["-b: 2", "+b: 3"]


def test_whole_stacks_added_and_removed(tmp_path):
    for name, stacks in (("old", ["a", "b"]), ("new", ["b", "c"])):
        for s in stacks:
            (tmp_path / name / "stacks" / s).mkdir(parents=True)
            (tmp_path / name / "stacks" / s / "cdk.tf.json").write_text(json.dumps(stack()))
    diffs = synth_diff.diff_dirs(tmp_path / "old", tmp_path / "new")
    assert diffs["a"] == "removed" and diffs["c"] == "added" and diffs["b"].empty


def test_command_compares_two_output_directories(tmp_path, synth_dir):
    script = str(ROOT / "scripts" / "synth_diff.py")
    result = subprocess.run(
        [sys.executable, script, "--old-dir", str(synth_dir), "--new-dir", str(synth_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"## {name}: no change" for name in sorted(STACK_NAMES)]
