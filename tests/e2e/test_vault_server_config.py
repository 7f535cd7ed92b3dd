"""The synthesized vault.json, read by a real OpenBao server (Vault's open-source fork).

The hashicorp/vault image runs ``vault server -config=/vault/config``: a directory, whose
``*.hcl`` and ``*.json`` files Vault loads (constructs_lib/vault_config.py cites the source).
So OpenBao is given a directory holding ``vault.json``, as the container is. OpenBao shares
Vault's configuration loader and parser and stops at the first thing it cannot run. Two
documented differences are expected and nothing else: OpenBao dropped the ``disable_mlock``
option (removed before the check), and it has no ``s3`` storage backend, so a configuration
that parses fully ends with "unknown storage type s3".
"""

from __future__ import annotations

import json
import subprocess

from tests.conftest import config_content, services
from tests.e2e.openbao import BAO

TARGET = "/vault/config/vault.json"


def bao_reads(config: str, tmp_path, file_name: str = "vault.json") -> str:
    """What ``bao server -config=<dir>`` says of a config directory holding ``config``."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / file_name).write_text(config)
    result = subprocess.run(
        [str(BAO), "server", f"-config={config_dir}"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0, "OpenBao cannot run s3 storage: it must stop"
    return result.stdout + result.stderr


def for_openbao(text: str) -> str:
    """vault.json without the one option OpenBao no longer accepts (disable_mlock)."""
    config = json.loads(text)
    assert config.pop("disable_mlock") is False
    return json.dumps(config, indent=2, sort_keys=True)


def synthesized(stacks) -> str:
    layer_1 = stacks["layer_1"]
    return config_content(layer_1, services(layer_1)["vault"], TARGET)


def test_the_synthesized_vault_config_parses_and_names_s3_storage(stacks, tmp_path):
    output = bao_reads(for_openbao(synthesized(stacks)), tmp_path)
    assert "error loading configuration" not in output, output
    assert "unknown storage type s3" in output, output


def test_the_config_directory_loads_it_because_it_ends_in_json(stacks, tmp_path):
    # The same text under a name the loader skips: no storage is configured at all.
    output = bao_reads(for_openbao(synthesized(stacks)), tmp_path, file_name="vault.conf")
    assert "a storage backend must be specified" in output, output


def test_a_syntax_error_would_be_caught(stacks, tmp_path):
    text = for_openbao(synthesized(stacks))
    broken = text.replace('"tls_disable": true\n    }', '"tls_disable": true\n', 1)
    assert broken != text
    assert "error loading configuration" in bao_reads(broken, tmp_path)
