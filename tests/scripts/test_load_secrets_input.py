"""scripts/load_secrets.py refuses malformed input cleanly: every problem named, no value of
the export in any message, nothing written outside the map section's own Vault mount."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import load_secrets
from tests.conftest import ROOT

SECRET_VALUE = "ghp_" + "N0tARealSecretValue" * 2
EXPORT = {"DISCORD_BOT_TOKEN": SECRET_VALUE, "BALLCHASING_TOKEN": "plain-value-" + "x" * 8}
GOOD_MAP = "platform:\n  DISCORD_BOT_TOKEN: platform/{env}/manual/discord-bot#token\n"

MAP_CASES = [
    ("not-a-mapping", "- a\n- b\n", "needs a mapping 'platform' of Doppler names to targets"),
    ("no-section", "infrastructure: {}\n", "needs a mapping 'platform' of Doppler names to targets (found ['infrastructure'])"),
    ("traversal", "platform:\n  DISCORD_BOT_TOKEN: platform/../infrastructure/x#token\n", "platform.DISCORD_BOT_TOKEN: 'platform/../infrastructure/x#token' has an empty, '.' or '..' path segment"),
    ("other-mount", "platform:\n  DISCORD_BOT_TOKEN: infrastructure/rabbitmq/admin#password\n", "writes to mount 'infrastructure'; the platform section writes only under platform/"),
    ("target-not-a-string", "platform:\n  DISCORD_BOT_TOKEN: [a, b]\n", "platform.DISCORD_BOT_TOKEN: is not <mount>/<path>#<key>"),
    ("name-not-a-string", "platform:\n  42: platform/x#y\n", "platform: '42' is not a Doppler secret name"),
    ("duplicate-name", GOOD_MAP + "  DISCORD_BOT_TOKEN: platform/y#z\n", "found the key 'DISCORD_BOT_TOKEN' twice"),
    ("alias-bomb", "a: &a [x, x]\nb: [*a, *a]\n" + GOOD_MAP, "*a repeats a list or mapping"),
]  # fmt: skip


def run(tmp_path: Path, capsys, *args: str, map_text: str | None = GOOD_MAP, export=EXPORT):
    export_file = tmp_path / "export.json"
    export_file.write_text(export if isinstance(export, str) else json.dumps(export))
    argv = ["--environment", "staging", "--dry-run", str(export_file), *args]
    if map_text is not None:
        (tmp_path / "map.yaml").write_text(map_text)
        argv += ["--map", str(tmp_path / "map.yaml")]
    status = load_secrets.main(argv)
    out = capsys.readouterr()
    assert SECRET_VALUE not in out.out + out.err
    return status, out.out, out.err


@pytest.mark.parametrize(("name", "text", "expected"), MAP_CASES, ids=[c[0] for c in MAP_CASES])
def test_a_malformed_map_is_refused_naming_the_problem(tmp_path, capsys, name, text, expected):
    status, _, err = run(tmp_path, capsys, map_text=text)
    assert status == 2, err
    assert err.startswith("nothing written:") and expected in err, err


def test_a_map_that_is_a_directory_or_not_utf8_is_refused(tmp_path, capsys):
    (tmp_path / "dir.yaml").mkdir()
    status, _, err = run(tmp_path, capsys, "--map", str(tmp_path / "dir.yaml"), map_text=None)
    assert status == 2 and "is a directory; it must be a YAML file" in err, err
    (tmp_path / "latin1.yaml").write_bytes(b"platform:\n  X: caf\xe9\n")
    status, _, err = run(tmp_path, capsys, "--map", str(tmp_path / "latin1.yaml"), map_text=None)
    assert status == 2 and "is not UTF-8 text" in err, err


def test_an_environment_cannot_climb_out_of_its_path(tmp_path, capsys):
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(EXPORT))
    status = load_secrets.main(
        ["--environment", "../infrastructure", "--dry-run", str(export_file)]
    )
    err = capsys.readouterr().err
    assert status == 2 and "--environment '../infrastructure': an environment's name" in err, err


def test_an_export_that_is_not_json_is_refused_without_echoing_it(tmp_path, capsys):
    status, _, err = run(tmp_path, capsys, export='{"DISCORD_BOT_TOKEN": "' + SECRET_VALUE + '"')
    assert status == 2 and "not JSON (JSONDecodeError)" in err, err
    status, _, err = run(tmp_path, capsys, export='["' + SECRET_VALUE + '"]')
    assert status == 2 and "not a JSON object of names to values" in err, err


def test_the_shipped_map_dry_runs(tmp_path, capsys):
    export = {name: "v" for name in ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DISCORD_CLIENT_ID", "DISCORD_CLIENT_SECRET", "DISCORD_BOT_TOKEN", "CHATWOOT_HMAC_KEY", "BALLCHASING_TOKEN")}  # fmt: skip
    status, out, err = run(tmp_path, capsys, map_text=None, export=export)
    assert status == 0, err
    assert "would write platform/staging/manual/discord-bot (token)" in out


def test_an_unreachable_vault_stops_cleanly_without_a_traceback(tmp_path):
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(EXPORT))
    (tmp_path / "map.yaml").write_text(GOOD_MAP)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "load_secrets.py"), "--environment", "staging",
         "--map", str(tmp_path / "map.yaml"), str(export_file)],
        env={"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "not-a-token", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert (
        "stopped after 0 of 1 secrets: Vault at http://127.0.0.1:9 refused or could not be reached (ConnectionError)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr and SECRET_VALUE not in result.stdout + result.stderr
