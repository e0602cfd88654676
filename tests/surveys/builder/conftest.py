"""Fixtures of the builder tests: the every-kind study with an owner, an analyst, a viewer and a stranger."""

import pytest

from surveys.spec.service import apply_spec
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def built(every_kind):
    study = apply_spec(data=every_kind).study
    users = {role: MembershipFactory(study=study, role=role, user=UserFactory(username=role)).user
             for role in ("owner", "analyst", "viewer")}
    users["stranger"] = UserFactory(username="stranger")
    return study, users


@pytest.fixture
def every_kind():
    from surveys.spec.io import load_text
    from tests.surveys.spec.conftest import EVERY_KIND

    return load_text(EVERY_KIND.read_text())
