"""Vault's own configuration: its KV mounts, policies, GitHub login, audit and service tokens.

Creates the KV v2 mounts ``infrastructure`` and ``platform``; one policy per role of
``stacks/vault_policies.py`` (the teams', the infrastructure service's, one per
environment's platform service); GitHub login for SprocketBot's teams; a stdout audit
device; the infrastructure token and one platform token per environment. Removing the
construct unmounts the KV mounts, which deletes every secret in them.

    vault = VaultConfiguration(self, "Default", VaultConfigurationProps(
        environments=["main", "staging"]))
    vault.infrastructure_mount         # where generated infrastructure secrets go
    vault.infrastructure_token         # reads infrastructure/ (Terraform expression)
    vault.platform_tokens["main"]      # reads platform/main/ only
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.vault_access import (
    VaultAuditLog,
    VaultGithubAuth,
    VaultGithubAuthProps,
    VaultServiceToken,
    VaultServiceTokenProps,
)
from constructs_lib.vault_kv import VaultKvMount, VaultKvMountProps
from constructs_lib.vault_policy import VaultPolicy, VaultPolicyProps
from stacks.vault_policies import (
    ADMINS,
    GITHUB_TEAMS,
    INFRASTRUCTURE,
    INFRASTRUCTURE_SERVICE,
    MOUNTS,
    PLATFORM,
    platform_service,
    policies,
)

GITHUB_ORGANIZATION = "SprocketBot"


@dataclass(frozen=True, kw_only=True)
class VaultConfigurationProps:
    # Every environment gets a platform policy and token of its own, limited to its secrets.
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
        vault_policies = {
            name: VaultPolicy(
                self,
                f"policy_{name.replace('-', '_')}",
                VaultPolicyProps(
                    name=name, rules=rules, mounts=MOUNTS, administrator=name == ADMINS
                ),
            )
            for name, rules in policies(environments).items()
        }
        VaultGithubAuth(
            self,
            "github_auth",
            VaultGithubAuthProps(organization=GITHUB_ORGANIZATION, teams=GITHUB_TEAMS),
        )
        VaultAuditLog(self, "audit_log")

        # A reference to the mount (not the literal "infrastructure"), so every secret written
        # into it waits for the mount on the first apply.
        self.infrastructure_mount: str = infrastructure_kv.path
        self.infrastructure_token: str = VaultServiceToken(
            self,
            "infrastructure_token",
            VaultServiceTokenProps(
                name="infrastructure", policies=[vault_policies[INFRASTRUCTURE_SERVICE].name]
            ),
        ).client_token
        # Environment -> the token that reads that environment's application secrets only.
        self.platform_tokens: Mapping[str, str] = {
            env: VaultServiceToken(
                self,
                f"platform_token_{env}",
                VaultServiceTokenProps(
                    name=f"platform-{env}", policies=[vault_policies[platform_service(env)].name]
                ),
            ).client_token
            for env in environments
        }
