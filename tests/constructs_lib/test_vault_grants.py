"""VaultGrants: the constructs that read and write Vault grant themselves exactly their paths,
the policy is made from the grants, and a read that bypasses them fails synthesis."""

from __future__ import annotations

import pytest
from cdktf import TerraformStack
from cdktf import Testing as CdktfTesting
from cdktf_cdktf_provider_vault.data_vault_kv_secret_v2 import DataVaultKvSecretV2
from cdktf_cdktf_provider_vault.generic_secret import GenericSecret
from cdktf_cdktf_provider_vault.provider import VaultProvider
from cdktf_cdktf_provider_vault.token import Token

from constructs_lib.errors import PropsError
from constructs_lib.vault_grants import VaultGrants, refresh_rules
from constructs_lib.vault_kv import (
    VaultKvMount,
    VaultKvMountProps,
    VaultKvSecret,
    VaultKvSecretProps,
)
from constructs_lib.vault_policy import PolicyRule, VaultPolicy, VaultPolicyProps
from constructs_lib.vault_secret_mount import VaultSecretMount, VaultSecretMountProps


@pytest.fixture
def stack(tmp_path):
    app = CdktfTesting.app(outdir=str(tmp_path))
    stack = TerraformStack(app, "s")
    VaultProvider(stack, "vault", address="https://vault.example.com")
    return stack


def test_constructs_grant_themselves_exactly_their_paths(stack):
    # GIVEN a stack with grants, a secret it reads and one it writes
    grants = VaultGrants("p").attach(stack)
    VaultSecretMount(
        stack, "read", VaultSecretMountProps(mount="platform", path="e/manual/x", key="k")
    )
    written = VaultKvSecretProps(mount="platform", path="e/generated/y", data={"k": "v"})
    VaultKvSecret(stack, "write", written)
    # THEN the policy is exactly those paths, in the ways used
    assert grants.rules() == [
        PolicyRule(
            path="platform/data/e/generated/y", capabilities=("create", "read", "update", "delete")
        ),
        PolicyRule(path="platform/data/e/manual/x", capabilities=("read",)),
        PolicyRule(path="platform/metadata/e/generated/y", capabilities=("read",)),
    ]
    assert grants.problems_in(stack) == []


def test_a_read_without_a_grant_is_named(stack):
    # GIVEN a raw data source that bypasses the constructs
    grants = VaultGrants("p").attach(stack)
    DataVaultKvSecretV2(stack, "raw", mount="platform", name="other/manual/x")
    # THEN synthesis has a problem naming it, the path and the policy
    (problem,) = grants.problems_in(stack)
    assert problem.startswith(
        "s: s/raw reads Vault secret platform/other/manual/x without a grant in p"
    )


def test_a_stack_without_grants_grants_nothing(stack):
    VaultSecretMount(stack, "read", VaultSecretMountProps(mount="platform", path="x", key="k"))
    assert VaultGrants.of(stack) is None


def test_refresh_rules_read_what_a_refresh_reads_and_refuse_unknown_resources(stack):
    mount = VaultKvMount(stack, "kv", VaultKvMountProps(path="infrastructure"))
    VaultKvSecret(stack, "w", VaultKvSecretProps(mount=mount.path, path="redis", data={"k": "v"}))
    rules = [PolicyRule(path="infrastructure/data/*", capabilities=("read",))]
    VaultPolicy(stack, "pol", VaultPolicyProps(name="ops", rules=rules))
    assert refresh_rules([stack]) == [
        PolicyRule(path="infrastructure/data/redis", capabilities=("read",)),
        PolicyRule(path="infrastructure/metadata/redis", capabilities=("read",)),
        PolicyRule(path="sys/mounts/infrastructure", capabilities=("read",)),
        PolicyRule(path="sys/policies/acl/ops", capabilities=("read",)),
    ]
    # A token is looked up by its accessor
    Token(stack, "tok", policies=["ops"])
    assert PolicyRule(path="auth/token/lookup-accessor", capabilities=("update",)) in (
        refresh_rules([stack])
    )
    # A Vault resource whose reads are not known stops synthesis
    GenericSecret(stack, "generic", path="secret/x", data_json="{}")
    with pytest.raises(ValueError, match="vault_generic_secret has no refresh reads"):
        refresh_rules([stack])


def test_a_policy_whose_rules_never_came_fails_synthesis(stack):
    VaultPolicy(stack, "pol", VaultPolicyProps(name="later", rules=None))
    with pytest.raises(Exception, match="its rules were never set"):
        stack.node.root.synth()


def test_rules_set_later_are_checked_like_props(stack):
    policy = VaultPolicy(stack, "pol", VaultPolicyProps(name="later", rules=None))
    with pytest.raises(PropsError, match="outside the secret mounts"):
        policy.set_rules([PolicyRule(path="sys/mounts", capabilities=("read",))])
