import re

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_login_page_renders_with_our_own_stylesheet(client):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/static/css/site.css"' in html
    # every stylesheet and script from this site (a random CSRF token may well contain "cdn")
    assert re.findall(r'(?:href|src)="(?:https?:)?//', html) == []


def test_a_researcher_logs_in(client):
    UserFactory(username="ada")
    response = client.post("/accounts/login/", {"username": "ada", "password": "a-long-test-password"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
