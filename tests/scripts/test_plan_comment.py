import json
import shutil
import subprocess
import sys

import pytest

from scripts import plan_comment
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "plans"


def plans() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}


def test_fixture_plans_are_summarized_and_secrets_never_appear():
    comment = plan_comment.render(plans())
    assert (
        "| `layer_1` | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | Plan: 1 to add, 0 to change, 0 to destroy. |"
        in comment
    )
    assert "+ digitalocean_record.dns_Apex_38EDD2C6" in comment
    assert "+/- docker_secret.redis_auth_secret  (create before destroy)" in comment
    assert "- docker_volume.old_Volume-data_12345678" in comment
    assert "random_password.neo4j_password" not in comment  # no-op
    assert "data.vault_kv_secret_v2.read" not in comment  # reads are not changes
    assert "PLAN-FIXTURE-TOKEN" not in comment
    # a changed attribute is named down its nested block, whatever the sensitivity marks
    # of its siblings ([{}] marks nothing)
    image = (
        '    task_spec[0].container_spec[0].image: "redis:7.4.10-alpine" -> "redis:7.4.11-alpine"'
    )
    assert "~ docker_service.redis" in comment and image in comment.splitlines()


def test_the_comment_is_findable_and_warns_about_destruction():
    comment = plan_comment.render(plans())
    assert comment.startswith(plan_comment.MARKER)
    assert "resources are destroyed or replaced: read them carefully" in comment


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


# --- On a real plan -------------------------------------------------------------------------

TERRAFORM = shutil.which("terraform")
CBD = {"create_before_destroy": True}
BEFORE = {
    "resource": {"terraform_data": {
        "keep": {"input": "same"},
        "upd": {"input": {"a": 1, "nested": [{"x": "old"}]}},
        "repl": {"input": "v1", "triggers_replace": "t1"},
        "cbd": {"input": "v1", "triggers_replace": "t1", "lifecycle": CBD},
        "gone": {"input": "bye"},
        "forgetme": {"input": "f"},
        "oldname": {"input": "m"},
        "secret": {"input": '${sensitive("s3cr3t-one")}'},
    }},
    "output": {"o1": {"value": "one"}, "o_gone": {"value": "x"},
               "o_sens": {"value": '${sensitive("hidden-one")}', "sensitive": True}},
}  # fmt: skip
AFTER = {
    "resource": {"terraform_data": {
        "keep": {"input": "same"},
        "upd": {"input": {"a": 2, "nested": [{"x": "new"}]}},
        "repl": {"input": "v1", "triggers_replace": "t2"},
        "cbd": {"input": "v1", "triggers_replace": "t2", "lifecycle": CBD},
        "newone": {"input": "hi"},
        "newname": {"input": "m"},
        "secret": {"input": '${sensitive("s3cr3t-two")}'},
        "imp": {"input": "i"},
    }},
    "moved": [{"from": "terraform_data.oldname", "to": "terraform_data.newname"}],
    "removed": [{"from": "terraform_data.forgetme", "lifecycle": {"destroy": False}}],
    "import": [{"to": "terraform_data.imp", "id": "some-id"}],
    "output": {"o1": {"value": "uno"}, "o_new": {"value": "y"},
               "o_sens": {"value": '${sensitive("hidden-two")}', "sensitive": True}},
}  # fmt: skip


@pytest.fixture(scope="module")
def real_plan(tmp_path_factory) -> tuple[dict, str]:
    """A real plan with every kind of change, from Terraform itself (terraform_data is built in:
    nothing is downloaded), as JSON and as Terraform prints it."""
    if TERRAFORM is None:
        pytest.fail("terraform is not on PATH: the plan comment is tested on real plans")
    workdir = tmp_path_factory.mktemp("plan")
    env = {"PATH": "/usr/bin:/bin", "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1",
           "TF_CLI_CONFIG_FILE": "/dev/null", "HOME": str(workdir)}  # fmt: skip

    def terraform(*args: str) -> str:
        done = subprocess.run([TERRAFORM, *args, "-no-color"], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    (workdir / "main.tf.json").write_text(json.dumps(BEFORE))
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    (workdir / "main.tf.json").write_text(json.dumps(AFTER))
    terraform("plan", "-input=false", "-out=plan.tfplan")
    return json.loads(terraform("show", "-json", "plan.tfplan")), terraform("show", "plan.tfplan")


def test_a_real_plan_reads_like_terraforms_own_and_adds_up(real_plan):
    plan, printed = real_plan
    comment = plan_comment.render({"stack": plan})
    # Terraform's own summary line, as Terraform prints it
    (terraform_line,) = (line for line in printed.splitlines() if line.startswith("Plan:"))
    assert terraform_line == "Plan: 1 to import, 3 to add, 3 to change, 3 to destroy."
    row = next(line for line in comment.splitlines() if line.startswith("| `stack` |"))
    assert row.endswith(f"| {terraform_line} |")
    # one count per kind, adding up to the changes listed
    counts = [int(cell) for cell in row.split("|")[2:10]]
    assert counts == [
        1,
        2,
        2,
        1,
        1,
        1,
        1,
        4,
    ]  # create update replace delete move import forget outputs
    assert f"<code>stack</code>: {sum(counts[:7])} changes, 4 output changes" in comment


def test_every_kind_of_change_says_what_and_why(real_plan):
    comment = plan_comment.render({"stack": real_plan[0]})
    lines = comment.splitlines()
    assert "+ terraform_data.newone" in lines
    assert "- terraform_data.gone  (no longer in the configuration)" in lines
    # replacements: the order, and the attribute forcing it
    assert "-/+ terraform_data.repl  (destroy, then create; forced by triggers_replace)" in lines
    assert "+/- terraform_data.cbd  (create before destroy; forced by triggers_replace)" in lines
    assert "> terraform_data.newname  (moved from terraform_data.oldname)" in lines
    assert "<- terraform_data.imp  (imported from id some-id, then updated)" in lines
    assert ". terraform_data.forgetme  (no longer managed; not destroyed)" in lines
    # nested paths with their values before and after
    assert '    input.nested[0].x: "old" -> "new"' in lines
    assert "    input.a: 1 -> 2" in lines
    assert "    output.a: 1 -> (known after apply)" in lines
    # output changes
    assert '~ output.o1: "one" -> "uno"' in lines
    assert '- output.o_gone: "x" -> null' in lines
    assert '+ output.o_new: null -> "y"' in lines


def test_no_sensitive_value_appears_even_where_terraform_prints_it(real_plan):
    plan, printed = real_plan
    comment = plan_comment.render({"stack": plan})
    # Terraform marks the attribute, not the value: terraform_data copies the sensitive input
    # into an unmarked output, and Terraform's own plan shows it
    assert "s3cr3t-one" in printed
    for secret in ("s3cr3t-one", "s3cr3t-two", "hidden-one", "hidden-two"):
        assert secret not in comment
    assert "    input: (sensitive) -> (sensitive)" in comment.splitlines()
    assert "    output: (sensitive) -> (known after apply)" in comment.splitlines()
    assert "~ output.o_sens: (sensitive) -> (sensitive)" in comment.splitlines()
