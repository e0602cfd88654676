"""Failed logins are throttled per user name and per address (django-axes); API tokens and
participant links stay 401/404 at bounded cost (a hash lookup, no password hasher)."""

import time

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def attempt(client, username, password, address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_thirty_wrong_passwords_then_the_right_one_is_refused(settings):
    UserFactory(username="ada")
    client = Client()
    statuses = [attempt(client, "ada", f"wrong-{n}").status_code for n in range(30)]
    assert statuses[:settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT:]) == {429}
    locked = attempt(client, "ada", "a-long-test-password")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_user_name_from_any_address(settings):
    UserFactory(username="ada")
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "ada", "wrong", address=f"10.0.1.{n}")
    assert attempt(Client(), "ada", "a-long-test-password", address="10.9.9.9").status_code == 429


def test_the_lock_is_per_address_for_any_user_name(settings):
    UserFactory(username="bob")
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), f"guess{n}", "wrong", address="10.0.2.1")
    assert attempt(Client(), "bob", "a-long-test-password", address="10.0.2.1").status_code == 429
    assert attempt(Client(), "bob", "a-long-test-password", address="10.0.2.2").status_code == 302


def test_a_successful_login_below_the_limit_resets_the_count(settings):
    UserFactory(username="cy")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "cy", "wrong")
    assert attempt(client, "cy", "a-long-test-password").status_code == 302


def test_token_and_link_guesses_stay_401_and_404_at_bounded_cost(data):
    api = Client()
    started = time.perf_counter()
    for n in range(50):
        assert api.get("/api/v1/studies/", HTTP_AUTHORIZATION=f"Bearer guess-{n:040d}").status_code == 401
        assert api.get(f"/p/guess-{n:027d}/").status_code == 404
    assert time.perf_counter() - started < 30  # 100 guesses: a hash lookup each, no password hasher
