"""Every service attribute the provider reads back in its own spelling is written in that
spelling, so a plan of unchanged stacks shows no change.

kreuzwerker/docker v3.9.0 reads durations back through ``shortDur`` (Go's
time.Duration.String, then a trailing "m0s" and "h0m" cut: resource_docker_service_structures.go
1306-1315) and ``max_failure_ratio`` through ``strconv.FormatFloat(ratio, 'f', 1, 64)`` (line
87), and none of these attributes has a diff suppression. Written as "60s" or "0", each would
show as an update in every plan.
"""

from __future__ import annotations

import pytest

from tests.conftest import STACK_NAMES, resources
from tests.e2e.swarm.provider import duration
from tests.e2e.swarm.provider import short_dur as provider_short_dur

DURATION_KEYS = {
    "delay",
    "monitor",
    "interval",
    "timeout",
    "start_period",
    "stop_grace_period",
    "window",
}


def short_dur(text: str) -> str:
    """``text`` as the provider reads it back (its shortDur, tests/e2e/swarm/provider.py)."""
    return provider_short_dur(duration(text))


def _walk(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)
    else:
        yield path, value


@pytest.mark.parametrize("stack", [name for name in STACK_NAMES if name != "cluster"])
def test_durations_and_ratios_are_written_as_the_provider_reads_them_back(stacks, stack):
    # Every stack but the cluster stack, which runs no service.
    checked, wrong = 0, []
    for rid, service in resources(stacks[stack], "docker_service").items():
        for path, value in _walk(service):
            if "converge_config" in path:
                continue  # not read back from the engine
            if path[-1] in DURATION_KEYS:
                checked += 1
                if value != short_dur(value):
                    wrong.append(
                        f"{rid}.{'.'.join(path)}: {value!r} reads back as {short_dur(value)!r}"
                    )
            if path[-1] == "max_failure_ratio":
                checked += 1
                if value != f"{float(value):.1f}":
                    wrong.append(
                        f"{rid}.{'.'.join(path)}: {value!r} reads back as {float(value):.1f}"
                    )
    assert checked > 10
    assert not wrong, "\n".join(wrong)


def test_the_read_back_spelling_is_gos():
    # Go: (60*time.Second).String() == "1m0s" -> "1m"; 90 s "1m30s"; 3600 s "1h0m0s" -> "1h".
    assert [short_dur(t) for t in ("60s", "90s", "3600s", "0s", "10s", "3601s")] == [
        "1m", "1m30s", "1h", "0s", "10s", "1h0m1s",
    ]  # fmt: skip
