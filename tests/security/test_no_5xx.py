"""Inputs that once answered 500: NUL bytes, deeply nested JSON, huge bodies, wrong encodings.
Each is a 4xx with the API's JSON error shape (API) or the page's error (web), nothing stored."""

import json

import pytest
from django.test import Client

from common.errors import server_error
from surveys.models import Item, Response
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/studies/panel/export/"


@pytest.mark.parametrize("query", ["arm=%00", "group=side:%00", "item=%00", "wave=%00", "language=%00",
                                   "group=%00:1", "shape=%00", "format=%00"])
def test_nul_bytes_in_export_filters_are_400_json(data, query):
    response = client_for(data, "owner").get(f"{EXPORT}?{query}")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("path", ["items/%00/", "arms/%00/", "waves/%00/", "items/a%00b/"])
def test_nul_bytes_in_lookups_are_400_json(data, path):
    response = client_for(data, "owner").get(f"/api/v1/studies/panel/{path}")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert response["Content-Type"].startswith("application/json")


def test_a_nul_byte_in_a_posted_prompt_is_400_and_nothing_stored(data):
    before = Item.objects.count()
    response = client_for(data, "owner").post("/api/v1/studies/panel/items/", {
        "code": "nul", "prompt": {"en": "a\x00b"}, "kind": "likert", "role": "attitude",
        "scale_min": 1, "scale_max": 7, "step": 1}, format="json")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert Item.objects.count() == before


def test_deeply_nested_json_is_400(data):
    body = "[" * 100_000 + "]" * 100_000
    response = client_for(data, "owner").post("/api/v1/studies/panel/items/", body, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


def test_a_10_mb_json_body_is_a_json_4xx(data):
    body = json.dumps({"code": "big", "prompt": {"en": "x" * (10 << 20)}})
    response = client_for(data, "owner").post("/api/v1/studies/panel/items/", body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_a_nul_byte_on_a_participant_page_is_a_400_page(db):
    response = Client().get("/s/any-study/?PROLIFIC_PID=%00")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")


def test_the_friendly_500_page_says_whether_the_answer_was_kept_in_english_and_german(rf):
    posted = server_error(rf.post("/p/secret/")).content.decode()
    assert "were <strong>not</strong> saved" in posted and "wurden <strong>nicht</strong> gespeichert" in posted
    assert "reload" in posted and "neu" in posted
    request = rf.post("/p/secret/")
    request.answers_kept = True
    kept = server_error(request).content.decode()
    assert "<strong>were</strong> saved" in kept and "<strong>wurden</strong> gespeichert" in kept
    assert "Nothing you answered was lost" in server_error(rf.get("/p/secret/")).content.decode()
    api = server_error(rf.get("/api/v1/studies/"))
    assert api.status_code == 500 and "detail" in json.loads(api.content)


def test_a_failure_after_the_answers_committed_says_they_were_kept(survey, enroll, monkeypatch):
    from surveys.views import participant as views
    from tests.surveys.test_participant_flow import ANSWERS, page_form

    _participant, secret = enroll()
    url = f"/p/{secret}/"
    _page, hidden, codes = page_form(Client(), url)
    form = {**hidden, **{f"i_{code}": ANSWERS[code] for code in codes}}
    before = Response.objects.count()

    def broken(*args, **kwargs):
        raise RuntimeError("the worker died after the commit")

    monkeypatch.setattr(views, "_after_answers", broken)
    client = Client(raise_request_exception=False)
    response = client.post(f"/p/{secret}/", form)
    assert response.status_code == 500 and "<strong>were</strong> saved" in response.content.decode()
    assert Response.objects.count() == before + len(codes) > before  # and they were


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "latin-1"])
def test_text_imports_in_other_encodings_are_read_or_refused_with_a_4xx(client, encoding):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import MembershipFactory

    owner = MembershipFactory(role="owner").user
    client.force_login(owner)
    slug = owner.memberships.get().study.slug
    body = "date,text,group\n2021-01-04,hate,left\n2021-02-02,bad \u00e9,left\n".encode(encoding)
    for kind, name in (("corpus", "letters"), ("outcome", "posts")):
        upload = SimpleUploadedFile(f"{name}.csv", body if kind == "corpus" else
                                    "period,value\n2021-01,10\n2021-02,30\n".encode(encoding), content_type="text/csv")
        response = client.post(f"/studies/{slug}/text/import/{kind}/", {"name": name, "period": "month",
                                                                         "file": upload})
        assert response.status_code in (302, 400), (encoding, kind, response.status_code)


@pytest.mark.parametrize("field", ["name", "period"])
def test_a_nul_byte_in_a_posted_web_form_is_a_4xx(client, field):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import MembershipFactory

    owner = MembershipFactory(role="owner").user
    client.force_login(owner)
    slug = owner.memberships.get().study.slug
    form = {"name": "letters", "period": "month",
            "file": SimpleUploadedFile("c.csv", b"date,text\n2021-01-04,hate\n", content_type="text/csv")}
    form[field] = "a\x00b"
    assert client.post(f"/studies/{slug}/text/import/corpus/", form).status_code == 400
