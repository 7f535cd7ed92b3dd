import json

import pytest

from constructs_lib.errors import PropsError
from constructs_lib.vault_policy import (
    PolicyRule,
    VaultPolicyProps,
    policy_problems,
    render_policy,
)

MOUNTS = ("infrastructure", "platform")


def test_rendered_policy_is_a_json_policy_document_with_the_same_rules():
    rules = [
        PolicyRule(path="platform/metadata/*", capabilities=("read", "list")),
        PolicyRule(path="platform/data/*", capabilities=("read",)),
    ]
    text = render_policy(rules)
    assert text.startswith("{"), "Vault's parser takes text starting with '{' as JSON"
    assert json.loads(text) == {
        "path": {
            "platform/data/*": {"capabilities": ["read"]},
            "platform/metadata/*": {"capabilities": ["read", "list"]},
        }
    }
    # Sorted and indented, so a change reads as a small diff.
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True)


def test_two_rules_for_one_path_are_refused_not_merged_silently():
    twice = [
        PolicyRule(path="platform/data/*", capabilities=("read",)),
        PolicyRule(path="platform/data/*", capabilities=("update",)),
    ]
    with pytest.raises(ValueError, match="more than one rule"):
        render_policy(twice)
    with pytest.raises(PropsError) as error:
        VaultPolicyProps(name="ops", rules=twice)
    assert error.value.problems == ["rules: more than one rule for path(s) ['platform/data/*']"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (PolicyRule(path="*", capabilities=("read",)), "a wildcard that spans mounts"),
        (PolicyRule(path="+/data/x", capabilities=("read",)), "a wildcard that spans mounts"),
        (PolicyRule(path="sys/policies/acl/*", capabilities=("read",)), "outside the secret"),
        (PolicyRule(path="platform/data/*", capabilities=("sudo",)), "'sudo' is for admin"),
        (PolicyRule(path="platform/data/*", capabilities=("write",)), "unknown capabilities"),
    ],
)
def test_broad_rules_are_named(rule, expected):
    (problem,) = policy_problems([rule], mounts=MOUNTS)
    assert expected in problem


def test_token_self_paths_and_mount_paths_are_fine():
    rules = [
        PolicyRule(path="auth/token/renew-self", capabilities=("update",)),
        PolicyRule(path="platform/data/+/generated/*", capabilities=("create", "update")),
    ]
    assert policy_problems(rules, mounts=MOUNTS) == []


def test_props_refuse_broad_rules_unless_administrator():
    # GIVEN one rule reaching every path with sudo
    everything = [PolicyRule(path="*", capabilities=("read", "sudo"))]
    # WHEN an ordinary policy holds it THEN both of its problems are named
    with pytest.raises(PropsError) as error:
        VaultPolicyProps(name="ops", rules=everything)
    assert error.value.problems == [
        "path '*': 'sudo' is for administrators only",
        "path '*': a wildcard that spans mounts",
    ]
    # AND the administrator policy may hold it: these props raise nothing
    VaultPolicyProps(name="admins", rules=everything, administrator=True)
