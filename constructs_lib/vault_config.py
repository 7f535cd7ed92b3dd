"""Vault server configuration and the unsealer's files, rendered by pure functions.

``render_vault_config`` gives the server's HCL: S3 storage on DigitalOcean Spaces
(credentials come from a shared-credentials *file*, a Swarm secret, never from the
HCL), a plain-HTTP listener because TLS ends at Traefik, and the UI.
``render_init_request`` gives the body of Vault's ``sys/init`` call, asking for every
key share and the root token to be PGP-encrypted to the operators' public keys.

    hcl = render_vault_config(VaultServerSettings(
        storage_bucket="vault-secrets", spaces_region="nyc3",
        api_addr="https://vault.example.com"))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

VAULT_PORT = 8200
UNSEAL_SCRIPT = resources.files("constructs_lib").joinpath("assets/vault-unseal.sh").read_text()


@dataclass(frozen=True, kw_only=True)
class VaultServerSettings:
    storage_bucket: str
    # Spaces region, e.g. "nyc3"; the endpoint is derived from it.
    spaces_region: str
    # Public URL clients are redirected to, e.g. "https://vault.example.com".
    api_addr: str
    # Key prefix inside the bucket.
    storage_path: str = "vault_storage"


def spaces_endpoint(region: str) -> str:
    return f"https://{region}.digitaloceanspaces.com"


def _hcl_string(value: str) -> str:
    return json.dumps(value)


def render_vault_config(settings: VaultServerSettings) -> str:
    q = _hcl_string
    return "\n".join(
        [
            "ui            = true",
            f"api_addr      = {q(settings.api_addr)}",
            'log_level     = "info"',
            "disable_mlock = false",
            "",
            'listener "tcp" {',
            f'  address     = "0.0.0.0:{VAULT_PORT}"',
            "  # TLS ends at Traefik; this listener is reachable only on the overlay networks.",
            "  tls_disable = true",
            "}",
            "",
            'storage "s3" {',
            f"  bucket   = {q(settings.storage_bucket)}",
            f"  path     = {q(settings.storage_path)}",
            f"  endpoint = {q(spaces_endpoint(settings.spaces_region))}",
            f"  region   = {q(settings.spaces_region)}",
            "  # Access keys: AWS_SHARED_CREDENTIALS_FILE, a Swarm secret. Never written here.",
            "}",
            "",
        ]
    )


def render_init_request(
    *, key_shares: int, key_threshold: int, pgp_keys: Sequence[str], root_token_pgp_key: str
) -> str:
    """Body of ``PUT /v1/sys/init``: every share and the root token PGP-encrypted."""
    return json.dumps(
        {
            "secret_shares": key_shares,
            "secret_threshold": key_threshold,
            "pgp_keys": list(pgp_keys),
            "root_token_pgp_key": root_token_pgp_key,
        },
        sort_keys=True,
    )
