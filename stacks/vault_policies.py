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


def metadata_only(mount: str) -> list[PolicyRule]:
    """List secrets and read their metadata (versions, times, custom metadata): no value."""
    return [PolicyRule(path=f"{mount}/metadata/*", capabilities=READ)]


def read_write(mount: str, *, destroy: bool) -> list[PolicyRule]:
    """Read and write every value; soft-delete and undelete versions. With ``destroy``, also
    remove versions for good (``destroy/``) and whole secrets with their history
    (``DELETE metadata/``)."""
    rules = [
        PolicyRule(path=f"{mount}/data/*", capabilities=WRITE),
        PolicyRule(
            path=f"{mount}/metadata/*",
            capabilities=("read", "list", "delete") if destroy else READ,
        ),
        PolicyRule(path=f"{mount}/delete/*", capabilities=("update",)),
        PolicyRule(path=f"{mount}/undelete/*", capabilities=("update",)),
    ]
    if destroy:
        rules.append(PolicyRule(path=f"{mount}/destroy/*", capabilities=("update",)))
    return rules


ADMINS = "admins"
READONLY = "readonly"
DEVELOPERS = "developers"
OPS = "ops"
# Plans and drift checks: what a refresh of every stack reads (constructs_lib/vault_grants.py).
PLAN = "plan"
# The InfluxDB bucket loop: writes each environment's InfluxDB token, reads none.
INFLUXDB_TOKENS = "influxdb-tokens"
# Application secrets every environment shares (platform/<name>); everything else of an
# environment lives under platform/<env>/.
SHARED_PLATFORM_SECRETS = ("ballchasing",)


def platform_service(environment: str) -> str:
    """The policy of the tokens platform-<environment> is deployed with: exactly what that
    stack reads and writes (stacks/vault_grants.py)."""
    return f"platform-{environment}-service"


def team_policies() -> dict[str, list[PolicyRule]]:
    """Name -> rules of the people's policies. ADMINS is the only one exempt from the
    least-privilege checks."""
    return {
        ADMINS: [PolicyRule(path="*", capabilities=(*WRITE, "sudo"))],
        # What exists and when it changed, in both mounts; never a value.
        READONLY: metadata_only(INFRASTRUCTURE) + metadata_only(PLATFORM),
        # Application secrets; history can be soft-deleted and restored, never destroyed.
        DEVELOPERS: read_write(PLATFORM, destroy=False),
        # Infrastructure secrets only, with their history.
        OPS: read_write(INFRASTRUCTURE, destroy=True),
    }


# GitHub team slug (organization SprocketBot) -> policies its members get at login.
GITHUB_TEAMS: dict[str, list[str]] = {
    "github-admin": [ADMINS],
    "github-readonly": [READONLY],
    "github-developers": [DEVELOPERS],
    "github-ops": [OPS],
}
