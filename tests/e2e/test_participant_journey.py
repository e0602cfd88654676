"""A participant's whole journey on a 360x740 phone, keyboard only, with axe-core on every page."""

import re

import pytest

from surveys.models import Participant, Response, Submission
from tests.factories import make_survey_study

from .conftest import tab_to

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: What the participant answers, by item code: a 1-based option index (Likert), "dk", or text.
CHOICES = {"reasons": 5, "understand": 6, "threat": "dk", "marry": 2, "warmth": "40",
           "story": "We disagreed about the news.", "attention": 3}


def answer_by_keyboard(page, code: str, choice) -> None:
    radios = page.locator(f'input[name="i_{code}"]')
    if radios.count() and radios.first.get_attribute("type") == "radio":
        tab_to(page, f'input[name="i_{code}"]')
        page.keyboard.press("Space")  # checks the first option
        if choice == "dk":
            page.keyboard.press("ArrowUp")  # wraps round to the last option, "don't know"
        else:
            for _ in range(choice - 1):
                page.keyboard.press("ArrowDown")
        checked = page.locator(f'input[name="i_{code}"]:checked').get_attribute("value")
        assert checked == ("dk" if choice == "dk" else str(choice))
    else:
        tab_to(page, f'[name="i_{code}"]')
        page.keyboard.type(str(choice))


def press_submit(page, selector: str = 'form[method="post"] button[type="submit"]:not(.secondary)') -> None:
    """Tab to the button (or link) and press Enter; wait for the next page."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def answer_page(page, *, skip: tuple[str, ...] = ()) -> list[str]:
    codes = [c for c in dict.fromkeys(re.findall(r'name="i_(\w+?)"', page.content())) if not c.endswith("_dk")]
    for code in codes:
        if code not in skip:
            answer_by_keyboard(page, code, CHOICES[code])
    press_submit(page)
    return codes


def test_join_answer_leave_resume_finish_and_withdraw(live_server, phone, visit):
    survey = make_survey_study()
    base = live_server.url
    page = phone()

    page.goto(f"{base}/s/survey/?PROLIFIC_PID=5f0c1e2d3b4a5968&STUDY_ID=wave2&SESSION_ID=s1")
    visit(page, "01-landing-consent")
    assert "You may withdraw at any time" in page.content()
    page.keyboard.press("Tab")  # the skip link comes first and is visible when focused
    assert page.evaluate("document.activeElement.className") == "skip-link"
    tab_to(page, "#id_agree")
    page.keyboard.press("Space")
    press_submit(page)
    link = page.url.split("?")[0]
    participant = Participant.objects.get()
    assert participant.external_id == "5f0c1e2d3b4a5968"

    visit(page, "02-baseline")
    answer_by_keyboard(page, "side", 2)
    press_submit(page)
    participant.refresh_from_db()
    assert participant.groups == {"side": 2} and participant.arm is not None
    if participant.arm != survey.treated:
        # The arm is random; this journey also covers the intervention page, so take the treated
        # arm and reload.
        Participant.objects.filter(pk=participant.pk).update(arm=survey.treated)
        page.goto(link)

    visit(page, "03-intervention")
    assert "Most people on the other side value what you value." in page.content()
    press_submit(page)

    visit(page, "04-wave-page-1")
    assert "Page 1 of 2" in page.content()
    first = answer_page(page)
    submission = Submission.objects.get(participant=participant)
    assert first == submission.item_order[:4]
    assert Response.objects.filter(submission=submission).count() == 4

    # Leave: close the browser context, come back later on another "device" with the link.
    page.context.close()
    page = phone()
    page.goto(link)
    visit(page, "05-wave-page-2-resumed")
    assert "Page 2 of 2" in page.content()

    # Forget one answer: the error is shown, tied to its field, and reachable.
    rest = [c for c in dict.fromkeys(re.findall(r'name="i_(\w+?)"', page.content())) if not c.endswith("_dk")]
    required = next(code for code in rest if code != "story")
    answer_page(page, skip=(required,))
    visit(page, "06-wave-page-2-error")
    assert page.locator(".error-summary").is_visible()
    error_id = f"q-{required}-error"
    assert page.locator(f"#{error_id}").is_visible()
    answer_by_keyboard(page, required, CHOICES[required])
    press_submit(page)

    visit(page, "07-thank-you")
    assert "Thank you! Your answers are saved." in page.content()
    assert "Wave 3 opens on" in page.content()
    submission.refresh_from_db()
    assert submission.completed_at is not None
    assert Response.objects.filter(submission=submission).count() == 7

    csv = page.request.get(f"{link}my-data/")
    assert csv.status == 200 and csv.text().lstrip("\ufeff").startswith("participant,wave,item")
    assert csv.text().count("\n") == 1 + 1 + 7

    press_submit(page, 'a[href$="/withdraw/"]')
    visit(page, "08-withdraw")
    tab_to(page, "#id_delete_answers")
    page.keyboard.press("Space")
    press_submit(page, "button.danger")
    visit(page, "09-withdrawn")
    assert "None of your answers are stored." in page.content()
    participant.refresh_from_db()
    assert participant.withdrawn_at is not None
    assert Response.objects.filter(submission__participant=participant).count() == 0

    page.goto(link)
    visit(page, "10-withdrawn-home")
    assert len(visit.seen) == 10


def test_german_pages_switching_language_and_the_other_participant_pages(live_server, phone, visit):
    survey = make_survey_study(slug="survey")
    survey.waves[2].items.set([survey.items["warmth"], survey.items["story"]])
    base = live_server.url
    page = phone(locale="de-DE")
    page.goto(f"{base}/s/survey/")
    visit(page, "11-landing-german")
    assert "Information und Einwilligung" in page.content()
    # Switch to English with the keyboard: the select, then its button.
    tab_to(page, "#language-select")
    page.keyboard.press("ArrowUp")  # Deutsch -> English
    press_submit(page, ".language-switch button")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Information and consent" in page.content()
    tab_to(page, "#id_agree")
    page.keyboard.press("Space")
    press_submit(page)
    link = page.url.split("?")[0]
    answer_by_keyboard(page, "side", 1)
    press_submit(page)
    Participant.objects.update(arm=survey.control)  # no intervention for this one
    page.goto(link)
    # The slider works without the mouse: the number input is the field; a range shows beside it.
    assert page.locator("input.slider-range").count() == 1
    visit(page, "12-wave-slider-and-text")
    too_long = "x" * 2001
    tab_to(page, '[name="i_story"]')
    page.evaluate("v => { const t = document.querySelector('[name=i_story]'); t.removeAttribute('maxlength'); t.value = v; }",
                  too_long)
    tab_to(page, '[name="i_warmth"]', shift=True)
    page.keyboard.type("150")
    press_submit(page)
    visit(page, "13-wave-errors")
    assert "at most 2000 characters" in page.content()
    assert page.locator("#q-warmth-input").get_attribute("aria-invalid") == "true"

    page.goto(f"{base}/p/not-a-real-token/")
    assert "Page not found" in page.content() or page.locator("h1").count() >= 0

    survey.waves[2].state = "closed"
    survey.waves[2].save()
    page.goto(link)
    visit(page, "14-next-wave-opens")
    assert "Wave 3 opens on" in page.content()
