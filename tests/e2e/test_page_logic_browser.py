"""On a 360 px phone with axe-core on every page: the personal link e-mailed from the first page,
a question shown by an answer on an earlier page of the same wave, and a page skipped by its page
condition ("Page x of y" counts only the pages that will be shown)."""

import pytest
from django.core import mail

from surveys.models import Item, Participant, Response, Study, Submission
from tests.factories import make_survey_study

from .test_participant_journey import press_submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORDER = [
    {"name": "first", "items": ["reasons", "understand"]},
    {"name": "second", "items": ["threat", "marry"]},
    {"name": "warm", "items": ["warmth"], "show_if": {"item": "understand", "op": ">=", "value": 6}},
]


def _progress(page) -> str:
    return page.locator("#progress").inner_text().split(" ·")[0]


def test_a_same_wave_condition_and_a_skipped_page_in_the_browser(live_server, phone, visit):
    survey = make_survey_study()
    Study.objects.filter(pk=survey.study.pk).update(page_order=ORDER)
    Item.objects.filter(pk=survey.items["marry"].pk).update(show_if={"item": "reasons", "op": "==", "value": 5})
    page = phone()
    page.goto(f"{live_server.url}/s/survey/")
    page.check("#id_agree")
    press_submit(page)
    link = page.url.split("?")[0]

    page.fill("#id_link_email", "me@example.org")
    with page.expect_navigation():
        page.click("form.email-link button[type=submit]")
    visit(page, "logic-01-baseline-link-emailed")
    assert "We sent your personal link by e-mail" in page.content()
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body

    page.check('input[name="i_side"][value="1"]')
    press_submit(page)
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(arm=survey.control)
    page.goto(link)

    visit(page, "logic-02-first-page")
    assert _progress(page) == "Page 1 of 4"
    assert page.locator('[name="i_marry"]').count() == 0 and page.locator('[name="i_reasons"]').count() > 0
    page.check('input[name="i_reasons"][value="5"]')
    page.check('input[name="i_understand"][value="1"]')
    press_submit(page)

    visit(page, "logic-03-shown-by-an-earlier-page")
    assert _progress(page) == "Page 2 of 3"  # the page of warmth is known to be skipped now
    assert page.locator('[name="i_marry"]').count() > 0  # reasons is 5, on the page before
    page.check('input[name="i_threat"][value="3"]')
    page.check('input[name="i_marry"][value="2"]')
    press_submit(page)

    visit(page, "logic-04-last-page")
    assert _progress(page) == "Page 3 of 3"
    assert page.locator('[name="i_warmth"]').count() == 0
    page.check('input[name="i_attention"][value="3"]')
    press_submit(page)

    submission = Submission.objects.get(participant=participant)
    assert submission.completed_at is not None
    missing = dict(Response.objects.filter(submission=submission).values_list("item__code", "missing"))
    assert missing["warmth"] == "not_shown" and missing["marry"] == "" and missing["story"] == "skipped"
