"""Fixtures shared from the API's and the survey's tests: a small study with researchers in every
role (tests/api/conftest.py) and a demo-like survey (tests/surveys/conftest.py)."""

from tests.api.conftest import client_for, data  # noqa: F401 - fixtures
from tests.surveys.conftest import enroll, survey  # noqa: F401 - fixtures
