"""What one Vault token may do, collected from the code that does it.

In the manner of aws-cdk's ``bucket.grantRead(role)``: a stack deployed with a scoped token
attaches that token's ``VaultGrants`` (``attach``), and every construct that reads or writes a
KV v2 secret in it grants itself exactly that secret as it is made (``VaultKvRead``, under
``VaultSecretMount``; ``VaultKvSecret``, under ``GeneratedSecret``). ``rules()`` turns the
grants into the token's policy, exact paths only; ``problems_in(stack)`` lists every Vault
secret the stack reads or writes without a grant (a raw data source or resource), so such a
read fails synthesis instead of the deploy, or being allowed by a wildcard.

    grants = VaultGrants("platform-main-service").attach(platform_stack)
    VaultSecretMount(platform_stack, "bot_token", VaultSecretMountProps(
        mount="platform", path="main/manual/discord-bot", key="token"))   # granted read
    VaultPolicy(layer_2, "policy", VaultPolicyProps(name=grants.name, rules=grants.rules()))
"""

from __future__ import annotations

from cdktf import TerraformDataSource, TerraformResource, TerraformStack
from cdktf_cdktf_provider_vault.data_vault_kv_secret_v2 import DataVaultKvSecretV2
from cdktf_cdktf_provider_vault.kv_secret_v2 import KvSecretV2
from constructs import IConstruct

from constructs_lib.tokens import is_unresolved
from constructs_lib.vault_policy import PolicyRule


class VaultGrants:
    def __init__(self, name: str) -> None:
        # The policy's name.
        self.name = name
        self._reads: set[tuple[str, str]] = set()
        self._writes: set[tuple[str, str]] = set()

    def attach(self, stack: TerraformStack) -> VaultGrants:
        """Make these the grants of every Vault secret construct in ``stack``."""
        stack._sprocket_vault_grants = self
        return self

    @staticmethod
    def of(scope: IConstruct) -> VaultGrants | None:
        """The grants attached to ``scope``'s stack, if any (a stack deployed with an
        administrator's token has none)."""
        return getattr(TerraformStack.of(scope), "_sprocket_vault_grants", None)

    def grant_read(self, mount: str, path: str) -> None:
        """Read the current version of ``mount/path`` (a ``vault_kv_secret_v2`` data source)."""
        self._reads.add((mount, path))

    def grant_write(self, mount: str, path: str) -> None:
        """Create, read back, update and delete ``mount/path`` (a ``vault_kv_secret_v2``)."""
        self._writes.add((mount, path))

    @property
    def reads(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._reads)

    @property
    def writes(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._writes)

    def rules(self) -> list[PolicyRule]:
        """The policy rules, one per KV v2 API path, sorted.

        The provider's calls (hashicorp/vault v5.6.0): the data source reads ``data/<path>``
        (vault/data_source_kv_secret_v2.go:116-119); the resource writes ``data/<path>``
        (resource_kv_secret_v2.go:244), reads it and ``metadata/<path>`` back on every refresh
        (302, 323-346: KV v2 always answers with the custom_metadata key that triggers it),
        and on destroy soft-deletes the latest version with ``DELETE data/<path>`` (379-397,
        delete_all_versions left false): no grant destroys history."""
        rules: dict[str, set[str]] = {}
        for mount, path in self._reads:
            rules.setdefault(f"{mount}/data/{path}", set()).add("read")
        for mount, path in self._writes:
            rules.setdefault(f"{mount}/data/{path}", set()).update(
                ("create", "read", "update", "delete")
            )
            rules.setdefault(f"{mount}/metadata/{path}", set()).add("read")
        order = ("create", "read", "update", "patch", "delete", "list")
        return [
            PolicyRule(path=path, capabilities=tuple(c for c in order if c in capabilities))
            for path, capabilities in sorted(rules.items())
        ]

    def problems_in(self, stack: TerraformStack) -> list[str]:
        """Every KV v2 secret ``stack`` reads or writes that no grant covers."""
        problems = []
        for construct in stack.node.find_all():
            kind, wanted = _access(construct)
            if kind is None:
                continue
            granted = self._reads | self._writes if kind == "read" else self._writes
            if wanted not in granted:
                mount, path = wanted
                problems.append(
                    f"{stack.node.id}: {construct.node.path} {kind}s Vault secret "
                    f"{mount}/{path} without a grant in {self.name}: give the construct "
                    "the stack's VaultGrants (grants=...)"
                )
        return problems


def _access(construct: IConstruct) -> tuple[str | None, tuple[str, str]]:
    if isinstance(construct, DataVaultKvSecretV2):
        return "read", (construct.mount_input, construct.name_input)
    if isinstance(construct, KvSecretV2):
        return "write", (construct.mount_input, construct.name_input)
    return None, ("", "")


def refresh_rules(stacks: list[TerraformStack]) -> list[PolicyRule]:
    """What a refresh (``plan``, ``plan -refresh-only``) of ``stacks`` reads in Vault, as rules:
    each Vault resource's Read calls in hashicorp/vault v5.6.0, read-only, plus the one
    ``sudo`` that listing audit devices needs and the ``update`` a token lookup by accessor
    takes. A Vault resource type not known here stops
    synthesis, so a new one cannot be planned with a policy that lacks its reads.

    Paths (v5.6.0): ``vault_mount`` GET sys/mounts/<path> (resource_mount.go:419);
    ``vault_policy`` GET sys/policies/acl/<name> (resource_policy.go:88);
    ``vault_github_auth_backend`` GET sys/mounts/auth/<path>, auth/<path>/config and
    sys/mounts/auth/<path>/tune (resource_github_auth_backend.go:184, 197, 210);
    ``vault_github_team`` GET auth/<path>/map/teams/<team> (resource_github_team.go:98);
    ``vault_token`` POST auth/token/lookup-accessor (resource_token.go:26, 296, 409);
    ``vault_audit`` GET sys/audit, sudo on the server (resource_audit.go:128; OpenBao
    logical_system.go:67-88 lists "audit" as root-protected); ``vault_token_auth_backend_role``
    GET auth/token/roles/<name> (resource_token_auth_backend_role.go:176); KV v2 as in
    ``VaultGrants.rules``. The provider's own lookup-self is in Vault's default policy."""
    from cdktf_cdktf_provider_vault.audit import Audit
    from cdktf_cdktf_provider_vault.github_auth_backend import GithubAuthBackend
    from cdktf_cdktf_provider_vault.github_team import GithubTeam
    from cdktf_cdktf_provider_vault.mount import Mount
    from cdktf_cdktf_provider_vault.policy import Policy
    from cdktf_cdktf_provider_vault.token import Token as VaultToken
    from cdktf_cdktf_provider_vault.token_auth_backend_role import TokenAuthBackendRole

    paths: dict[str, tuple[str, ...]] = {}
    github_path = "github"
    constructs = [c for stack in stacks for c in stack.node.find_all()]
    # A secret written through a reference to its mount (to order it after the mount) names
    # the mount by that reference: the literal is the mount's path.
    from constructs_lib.vault_kv import VaultKvMount

    mount_paths = {c.path: c.resource.path_input for c in constructs if isinstance(c, VaultKvMount)}

    def literal(mount: str) -> str:
        return mount_paths.get(mount, mount)

    for construct in constructs:
        if isinstance(construct, Mount):
            paths[f"sys/mounts/{construct.path_input}"] = ("read",)
        elif isinstance(construct, Policy):
            paths[f"sys/policies/acl/{construct.name_input}"] = ("read",)
        elif isinstance(construct, GithubAuthBackend):
            github_path = construct.path_input or "github"
            for path in (f"sys/mounts/auth/{github_path}", f"auth/{github_path}/config",
                         f"sys/mounts/auth/{github_path}/tune"):  # fmt: skip
                paths[path] = ("read",)
        elif isinstance(construct, GithubTeam):
            paths[f"auth/{github_path}/map/teams/{construct.team_input}"] = ("read",)
        elif isinstance(construct, Audit):
            paths["sys/audit"] = ("read", "sudo")
        elif isinstance(construct, VaultToken):
            # Exists and Read both look the token up by accessor (resource_token.go:26, 296,
            # 409); "update" is what that endpoint takes.
            paths["auth/token/lookup-accessor"] = ("update",)
        elif isinstance(construct, TokenAuthBackendRole):
            paths[f"auth/token/roles/{construct.role_name_input}"] = ("read",)
        elif isinstance(construct, KvSecretV2):
            mount, name = literal(construct.mount_input), construct.name_input
            paths[f"{mount}/data/{name}"] = ("read",)
            paths[f"{mount}/metadata/{name}"] = ("read",)
        elif isinstance(construct, DataVaultKvSecretV2):
            mount = literal(construct.mount_input)
            paths[f"{mount}/data/{construct.name_input}"] = ("read",)
        elif isinstance(construct, (TerraformResource, TerraformDataSource)) and (
            # The provider's own classes, told apart in Python: reading each resource's
            # terraform_resource_type is a round trip to the jsii runtime per resource.
            type(construct).__module__.startswith("cdktf_cdktf_provider_vault.")
        ):
            raise ValueError(
                f"{construct.node.path}: {construct.terraform_resource_type} has no "
                "refresh reads in constructs_lib/vault_grants.py refresh_rules; add "
                "them from the provider's Read function"
            )
    unresolved = sorted(path for path in paths if is_unresolved(path))
    if unresolved:
        raise ValueError(f"refresh_rules: paths still holding references: {unresolved}")
    return [PolicyRule(path=path, capabilities=caps) for path, caps in sorted(paths.items())]
