"""scripts/synth.py as a command: --help explains it and synthesizes nothing."""

from __future__ import annotations

import pytest

from scripts import synth


def test_help_prints_usage_and_synthesizes_nothing(capsys, monkeypatch):
    called = []
    monkeypatch.setattr(synth, "synth", lambda *a, **k: called.append(a) or 0)
    with pytest.raises(SystemExit) as exit_:
        synth.main(["--help"])
    assert exit_.value.code == 0
    assert "usage: synth.py" in capsys.readouterr().out
    assert called == []
