"""Fixtures shared by the end-to-end tests."""

from collections.abc import Iterator

import pytest

from tests.conftest import CONFIG, ENVIRONMENTS
from tests.e2e.openbao import bao_dev_server  # noqa: F401  (a fixture)


def rehearsal_report(config: pytest.Config):
    """Where the rehearsal's report goes, to be printed at the end of the run
    (tests/conftest.py)."""
    return config.cache.mkdir("rehearsal") / "report.txt"


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def env(request) -> str:
    """Each environment in turn, for the tests of each environment's own datastores."""
    return request.param


@pytest.fixture(scope="module")
def platform(stacks, env) -> dict:
    return stacks[f"platform-{env}"]


def rehearsed_environment() -> str:
    """The platform environment the rehearsal deploys whole: the first without the legacy
    platform (the cluster's two cores hold the layers and one environment's reservations)."""
    plain = [env for env in ENVIRONMENTS if not CONFIG.environments[env].legacy]
    return (plain or list(ENVIRONMENTS))[0]


@pytest.fixture(scope="session")
def swarm(stacks, tmp_path_factory, request) -> Iterator:
    """The stacks deployed into a real single-node swarm (tests/e2e/swarm/session.py)."""
    from tests.e2e.swarm.session import rehearse

    environment = rehearsed_environment()
    others = tuple(env for env in ENVIRONMENTS if env != environment)
    workdir = tmp_path_factory.mktemp("rehearsal")
    report = rehearsal_report(request.config)
    # (One engine per machine: every test that uses it is in tests/e2e/test_swarm.py, which
    # --dist loadfile keeps on one worker.)
    session = None
    try:
        with rehearse(stacks, environment, others, workdir) as session:
            yield session
    finally:
        if session is not None:
            report.write_text(session.report() + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test of the real engine shows dockerd's last warnings and errors beside its
    own: what the engine did is often the only account of why a task did not start or stop,
    and CI keeps nothing else of the run."""
    outcome = yield
    report = outcome.get_result()
    session = getattr(item, "funcargs", {}).get("swarm")
    if report.failed and session is not None:
        report.sections.append(
            ("dockerd's last 40 warnings and errors", session.engine.log_problems(40))
        )
