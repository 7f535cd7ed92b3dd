"""One value from Vault KV v2, delivered to a service as a Swarm secret file.

Creates a ``vault_kv_secret_v2`` data source and a ``SwarmSecret`` holding one key
of it. The secret's name carries a hash of the KV version's creation time, so
writing a new version in Vault rolls the services that mount it on the next
deploy; the value itself never appears in the synthesized JSON.

    token = VaultSecretMount(self, "bot_token", VaultSecretMountProps(
        mount="platform", path="main/discord", key="bot_token", file_name="bot-token.txt"))
    SwarmService(self, "bot", SwarmServiceProps(..., secret_files=[token.file]))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_vault.data_vault_kv_secret_v2 import DataVaultKvSecretV2
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.naming import slug
from constructs_lib.swarm_secret import DEFAULT_SECRET_MODE, SwarmSecret, SwarmSecretProps
from constructs_lib.vault_grants import VaultGrants

DEFAULT_SECRET_DIR = "/app/secret"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, kw_only=True)
class VaultSecretMountProps:
    # KV v2 mount, e.g. "platform" or "infrastructure".
    mount: str
    # Secret path inside the mount, e.g. "main/manual/oauth/google".
    path: str
    # Key inside the secret's data.
    key: str
    # Default: "<key>.txt". The name the application opens under directory.
    file_name: str | None = None
    # Default: /app/secret, where Sprocket's applications read their secrets.
    directory: str = DEFAULT_SECRET_DIR
    # Default: 0400, readable by the file's owner only.
    mode: int = DEFAULT_SECRET_MODE
    # Default: root. Set to the image's user when it does not run as root.
    uid: str = "0"
    gid: str = "0"
    # Default: derived from mount, path and key. Set a prefix per stack when several
    # stacks mount the same Vault value: Swarm secret names are global to the swarm.
    secret_name: str | None = None
    # Default: the stack's only Vault provider. Pass the aliased provider holding the
    # token that may read this mount.
    provider: TerraformProvider | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not _SEGMENT.match(self.mount):
            problems.append(f"mount={self.mount!r}: must be one path segment of [A-Za-z0-9_.-]")
        segments = self.path.split("/")
        if not self.path or not all(_SEGMENT.match(s) for s in segments):
            problems.append(
                f"path={self.path!r}: must be '/'-separated segments of [A-Za-z0-9_.-], "
                "without leading, trailing or doubled '/'"
            )
        if not self.key or not _SEGMENT.match(self.key):
            problems.append(f"key={self.key!r}: must be a non-empty [A-Za-z0-9_.-] name")
        if self.file_name is not None and not _FILE_NAME.match(self.file_name):
            problems.append(f"file_name={self.file_name!r}: must be a plain file name without '/'")
        if not self.directory.startswith("/"):
            problems.append(f"directory={self.directory!r}: must be an absolute path")
        if self.mode not in (0o400, 0o440):
            problems.append(f"mode={oct(self.mode)}: secret files must be 0o400 or 0o440")
        raise_if("VaultSecretMount", problems)

    @property
    def target(self) -> str:
        return f"{self.directory.rstrip('/')}/{self.file_name or self.key + '.txt'}"


class VaultKvRead(Construct):
    """One Vault KV v2 secret read at plan time, for values other resources are built from.

    ``value(key)`` is an expression; it never appears in the synthesized JSON.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mount: str,
        path: str,
        provider: TerraformProvider | None = None,
    ) -> None:
        super().__init__(scope, id)
        if grants := VaultGrants.of(self):
            grants.grant_read(mount, path)
        self.source = DataVaultKvSecretV2(
            self, "Default", mount=mount, name=path, provider=provider
        )
        # Changes whenever a new version of the secret is written; reveals nothing of it.
        self.version_marker: str = self.source.created_time

    def value(self, key: str) -> str:
        return self.source.data.lookup(key)


class VaultSecretMount(Construct):
    def __init__(self, scope: Construct, id: str, props: VaultSecretMountProps) -> None:
        super().__init__(scope, id)
        self.props = props
        read = VaultKvRead(
            self, "Source", mount=props.mount, path=props.path, provider=props.provider
        )
        self.source = read.source
        name = props.secret_name or slug(f"{props.mount}-{props.path}-{props.key}")[:50]
        self.secret = SwarmSecret(
            self,
            "Default",
            SwarmSecretProps(
                name=name,
                value=read.value(props.key),
                version_marker=read.version_marker,
            ),
        )
        self.file = self.secret.file(props.target, mode=props.mode, uid=props.uid, gid=props.gid)
