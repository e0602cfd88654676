"""Personal API tokens: created and revoked in the web UI, stored hashed, shown once."""

import hashlib
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from surveys.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(client):
    user = UserFactory(username="tokenuser", password=None)
    client.force_login(user)
    return user


def test_a_new_token_is_shown_once_and_stored_only_as_its_hash(client, researcher):
    response = client.post("/account/tokens/", {"name": "R on my laptop"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r'value="(dsg_[A-Za-z0-9_-]{43})"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=researcher)
    assert token.name == "R on my laptop"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())  # no column holds the secret
    assert token.hint == secret[:10]
    later = client.get("/account/tokens/").content.decode()
    assert secret not in later and token.hint in later and "R on my laptop" in later
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/studies/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_stops_working(client, researcher):
    token, secret = ApiToken.issue(researcher, name="script")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/v1/studies/").status_code == 200
    response = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = api.get("/api/v1/studies/")
    assert response.status_code == 401
    assert response.json() == {"detail": "This token was revoked."}
    assert "revoked" in client.get("/account/tokens/").content.decode()


def test_nobody_revokes_someone_elses_token(client, researcher):
    theirs, _secret = ApiToken.issue(UserFactory(username="someone", password=None), name="theirs")
    assert client.post(f"/account/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert "theirs" not in client.get("/account/tokens/").content.decode()


def test_the_token_page_needs_a_login(client):
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post("/account/tokens/", {"name": "x"}).status_code == 302
    assert not ApiToken.objects.exists()


def test_a_token_needs_a_name(client, researcher):
    response = client.post("/account/tokens/", {"name": ""})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    assert "This field is required" in response.content.decode()


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer nope", "Token dsg_" + "x" * 43,
                                    "Bearer " + "x" * 200])
def test_bad_tokens_get_401_with_a_message(data, header, anonymous_client):
    api = anonymous_client
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/studies/panel/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["detail"]


def test_a_token_of_an_inactive_user_is_refused(data, owner_client):
    data.users["owner"].is_active = False
    data.users["owner"].save()
    assert owner_client.get("/api/v1/studies/panel/").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(data, viewer_client):
    token = ApiToken.objects.get(user=data.users["viewer"])
    client = viewer_client
    client.get("/api/v1/studies/")
    token.refresh_from_db()
    first = token.last_used_at
    client.get("/api/v1/studies/")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timezone.timedelta(minutes=5))
    client.get("/api/v1/studies/")
    token.refresh_from_db()
    assert token.last_used_at > first
