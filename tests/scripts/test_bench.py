"""scripts/bench.py keeps and prints every measurement taken, with each verdict, even when a
target is missed or a later step fails, and says what it is doing as it goes."""

from __future__ import annotations

from scripts import bench


def test_a_failing_step_keeps_what_was_measured_and_exits_1(monkeypatch, capsys):
    # GIVEN measurements where the ratio misses its target, then a synthesis that fails
    calls = iter([(1.0, 100_000), (9.0, 200_000)])

    def median_run(command, repeat, **kwargs):
        try:
            return next(calls)
        except StopIteration:
            raise bench.StepFailed("synth with 1 environment failed: boom") from None

    monkeypatch.setattr(bench, "provider_modules", lambda: ["cdktf_cdktf_provider_docker"])
    monkeypatch.setattr(bench, "median_run", median_run)
    monkeypatch.setattr(bench, "project_with", lambda count, scratch: scratch)
    # WHEN it runs
    status = bench.main(["--repeat", "1", "--skip-tests"])
    out, err = capsys.readouterr()
    # THEN every measurement taken is printed, with the missed target, and the failure named
    assert status == 1
    assert "| (a) import floor | 1.00 s |  |" in out
    assert "| (b) full synth, shipped environments | 9.00 s |  |" in out
    assert "| (b)/(a) | 9.00 | ≤ " in out and "(MISSES) |" in out
    assert "bench: (a) import floor" in err and "bench: (c) synth with 1 environment(s)" in err
    assert "a step failed, the measurements above are those taken" in err
    assert "boom" in err and "targets missed: (b)/(a)" in err
