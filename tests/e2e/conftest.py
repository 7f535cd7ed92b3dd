"""Fixtures shared by the end-to-end tests."""

import pytest

from tests.conftest import ENVIRONMENTS
from tests.e2e.openbao import bao_dev_server  # noqa: F401  (a fixture)


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def env(request) -> str:
    """Each environment in turn, for the tests of each environment's own datastores."""
    return request.param


@pytest.fixture(scope="module")
def platform(stacks, env) -> dict:
    return stacks[f"platform-{env}"]
