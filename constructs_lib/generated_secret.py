"""A random secret generated once, kept in Vault, and reusable as a Swarm secret.

Creates one ``random_password`` (alphanumeric, so it needs no escaping in URLs,
config files or JSON) and writes it to Vault KV v2. The value is generated on the
first apply and kept: later deploys reuse it instead of rotating it. To rotate,
``cdktf deploy <stack> -- -replace=<address of the random_password>``.

    password = GeneratedSecret(self, "redis_password", GeneratedSecretProps(
        mount=infra_kv.path, path="redis", key="password"))
    password.value  # a Terraform expression, never a literal
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_random.password import Password
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.vault_kv import VaultKvSecret, VaultKvSecretProps


@dataclass(frozen=True, kw_only=True)
class GeneratedSecretProps:
    mount: str
    path: str
    key: str
    # Default: 40 alphanumeric characters (about 238 bits).
    length: int = 40

    def __post_init__(self) -> None:
        raise_if(
            "GeneratedSecret",
            [] if 24 <= self.length <= 128 else [f"length={self.length}: must be from 24 to 128"],
        )


class GeneratedSecret(Construct):
    def __init__(self, scope: Construct, id: str, props: GeneratedSecretProps) -> None:
        super().__init__(scope, id)
        self.password = Password(self, "Default", length=props.length, special=False)
        self.value: str = self.password.result
        self.stored = VaultKvSecret(
            self,
            "Stored",
            VaultKvSecretProps(mount=props.mount, path=props.path, data={props.key: self.value}),
        )
