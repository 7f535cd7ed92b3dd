import json
import subprocess
import sys

import pytest

from scripts import plan_comment
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "plans"


def plans() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}


def test_counts_per_stack_follow_terraform_actions():
    comment = plan_comment.render(plans())
    assert "| `layer_1` | 1 | 0 | 0 | 0 |" in comment
    assert "| `layer_2` | 0 | 2 | 1 | 1 |" in comment


def test_plans_are_collapsed_with_one_line_per_change():
    comment = plan_comment.render(plans())
    assert "<details><summary><code>layer_2</code>: 4 changes</summary>" in comment
    assert "~ docker_service.redis (task_spec)" in comment
    assert "-/+ docker_secret.redis_auth_secret" in comment
    assert "- docker_volume.old_Volume-data_12345678" in comment
    assert "+ digitalocean_record.dns_Apex_38EDD2C6" in comment
    assert "random_password.neo4j_password" not in comment  # no-op
    assert "data.vault_kv_secret_v2.read" not in comment  # reads are not changes


def test_sensitive_values_and_attribute_names_never_appear():
    comment = plan_comment.render(plans())
    assert "PLAN-FIXTURE-TOKEN" not in comment
    assert "~ vault_token.platform_token (period)" in comment
    assert "client_token" not in comment


def test_the_comment_is_findable_and_warns_about_destruction():
    comment = plan_comment.render(plans())
    assert comment.startswith(plan_comment.MARKER)
    assert "**2 resources are destroyed or replaced" in comment


def test_command_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "plan_comment.py"),
            *map(str, FIXTURES.glob("*.json")),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and result.stdout == plan_comment.render(plans())


def test_help_describes_the_command_and_bad_files_are_refused_cleanly(tmp_path, capsys):
    from scripts import plan_comment

    # --help prints usage and exits 0, instead of reading a file called "--help"
    with pytest.raises(SystemExit) as help_exit:
        plan_comment.main(["--help"])
    assert help_exit.value.code == 0 and "usage: plan_comment.py" in capsys.readouterr().out
    # A file that is not a JSON plan is named, without a traceback
    broken = tmp_path / "layer_1.json"
    broken.write_text("not json")
    assert plan_comment.main([str(broken)]) == 2
    assert f"{broken}: not a readable JSON plan" in capsys.readouterr().err
