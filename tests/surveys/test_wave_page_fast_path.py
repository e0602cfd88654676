"""The wave page's fast path (bench/submit.py): precompiled row reads, the per-process cache of a
wave's items keyed by their rows, and answers read without building a form. Each must give what
the ORM and AnswerPageForm give, and never serve a stale design."""

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from surveys import selectors
from surveys.forms import AnswerPageForm, quick_answers
from surveys.models import ParticipantToken, Response, Submission

pytestmark = pytest.mark.django_db


def codes_on(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'name="i_(\w+?)(?:_dk)?"', html)))


def test_the_token_lookup_equals_the_orm_lookup(survey, enroll):
    participant, secret = enroll()
    ours = selectors.get_token(secret)
    theirs = ParticipantToken.lookup(secret)
    assert ours == theirs and ours.participant == participant and ours.participant.study == survey.study
    for field in ParticipantToken._meta.concrete_fields:
        assert getattr(ours, field.attname) == getattr(theirs, field.attname), field.name
    for field in type(participant)._meta.concrete_fields:
        assert getattr(ours.participant, field.attname) == getattr(theirs.participant, field.attname), field.name
    assert ours.participant.groups == {"side": 1}  # JSON converted as the ORM converts it
    assert selectors.get_token("x" * 200) is None and selectors.get_token("unknown") is None


def test_a_revoked_token_is_not_found(survey, enroll):
    from django.utils import timezone

    _participant, secret = enroll()
    ParticipantToken.objects.update(revoked_at=timezone.now())
    assert selectors.get_token(secret) is None


def test_an_edited_prompt_shows_on_the_next_page_load(survey, enroll, client):
    survey.study.items_per_page = 10
    survey.study.save()
    first_secret = enroll()[1]
    assert "good reasons" in client.get(f"/p/{first_secret}/").content.decode()
    item = survey.items["reasons"]
    item.prompt = {"en": "Reworded: people who disagree have reasons.", "de": "Umformuliert."}
    item.save()
    html = client.get(f"/p/{enroll()[1]}/").content.decode()
    assert "Reworded: people who disagree have reasons." in html and "good reasons" not in html


def test_an_item_removed_from_the_wave_is_neither_shown_nor_accepted(survey, enroll, client):
    survey.study.items_per_page = 10
    survey.study.save()
    _participant, secret = enroll()
    assert "marry" in codes_on(client.get(f"/p/{secret}/").content.decode())
    survey.waves[2].items.remove(survey.items["marry"])
    participant, secret = enroll()
    html = client.get(f"/p/{secret}/").content.decode()
    assert "marry" not in codes_on(html)
    assert "marry" not in Submission.objects.get(participant=participant).item_order
    assert selectors.list_wave_items(survey.waves[2]).keys() == {
        "reasons", "understand", "threat", "warmth", "story", "attention"}


def test_a_first_visit_reads_a_few_rows_and_stores_one(survey, enroll, client):
    _participant, secret = enroll()
    client.get(f"/p/{secret}/")  # this participant's intervention page (control arm: none)
    participant, secret = enroll()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/p/{secret}/")
    assert response.status_code == 200
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # token (and whether a grouping item is unanswered), the waves with the submissions (on
    # PostgreSQL with the version of the wave's items, whose design this process has built for the
    # first participant: no item rows to read), the intervention, the wave's items; the submission
    # and, in its transaction, its count in the panel counts (surveys.summaries): on PostgreSQL
    # one statement (common/fastsql.py execute_together)
    writes = [s for s in statements if s in ("INSERT", "WITH")]
    assert statements.count("SELECT") == (3 if connection.vendor == "postgresql" else 4), statements
    assert writes == (["WITH"] if connection.vendor == "postgresql" else ["INSERT", "INSERT"]), statements


def test_quick_answers_equal_the_forms_answers_for_plain_options(survey):
    items = [survey.items[c] for c in ("reasons", "threat", "story", "attention")]
    data = QueryDict(mutable=True)
    data.update({"step": "answers", "i_reasons": "5", "i_threat": "dk", "i_story": "  We argued.  ",
                 "i_attention": "3"})
    form = AnswerPageForm(data, items=items, language="en")
    assert form.is_valid()
    assert quick_answers(data, items) == form.answers()
    assert quick_answers(data, items)["reasons"].value == 5.0
    assert quick_answers(data, items)["story"].text == "We argued."


@pytest.mark.parametrize("change", [
    {"i_reasons": "8"},            # off the scale: the form says so
    {"i_reasons": "5.0"},          # not one of the options as shown
    {"i_reasons": ""},             # missing
    {"i_attention": "dk"},         # no "don't know" for this item
    {"i_other": "1"},              # an answer to a question not on the page
    {"i_story": "x" * 2001},       # text over the limit
    {"i_story": "a\x00b"},         # a NUL character
])
def test_quick_answers_leave_everything_else_to_the_form(survey, change):
    items = [survey.items[c] for c in ("reasons", "threat", "story", "attention")]
    data = QueryDict(mutable=True)
    data.update({"i_reasons": "5", "i_threat": "dk", "i_story": "", "i_attention": "3", **change})
    assert quick_answers(data, items) is None


def test_a_slider_page_goes_through_the_form(survey, enroll, client):
    survey.study.items_per_page = 10
    survey.study.save()
    participant, secret = enroll()
    html = client.get(f"/p/{secret}/").content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    data = {**hidden, "i_reasons": "5", "i_understand": "6", "i_threat": "dk", "i_marry": "2",
            "i_warmth": "40.5", "i_story": "", "i_attention": "3"}
    response = client.post(f"/p/{secret}/", data)
    assert response.status_code == 400
    assert "in steps of 1" in response.content.decode()  # the form's own message
    assert not Response.objects.filter(submission__participant=participant).exists()
    data["i_warmth"] = "40"
    assert client.post(f"/p/{secret}/", data).status_code == 303
    stored = dict(Response.objects.filter(submission__participant=participant).values_list("item__code", "value"))
    assert stored == {"reasons": 5.0, "understand": 6.0, "threat": None, "marry": 2.0, "warmth": 40.0,
                      "story": None, "attention": 3.0}
