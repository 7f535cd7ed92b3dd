"""Vault's own configuration: its KV mounts, policies, GitHub login, audit and service tokens.

Creates the KV v2 mounts ``infrastructure`` and ``platform`` (kept: ``prevent_destroy``); the
teams' policies of ``stacks/vault_policies.py``; one policy per environment's platform stack,
written from what that stack grants itself; GitHub login for SprocketBot's teams; a stdout
audit device; and one token role per environment, from which whoever deploys that
environment mints a short-lived token carrying its policy only. No token is stored in any
Terraform state or output.

    vault = VaultConfiguration(self, "Default", VaultConfigurationProps(
        environments=["main", "staging"]))
    vault.infrastructure_mount         # where generated infrastructure secrets go
    vault.platform_grants["main"]      # attached to platform-main (VaultGrants.attach)
    vault.grant_platform_policies()    # once every stack is built
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf import TerraformStack
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.vault_access import (
    VaultAuditLog,
    VaultGithubAuth,
    VaultGithubAuthProps,
    VaultServiceToken,
    VaultServiceTokenProps,
    VaultTokenRole,
    VaultTokenRoleProps,
)
from constructs_lib.vault_grants import VaultGrants, refresh_rules
from constructs_lib.vault_kv import VaultKvMount, VaultKvMountProps
from constructs_lib.vault_policy import PolicyRule, VaultPolicy, VaultPolicyProps
from stacks.shared_services.influxdb import environment_token
from stacks.vault_policies import (
    ADMINS,
    GITHUB_TEAMS,
    INFLUXDB_TOKENS,
    INFRASTRUCTURE,
    MOUNTS,
    PLAN,
    PLATFORM,
    platform_service,
    team_policies,
)

GITHUB_ORGANIZATION = "SprocketBot"


@dataclass(frozen=True, kw_only=True)
class VaultConfigurationProps:
    # Every environment gets a platform policy and token role of its own.
    environments: Sequence[str]

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.environments, str) or not self.environments:
            problems.append(
                f"environments={self.environments!r}: list at least one environment name"
            )
        elif len(set(self.environments)) != len(self.environments):
            problems.append(f"environments={list(self.environments)!r}: names must be unique")
        raise_if("VaultConfiguration", problems)


class VaultConfiguration(Construct):
    def __init__(self, scope: Construct, id: str, props: VaultConfigurationProps) -> None:
        super().__init__(scope, id)
        environments = sorted(props.environments)
        infrastructure_kv = VaultKvMount(
            self,
            "infrastructure_kv",
            VaultKvMountProps(path=INFRASTRUCTURE, description="Infrastructure secrets"),
        )
        VaultKvMount(
            self,
            "platform_kv",
            VaultKvMountProps(path=PLATFORM, description="Application secrets"),
        )
        for name, rules in team_policies().items():
            VaultPolicy(
                self,
                f"policy_{name.replace('-', '_')}",
                VaultPolicyProps(
                    name=name, rules=rules, mounts=MOUNTS, administrator=name == ADMINS
                ),
            )
        VaultGithubAuth(
            self,
            "github_auth",
            VaultGithubAuthProps(organization=GITHUB_ORGANIZATION, teams=GITHUB_TEAMS),
        )
        VaultAuditLog(self, "audit_log")

        # A reference to the mount (not the literal "infrastructure"), so every secret written
        # into it waits for the mount on the first apply.
        self.infrastructure_mount: str = infrastructure_kv.path
        # Environment -> what its platform stack may do in Vault. Each platform stack grants
        # itself what it reads and writes (constructs_lib/vault_grants.py); the policies are
        # written from those grants once every stack is built (grant_platform_policies).
        self.platform_grants: Mapping[str, VaultGrants] = {
            env: VaultGrants(platform_service(env)) for env in environments
        }
        self._platform_policies = {
            env: VaultPolicy(
                self,
                f"policy_{platform_service(env).replace('-', '_')}",
                VaultPolicyProps(name=platform_service(env), rules=None, mounts=MOUNTS),
            )
            for env in environments
        }
        # Plans and drift checks: exactly what a refresh of every stack reads, nothing it
        # could write. Exempt from the mount checks (a refresh reads Vault's configuration
        # under sys/ and auth/); every rule is read-only but sys/audit's sudo, which listing
        # audit devices needs, and the update a token lookup by accessor takes (the
        # endpoint's verb; it changes nothing). tests/stacks/test_layer_2.py holds it to that.
        self._plan_policy = VaultPolicy(
            self, "policy_plan", VaultPolicyProps(name=PLAN, rules=None, administrator=True)
        )
        # Its token is stored in the plan workflow's environment: periodic (a week), renewed by
        # each plan review, gone after a week without one (mint another: README).
        VaultTokenRole(
            self,
            "plan_role",
            VaultTokenRoleProps(
                name=PLAN, policies=[self._plan_policy.name], period_s=7 * 24 * 3600
            ),
        )
        # The InfluxDB bucket loop writes each environment's own InfluxDB token to Vault
        # (stacks/shared_services/influxdb.py): it may create and update those paths and see
        # whether they exist, nothing else, not even read them back.
        token_writer = VaultPolicy(
            self,
            "policy_influxdb_tokens",
            VaultPolicyProps(
                name=INFLUXDB_TOKENS,
                rules=[
                    rule
                    for env in environments
                    for rule in (
                        PolicyRule(
                            path=f"{PLATFORM}/data/{environment_token(env).path}",
                            capabilities=("create", "update"),
                        ),
                        PolicyRule(
                            path=f"{PLATFORM}/metadata/{environment_token(env).path}",
                            capabilities=("read",),
                        ),
                    )
                ],
                mounts=MOUNTS,
            ),
        )
        self.influxdb_vault_token: str = VaultServiceToken(
            self,
            "influxdb_tokens_token",
            VaultServiceTokenProps(name=INFLUXDB_TOKENS, policies=[token_writer.name]),
        ).client_token
        # The tokens a platform stack is deployed with: minted per deploy from its role
        # (`vault token create -role=platform-<env>`), never stored in any state.
        for env in environments:
            VaultTokenRole(
                self,
                f"platform_role_{env}",
                VaultTokenRoleProps(
                    name=f"platform-{env}",
                    policies=[self._platform_policies[env].name],
                ),
            )

    def grant_plan_policy(self, stacks: Sequence[TerraformStack]) -> None:
        """Write the ``plan`` policy: what refreshing ``stacks`` reads, read-only."""
        self._plan_policy.set_rules(refresh_rules(list(stacks)))

    def grant_platform_policies(self) -> None:
        """Write each platform policy from its stack's grants; call once every stack is built."""
        for env, policy in self._platform_policies.items():
            policy.set_rules(self.platform_grants[env].rules())
