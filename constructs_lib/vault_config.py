"""Vault server configuration and the unsealer's files, rendered by pure functions.

``render_vault_config`` gives the server's configuration as JSON: S3 storage on
DigitalOcean Spaces (credentials come from a shared-credentials *file*, a Swarm secret,
never from this file), a plain-HTTP listener because TLS ends at Traefik, and the UI.
``render_init_request`` gives the body of Vault's ``sys/init`` call, asking for every
key share and the root token to be PGP-encrypted to the operators' public keys.

    config = render_vault_config(VaultServerSettings(
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


def vault_config(settings: VaultServerSettings) -> dict:
    """The server configuration as plain data: what ``render_vault_config`` serialises."""
    return {
        "ui": True,
        "api_addr": settings.api_addr,
        "log_level": "info",
        "disable_mlock": False,
        "listener": {
            "tcp": {
                "address": f"0.0.0.0:{VAULT_PORT}",
                # TLS ends at Traefik; this listener is reachable only on the overlay networks.
                "tls_disable": True,
            }
        },
        "storage": {
            # Access keys: AWS_SHARED_CREDENTIALS_FILE, a Swarm secret. Never written here.
            "s3": {
                "bucket": settings.storage_bucket,
                "path": settings.storage_path,
                "endpoint": spaces_endpoint(settings.spaces_region),
                "region": settings.spaces_region,
            }
        },
    }


# Why JSON, mounted as /vault/config/vault.json, is read as Vault's configuration. Checked in
# hashicorp/vault at afc925b3590c48d6e214c95aabf7fa5372448fd9 (release/1.14.x, "Bumped product
# version to 1.14.9"); a later main (config.go at 00406de1d09e) has the same LoadConfigDir
# and hcl.Parse:
# - .release/docker/docker-entrypoint.sh:41,59 (38,56 at 1d04c5e2762f): the image's entrypoint
#   sets VAULT_CONFIG_DIR=/vault/config and runs `vault server -config="$VAULT_CONFIG_DIR"`.
# - command/server/config.go:499: LoadConfig of a directory is LoadConfigDir, which at
#   command/server/config.go:861-863 takes files ending in ".hcl" or ".json"; each one goes
#   through ParseConfig, whose parser is hcl.Parse (command/server/config.go:569).
# - hashicorp/hcl v1.0.1-vault-5 (Vault's go.mod:115) parse.go:23-29 with lex.go:31-32: text
#   whose first non-space character is "{" goes to HCL's JSON parser, so
#   {"listener": {"tcp": {...}}} is the same tree as `listener "tcp" {...}`.
# OpenBao (the e2e tests' server) keeps both, at openbao/openbao df6ce2cebaa8: LoadConfigDir
# takes ".hcl" or ".json" (internal/command/server/config.go:1118-1120) and
# sdk/helper/hclutil/hcl.go:77-80 ParseConfig uses the JSON parser when the text starts with "{".
def render_vault_config(settings: VaultServerSettings) -> str:
    """vault.json: the server configuration, as JSON Vault reads like its HCL."""
    return json.dumps(vault_config(settings), indent=2, sort_keys=True)


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
