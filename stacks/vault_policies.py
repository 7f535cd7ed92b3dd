"""Who may do what in Vault: the team policies and the service-token policies.

Only ``admins`` reaches beyond the two KV v2 mounts or holds ``sudo``; every other
policy is checked for that by ``VaultPolicyProps``. KV v2 splits each mount into
``data/`` (values), ``metadata/`` (listing, versions) and ``delete/``/``undelete/``.

Vault applies only the *one* highest-priority path that matches a request, and a
path whose first wildcard comes later wins. So an exception inside a broader rule
must be spelled out to its end: ``platform/data/main/generated/*`` outranks
``platform/data/main/*``, whereas ``platform/data/+/generated/*`` would not outrank
``platform/data/*`` (same first wildcard position, and ``+`` loses) and would silently
grant nothing.
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
# Application secrets every environment shares (platform/<name>); everything else of an
# environment lives under platform/<env>/.
SHARED_PLATFORM_SECRETS = ("ballchasing",)


def platform_service(environment: str) -> str:
    """The policy of one environment's platform token."""
    return f"platform-{environment}-service"


def platform_environment(environment: str) -> list[PolicyRule]:
    """Read one environment's application secrets and the shared ones; write only the values
    its platform stack generates (platform/<env>/generated/...). Nothing of other environments."""
    return [
        PolicyRule(path=f"{PLATFORM}/data/{environment}/*", capabilities=("read",)),
        PolicyRule(path=f"{PLATFORM}/metadata/{environment}/*", capabilities=READ),
        *(
            PolicyRule(path=f"{PLATFORM}/data/{name}", capabilities=("read",))
            for name in SHARED_PLATFORM_SECRETS
        ),
        PolicyRule(path=f"{PLATFORM}/data/{environment}/generated/*", capabilities=WRITE),
        PolicyRule(
            path=f"{PLATFORM}/metadata/{environment}/generated/*",
            capabilities=("read", "list", "delete"),
        ),
    ]


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
        # One platform token per environment, so deploying one never reaches another's secrets.
        **{platform_service(env): platform_environment(env) for env in sorted(environments)},
    }


# GitHub team slug (organization SprocketBot) -> policies its members get at login.
GITHUB_TEAMS: dict[str, list[str]] = {
    "github-admin": [ADMINS],
    "github-readonly": [READONLY],
    "github-developers": [DEVELOPERS],
    "github-ops": [OPS],
}
