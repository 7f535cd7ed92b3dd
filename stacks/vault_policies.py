"""Who may do what in Vault: the team policies and the service-token policies.

Only ``admins`` reaches beyond the two KV v2 mounts or holds ``sudo``; every other
policy is checked for that by ``VaultPolicyProps``. KV v2 splits each mount into
``data/`` (values), ``metadata/`` (listing, versions) and ``delete/``/``undelete/``.

Vault applies only the *one* highest-priority path that matches a request, and a
path whose first wildcard comes later wins. So an exception inside a broader rule
must be spelled out to its end: ``platform/data/main/generated/*`` outranks
``platform/data/*``, whereas ``platform/data/+/generated/*`` does not (same first
wildcard position, and ``+`` loses) and would silently grant nothing.
"""

from __future__ import annotations

from constructs_lib.vault_policy import CRUD, READ, PolicyRule

INFRASTRUCTURE = "infrastructure"
PLATFORM = "platform"
MOUNTS = (INFRASTRUCTURE, PLATFORM)
WRITE = (*CRUD, "patch")


def read_only(mount: str) -> list[PolicyRule]:
    return [
        PolicyRule(path=f"{mount}/data/*", capabilities=("read",)),
        PolicyRule(path=f"{mount}/metadata/*", capabilities=READ),
    ]


def read_write(mount: str) -> list[PolicyRule]:
    return [
        PolicyRule(path=f"{mount}/data/*", capabilities=WRITE),
        PolicyRule(path=f"{mount}/metadata/*", capabilities=("read", "list", "delete")),
        PolicyRule(path=f"{mount}/delete/*", capabilities=("update",)),
        PolicyRule(path=f"{mount}/undelete/*", capabilities=("update",)),
    ]


ADMINS = "admins"
READONLY = "readonly"
DEVELOPERS = "developers"
OPS = "ops"
INFRASTRUCTURE_SERVICE = "infrastructure-service"
PLATFORM_SERVICE = "platform-service"


def policies(environments: list[str]) -> dict[str, list[PolicyRule]]:
    """Name -> rules. ADMINS is the only policy exempt from the least-privilege checks."""
    return {
        ADMINS: [PolicyRule(path="*", capabilities=(*WRITE, "sudo"))],
        # Every secret, read-only.
        READONLY: read_only(INFRASTRUCTURE) + read_only(PLATFORM),
        # Application secrets only.
        DEVELOPERS: read_write(PLATFORM),
        # Infrastructure secrets only.
        OPS: read_write(INFRASTRUCTURE),
        # The infrastructure token: platform stacks read shared infrastructure credentials.
        INFRASTRUCTURE_SERVICE: read_only(INFRASTRUCTURE),
        # The platform token: read every environment's application secrets, and write only
        # the values a platform stack generates itself (platform/<env>/generated/...).
        PLATFORM_SERVICE: [
            *read_only(PLATFORM),
            *(
                PolicyRule(path=f"{PLATFORM}/{part}/{env}/generated/*", capabilities=caps)
                for env in sorted(environments)
                for part, caps in (("data", WRITE), ("metadata", ("read", "list", "delete")))
            ),
        ],
    }


# GitHub team slug (organization SprocketBot) -> policies its members get at login.
GITHUB_TEAMS: dict[str, list[str]] = {
    "github-admin": [ADMINS],
    "github-readonly": [READONLY],
    "github-developers": [DEVELOPERS],
    "github-ops": [OPS],
}
