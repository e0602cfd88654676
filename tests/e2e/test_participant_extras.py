"""On a 360 px phone with axe-core on every page: the personal link with its copy button, the
progress bar, an optional question, "prefer not to say", numeric entry, a question hidden by
display logic, and the end of a Prolific wave (its completion code)."""

import pytest

from surveys.models import Item, Participant, Response, Submission, Wave
from tests.factories import make_survey_study

from .test_participant_journey import press_submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_link_progress_new_answer_options_logic_and_the_prolific_end_page(live_server, phone, visit):
    survey = make_survey_study()
    Wave.objects.filter(pk=survey.waves[2].pk).update(completion_code="E2ECODE")
    Item.objects.filter(pk=survey.items["reasons"].pk).update(optional=True, prefer_not_to_say=True)
    Item.objects.filter(pk=survey.items["warmth"].pk).update(kind="number", scale_min=0, scale_max=100000, step=1,
                                                             labels={}, unit={"en": "euros"})
    Item.objects.filter(pk=survey.items["marry"].pk).update(show_if={"item": "side", "op": "==", "value": 2})
    page = phone()
    page.goto(f"{live_server.url}/s/survey/")
    page.check("#id_agree")
    press_submit(page)
    link = page.url.split("?")[0]

    visit(page, "extras-01-baseline-personal-link")
    assert page.input_value("#personal-link") == link
    assert page.locator("#copy-link").is_visible()
    page.click("#copy-link")
    page.wait_for_function("document.getElementById('copy-status').textContent.length > 0")
    page.check('input[name="i_side"][value="1"]')
    press_submit(page)
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(arm=survey.control)
    page.goto(link)

    for number in (1, 2):
        visit(page, f"extras-0{number + 1}-wave-page-{number}")
        assert page.locator("progress.progress-bar").is_visible()
        assert "minute" in page.locator("#progress").inner_text()
        assert page.locator('[name="i_marry"]').count() == 0  # hidden: side is 1
        if page.locator('[name="i_reasons"]').count():
            page.check('input[name="i_reasons"][value="pns"]')
        if page.locator('[name="i_warmth"]').count():
            assert "euros" in page.content()
            page.fill('[name="i_warmth"]', "2500")
        for code in ("understand", "threat", "attention"):
            if page.locator(f'[name="i_{code}"]').count():
                page.check(f'input[name="i_{code}"][value="3"]')
        press_submit(page)

    visit(page, "extras-04-end-with-prolific-code")
    assert page.locator("#completion-code").inner_text() == "E2ECODE"
    submission = Submission.objects.get(participant=participant)
    missing = dict(Response.objects.filter(submission=submission).values_list("item__code", "missing"))
    assert missing["reasons"] == "prefer_not" and missing["marry"] == "not_shown" and missing["story"] == "skipped"
    assert Response.objects.get(submission=submission, item__code="warmth").value == 2500
