"""Who may log in to Vault, what is audited, and the tokens other stacks use.

- ``VaultGithubAuth``: the GitHub auth method for one organization, mapping teams to policies.
- ``VaultAuditLog``: a file audit device writing to the container's stdout, so the log
  shipper collects it; request and response values are HMAC'd by Vault, never in clear.
- ``VaultServiceToken``: a periodic, orphan token bound to named policies. It never
  expires while it is renewed within its period: every deploy of the owning stack renews
  it when less than ``renew_below_s`` is left.

    VaultGithubAuth(self, "github", VaultGithubAuthProps(
        organization="SprocketBot", teams={"github-admin": ["admins"]}))
    token = VaultServiceToken(self, "platform_token", VaultServiceTokenProps(
        name="platform", policies=["platform-service"]))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf_cdktf_provider_vault.audit import Audit
from cdktf_cdktf_provider_vault.github_auth_backend import GithubAuthBackend
from cdktf_cdktf_provider_vault.github_team import GithubTeam
from cdktf_cdktf_provider_vault.token import Token
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
class VaultServiceTokenProps:
    # Shown as the token's display name and in the audit log.
    name: str
    policies: Sequence[str]
    # Default: 32 days; the token stops working if not renewed within this period.
    period_s: int = 32 * 24 * HOUR
    # Default: a deploy renews the token when less than 16 days are left.
    renew_below_s: int = 16 * 24 * HOUR

    def __post_init__(self) -> None:
        problems = []
        if not self.policies:
            problems.append("policies: a service token needs at least one policy")
        if "root" in self.policies:
            problems.append("policies: a service token must never carry 'root'")
        if not 0 < self.renew_below_s < self.period_s:
            problems.append(
                f"renew_below_s={self.renew_below_s}: must be more than 0 and less than "
                f"period_s ({self.period_s})"
            )
        raise_if("VaultServiceToken", problems)


class VaultServiceToken(Construct):
    def __init__(self, scope: Construct, id: str, props: VaultServiceTokenProps) -> None:
        super().__init__(scope, id)
        self.resource = Token(
            self,
            "Default",
            display_name=props.name,
            policies=sorted(props.policies),
            no_default_policy=False,
            # An orphan outlives the deployer's own (short-lived) login token.
            no_parent=True,
            renewable=True,
            period=f"{props.period_s}s",
            renew_min_lease=props.renew_below_s,
            renew_increment=props.period_s,
        )
        self.client_token: str = self.resource.client_token
