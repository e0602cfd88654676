"""The API's small study with researchers in every role (tests/api/conftest.py), shared here."""

from tests.api.conftest import client_for, data  # noqa: F401 - fixtures
