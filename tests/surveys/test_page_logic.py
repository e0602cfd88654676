"""Display logic within a wave: the study's page order, conditions on answers of earlier pages of
the same wave, page conditions that skip a whole page, progress that counts only what is shown;
checked when saved (spec and model), round-tripped by the spec, explained by the codebook."""

import random
import re

import pytest
from django.core.exceptions import ValidationError

from surveys import logic
from surveys.models import Item, Response, Study, Submission
from tests.surveys.test_participant_flow import link_of, page_form

pytestmark = pytest.mark.django_db

REASONS_5 = {"item": "reasons", "op": "==", "value": 5}
ORDER = [
    {"name": "first", "items": ["reasons", "understand"]},
    {"name": "second", "items": ["threat", "marry"]},
    {"name": "warm", "items": ["warmth"], "show_if": {"item": "understand", "op": ">=", "value": 6}},
]


# --- pure rules ------------------------------------------------------------------------------------


def test_plan_lists_the_pages_the_wave_asks_then_the_rest_in_random_pages():
    order, plan = logic.plan_pages(ORDER, ["reasons", "understand", "marry", "warmth", "story", "attention"], 4,
                                   random.Random(1).shuffle)
    assert order[:5] == ["reasons", "understand", "marry", "warmth", *order[4:5]]
    assert plan == [["first", 2], ["second", 1], ["warm", 1], ["", 2]]
    assert sorted(order[4:]) == ["attention", "story"]
    assert logic.positions(ORDER, ["marry", "warmth", "story"]) == {"marry": 0, "warmth": 1}


def test_plan_keeps_a_groups_items_together_and_in_order_on_listed_and_unlisted_pages():
    groups = {"tv": "media", "web": "media", "a": "trust", "b": "trust", "c": "trust"}

    def units(codes):
        cut = []
        for code in codes:
            if cut and groups.get(code) and groups.get(code) == groups.get(cut[-1][-1]):
                cut[-1].append(code)
            else:
                cut.append([code])
        return cut

    order = [{"name": "news", "items": ["x", "tv", "web"], "shuffle": True}]
    for seed in range(20):
        items, plan = logic.plan_pages(order, ["a", "b", "c", "tv", "web", "x", "y", "z"], 2,
                                       random.Random(seed).shuffle, units=units)
        assert plan[0] == ["news", 3] and set(items[:3]) == {"x", "tv", "web"}
        assert items.index("web") == items.index("tv") + 1
        assert items.index("c") == items.index("b") + 1 == items.index("a") + 2
        # unlisted: two questions a page, the three statements of "trust" counting as one
        sizes = [size for name, size in plan[1:]]
        assert sum(sizes) == 5 and sorted(sizes) in ([1, 4], [2, 3])


def test_order_problems_name_the_item_the_page_and_the_wave():
    places = logic.positions(ORDER, ["reasons", "understand", "threat", "marry", "story"])
    asked = set(places) | {"story"}
    assert logic.order_problems(REASONS_5, wave=2, asked=asked, places=places, own=1, code="marry") == []
    assert logic.order_problems({"item": "threat", "op": "==", "value": 1}, wave=2, asked=asked, places=places,
                                own=1, code="marry") == [
        '"threat" is on the same page of wave 2; move it to an earlier page']
    assert "later page of wave 2" in logic.order_problems({"item": "marry", "op": "==", "value": 1}, wave=2,
                                                          asked=asked, places=places, own=0, code="reasons")[0]
    assert "for some participants" in logic.order_problems({"item": "story", "op": "==", "value": 1}, wave=2,
                                                           asked=asked, places=places, own=None, code="x")[0]
    # unlisted items come after every listed page: they may read any listed item
    assert logic.order_problems(REASONS_5, wave=2, asked=asked, places=places, own=None, code="story") == []
    # items this wave does not ask are read from the baseline or earlier waves
    assert logic.order_problems({"item": "side", "op": "==", "value": 1}, wave=2, asked=asked, places=places,
                                own=0, code="reasons") == []


def test_evaluate_known_is_undecided_only_when_an_unanswered_item_matters():
    answers = {"side": 1}
    unknown = {"reasons"}
    assert logic.evaluate_known(REASONS_5, answers, unknown) is None
    assert logic.evaluate_known({"all": [REASONS_5, {"item": "side", "op": "==", "value": 2}]}, answers,
                                unknown) is False
    assert logic.evaluate_known({"any": [REASONS_5, {"item": "side", "op": "==", "value": 1}]}, answers,
                                unknown) is True
    assert logic.evaluate_known({"not": REASONS_5}, answers, unknown) is None
    assert logic.evaluate_known({}, answers, unknown) is True


# --- the database's own check (admin, design API) ------------------------------------------------------


def test_the_model_refuses_a_condition_on_the_same_page(survey):
    Study.objects.filter(pk=survey.study.pk).update(page_order=ORDER)
    marry = Item.objects.get(pk=survey.items["marry"].pk)
    marry.show_if = {"item": "threat", "op": "==", "value": 1}
    with pytest.raises(ValidationError, match='"threat" is on the same page of wave 1; move it to an earlier page'):
        marry.full_clean()
    marry.show_if = REASONS_5
    marry.full_clean()


# --- participants ------------------------------------------------------------------------------------


def _page(client, url):
    response, hidden, codes = page_form(client, url)
    text = re.search(r"Page (\d+) of (\d+)", response.content.decode())
    return hidden, codes, (int(text[1]), int(text[2])) if text else None


def _send(client, url, hidden, values):
    return link_of(client.post(url, {**hidden, **{f"i_{code}": value for code, value in values.items()}}))


@pytest.fixture
def paged(survey):
    Study.objects.filter(pk=survey.study.pk).update(page_order=ORDER)
    Item.objects.filter(pk=survey.items["marry"].pk).update(show_if=REASONS_5)
    return survey


def test_a_question_shows_on_a_later_page_when_an_earlier_page_answer_satisfies_it(client, paged, enroll):
    _participant, secret = enroll()
    url = f"/p/{secret}/"
    hidden, codes, progress = _page(client, url)
    assert codes == ["reasons", "understand"] and progress == (1, 4)
    _send(client, url, hidden, {"reasons": "5", "understand": "7"})
    hidden, codes, progress = _page(client, url)
    assert codes == ["threat", "marry"] and progress == (2, 4)


def test_a_hidden_question_and_a_skipped_page_are_stored_as_not_shown(client, paged, enroll):
    participant, secret = enroll()
    url = f"/p/{secret}/"
    hidden, codes, _progress = _page(client, url)
    _send(client, url, hidden, {"reasons": "2", "understand": "1"})
    # marry is hidden (reasons is 2); the page of warmth is skipped (understand < 6): both known now
    hidden, codes, progress = _page(client, url)
    assert codes == ["threat"] and progress == (2, 3)
    # marry's condition is checked again when the page is sent: a forged answer is refused
    forged = client.post(url, {**hidden, "i_threat": "3", "i_marry": "4"})
    assert forged.status_code == 400 and b"not on this page" in forged.content
    _send(client, url, hidden, {"threat": "3"})
    hidden, codes, progress = _page(client, url)
    assert sorted(codes) == ["attention", "story"] and progress == (3, 3)
    _send(client, url, hidden, {"attention": "3", "story": ""})
    submission = Submission.objects.get(participant=participant)
    assert submission.completed_at is not None
    stored = dict(Response.objects.filter(submission=submission).values_list("item__code", "missing"))
    assert stored == {"reasons": "", "understand": "", "threat": "", "marry": "not_shown", "warmth": "not_shown",
                      "attention": "", "story": "skipped"}


def test_a_page_whose_condition_fails_on_the_baseline_is_skipped_when_shown(client, paged, enroll):
    Study.objects.filter(pk=paged.study.pk).update(page_order=[
        {"name": "right_only", "items": ["reasons", "understand"], "show_if": {"item": "side", "op": "==", "value": 2}},
        *ORDER[1:]])
    participant, secret = enroll(groups={"side": 1})
    url = f"/p/{secret}/"
    assert link_of(client.get(url)) == url
    hidden, codes, progress = _page(client, url)
    # marry hidden (reasons was not shown), the page of warmth too (understand was not shown)
    assert codes == ["threat"] and progress == (1, 2)
    submission = Submission.objects.get(participant=participant)
    assert submission.page == 1
    assert set(Response.objects.filter(submission=submission).values_list("item__code", "missing")) == {
        ("reasons", "not_shown"), ("understand", "not_shown")}


def test_the_codebook_says_which_condition_may_hide_an_item(paged):
    from analysis.api.exports import _item_entry

    study = Study.objects.get(pk=paged.study.pk)
    warmth = study.items.get(code="warmth")
    entry = _item_entry(warmth, "en", [2])
    assert entry["page"] == "warm" and entry["page_show_if"] == "understand >= 6"
    assert entry["not_shown_when"] == 'the condition of its page "warm" (understand >= 6) does not hold'
    marry = study.items.get(code="marry")
    assert _item_entry(marry, "en", [2])["not_shown_when"] == "its condition (reasons == 5) does not hold"
