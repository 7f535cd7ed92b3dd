"""Fixtures shared by the end-to-end tests."""

from tests.e2e.openbao import bao_dev_server  # noqa: F401  (a fixture)
