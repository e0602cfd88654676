"""Permission matrix: every endpoint x {owner, analyst, viewer, member of another study,
anonymous, revoked token} x {own study, other study}."""

import pytest
from django.db import transaction

from analysis.models import AnalysisRun

pytestmark = pytest.mark.django_db

ALL = {"owner", "analyst", "viewer"}
DATA = {"owner", "analyst"}
OWNER = {"owner"}
WHO = ["owner", "analyst", "viewer", "other", "anonymous", "revoked"]
STUDIES = ["panel", "elsewhere"]

ITEM = {"code": "newq", "prompt": {"en": "A new question"}, "kind": "likert", "scale_max": 5}
WAVE = {"number": 9, "opens_at": "2027-01-01T00:00:00Z", "closes_at": "2027-01-08T00:00:00Z"}

#: (method, path under /api/v1/studies/<slug>/, body, roles allowed, success status)
ENDPOINTS = [
    ("get", "", None, ALL, 200),
    ("patch", "", {"title": "Renamed"}, OWNER, 200),
    ("get", "items/", None, ALL, 200),
    ("post", "items/", ITEM, OWNER, 201),
    ("get", "items/reasons/", None, ALL, 200),
    ("patch", "items/reasons/", {"prompt": {"en": "Edited"}}, OWNER, 200),
    ("put", "items/reasons/", {"code": "reasons", "prompt": {"en": "Edited"}, "kind": "likert", "scale_min": 1,
                               "scale_max": 7, "step": 1}, OWNER, 200),
    ("get", "waves/", None, ALL, 200),
    ("post", "waves/", WAVE, OWNER, 201),
    ("get", "waves/1/", None, ALL, 200),
    ("patch", "waves/1/", {"state": "closed"}, OWNER, 200),
    ("get", "arms/", None, ALL, 200),
    ("post", "arms/", {"name": "new-arm"}, OWNER, 201),
    ("get", "arms/control/", None, ALL, 200),
    ("patch", "arms/control/", {"allocation_weight": 3}, OWNER, 200),
    ("get", "participants/", None, DATA, 200),
    ("get", "responses/", None, DATA, 200),
    ("get", "indices/", None, ALL, 200),
    ("get", "effects/", None, ALL, 200),
    ("get", "export/?format=csv", None, DATA, 200),
    ("get", "export/?format=csv&shape=wide", None, DATA, 200),
    ("get", "export/?format=parquet", None, DATA, 200),
    ("get", "export/?format=sav", None, DATA, 200),
    ("get", "export/?format=dta&shape=wide", None, DATA, 200),
    ("get", "export/codebook/", None, DATA, 200),
    ("get", "export/codebook/?format=csv", None, DATA, 200),
    ("post", "recompute/", None, DATA, 202),
    ("get", "spec/", None, ALL, 200),
    ("get", "spec/?format=yaml", None, ALL, 200),
    ("put", "spec/?dry_run=true", {"spec_version": 1}, OWNER, 400),  # the body's problems: after the role
]

ROLE_IN = {"panel": {"owner": "owner", "analyst": "analyst", "viewer": "viewer"}, "elsewhere": {"other": "owner"}}


def expected_status(who: str, slug: str, allowed: set, success: int) -> int:
    if who in ("anonymous", "revoked"):
        return 401
    role = ROLE_IN[slug].get(who)
    if role is None:
        return 404
    return success if role in allowed else 403


def call(client, method, url, body):
    with transaction.atomic():
        response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
        if response.streaming:
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize(("method", "path", "body", "allowed", "success"), ENDPOINTS,
                         ids=[f"{m} {p or '.'}" for m, p, *_ in ENDPOINTS])
def test_every_role_gets_what_its_role_allows(data, method, path, body, allowed, success, api_client):
    wrong = []
    for slug in STUDIES:
        for who in WHO:
            response = call(api_client(who), method, f"/api/v1/studies/{slug}/{path}", body)
            expected = expected_status(who, slug, allowed, success)
            if response.status_code != expected:
                wrong.append(f"{who} on {slug}: {response.status_code} (expected {expected}) {response.content[:120]!r}")
            if expected == 401:
                assert response["WWW-Authenticate"] == 'Bearer realm="api"'
            if expected >= 400:
                assert response["Content-Type"] == "application/json", (who, slug)
    assert not wrong, "\n".join(wrong)


def test_study_list_shows_only_the_users_studies_and_creating_one_makes_the_creator_owner(data, owner_client, viewer_client, api_client):
    for who, slugs in {"owner": ["panel"], "viewer": ["panel"], "other": ["elsewhere"]}.items():
        response = api_client(who).get("/api/v1/studies/")
        assert response.status_code == 200
        assert [s["slug"] for s in response.json()] == slugs
    for who in ("anonymous", "revoked"):
        assert api_client(who).get("/api/v1/studies/").status_code == 401
        assert api_client(who).post("/api/v1/studies/", {"slug": "x", "title": "X"}, format="json").status_code == 401
    response = viewer_client.post("/api/v1/studies/", {"slug": "fresh", "title": "Fresh"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "owner"
    assert viewer_client.get("/api/v1/studies/fresh/").json()["role"] == "owner"
    assert owner_client.get("/api/v1/studies/fresh/").status_code == 404


@pytest.mark.parametrize("path", [
    "/api/v1/", "/api/v1/studies/", "/api/v1/studies/nope/", "/api/v1/studies/panel/export/?format=xls",
    "/api/v1/studies/panel/items/?format=csv", "/api/v1/no-such-thing/", "/api/v1/studies/panel/items/nope/",
])
def test_an_anonymous_client_gets_401_on_every_api_path(data, path, anonymous_client):
    for method in ("get", "post", "patch"):
        response = getattr(anonymous_client, method)(path)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_unknown_format_is_a_400_after_authentication(data, analyst_client):
    response = analyst_client.get("/api/v1/studies/panel/export/?format=xls")
    assert response.status_code == 400
    assert "csv, dta, parquet, sav" in response.json()["format"][0]


def test_a_session_authenticates_too_and_writes_need_csrf(data, client):
    client.force_login(data.users["owner"])
    assert client.get("/api/v1/studies/panel/items/").status_code == 200
    from rest_framework.test import APIClient

    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.force_login(data.users["owner"])
    response = csrf_client.patch("/api/v1/studies/panel/", {"title": "x"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_recompute_answers_202_with_the_run_ids(data, analyst_client):
    response = analyst_client.post("/api/v1/studies/panel/recompute/")
    assert response.status_code == 202
    body = response.json()
    assert body["study"] == "panel"
    assert sorted(body["run_ids"]) == sorted(AnalysisRun.objects.filter(study=data.study).values_list("pk", flat=True))
