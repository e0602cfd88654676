"""The builder adds and edits matrix and multiple-choice questions with text boxes (no JSON, no
JavaScript): statements and options one "code = text" line per language."""

import pytest

from surveys.models import Item
from surveys.spec.service import export_spec
from tests.surveys.builder.test_builder_pages import URL, _login

pytestmark = pytest.mark.django_db


def _group_post(**fields):
    data = {"action": "item-save", "original": "", "code": "news", "kind": "multiple",
            "prompt_en": "Where do you get news?", "prompt_de": "Woher bekommen Sie Nachrichten?",
            "members_en": "news_tv = Television\nnews_web = Websites", "members_de": "news_tv = Fernsehen\nnews_web =",
            "labels_en": "", "labels_de": "", "scale_max": "", "reverse_codes": "", "none_option": "on",
            "in_every_wave": "on"}
    data.update(fields)
    return data


def test_the_design_page_shows_both_kinds_with_text_boxes(built, client):
    study, users = built
    page = _login(client, users["owner"]).get(URL).content.decode()
    assert "Add a matrix or multiple-choice question" in page
    assert 'name="members_en"' in page and "trust_a = Most people can be trusted." in page
    assert "media_tv = Television" in page and "media_tv = Fernsehen" in page
    assert '<table class="matrix-table">' in page


def test_an_owner_adds_and_edits_a_multiple_choice_question(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    response = owner.post(URL, _group_post())
    assert response.status_code == 303, response.content.decode()[:2000]
    entry = export_spec(study)["items"][-1]
    assert entry == {"code": "news", "kind": "multiple", "role": "attitude",
                     "prompt": {"en": "Where do you get news?", "de": "Woher bekommen Sie Nachrichten?"},
                     "dont_know": False, "required": True, "none_option": True,
                     "options": [{"code": "news_tv", "label": {"en": "Television", "de": "Fernsehen"}},
                                 {"code": "news_web", "label": {"en": "Websites"}}]}
    assert list(Item.objects.filter(study=study, group="news").values_list("code", "kind", "scale_max")) == [
        ("news_tv", "option", 1.0), ("news_web", "option", 1.0)]
    assert all("news" in wave["items"] for wave in export_spec(study)["waves"])
    response = owner.post(URL, _group_post(original="news", members_en="news_tv = TV\nnews_web = Web\nnews_app = Apps",
                                           members_de="", none_option="", optional="on"))
    assert response.status_code == 303
    entry = export_spec(study)["items"][-1]
    assert [o["code"] for o in entry["options"]] == ["news_tv", "news_web", "news_app"]
    assert entry["required"] is False and "none_option" not in entry


def test_an_owner_adds_a_matrix_and_a_bad_line_is_a_400_naming_it(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    response = owner.post(URL, _group_post(code="feel", kind="matrix", members_en="feel_a = Calm\nfeel_b = Angry",
                                           members_de="", scale_max="5", labels_en="1 = Not at all\n5 = Very",
                                           reverse_codes="feel_b", none_option=""))
    assert response.status_code == 303, response.content.decode()[:2000]
    entry = export_spec(study)["items"][-1]
    assert entry["kind"] == "matrix" and entry["scale"] == {"min": 1, "max": 5, "step": 1}
    assert entry["statements"] == [{"code": "feel_a", "prompt": {"en": "Calm"}},
                                   {"code": "feel_b", "prompt": {"en": "Angry"}, "reverse_coded": True}]
    bad = owner.post(URL, _group_post(code="odd", members_en="just a line"))
    assert bad.status_code == 400 and "code = text" in bad.content.decode()
    assert not Item.objects.filter(study=study, group="odd").exists()


def test_deleting_a_group_deletes_its_items_and_takes_them_out_of_the_waves(built, client):
    study, users = built
    response = _login(client, users["owner"]).post(URL, {"action": "item-delete", "code": "trust", "anchor": "items"})
    assert response.status_code == 303
    assert not Item.objects.filter(study=study, group="trust").exists()
    assert all("trust_a" not in w["items"] and "trust" not in w["items"] for w in export_spec(study)["waves"])


def test_duplicating_a_group_gives_its_statements_new_codes(built, client):
    study, users = built
    response = _login(client, users["owner"]).post(URL, {"action": "item-duplicate", "code": "trust", "anchor": "items"})
    assert response.status_code == 303
    items = export_spec(study)["items"]
    copy = next(row for row in items if row["code"] == "trust_2")
    assert [s["code"] for s in copy["statements"]] == ["trust_a_2", "trust_b_2"]
    assert Item.objects.filter(study=study, group="trust_2").count() == 2
