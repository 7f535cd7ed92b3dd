"""Vault KV version 2: a mount, and secrets Terraform writes into it.

``VaultKvMount`` creates one ``vault_mount`` of type kv-v2. ``VaultKvSecret`` writes
one secret (a map of keys to Terraform expressions, such as generated passwords) so
that people and other stacks read it from Vault rather than from Terraform state.

    platform = VaultKvMount(self, "platform", VaultKvMountProps(path="platform"))
    VaultKvSecret(self, "redis", VaultKvSecretProps(
        mount=platform.path, path="main/generated/redis", data={"password": pw.value}))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_vault.kv_secret_v2 import KvSecretV2
from cdktf_cdktf_provider_vault.mount import Mount
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.rename_guard import rename_guard
from constructs_lib.vault_grants import VaultGrants

_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, kw_only=True)
class VaultKvMountProps:
    # Mount path. The provider would remount in place, moving every secret (vault v5.6.0
    # vault/resource_mount.go:26-31 ForceNew false, 312-328 sys/remount), and every
    # vault_kv_secret_v2 under it would be replaced (its mount is ForceNew,
    # resource_kv_secret_v2.go:61-75): a change stops the plan instead (rename_guard).
    path: str
    description: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not _SEGMENT.match(self.path):
            problems.append(f"path={self.path!r}: must be one segment of [A-Za-z0-9_.-]")
        raise_if("VaultKvMount", problems)


class VaultKvMount(Construct):
    def __init__(self, scope: Construct, id: str, props: VaultKvMountProps) -> None:
        super().__init__(scope, id)
        self.resource = Mount(
            self,
            "Default",
            path=props.path,
            type="kv",
            options={"version": "2"},
            description=props.description,
            # Operators' secrets (manual/) exist only here: never destroyed by a plan.
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        rename_guard(self.resource, self, "Path", props.path)
        # Referencing the resource (not the literal) orders writes after the mount exists.
        self.path = self.resource.path


@dataclass(frozen=True, kw_only=True)
class VaultKvSecretProps:
    mount: str
    path: str
    # Key -> value; values are usually Terraform expressions of generated secrets.
    data: Mapping[str, str]

    def __post_init__(self) -> None:
        problems = []
        if not self.path or not all(_SEGMENT.match(s) for s in self.path.split("/")):
            problems.append(f"path={self.path!r}: must be '/'-separated [A-Za-z0-9_.-] segments")
        if not self.data:
            problems.append("data: a secret needs at least one key")
        for key in self.data:
            if not _SEGMENT.match(key):
                problems.append(f"data: key {key!r} must be [A-Za-z0-9_.-]")
        raise_if("VaultKvSecret", problems)


class VaultKvSecret(Construct):
    def __init__(self, scope: Construct, id: str, props: VaultKvSecretProps) -> None:
        super().__init__(scope, id)
        self.props = props
        if grants := VaultGrants.of(self):
            grants.grant_write(props.mount, props.path)
        self.resource = KvSecretV2(
            self,
            "Default",
            mount=props.mount,
            name=props.path,
            data_json=Fn.jsonencode(dict(sorted(props.data.items()))),
        )
