"""The synthesized vault.hcl, read by a real OpenBao server (Vault's open-source fork).

OpenBao parses Vault's configuration language and stops at the first thing it cannot
run. Two documented differences are expected and nothing else: OpenBao dropped the
``disable_mlock`` option (removed before the check), and it has no ``s3`` storage backend,
so a configuration that parses fully ends with "unknown storage type s3".
"""

from __future__ import annotations

import subprocess

from tests.conftest import config_content, services
from tests.e2e.openbao import BAO


def bao_reads(config: str, tmp_path) -> str:
    path = tmp_path / "vault.hcl"
    path.write_text(config)
    result = subprocess.run(
        [str(BAO), "server", f"-config={path}"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0, "OpenBao cannot run s3 storage: it must stop"
    return result.stdout + result.stderr


def for_openbao(hcl: str) -> str:
    """vault.hcl without the one option OpenBao no longer accepts (disable_mlock)."""
    lines = [line for line in hcl.splitlines() if not line.startswith("disable_mlock")]
    assert len(lines) == len(hcl.splitlines()) - 1
    return "\n".join(lines) + "\n"


def test_the_synthesized_vault_config_parses_and_names_s3_storage(stacks, tmp_path):
    layer_1 = stacks["layer_1"]
    hcl = config_content(layer_1, services(layer_1)["vault"], "/vault/config/vault.hcl")
    output = bao_reads(for_openbao(hcl), tmp_path)
    assert "error loading configuration" not in output, output
    assert "unknown storage type s3" in output, output


def test_a_syntax_error_would_be_caught(stacks, tmp_path):
    layer_1 = stacks["layer_1"]
    hcl = config_content(layer_1, services(layer_1)["vault"], "/vault/config/vault.hcl")
    broken = for_openbao(hcl).replace("tls_disable = true\n}", "tls_disable = true\n", 1)
    assert "error loading configuration" in bao_reads(broken, tmp_path)
