"""On a 360 px phone with axe-core on every page: the enrolment policy's refusals as a newcomer
sees them (window not open yet, closed, study full) and a full quota at baseline, with Prolific's
return code; a late arrival enrolled at the next wave answers the baseline first."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys.models import Participant, Study
from tests.factories import make_survey_study

from .test_participant_journey import press_submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROLIFIC = "?PROLIFIC_PID=5f0c1e2d3b4a5968&STUDY_ID=st1&SESSION_ID=s1"
RETURN = "https://app.prolific.com/submissions/complete?cc=FULL1"


def _policy(survey, **fields):
    Study.objects.filter(pk=survey.study.pk).update(**fields)


def _join(page, url):
    """Open the landing page and, when it offers consent, give it (the refusal may come either way)."""
    page.goto(url)
    if page.locator("#id_agree").count():
        page.check("#id_agree")
        press_submit(page)


def test_refusals_of_the_window_and_the_cap_are_clear_pages(live_server, phone, visit):
    survey = make_survey_study()
    page = phone()

    _policy(survey, enrol_opens_at=timezone.now() + dt.timedelta(days=1))
    _join(page, f"{live_server.url}/s/survey/")
    visit(page, "enrol-01-not-open-yet")
    assert "Enrolment in this study has not opened yet" in page.content()

    _policy(survey, enrol_opens_at=None, enrol_closes_at_wave=2, late_arrivals="refuse")  # wave 2 is open
    _join(page, f"{live_server.url}/s/survey/")
    visit(page, "enrol-02-closed")
    assert "Enrolment in this study has closed" in page.content()

    _policy(survey, enrol_closes_at_wave=None, enrol_cap=0, quota_full_code="FULL1")
    _join(page, f"{live_server.url}/s/survey/")
    visit(page, "enrol-03-full")
    assert "all the participants it needs" in page.content()
    assert Participant.objects.count() == 0


def test_a_full_quota_turns_a_prolific_participant_away_at_baseline_with_the_return_code(live_server, phone, visit):
    survey = make_survey_study()
    _policy(survey, quotas={"side": {"1": 1, "2": 5}}, quota_full_code="FULL1")

    first = phone()
    _join(first, f"{live_server.url}/s/survey/")
    first.check('input[name="i_side"][value="1"]')
    press_submit(first)
    assert Participant.objects.get().screened_out_at is None

    second = phone()
    _join(second, f"{live_server.url}/s/survey/{PROLIFIC}")
    second.check('input[name="i_side"][value="1"]')
    press_submit(second)
    visit(second, "enrol-04-quota-full")
    assert "This study is full for your group" in second.content()
    assert second.locator(f'a[href="{RETURN}"]').count() == 1
    turned_away = Participant.objects.get(external_id="5f0c1e2d3b4a5968")
    assert turned_away.screened_out_at is not None and turned_away.arm is None

    third = phone()
    _join(third, f"{live_server.url}/s/survey/")
    third.check('input[name="i_side"][value="2"]')
    press_submit(third)
    assert Participant.objects.filter(screened_out_at__isnull=True, arm__isnull=False).count() == 2


def test_a_late_arrival_answers_the_baseline_and_waits_for_the_next_wave(live_server, phone, visit):
    survey = make_survey_study()
    _policy(survey, enrol_closes_at=timezone.now() - dt.timedelta(hours=1), late_arrivals="next_wave")
    page = phone()
    _join(page, f"{live_server.url}/s/survey/")
    visit(page, "enrol-05-late-arrival-baseline")
    page.check('input[name="i_side"][value="2"]')
    press_submit(page)
    visit(page, "enrol-06-late-arrival-waits")
    assert "Wave 3 opens on" in page.content()
    assert Participant.objects.get().first_wave == 3
