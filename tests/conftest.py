import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import translation

from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytest_plugins = ["tests.plugins.demo", "tests.plugins.celery_worker"]


@pytest.fixture(autouse=True, scope="session")
def fast_password_hasher():
    """Hash the test users' passwords with a fast hasher: the production one takes about half a
    second per user by design, which came to a tenth of the suite. No test is about the hasher."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a page requested through the test client leaves
    the language it activated (German, say) active in the thread, and later tests' messages
    would come out translated."""
    translation.activate(settings.LANGUAGE_CODE)


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


@pytest.fixture
def owner_client(client, owner):
    """The test client, logged in as `owner`."""
    client.force_login(owner)
    return client
