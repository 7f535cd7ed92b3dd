"""A Vault ACL policy built from typed rules, and the checks that keep it least-privilege.

``render_policy`` turns rules into the policy document (JSON) Vault stores; ``policy_problems``
says what is broader than a non-admin policy may be: a path outside a named mount,
a wildcard that spans mounts, or ``sudo``. The ``VaultPolicy`` construct creates one
``vault_policy`` and refuses rules with such problems unless told the policy is an
administrator's.

    VaultPolicy(self, "developers", VaultPolicyProps(name="developers", rules=[
        PolicyRule(path="platform/data/*", capabilities=CRUD),
        PolicyRule(path="platform/metadata/*", capabilities=("list", "read"))]))
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import jsii
from cdktf_cdktf_provider_vault.policy import Policy
from constructs import Construct, IValidation

from constructs_lib.errors import raise_if

CAPABILITIES = ("create", "read", "update", "patch", "delete", "list", "sudo", "deny")
CRUD = ("create", "read", "update", "delete", "list")
READ = ("read", "list")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class PolicyRule:
    # Vault API path; "+" matches one segment, a trailing "*" any suffix.
    path: str
    capabilities: Sequence[str]


def policy_document(rules: Sequence[PolicyRule]) -> dict:
    """``{"path": {<path>: {"capabilities": [...]}}}``: what ``render_policy`` serialises."""
    paths: dict[str, dict[str, list[str]]] = {}
    for rule in rules:
        # Two rules for one path would be one JSON key: the caller must merge them.
        if rule.path in paths:
            raise ValueError(f"path {rule.path!r}: more than one rule")
        paths[rule.path] = {"capabilities": list(rule.capabilities)}
    return {"path": paths}


# Vault parses a policy with HCL's parser, which reads JSON too. Checked in hashicorp/vault at
# afc925b3590c48d6e214c95aabf7fa5372448fd9 (release/1.14.x, "Bumped product version to 1.14.9"):
# vault/policy.go:285-286 ParseACLPolicy -> parseACLPolicyWithTemplating, whose
# vault/policy.go:295 is hcl.Parse(rules), and vault/policy.go:317 keeps the text as given
# (Raw: rules). hashicorp/hcl v1.0.1-vault-5 (Vault's go.mod:115) parse.go:23-29 with
# lex.go:31-32 hands text starting with "{" to its JSON parser, whose json/parser/flatten.go:80-117
# makes {"path": {"p": {...}}} the tree of `path "p" {...}`. OpenBao, which the e2e tests
# run, likewise (openbao/openbao df6ce2cebaa8): internal/vault/policy/policy.go:333 is
# hclutil.ParseConfig, JSON when the text starts with "{" (sdk/helper/hclutil/hcl.go:77-80).
def render_policy(rules: Sequence[PolicyRule]) -> str:
    """The policy document for ``rules``, as JSON; Vault reads it like the policy HCL."""
    return json.dumps(policy_document(rules), indent=2, sort_keys=True)


def policy_problems(rules: Sequence[PolicyRule], *, mounts: Sequence[str]) -> list[str]:
    """What makes ``rules`` broader than a non-administrator policy may be."""
    problems = []
    for rule in rules:
        if unknown := sorted(set(rule.capabilities) - set(CAPABILITIES)):
            problems.append(f"path {rule.path!r}: unknown capabilities {unknown}")
        if "sudo" in rule.capabilities:
            problems.append(f"path {rule.path!r}: 'sudo' is for administrators only")
        first = rule.path.split("/", 1)[0]
        if "*" in first or "+" in first:
            problems.append(f"path {rule.path!r}: a wildcard that spans mounts")
        elif first not in mounts and not rule.path.startswith("auth/token/"):
            problems.append(
                f"path {rule.path!r}: outside the secret mounts {sorted(mounts)} "
                "(and the token's own auth/token/ paths)"
            )
    return problems


@dataclass(frozen=True, kw_only=True)
class VaultPolicyProps:
    name: str
    # None: set later with VaultPolicy.set_rules (a policy generated from grants).
    rules: Sequence[PolicyRule] | None
    # Mounts a non-admin policy may reach into.
    mounts: Sequence[str] = ("infrastructure", "platform")
    # Default: False, and the least-privilege checks apply. True only for the admins policy.
    administrator: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.match(self.name):
            problems.append(f"name={self.name!r}: must be lower-case letters, digits and '-'")
        if self.rules is None:
            raise_if(f"VaultPolicy {self.name!r}", problems)
            return
        if not self.rules:
            problems.append("rules: a policy needs at least one rule")
        paths = [rule.path for rule in self.rules]
        if twice := sorted({path for path in paths if paths.count(path) > 1}):
            problems.append(f"rules: more than one rule for path(s) {twice}")
        if not self.administrator:
            problems += policy_problems(self.rules, mounts=self.mounts)
        raise_if(f"VaultPolicy {self.name!r}", problems)


class VaultPolicy(Construct):
    """With ``rules=None`` the document is written later by ``set_rules`` (a policy generated
    from grants other stacks declare); synthesis refuses a policy whose rules never came."""

    def __init__(self, scope: Construct, id: str, props: VaultPolicyProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.resource = Policy(
            self,
            "Default",
            name=props.name,
            policy=render_policy(props.rules) if props.rules is not None else "",
        )
        self.name = self.resource.name
        self.node.add_validation(_RulesSet(self))

    def set_rules(self, rules: Sequence[PolicyRule]) -> None:
        """Write the document from ``rules``, with the checks the props would apply."""
        self.props = replace(self.props, rules=list(rules))
        self.resource.policy = render_policy(self.props.rules)


@jsii.implements(IValidation)
class _RulesSet:
    def __init__(self, policy: VaultPolicy) -> None:
        self.policy = policy

    def validate(self) -> list[str]:
        if self.policy.props.rules is None:
            return [f"policy {self.policy.props.name!r}: its rules were never set"]
        return []
