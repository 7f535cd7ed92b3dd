"""Operator scripts refuse a user's mistake with a message and status 2, never a traceback."""

from __future__ import annotations

import json

from scripts import load_secrets, synth_diff


def test_synth_diff_names_a_base_that_does_not_exist(capsys):
    assert synth_diff.main(["--base", "no-such-revision-here"]) == 2
    err = capsys.readouterr().err
    assert "cannot check out 'no-such-revision-here'" in err
    assert "Traceback" not in err


def test_load_secrets_asks_for_vault_before_writing(tmp_path, monkeypatch, capsys):
    # GIVEN a complete export but no Vault address or token in the environment
    mapping = {"GOOGLE_CLIENT_ID": "platform/{env}/manual/oauth/google#client_id"}
    (tmp_path / "map.yaml").write_text(json.dumps({"platform": mapping}))
    (tmp_path / "export.json").write_text(json.dumps({"GOOGLE_CLIENT_ID": "not-printed"}))
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    # THEN nothing is written and the message says what to set
    status = load_secrets.main(
        [
            str(tmp_path / "export.json"),
            "--environment",
            "main",
            "--map",
            str(tmp_path / "map.yaml"),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "set VAULT_ADDR and VAULT_TOKEN" in err and "not-printed" not in err


def test_load_secrets_names_an_export_it_cannot_read(tmp_path, capsys):
    assert load_secrets.main([str(tmp_path / "missing.json"), "--environment", "main"]) == 2
    assert "cannot read" in capsys.readouterr().err
