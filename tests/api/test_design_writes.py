"""Creating and editing studies, items, waves and arms through the API, with the models' own
validation: 400 with a clear message and nothing stored when the write is refused."""

import pytest

from surveys.models import Arm, Item, Membership, Study, Wave

pytestmark = pytest.mark.django_db
BASE = "/api/v1/studies/panel/"


def test_it_refuses_a_scale_edit_once_answers_exist_but_accepts_a_new_prompt(data, owner_client):
    response = owner_client.patch(BASE + "items/reasons/", {"scale_max": 5}, format="json")
    assert response.status_code == 400
    assert "scale is frozen" in response.json()["kind"][0]
    assert Item.objects.get(study=data.study, code="reasons").scale_max == 7
    response = owner_client.patch(BASE + "items/reasons/", {"prompt": {"en": "Others have good reasons."}}, format="json")
    assert response.status_code == 200
    assert response.json()["prompt"] == {"en": "Others have good reasons."}
    assert response.json()["has_answers"] is True


def test_it_accepts_a_scale_edit_before_answers_exist(data, owner_client):
    response = owner_client.patch(BASE + "items/marry/", {"scale_max": 5}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["k"] == 5


def test_it_creates_an_item_with_the_model_defaults(data, owner_client):
    response = owner_client.post(BASE + "items/", {"code": "feel", "prompt": {"en": "How do you feel?"}, "kind": "likert",
                                            "scale_max": 5}, format="json")
    assert response.status_code == 201, response.content
    item = Item.objects.get(study=data.study, code="feel")
    assert (item.scale_min, item.scale_max, item.step, item.k) == (1, 5, 1, 5)


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"code": "9bad", "prompt": {"en": "x"}, "scale_max": 5}, "code", "not a valid variable name"),
    ({"code": "reasons", "prompt": {"en": "x"}, "scale_max": 5}, "non_field_errors", "already exists"),
    ({"code": "q", "prompt": "plain", "scale_max": 5}, "prompt", "per language"),
    ({"code": "q", "prompt": {"en": "x"}, "kind": "slider", "scale_min": 0, "scale_max": 10, "step": 3}, "step",
     "whole number of steps"),
    ({"code": "q", "prompt": {"en": "x"}, "role": "grouping", "kind": "likert", "scale_max": 5}, "role",
     "choice item"),
    ({"code": "q", "prompt": {"en": "x"}, "kind": "text", "scale_max": 5}, "kind", "no scale"),
])
def test_it_refuses_invalid_items_with_a_message(data, owner_client, body, field, message):
    before = Item.objects.count()
    response = owner_client.post(BASE + "items/", body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert Item.objects.count() == before


def test_waves_take_their_items_by_code_from_the_same_study_only(data, owner_client):
    body = {"number": 4, "opens_at": "2027-01-01T00:00:00Z", "closes_at": "2027-01-08T00:00:00Z",
            "items": ["reasons", "warmth"]}
    response = owner_client.post(BASE + "waves/", body, format="json")
    assert response.status_code == 201, response.content
    assert sorted(Wave.objects.get(study=data.study, number=4).items.values_list("code", flat=True)) == ["reasons", "warmth"]
    response = owner_client.patch(BASE + "waves/4/", {"items": ["reasons", "missing-item"]}, format="json")
    assert response.status_code == 400 and "items" in response.json()
    assert Wave.objects.get(study=data.study, number=4).items.count() == 2


def test_it_refuses_a_wave_that_closes_before_it_opens_and_a_duplicate_number(data, owner_client):
    response = owner_client.post(BASE + "waves/", {"number": 5, "opens_at": "2027-01-08T00:00:00Z",
                                            "closes_at": "2027-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 400 and "close after it opens" in response.json()["closes_at"][0]
    response = owner_client.post(BASE + "waves/", {"number": 1, "opens_at": "2027-01-01T00:00:00Z",
                                            "closes_at": "2027-01-08T00:00:00Z"}, format="json")
    assert response.status_code == 400
    assert Wave.objects.filter(study=data.study).count() == 3


def test_a_study_has_at_most_one_control_arm(data, owner_client):
    response = owner_client.post(BASE + "arms/", {"name": "second-control", "is_control": True}, format="json")
    assert response.status_code == 400
    assert not Arm.objects.filter(name="second-control").exists()
    response = owner_client.post(BASE + "arms/", {"name": "letter", "allocation_weight": 2}, format="json")
    assert response.status_code == 201
    assert Arm.objects.get(study=data.study, name="letter").allocation_weight == 2


def test_study_create_and_edit(data, analyst_client):
    client = analyst_client
    response = client.post("/api/v1/studies/", {"slug": "new-study", "title": "New", "languages": ["en", "de"]},
                           format="json")
    assert response.status_code == 201, response.content
    study = Study.objects.get(slug="new-study")
    assert Membership.objects.get(study=study).role == "owner"
    response = client.post("/api/v1/studies/", {"slug": "bad", "title": "Bad", "languages": ["xx"]}, format="json")
    assert response.status_code == 400 and "Unsupported language" in response.json()["languages"][0]
    assert not Study.objects.filter(slug="bad").exists()
    response = client.post("/api/v1/studies/", {"slug": "panel", "title": "Taken"}, format="json")
    assert response.status_code == 400 and "slug" in response.json()
    response = client.patch("/api/v1/studies/new-study/", {"slug": "renamed"}, format="json")
    assert response.status_code == 400 and "cannot change" in response.json()["slug"][0]
    response = client.patch("/api/v1/studies/new-study/", {"title": "Renamed", "status": "active"}, format="json")
    assert response.status_code == 200
    assert Study.objects.get(slug="new-study").title == "Renamed"


def test_malformed_bodies_are_400_not_500(data, owner_client):
    response = owner_client.generic("POST", BASE + "items/", "{not json", content_type="application/json")
    assert response.status_code == 400
    response = owner_client.post(BASE + "waves/", {"number": "x", "opens_at": "soon"}, format="json")
    assert response.status_code == 400 and {"number", "opens_at", "closes_at"} <= set(response.json())


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/studies/", {"slug": "s1", "title": "T", "languages": [["en"], {"x": 1}]}, "languages"),
    ("/api/v1/studies/", {"slug": "s2", "title": "T", "completion_text": {"en": {"nested": 1}}}, "completion_text"),
    ("/api/v1/studies/", {"slug": "s3", "title": "T", "items_per_page": 9223372036854775806}, "items_per_page"),
    (BASE + "items/", {"code": "q", "prompt": {"en": "x"}, "kind": "choice", "scale_max": 2, "labels": ["left"]},
     "labels"),
    (BASE + "items/", {"code": "q", "prompt": {"en": "x"}, "scale_max": 1e308}, None),
])
def test_oddly_shaped_values_are_a_400_not_a_500(data, path, body, field, owner_client):
    response = owner_client.post(path, body, format="json")
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()
