"""Enrolment policy: the window, late arrivals, the cap, quotas per stratum value, Prolific's
return code, and the overview's enrolled vs cap."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys import enrolment
from surveys.models import Participant, Study, Submission
from tests.factories import MembershipFactory
from tests.surveys.test_participant_flow import link_of

pytestmark = pytest.mark.django_db


def _join(client, survey, **extra):
    return client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk, **extra})


def _policy(survey, **fields):
    Study.objects.filter(pk=survey.study.pk).update(**fields)
    survey.study.refresh_from_db()


def test_the_default_policy_lets_anyone_join_while_the_study_is_active(survey):
    assert enrolment.join_decision(survey.study, timezone.now()).allowed


def test_before_the_window_opens_a_newcomer_is_refused_with_a_clear_page(client, survey):
    _policy(survey, enrol_opens_at=timezone.now() + dt.timedelta(days=1))
    response = _join(client, survey)
    assert response.status_code == 410
    assert "Enrolment in this study has not opened yet" in response.content.decode()
    assert Participant.objects.count() == 0


def test_after_the_window_closes_late_arrivals_are_refused(client, survey):
    _policy(survey, enrol_closes_at_wave=2)  # wave 2 opened yesterday
    response = _join(client, survey)
    assert response.status_code == 410
    assert "Enrolment in this study has closed" in response.content.decode()
    assert Participant.objects.count() == 0


def test_late_arrivals_may_be_enrolled_at_the_next_wave_with_the_baseline_first(client, survey):
    _policy(survey, enrol_closes_at=timezone.now() - dt.timedelta(hours=1), late_arrivals="next_wave")
    url = link_of(_join(client, survey))
    participant = Participant.objects.get()
    assert participant.first_wave == 3  # wave 2 is open now; 3 is the next to open
    assert "Which side are you usually on?" in client.get(url).content.decode()  # baseline first
    link_of(client.post(url, {"step": "baseline", "i_side": "1"}))
    page = client.get(url).content.decode()
    assert "Wave 3 opens on" in page  # not wave 2, which they never saw from its start
    assert not Submission.objects.filter(participant=participant).exists()


def test_a_returning_participant_is_never_refused_by_the_window(client, survey, enroll):
    enroll(external_id="abc123", external_study_id="st1")
    _policy(survey, enrol_closes_at=timezone.now() - dt.timedelta(hours=1))
    assert link_of(client.post("/s/survey/", {"PROLIFIC_PID": "abc123", "STUDY_ID": "st1"})).startswith("/p/")


def test_a_full_study_refuses_newcomers_and_sends_prolific_ones_back_with_the_code(client, survey, enroll):
    enroll()
    _policy(survey, enrol_cap=1, quota_full_code="FULL1")
    response = _join(client, survey)
    assert response.status_code == 410 and "all the participants it needs" in response.content.decode()
    prolific = _join(client, survey, PROLIFIC_PID="abc123", STUDY_ID="st1")
    assert link_of(prolific) == "https://app.prolific.com/submissions/complete?cc=FULL1"
    assert Participant.objects.count() == 1


def test_a_full_quota_turns_the_participant_away_at_baseline_and_others_still_join(client, survey, enroll):
    enroll(groups={"side": 1})
    _policy(survey, quotas={"side": {"1": 1, "2": 5}}, quota_full_code="FULL1")
    url = link_of(_join(client, survey, PROLIFIC_PID="pid2", STUDY_ID="st1"))
    link_of(client.post(url, {"step": "baseline", "i_side": "1"}))
    turned_away = Participant.objects.get(external_id="pid2")
    assert turned_away.screened_out_at is not None and turned_away.arm is None
    page = client.get(url).content.decode()
    assert "This study is full for your group" in page
    assert "https://app.prolific.com/submissions/complete?cc=FULL1" in page
    other = link_of(_join(client, survey))
    link_of(client.post(other, {"step": "baseline", "i_side": "2"}))
    joined = Participant.objects.exclude(external_id="pid2").latest("joined_at")
    assert joined.screened_out_at is None and joined.arm is not None
    assert enrolment.full_quota(survey.study, {"side": 1}) == "side=1"
    assert enrolment.full_quota(survey.study, {"side": 2}) is None


def test_arms_stay_balanced_within_each_stratum_when_a_quota_closes(survey, enroll):
    from surveys import services

    _policy(survey, quotas={"side": {"1": 4}})
    arms = {1: [], 2: []}
    for n in range(12):
        side = 1 if n % 2 else 2
        participant, _secret = enroll(groups={}, arm=None)
        Participant.objects.filter(pk=participant.pk).update(arm=None, groups={})
        participant.refresh_from_db()
        services.record_baseline(participant=participant, answers={"side": side})
        participant.refresh_from_db()
        if participant.arm_id:
            arms[side].append(participant.arm_id)
    assert len(arms[1]) == 4 and len(arms[2]) == 6
    for side_arms in arms.values():  # permuted blocks (of 2 or 4) per stratum: within half a block
        assert abs(side_arms.count(survey.control.pk) - side_arms.count(survey.treated.pk)) <= 2


def test_the_overview_shows_enrolled_vs_cap_per_stratum(client, survey, enroll):
    enroll(groups={"side": 1})
    enroll(groups={"side": 2})
    _policy(survey, enrol_cap=100, quotas={"side": {"1": 50, "2": 50}})
    user = MembershipFactory(study=survey.study).user
    client.force_login(user)
    html = client.get("/studies/survey/").content.decode()
    assert '<tr><th scope="row">all</th><td>2</td><td>100</td></tr>' in html
    assert '<tr><th scope="row">side = 1</th><td>1</td><td>50</td></tr>' in html


def test_the_cap_counts_participants_who_opened_their_link_and_is_checked_again_at_baseline(client, survey):
    _policy(survey, enrol_cap=1)
    first = link_of(_join(client, survey))  # joined; the link not opened yet: no place taken
    other = client.__class__()
    second = link_of(_join(other, survey))
    assert enrolment.enrolled(survey.study).count() == 0
    client.get(first)
    other.get(second)
    assert enrolment.enrolled(survey.study).count() == 2  # both reached the baseline
    client.post(first, {"step": "baseline", "i_side": "1"})
    other.post(second, {"step": "baseline", "i_side": "2"})
    late = Participant.objects.get(screened_out_at__isnull=False)
    assert late.arm_id is None and late.groups == {}
    assert enrolment.enrolled(survey.study).count() == 1
    assert _join(client.__class__(), survey).status_code == 410  # full for newcomers
