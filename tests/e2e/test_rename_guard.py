"""Renames a provider would apply in place stop the plan instead (constructs_lib/rename_guard.py).

Real Terraform (no provider: ``terraform_data`` is built in) plans the synthesized guard and the
synthesized ``lifecycle`` block of each guarded resource. The guarded resource itself (a Spaces
bucket, a Vault mount) is a stand-in here: a ``terraform_data`` carrying that resource's
``lifecycle`` block verbatim, since its provider cannot be downloaded. What is proven is
Terraform's part: a new name replaces the guard, ``replace_triggered_by`` turns that into a
replacement of the resource, and ``prevent_destroy`` stops the plan, naming it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.test_remote_state import TERRAFORM, terraform, terraform_env  # noqa: F401

GUARDED = {"digitalocean_spaces_bucket": "name", "vault_mount": "path"}
REFERENCE = re.compile(r"^terraform_data\.([A-Za-z0-9_-]+)$")


def guarded(stacks: dict[str, dict]) -> list[tuple[str, str, dict, str, dict]]:
    """(stack, address, resource, guard id, guard) for every guarded resource."""
    found = []
    for stack, document in stacks.items():
        resources = document.get("resource", {})
        for kind, field in GUARDED.items():
            for name, resource in resources.get(kind, {}).items():
                (reference,) = resource["lifecycle"]["replace_triggered_by"]
                guard_id = REFERENCE.match(reference).group(1)
                guard = resources["terraform_data"][guard_id]
                assert guard["triggers_replace"] == {"name": resource[field]}, (stack, name)
                found.append((stack, f"{kind}.{name}", resource, guard_id, guard))
    return found


def test_every_bucket_and_mount_is_guarded_and_protected(stacks):
    found = guarded(stacks)
    kinds = {address.split(".")[0] for _, address, *_ in found}
    assert kinds == set(GUARDED)
    for stack, address, resource, _, _ in found:
        assert resource["lifecycle"]["prevent_destroy"] is True, (stack, address)


def _write(workdir: Path, guard_id: str, guard: dict, lifecycle: dict, name: str) -> None:
    config = {
        "resource": {
            "terraform_data": {
                guard_id: {**{k: v for k, v in guard.items() if k != "//"},
                           "triggers_replace": {"name": name}},
                # Stand-in for the guarded resource: its synthesized lifecycle, verbatim.
                "guarded": {"input": name, "lifecycle": lifecycle},
            }
        }
    }  # fmt: skip
    (workdir / "main.tf.json").write_text(json.dumps(config, indent=1))


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")
def test_a_rename_stops_the_plan_naming_the_resource(stacks, terraform_env, tmp_path):  # noqa: F811
    # GIVEN the state bucket's synthesized guard and lifecycle, applied with its name
    _, _, resource, guard_id, guard = next(
        g for g in guarded(stacks) if g[1].startswith("digitalocean_spaces_bucket.")
    )
    name = resource["name"]
    _write(tmp_path, guard_id, guard, resource["lifecycle"], name)
    for step in (("init",), ("apply", "-auto-approve")):
        done = terraform(tmp_path, terraform_env, *step, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    # THEN the same name plans nothing
    same = terraform(tmp_path, terraform_env, "plan", "-detailed-exitcode", check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    # WHEN the name changes
    _write(tmp_path, guard_id, guard, resource["lifecycle"], f"{name}-renamed")
    renamed = terraform(tmp_path, terraform_env, "plan", check=False)
    # THEN the plan stops: the guarded resource would be replaced and may not be destroyed
    assert renamed.returncode == 1, renamed.stdout
    assert "Instance cannot be destroyed" in renamed.stderr
    assert "terraform_data.guarded" in renamed.stderr
