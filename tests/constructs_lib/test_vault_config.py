import json

from constructs_lib.vault_config import (
    VaultServerSettings,
    render_init_request,
    render_vault_config,
    vault_config,
)

SETTINGS = VaultServerSettings(
    storage_bucket="vault-secrets", spaces_region="nyc3", api_addr="https://vault.example.com"
)


def parsed() -> dict:
    return json.loads(render_vault_config(SETTINGS))


def test_config_is_the_plain_data_as_sorted_indented_json():
    text = render_vault_config(SETTINGS)
    assert text.startswith("{"), "Vault's parser takes text starting with '{' as JSON"
    assert text == json.dumps(vault_config(SETTINGS), indent=2, sort_keys=True)
    assert set(parsed()) == {"ui", "api_addr", "log_level", "disable_mlock", "listener", "storage"}
    assert parsed()["log_level"] == "info"


def test_storage_is_s3_on_spaces_without_credentials():
    assert list(parsed()["storage"]) == ["s3"]
    assert parsed()["storage"]["s3"] == {
        "bucket": "vault-secrets",
        "path": "vault_storage",
        "endpoint": "https://nyc3.digitaloceanspaces.com",
        "region": "nyc3",
    }
    text = render_vault_config(SETTINGS)
    assert "access_key" not in text and "secret_key" not in text


def test_listener_serves_plain_http_behind_traefik_and_the_ui():
    config = parsed()
    assert config["listener"] == {"tcp": {"address": "0.0.0.0:8200", "tls_disable": True}}
    assert config["ui"] is True
    assert config["api_addr"] == "https://vault.example.com"
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
