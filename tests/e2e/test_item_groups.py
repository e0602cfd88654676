"""A matrix and a multiple-choice question in the browser, with axe-core on every page: on a
1366 px screen the matrix is a table, on a 360 px phone its statements are stacked questions with
no sideways scroll; ticked options are stored as 1, the others as 0."""

import pytest

from surveys.models import Participant, Response
from tests.factories import AGREE_LABELS, ItemFactory, make_survey_study

from .conftest import check_accessibility, screenshot
from .test_participant_journey import press_submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _study():
    survey = make_survey_study()
    study = survey.study
    stem = {"en": "How much do you agree with each statement?"}
    statements = [ItemFactory(study=study, code=f"trust_{c}", labels=AGREE_LABELS, group="trust", stem=stem,
                              dont_know=True, order=20 + j, prompt={"en": text})
                  for j, (c, text) in enumerate([("a", "Most people can be trusted."),
                                                 ("b", "Most people would take advantage of you if they could."),
                                                 ("c", "People on the other side mean well.")])]
    options = [ItemFactory(study=study, code=f"media_{c}", kind="option", scale_min=0, scale_max=1, step=1,
                           labels={}, group="media", stem={"en": "Which of these do you use for news?"},
                           none_option=True, order=30 + j, prompt={"en": text})
               for j, (c, text) in enumerate([("tv", "Television"), ("web", "Websites"), ("paper", "Newspapers")])]
    survey.waves[2].items.set([*statements, *options])
    return survey


def _join(page, live_server, survey) -> str:
    page.goto(f"{live_server.url}/s/survey/")
    page.check("#id_agree")
    press_submit(page)
    link = page.url.split("?")[0]
    page.check('input[name="i_side"][value="1"]')
    press_submit(page)
    Participant.objects.filter(pk=Participant.objects.latest("pk").pk).update(arm=survey.control)
    page.goto(link)
    return link


def test_matrix_is_stacked_on_a_phone_and_options_are_stored_as_0_1(live_server, phone, visit):
    survey = _study()
    page = phone()
    _join(page, live_server, survey)
    visit(page, "groups-01-phone-matrix-and-multiple")  # axe, and nothing wider than 360 px
    assert not page.locator(".matrix-table thead").is_visible()
    first = page.locator("#q-trust_a-1")
    label = page.locator('label[for="q-trust_a-1"] .matrix-label')
    assert label.is_visible() and label.inner_text() == "Strongly disagree"
    row_header = page.locator("#q-trust_a-prompt").bounding_box()
    assert first.bounding_box()["y"] > row_header["y"] + row_header["height"] - 1  # below its statement
    for code, value in (("trust_a", "5"), ("trust_b", "dk"), ("trust_c", "2")):
        page.locator(f'label[for="q-{code}-{value}"]').click()
    page.locator('label[for="q-media_tv"]').click()
    page.locator('label[for="q-media_paper"]').click()
    press_submit(page)
    rows = dict(Response.objects.values_list("item__code", "value"))
    assert rows == {"trust_a": 5.0, "trust_b": None, "trust_c": 2.0,
                    "media_tv": 1.0, "media_web": 0.0, "media_paper": 1.0}
    assert Response.objects.get(item__code="trust_b").missing == "dont_know"


def test_matrix_is_a_table_on_a_wide_screen(live_server, browser, visit):
    survey = _study()
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        _join(page, live_server, survey)
        page.wait_for_load_state("load")
        screenshot(page, "groups-02-desktop-matrix-table")
        assert check_accessibility(page) == []
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        assert page.locator(".matrix-table thead").is_visible()
        assert page.locator(".matrix-table thead th").count() == 8  # 7 points and "don't know"
        assert not page.locator('label[for="q-trust_a-1"] .matrix-label').is_visible() or \
            page.locator('label[for="q-trust_a-1"] .matrix-label').bounding_box()["width"] <= 1
        row_header = page.locator("#q-trust_a-prompt").bounding_box()
        radios = [page.locator(f"#q-trust_a-{v}").bounding_box() for v in ("1", "7")]
        middle = row_header["y"] + row_header["height"] / 2
        assert all(abs(box["y"] + box["height"] / 2 - middle) < row_header["height"] / 2 + 2 for box in radios)
        assert radios[0]["x"] > row_header["x"] + row_header["width"] - 1 and radios[1]["x"] > radios[0]["x"]
        # The radios carry names a screen reader reads out: the point's label, and the statement.
        assert page.locator("#q-trust_a-7").get_attribute("aria-describedby") == "q-trust_a-prompt"
        # Multiple choice: "None of these" is exclusive.
        page.locator('label[for="q-media_tv"]').click()
        page.locator('label[for="q-media-none"]').click()
        for code in ("trust_a", "trust_b", "trust_c"):
            page.locator(f'label[for="q-{code}-4"]').click()
        press_submit(page)
        assert "not both" in page.content()
        assert not Response.objects.exists()
        screenshot(page, "groups-03-desktop-multiple-error")
        assert check_accessibility(page) == []
        page.locator('label[for="q-media_tv"]').click()  # untick
        press_submit(page)
        rows = dict(Response.objects.filter(item__group="media").values_list("item__code", "value"))
        assert rows == {"media_tv": 0.0, "media_web": 0.0, "media_paper": 0.0}
    finally:
        context.close()
