import pytest

from tests.factories import MembershipFactory, StudyFactory, UserFactory


@pytest.fixture
def study(db):
    return StudyFactory()


@pytest.fixture
def owner(study):
    """A researcher who owns `study`."""
    return MembershipFactory(study=study).user


@pytest.fixture
def stranger(db):
    """A staff researcher who is a member of no study."""
    return UserFactory(username="stranger")
