"""The builder pages: owners build and edit, analysts and viewers read, strangers get 404."""

import pytest

from surveys.models import DesignChange, Study
from surveys.spec.io import dump
from surveys.spec.service import export_spec

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


URL = "/studies/every-kind/design/"


def test_every_member_reads_the_design_and_only_owners_see_forms_that_write(built, client):
    study, users = built
    for role in ("owner", "analyst", "viewer"):
        response = _login(client, users[role]).get(URL)
        assert response.status_code == 200, role
        html = response.content.decode()
        assert "Question (en)" in html and "Question (de)" in html  # a text box per language, never JSON
        assert ('Save item' in html) == (role == "owner")
        assert ("read-only" in html) == (role != "owner")
    response = _login(client, users["stranger"]).get(URL)
    assert response.status_code == 404
    assert _login(client, users["stranger"]).get(URL + "preview/").status_code == 404


def test_analysts_and_viewers_get_403_on_every_write(built, client):
    study, users = built
    before = dump(export_spec(study))
    for role in ("analyst", "viewer"):
        for action in ("study", "item-save", "item-delete", "wave-save", "arms", "launch", "copy"):
            response = _login(client, users[role]).post(URL, {"action": action, "code": "agree", "new_slug": "x"})
            assert response.status_code == 403, (role, action)
    assert _login(client, users["stranger"]).post(URL, {"action": "item-delete", "code": "agree"}).status_code == 404
    assert dump(export_spec(Study.objects.get(slug="every-kind"))) == before


def test_anonymous_users_are_sent_to_log_in(built, client):
    assert client.get(URL).status_code == 302
    assert client.get("/studies/new/").status_code == 302


def _item_post(**fields):
    data = {"action": "item-save", "original": "", "code": "newq", "kind": "likert", "role": "attitude",
            "prompt_en": "A new question", "prompt_de": "Eine neue Frage", "scale_min": "", "scale_max": "5",
            "step": "", "labels_en": "1 = No\n5 = Yes", "labels_de": "", "attention_answer": "", "in_every_wave": "on"}
    data.update(fields)
    return data


def test_an_owner_adds_edits_moves_duplicates_and_deletes_items(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    response = owner.post(URL, _item_post())
    assert response.status_code == 303
    spec = export_spec(study)
    item = spec["items"][-1]
    assert item["code"] == "newq" and item["prompt"] == {"en": "A new question", "de": "Eine neue Frage"}
    assert item["scale"] == {"min": 1, "max": 5, "step": 1} and item["labels"] == {"en": {"1": "No", "5": "Yes"}}
    assert all("newq" in wave["items"] for wave in spec["waves"])
    owner.post(URL, _item_post(original="newq", code="renamed", prompt_en="Edited"))
    spec = export_spec(study)
    assert spec["items"][-1]["code"] == "renamed" and "renamed" in spec["waves"][0]["items"]
    owner.post(URL, {"action": "item-move", "code": "renamed", "direction": "up"})
    assert [i["code"] for i in export_spec(study)["items"]][-2:] == ["renamed", "media"]
    owner.post(URL, {"action": "item-duplicate", "code": "renamed"})
    assert "renamed_2" in [i["code"] for i in export_spec(study)["items"]]
    owner.post(URL, {"action": "item-delete", "code": "renamed_2"})
    assert "renamed_2" not in [i["code"] for i in export_spec(study)["items"]]


def test_form_problems_are_shown_inline_with_the_validator_messages(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    response = owner.post(URL, _item_post(kind="choice", labels_en="1 = Only one"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert "items[8].labels.en: choice items need a label for every value; missing: 2, 3, 4, 5" in html
    response = owner.post(URL, _item_post(labels_en="no equals sign"))
    assert 'labels.en: line 1: write &quot;value = label&quot;' in response.content.decode()
    response = owner.post(URL, {"action": "wave-save", "original": "", "opens_at": "2027-05-01T00:00",
                                "closes_at": "2027-04-01T00:00", "items": ["agree"]})
    assert "waves[2].closes_at: a wave must close after it opens" in response.content.decode()


def test_an_owner_edits_waves_arms_consent_settings_and_messages(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    assert owner.post(URL, {"action": "wave-save", "original": "", "opens_at": "2027-03-01T09:00",
                            "closes_at": "2027-03-08T09:00", "items": ["agree", "story"],
                            "content_nudge_en": "Hello <script>x</script>"}).status_code == 303
    wave = export_spec(study)["waves"][-1]
    assert wave == {"number": 3, "opens_at": "2027-03-01T09:00:00Z", "closes_at": "2027-03-08T09:00:00Z",
                    "items": ["agree", "story"], "interventions": [{"arm": "nudge", "title": {},
                                                                    "content": {"en": "Hello "}}]}
    assert owner.post(URL, {"action": "arms", "arm_count": "3", "arm_name_0": "control", "arm_weight_0": "2",
                            "arm_name_1": "nudge", "arm_weight_1": "1", "arm_name_2": "extra",
                            "arm_weight_2": "3", "control": "0"}).status_code == 303
    assert {"name": "extra", "weight": 3, "control": False} in export_spec(study)["arms"]
    assert owner.post(URL, {"action": "consent", "consent_en": "Third", "consent_de": "Dritte"}).status_code == 303
    assert export_spec(study)["consent"][-1] == {"version": 3, "text": {"en": "Third", "de": "Dritte"}}
    assert owner.post(URL, {"action": "study", "title_en": "New title", "title_de": "Neuer Titel",
                            "languages": ["en", "de"], "default_language": "en", "items_per_page": "4"}).status_code == 303
    study.refresh_from_db()
    assert study.title == "New title" and study.items_per_page == 4
    response = owner.post(URL, {"action": "completion", "completion_url": "https://example.org/done",
                                "completion_text_en": "Thanks", "reminder_delays_hours": "12, 48",
                                "last_chance_hours": "6", "retention_days": "30",
                                "subject_invitation_en": "Wave {{ wave }}",
                                "body_invitation_en": "{{ link }} {{ unsubscribe_link }}"})
    assert response.status_code == 303
    study.refresh_from_db()
    spec = export_spec(study)
    assert spec["messages"]["reminder_delays_hours"] == [12, 48] and spec["retention"]["days"] == 30
    assert spec["messages"]["templates"] == [{"kind": "invitation", "language": "en", "subject": "Wave {{ wave }}",
                                              "body": "{{ link }} {{ unsubscribe_link }}"}]


def test_the_item_bank_adds_items_in_one_step(built, client):
    study, users = built
    _login(client, users["owner"]).post(URL, {"action": "bank-add", "bank": ["ih_question", "threat"]})
    codes = [i["code"] for i in export_spec(study)["items"]]
    assert codes[-2:] == ["ih_question", "threat"]


def test_a_launched_study_logs_builder_changes_and_shows_them(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    owner.post(URL, {"action": "launch"})
    study.refresh_from_db()
    assert study.status == "active"
    owner.post(URL, _item_post(original="agree", code="agree", prompt_en="I agree now.", prompt_de="Ich stimme zu.",
                               labels_en="1 = No\n5 = Yes", scale_max="5", in_every_wave=""))
    change = DesignChange.objects.get(path="items.agree.prompt.en")
    assert (change.before, change.after, change.username, change.source) == ("I agree.", "I agree now.", "owner",
                                                                              "builder")
    html = owner.get(URL).content.decode()
    assert "items.agree.prompt.en" in html and "I agree now." in html


def test_new_study_empty_from_example_bank_upload_and_copy(built, client):
    study, users = built
    owner = _login(client, users["owner"])
    assert owner.get("/studies/new/").status_code == 200
    response = owner.post("/studies/new/", {"slug": "blank", "title": "Blank", "languages": ["en"], "start": "empty"})
    assert response.status_code == 303 and response["Location"] == "/studies/blank/design/"
    blank = Study.objects.get(slug="blank")
    assert blank.memberships.get().user == users["owner"] and blank.memberships.get().role == "owner"
    assert owner.post("/studies/new/", {"slug": "ex", "start": "example"}).status_code == 303
    assert Study.objects.get(slug="ex").items.count() == 10
    assert owner.post("/studies/new/", {"slug": "banked", "start": "bank", "languages": ["en", "de"],
                                        "bank": ["warmth", "ih_wrong"]}).status_code == 303
    assert list(Study.objects.get(slug="banked").items.values_list("code", flat=True)) == ["warmth", "ih_wrong"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("s.yaml", dump(export_spec(study)).encode(), content_type="application/yaml")
    assert owner.post("/studies/new/", {"slug": "uploaded", "start": "upload", "spec": upload}).status_code == 303
    assert dump(export_spec(Study.objects.get(slug="uploaded"))) == dump(export_spec(study)).replace(
        "slug: every-kind", "slug: uploaded")
    assert owner.post("/studies/new/", {"slug": "copied", "start": "copy", "source": "every-kind"}).status_code == 303
    response = owner.post("/studies/new/", {"slug": "copied", "start": "empty"})
    assert response.status_code == 400 and "exists already" in response.content.decode()
    response = owner.post(URL, {"action": "copy", "new_slug": "copy-two"})
    assert response.status_code == 303 and Study.objects.get(slug="copy-two").memberships.get().role == "owner"


def test_new_study_from_a_broken_upload_lists_its_problems(built, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    study, users = built
    spec = export_spec(study)
    spec["waves"][0]["items"][0] = "q9"
    upload = SimpleUploadedFile("s.yaml", dump(spec).encode())
    response = _login(client, users["viewer"]).post("/studies/new/", {"slug": "x", "start": "upload", "spec": upload})
    assert response.status_code == 400
    assert 'waves[0].items[0]: unknown item code &quot;q9&quot;' in response.content.decode()
    assert not Study.objects.filter(slug="x").exists()


def test_the_preview_shows_a_wave_in_each_language(built, client):
    study, users = built
    viewer = _login(client, users["viewer"])
    response = viewer.get(URL + "preview/?wave=2&lang=de&arm=nudge")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ich stimme zu." in html and "<p>Read <em>this</em>.</p>" in html
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "How warm?" in viewer.get(URL + "preview/?lang=en").content.decode()
