"""Display logic: conditions on earlier answers, checked when saved, evaluated on the server;
hidden questions stored as "not shown", distinct from skipped; in the spec and the codebook."""

import pytest
from django.core.exceptions import ValidationError

from surveys import logic
from surveys.models import Item, Response, Submission
from surveys.spec import service as spec_service
from surveys.spec.validate import validate_spec
from tests.surveys.test_participant_flow import link_of, page_form

pytestmark = pytest.mark.django_db

SIDE_1 = {"item": "side", "op": "==", "value": 1}


def test_evaluate_comparisons_in_and_or_not():
    answers = {"side": 1, "age": 30, "dk": None}
    assert logic.evaluate({}, answers)
    assert logic.evaluate(SIDE_1, answers) and not logic.evaluate({**SIDE_1, "value": 2}, answers)
    assert logic.evaluate({"item": "age", "op": ">=", "value": 18}, answers)
    assert logic.evaluate({"item": "side", "op": "in", "value": [1, 3]}, answers)
    assert logic.evaluate({"all": [SIDE_1, {"item": "age", "op": "<", "value": 40}]}, answers)
    assert not logic.evaluate({"all": [SIDE_1, {"item": "age", "op": "<", "value": 20}]}, answers)
    assert logic.evaluate({"any": [{"item": "age", "op": "<", "value": 20}, SIDE_1]}, answers)
    assert not logic.evaluate({"item": "dk", "op": "==", "value": 1}, answers)  # no answer: never true
    assert logic.evaluate({"not": {"item": "dk", "op": "==", "value": 1}}, answers)
    assert logic.describe({"all": [SIDE_1, {"not": {"item": "age", "op": "<", "value": 18}}]}) == (
        "(side == 1 and not (age < 18))")


def test_check_finds_unknown_items_impossible_conditions_and_cycles():
    points = {"side": {1.0, 2.0}, "age": None, "a": None}
    assert logic.check(SIDE_1, code="q", points=points) == []
    assert logic.check({"item": "nope", "op": "==", "value": 1}, code="q", points=points) == [
        ("show_if.item", 'unknown item "nope"')]
    assert "never holds" in logic.check({"item": "side", "op": ">", "value": 2}, code="q", points=points)[0][1]
    assert "never holds" in logic.check({"item": "side", "op": "in", "value": [5]}, code="q", points=points)[0][1]
    assert "own answer" in logic.check({"item": "q", "op": "==", "value": 1}, code="q", points=points)[0][1]
    assert logic.check({"item": "side", "op": "~", "value": 1}, code="q", points=points)[0][0] == "show_if.op"
    assert logic.check({"all": []}, code="q", points=points)[0][0] == "show_if.all"
    assert logic.cycles({"a": {"item": "b", "op": "==", "value": 1}, "b": {"item": "a", "op": "==", "value": 1}}) \
        == [["a", "b", "a"]]


def test_an_item_with_an_unknown_or_cyclic_condition_is_refused_when_saved(survey):
    item = survey.items["reasons"]
    item.show_if = {"item": "nope", "op": "==", "value": 1}
    with pytest.raises(ValidationError, match='unknown item'):
        item.full_clean()
    Item.objects.filter(pk=survey.items["marry"].pk).update(show_if={"item": "reasons", "op": ">", "value": 2})
    item.show_if = {"item": "marry", "op": "==", "value": 1}
    with pytest.raises(ValidationError, match="cycle"):
        item.full_clean()
    item.show_if = SIDE_1
    item.full_clean()


def test_a_hidden_question_is_not_asked_and_stored_as_not_shown(client, survey, enroll):
    Item.objects.filter(pk=survey.items["reasons"].pk).update(show_if={**SIDE_1, "value": 2})
    participant, secret = enroll(groups={"side": 1})
    url = f"/p/{secret}/"
    submission_codes = []
    while True:
        response, hidden, codes = page_form(client, url)
        if "page" not in hidden:
            break
        assert "reasons" not in codes
        submission_codes += codes
        data = {**hidden, **{f"i_{c}": "3" if c != "story" else "" for c in codes}}
        data = {k: ("50" if k == "i_warmth" else v) for k, v in data.items()}
        link_of(client.post(url, data))
    submission = Submission.objects.get(participant=participant)
    assert submission.completed_at is not None
    reasons = Response.objects.get(submission=submission, item__code="reasons")
    assert (reasons.value, reasons.missing) == (None, "not_shown")
    story = Response.objects.get(submission=submission, item__code="story")
    assert story.missing == "skipped"  # skipped is what the participant did; not shown is what we did


def test_a_shown_question_is_asked_when_its_condition_holds(client, survey, enroll):
    Item.objects.filter(pk=survey.items["reasons"].pk).update(show_if=SIDE_1)
    _participant, secret = enroll(groups={"side": 1})
    submission = None
    codes_seen = []
    url = f"/p/{secret}/"
    _response, _hidden, codes = page_form(client, url)
    codes_seen += codes
    submission = Submission.objects.get()
    assert ("reasons" in codes) == ("reasons" in submission.item_order[:4])


def test_the_spec_carries_conditions_and_refuses_bad_ones(survey):
    Item.objects.filter(pk=survey.items["reasons"].pk).update(show_if=SIDE_1)
    spec = spec_service.export_spec(survey.study)
    rows = {row["code"]: row for row in spec["items"]}
    assert rows["reasons"]["show_if"] == SIDE_1
    assert validate_spec(spec) == []
    rows["marry"]["show_if"] = {"item": "nope", "op": "==", "value": 1}
    rows["side"]["show_if"] = SIDE_1
    problems = [str(p) for p in validate_spec(spec)]
    assert any('unknown item "nope"' in p for p in problems)
    assert any("grouping items are always shown" in p for p in problems)


def test_the_codebook_says_why_a_question_may_be_missing(survey):
    from analysis.api.exports import _item_entry

    item = survey.items["reasons"]
    item.show_if = SIDE_1
    assert _item_entry(item, "en", [2])["show_if"] == "side == 1"
