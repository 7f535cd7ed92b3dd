import json

import hcl2

from constructs_lib.vault_config import (
    VaultServerSettings,
    render_init_request,
    render_vault_config,
)

SETTINGS = VaultServerSettings(
    storage_bucket="vault-secrets", spaces_region="nyc3", api_addr="https://vault.example.com"
)


def unquote(value):
    return value.strip('"') if isinstance(value, str) else value


def parsed() -> dict:
    return hcl2.loads(render_vault_config(SETTINGS))


def test_storage_is_s3_on_spaces_without_credentials():
    (storage,) = parsed()["storage"]
    s3 = {k: unquote(v) for k, v in storage['"s3"'].items() if not k.startswith("__")}
    assert s3 == {
        "bucket": "vault-secrets",
        "path": "vault_storage",
        "endpoint": "https://nyc3.digitaloceanspaces.com",
        "region": "nyc3",
    }
    text = render_vault_config(SETTINGS)
    assert "access_key" not in text and "secret_key" not in text


def test_listener_serves_plain_http_behind_traefik_and_the_ui():
    config = parsed()
    (listener,) = config["listener"]
    assert unquote(listener['"tcp"']["address"]) == "0.0.0.0:8200"
    assert listener['"tcp"']["tls_disable"] is True
    assert config["ui"] is True
    assert unquote(config["api_addr"]) == "https://vault.example.com"
    assert config["disable_mlock"] is False


def test_init_request_encrypts_every_share_and_the_root_token():
    body = json.loads(
        render_init_request(
            key_shares=2, key_threshold=2, pgp_keys=["k1", "k2"], root_token_pgp_key="root"
        )
    )
    assert body == {
        "secret_shares": 2,
        "secret_threshold": 2,
        "pgp_keys": ["k1", "k2"],
        "root_token_pgp_key": "root",
    }
