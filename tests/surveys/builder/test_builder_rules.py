"""The builder's rules: enrolment policy, page order and display logic of items and pages, edited
as form fields and structured rows (never JSON), without JavaScript; owners write, analysts and
viewers read (403 on a write), strangers get 404; the validator's problems show by the form."""

import pytest

from surveys.builder import rules
from surveys.models import Study
from surveys.spec.io import dump
from surveys.spec.service import export_spec
from tests.surveys.builder.test_builder_pages import URL, _login

pytestmark = pytest.mark.django_db

ENROLMENT = {"action": "enrolment", "anchor": "enrolment", "opens": "2027-01-01T09:00", "closes": "", "closes_when_wave_opens": "2",
             "late_arrivals": "next_wave", "cap": "400", "quota_side_1": "200", "quota_side_2": "",
             "quota_full_code": "FULLX"}


def _spec():
    return export_spec(Study.objects.get(slug="every-kind"))


def test_the_design_page_shows_the_rules_as_fields_and_rows(built, client):
    _study, users = built
    html = _login(client, users["owner"]).get(URL).content.decode()
    assert 'id="enrolment"' in html and 'name="quota_side_1"' in html and "when wave 2 opens" in html
    assert 'name="c_item_0"' in html and 'name="c_op_0"' in html and "is one of (in)" in html
    assert 'name="page_name_0"' in html and "Save page order" in html
    assert "{&quot;item&quot;" not in html and '{"item"' not in html  # conditions are never shown as JSON
    viewer = _login(client, users["viewer"]).get(URL).content.decode()
    assert "Save enrolment" not in viewer and "Save page order" not in viewer


def test_owners_save_the_enrolment_policy(built, client):
    _study, users = built
    response = _login(client, users["owner"]).post(URL, ENROLMENT)
    assert response.status_code == 303 and response["Location"].endswith("#enrolment")
    assert _spec()["enrolment"] == {"opens": "2027-01-01T09:00:00Z", "closes": None, "closes_when_wave_opens": 2,
                                    "late_arrivals": "next_wave", "cap": 400, "quotas": {"side": {"1": 200}},
                                    "quota_full_code": "FULLX"}


def test_a_bad_enrolment_form_shows_the_problem_next_to_it_and_stores_nothing(built, client):
    _study, users = built
    before = dump(_spec())
    response = _login(client, users["owner"]).post(URL, {**ENROLMENT, "opens": "2027-03-01T00:00",
                                                         "closes": "2027-02-01T00:00"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="problems-enrolment-form"' in html and "enrolment.closes: enrolment must close after it opens" in html
    assert dump(_spec()) == before


def test_owners_build_pages_and_conditions_from_rows(built, client):
    _study, users = built
    owner = _login(client, users["owner"])
    response = owner.post(URL, {"action": "pages", "page_count": "3", "page_name_0": "first", "page_items_0": "agree",
                                "page_name_1": "second", "page_items_1": "warmth, story", "page_shuffle_1": "on",
                                "page_name_2": ""})
    assert response.status_code == 303
    assert _spec()["pages"]["order"] == [{"name": "first", "items": ["agree"]},
                                         {"name": "second", "items": ["warmth", "story"], "shuffle": True}]
    response = owner.post(URL, {"action": "item-logic", "code": "story", "mode": "any", "rows": "3",
                                "c_item_0": "agree", "c_op_0": ">=", "c_value_0": "4",
                                "c_item_1": "side", "c_op_1": "in", "c_value_1": "1, 2", "c_not_1": "on",
                                "c_item_2": ""})
    assert response.status_code == 303
    story = next(row for row in _spec()["items"] if row["code"] == "story")
    assert story["show_if"] == {"any": [{"item": "agree", "op": ">=", "value": 4},
                                        {"not": {"item": "side", "op": "in", "value": [1, 2]}}]}
    response = owner.post(URL, {"action": "page-logic", "name": "second", "mode": "all", "rows": "1",
                                "c_item_0": "agree", "c_op_0": "<", "c_value_0": "3"})
    assert response.status_code == 303
    assert _spec()["pages"]["order"][1]["show_if"] == {"item": "agree", "op": "<", "value": 3}
    # saving the page order again keeps each page's condition under its name
    owner.post(URL, {"action": "pages", "page_count": "2", "page_name_0": "first", "page_original_0": "first",
                     "page_items_0": "agree", "page_name_1": "second", "page_original_1": "second",
                     "page_items_1": "warmth story"})
    assert _spec()["pages"]["order"][1]["show_if"] == {"item": "agree", "op": "<", "value": 3}
    # no rows: always shown
    owner.post(URL, {"action": "item-logic", "code": "story", "mode": "all", "rows": "1", "c_item_0": ""})
    assert "show_if" not in next(row for row in _spec()["items"] if row["code"] == "story")


def test_a_condition_on_the_same_page_is_refused_next_to_its_form(built, client):
    _study, users = built
    owner = _login(client, users["owner"])
    owner.post(URL, {"action": "pages", "page_count": "1", "page_name_0": "one", "page_items_0": "agree warmth"})
    before = dump(_spec())
    response = owner.post(URL, {"action": "item-logic", "code": "warmth", "mode": "all", "rows": "1",
                                "c_item_0": "agree", "c_op_0": "==", "c_value_0": "1"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="problems-item-logic-form"' in html
    assert "&quot;agree&quot; is on the same page of wave 1; move it to an earlier page" in html
    assert dump(_spec()) == before
    response = owner.post(URL, {"action": "item-logic", "code": "warmth", "mode": "all", "rows": "1",
                                "c_item_0": "agree", "c_op_0": "==", "c_value_0": "many"})
    assert response.status_code == 400 and "is not a number" in response.content.decode()


def test_analysts_and_viewers_get_403_on_the_rules_and_strangers_404(built, client):
    _study, users = built
    before = dump(_spec())
    for role in ("analyst", "viewer"):
        for data in (ENROLMENT, {"action": "pages", "page_count": "0"},
                     {"action": "item-logic", "code": "story", "rows": "0"},
                     {"action": "page-logic", "name": "x", "rows": "0"}):
            assert _login(client, users[role]).post(URL, data).status_code == 403, (role, data["action"])
    assert _login(client, users["stranger"]).post(URL, ENROLMENT).status_code == 404
    assert dump(_spec()) == before


def test_conditions_the_rows_cannot_show_are_said_as_a_sentence():
    nested = {"all": [{"any": [{"item": "a", "op": "==", "value": 1}]}]}
    assert rules.condition_rows(nested) is None
    assert rules.condition_rows({"not": {"item": "a", "op": "in", "value": [1, 2]}}) == (
        "all", [{"item": "a", "op": "in", "value": "1, 2", "negate": True}])


def test_editing_an_item_keeps_its_condition_and_its_page(built, client):
    from tests.surveys.builder.test_builder_pages import _item_post

    _study, users = built
    owner = _login(client, users["owner"])
    owner.post(URL, {"action": "pages", "page_count": "2", "page_name_0": "one", "page_items_0": "agree",
                     "page_name_1": "two", "page_items_1": "warmth"})
    owner.post(URL, {"action": "item-logic", "code": "warmth", "mode": "all", "rows": "1",
                     "c_item_0": "agree", "c_op_0": ">", "c_value_0": "2"})
    warmth = next(row for row in _spec()["items"] if row["code"] == "warmth")
    form = _item_post(original="warmth", code="warmth2", kind="slider", scale_min="0", scale_max="100", step="1",
                      prompt_en=warmth["prompt"]["en"], prompt_de=warmth["prompt"].get("de", "x"))
    form.pop("labels_en", None), form.pop("labels_de", None)
    response = owner.post(URL, form)
    assert response.status_code == 303, response.content.decode()[:3000]
    spec = _spec()
    renamed = next(row for row in spec["items"] if row["code"] == "warmth2")
    assert renamed["show_if"] == {"item": "agree", "op": ">", "value": 2}
    assert spec["pages"]["order"][1]["items"] == ["warmth2"]
