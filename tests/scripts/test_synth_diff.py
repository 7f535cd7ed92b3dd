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


def test_an_inserted_list_item_is_one_added_item_not_a_shifted_list(stacks):
    import copy

    # GIVEN the cluster stack with one more firewall rule, inserted before the others
    old = stacks["cluster"]
    new = copy.deepcopy(old)
    (firewall,) = new["resource"]["digitalocean_firewall"].values()
    rule = {"port_range": "22", "protocol": "tcp", "source_addresses": ["203.0.113.0/24"]}
    firewall["inbound_rule"].insert(0, rule)
    # THEN the diff shows that rule's attributes as added, and nothing else
    (address,) = synth_diff.diff_documents(old, new).changed
    changes = synth_diff.diff_documents(old, new).changed[address]
    assert [(path, before, after) for path, before, after, _ in changes] == [
        ("inbound_rule[protocol=tcp,port_range=22].port_range", "(absent)", '"22"'),
        ("inbound_rule[protocol=tcp,port_range=22].protocol", "(absent)", '"tcp"'),
        (
            "inbound_rule[protocol=tcp,port_range=22].source_addresses",
            "(absent)",
            '["203.0.113.0/24"]',
        ),
    ]


def test_an_added_resource_is_shown_with_its_body_secrets_masked(stacks):
    import copy

    old = stacks["layer_1"]
    new = copy.deepcopy(old)
    new["resource"]["docker_secret"]["extra"] = {"name": "extra-secret", "data": "c2VjcmV0"}
    new["resource"]["docker_network"]["extra"] = {"name": "extra-net", "driver": "overlay"}
    diff = synth_diff.diff_documents(old, new)
    text = synth_diff.render({"layer_1": diff})
    assert '+ docker_network.extra\n    driver = "overlay"\n    name = "extra-net"' in text
    assert "+ docker_secret.extra\n    data = (sensitive)\n    name = (sensitive)" in text
    assert "c2VjcmV0" not in text
