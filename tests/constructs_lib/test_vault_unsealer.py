"""The unsealer script, run for real with /bin/sh and wget against a stand-in Vault API.

The stand-in answers the three endpoints the script uses (seal-status, unseal, init)
on 127.0.0.1 and records every request, so the tests can check what was sent and
that nothing secret reached the script's output.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from constructs_lib.vault_config import UNSEAL_SCRIPT

KEYS = ["a2V5LW9uZQ==", "a2V5LXR3bw==", "a2V5LXRocmVl"]
INIT_RESPONSE = {"keys": ["PGP-CIPHERTEXT-1"], "root_token": "PGP-CIPHERTEXT-ROOT"}


class StandInVault:
    def __init__(self, *, initialized: bool, sealed: bool) -> None:
        self.state = {"initialized": initialized, "sealed": sealed}
        self.requests: list[tuple[str, str, bytes]] = []
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                vault.requests.append(("GET", self.path, b""))
                self._reply({"type": "shamir", **vault.state, "t": 3, "n": 5})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                vault.requests.append(("POST", self.path, body))
                if self.path == "/v1/sys/init":
                    vault.state["initialized"] = True
                    self._reply(INIT_RESPONSE)
                else:
                    self._reply({"sealed": True, "progress": 1})

            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def posts(self, path: str) -> list[bytes]:
        return [body for method, p, body in self.requests if method == "POST" and p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wget_flavours() -> list[str]:
    """GNU wget always; BusyBox's wget (what the hashicorp/vault image has) when installed."""
    flavours = ["gnu"]
    if shutil.which("busybox"):
        flavours.append("busybox")
    return flavours


@pytest.fixture(params=wget_flavours())
def run_script(request, tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if request.param == "busybox":
        (bin_dir / "wget").symlink_to(shutil.which("busybox"))
    else:
        (bin_dir / "wget").symlink_to(shutil.which("wget"))
    script = tmp_path / "vault-unseal"
    script.write_text(UNSEAL_SCRIPT)
    shm, init_dir = tmp_path / "shm", tmp_path / "init"
    shm.mkdir()
    init_dir.mkdir()

    def run(vault: StandInVault, *, keys: str | None = None, init_request: str | None = None):
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "VAULT_ADDR": vault.url,
            "UNSEAL_KEYS_FILE": str(tmp_path / "keys"),
            "INIT_REQUEST_FILE": str(tmp_path / "init-request.json"),
            "INIT_DIR": str(init_dir),
            "SHM_DIR": str(shm),
            "RUN_ONCE": "1",
        }
        if keys is not None:
            (tmp_path / "keys").write_text(keys)
        if init_request is not None:
            (tmp_path / "init-request.json").write_text(init_request)
        result = subprocess.run(
            ["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    run.shm, run.init_dir = shm, init_dir
    return run


@pytest.fixture
def vault_factory():
    made: list[StandInVault] = []

    def make(**state) -> StandInVault:
        made.append(StandInVault(**state))
        return made[-1]

    yield make
    for vault in made:
        vault.close()


def test_sealed_vault_gets_every_key_and_no_key_is_printed(run_script, vault_factory):
    # GIVEN a sealed Vault and three key shares, with a comment and a blank line
    vault = vault_factory(initialized=True, sealed=True)
    output = run_script(vault, keys="# shares\n" + "\n".join(KEYS) + "\n\n")
    # THEN each share was submitted once, as Vault's JSON body
    assert [json.loads(b) for b in vault.posts("/v1/sys/unseal")] == [{"key": k} for k in KEYS]
    # AND no share appears in the output, and the request body file is gone from tmpfs
    assert not any(key in output for key in KEYS)
    assert "submitted 3 unseal key share(s)" in output
    assert list(run_script.shm.iterdir()) == []


def test_placeholder_keys_file_submits_nothing(run_script, vault_factory):
    vault = vault_factory(initialized=True, sealed=True)
    output = run_script(vault, keys="# unset: Vault waits sealed for an operator\n")
    assert vault.posts("/v1/sys/unseal") == []
    assert "submitted 0 unseal key share(s)" in output


def test_malformed_key_line_is_skipped_without_echo(run_script, vault_factory):
    vault = vault_factory(initialized=True, sealed=True)
    output = run_script(vault, keys='bad"key\n' + KEYS[0] + "\n")
    assert [json.loads(b) for b in vault.posts("/v1/sys/unseal")] == [{"key": KEYS[0]}]
    assert 'bad"key' not in output and "malformed" in output


def test_unsealed_vault_is_left_alone(run_script, vault_factory):
    vault = vault_factory(initialized=True, sealed=False)
    run_script(vault, keys="\n".join(KEYS))
    assert vault.posts("/v1/sys/unseal") == [] and vault.posts("/v1/sys/init") == []


def test_uninitialised_vault_is_initialised_with_pgp_and_the_response_kept_private(
    run_script, vault_factory
):
    # GIVEN an uninitialised Vault and an init request naming operators' PGP keys
    vault = vault_factory(initialized=False, sealed=True)
    request = json.dumps({"secret_shares": 1, "secret_threshold": 1, "pgp_keys": ["k"]})
    output = run_script(vault, init_request=request)
    # THEN the request was sent as configured
    assert vault.posts("/v1/sys/init") == [request.encode()]
    # AND the (encrypted) response is stored 0600 on the init volume, not printed
    (stored,) = run_script.init_dir.iterdir()
    assert json.loads(stored.read_text()) == INIT_RESPONSE
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert "PGP-CIPHERTEXT" not in output


def test_uninitialised_vault_without_pgp_keys_waits_for_an_operator(run_script, vault_factory):
    vault = vault_factory(initialized=False, sealed=True)
    output = run_script(vault)
    assert vault.posts("/v1/sys/init") == []
    assert "initialise it by hand" in output
