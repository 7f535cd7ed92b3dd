"""Who may log in to Vault, what is audited, and the tokens stacks are deployed with.

- ``VaultGithubAuth``: the GitHub auth method for one organization, mapping teams to policies.
- ``VaultAuditLog``: a file audit device writing to the container's stdout, so the log
  shipper collects it; request and response values are HMAC'd by Vault, never in clear.
- ``VaultTokenRole``: a token role minting short-lived tokens that carry exactly its
  policies, for whoever deploys a stack with them (no standing token is stored anywhere).
- ``VaultServiceToken``: a periodic orphan token for a service in the swarm that renews it.

    VaultGithubAuth(self, "github", VaultGithubAuthProps(
        organization="SprocketBot", teams={"github-admin": ["admins"]}))
    VaultTokenRole(self, "platform_main", VaultTokenRoleProps(
        name="platform-main", policies=["platform-main-service"]))
    # then: VAULT_TOKEN=$(vault token create -role=platform-main -field=token)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf_cdktf_provider_vault.audit import Audit
from cdktf_cdktf_provider_vault.github_auth_backend import GithubAuthBackend
from cdktf_cdktf_provider_vault.github_team import GithubTeam
from cdktf_cdktf_provider_vault.token import Token
from cdktf_cdktf_provider_vault.token_auth_backend_role import TokenAuthBackendRole
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.naming import slug

_TEAM = re.compile(r"^[a-z0-9][a-z0-9-]*$")
HOUR = 3600


@dataclass(frozen=True, kw_only=True)
class VaultGithubAuthProps:
    organization: str
    # Team slug -> policies its members receive.
    teams: Mapping[str, Sequence[str]]
    # Default: an 8-hour login, renewable up to 24 hours.
    token_ttl_s: int = 8 * HOUR
    token_max_ttl_s: int = 24 * HOUR

    def __post_init__(self) -> None:
        problems = [
            f"teams: {team!r} must be a GitHub team slug (lower-case, digits, '-')"
            for team in self.teams
            if not _TEAM.match(team)
        ]
        if self.token_ttl_s > self.token_max_ttl_s:
            problems.append(
                f"token_ttl_s={self.token_ttl_s}: must not exceed token_max_ttl_s "
                f"({self.token_max_ttl_s})"
            )
        raise_if("VaultGithubAuth", problems)


class VaultGithubAuth(Construct):
    def __init__(self, scope: Construct, id: str, props: VaultGithubAuthProps) -> None:
        super().__init__(scope, id)
        self.backend = GithubAuthBackend(
            self,
            "Default",
            organization=props.organization,
            token_ttl=props.token_ttl_s,
            token_max_ttl=props.token_max_ttl_s,
        )
        self.teams = [
            GithubTeam(
                self,
                f"Team-{slug(team)}",
                backend=self.backend.id,
                team=team,
                policies=list(policies),
            )
            for team, policies in sorted(props.teams.items())
        ]


class VaultAuditLog(Construct):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.resource = Audit(
            self, "Default", type="file", path="stdout", options={"file_path": "stdout"}
        )


@dataclass(frozen=True, kw_only=True)
class VaultTokenRoleProps:
    # The role's name: ``vault token create -role=<name>`` mints a token from it.
    name: str
    # The only policies its tokens carry (besides "default": the token's own lookup).
    policies: Sequence[str]
    # Default: two hours, not renewable: long enough for one deploy, never a standing credential.
    ttl_s: int = 2 * HOUR
    # Default: none. Set, tokens are periodic instead: renewable, each renewal good for
    # ``period_s``, and gone once a period passes without one (a workflow's stored token).
    period_s: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if not _TEAM.match(self.name):
            problems.append(f"name={self.name!r}: lower-case letters, digits and '-' only")
        if not self.policies:
            problems.append("policies: a token role needs at least one policy")
        if "root" in self.policies:
            problems.append("policies: a token role must never grant 'root'")
        if not 60 <= self.ttl_s <= 24 * HOUR:
            problems.append(f"ttl_s={self.ttl_s}: must be from 60 to {24 * HOUR} seconds")
        if self.period_s is not None and not HOUR <= self.period_s <= 32 * 24 * HOUR:
            problems.append(f"period_s={self.period_s}: must be from one hour to 32 days")
        raise_if("VaultTokenRole", problems)


class VaultTokenRole(Construct):
    """A token role whose tokens carry exactly ``policies``: orphans (they outlive the login
    of whoever mints them), not renewable, expiring after ``ttl_s``. Minting one takes
    ``update`` on ``auth/token/create/<name>``."""

    def __init__(self, scope: Construct, id: str, props: VaultTokenRoleProps) -> None:
        super().__init__(scope, id)
        policies = sorted(props.policies)
        self.resource = TokenAuthBackendRole(
            self,
            "Default",
            role_name=props.name,
            allowed_policies=policies,
            token_policies=policies,
            disallowed_policies=["root"],
            orphan=True,
            **(
                {"renewable": True, "token_period": props.period_s}
                if props.period_s
                else {
                    "renewable": False,
                    "token_ttl": props.ttl_s,
                    "token_max_ttl": props.ttl_s,
                    "token_explicit_max_ttl": props.ttl_s,
                }
            ),
        )
        self.name: str = self.resource.role_name


@dataclass(frozen=True, kw_only=True)
class VaultServiceTokenProps:
    # Shown as the token's display name and in the audit log.
    name: str
    policies: Sequence[str]
    # Default: 32 days; the token stops working if not renewed within a period. Its holder
    # renews it (auth/token/renew-self, in Vault's default policy).
    period_s: int = 32 * 24 * HOUR

    def __post_init__(self) -> None:
        problems = []
        if not self.policies:
            problems.append("policies: a service token needs at least one policy")
        if "root" in self.policies:
            problems.append("policies: a service token must never carry 'root'")
        if not HOUR <= self.period_s <= 32 * 24 * HOUR:
            problems.append(f"period_s={self.period_s}: must be from one hour to 32 days")
        raise_if("VaultServiceToken", problems)


class VaultServiceToken(Construct):
    """A periodic orphan token for a service inside the swarm, which renews it itself. The
    token is in the creating stack's state (and its Swarm secret): give it the least policy."""

    def __init__(self, scope: Construct, id: str, props: VaultServiceTokenProps) -> None:
        super().__init__(scope, id)
        self.resource = Token(
            self,
            "Default",
            display_name=props.name,
            policies=sorted(props.policies),
            no_default_policy=False,
            no_parent=True,
            renewable=True,
            period=f"{props.period_s}s",
        )
        self.client_token: str = self.resource.client_token
