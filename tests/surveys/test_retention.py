"""Retention: identifying data is deleted when the study's period ends (recorded), answers too when
the study asks; withdrawal deletes the address. After answers go, the analysis recomputes and
its stored indices match the answers that remain."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from analysis.models import AnalysisRun, IndexResult
from analysis.pipeline.indices import compute_wave_indices
from surveys import retention
from surveys.models import (
    DataDeletion,
    Message,
    Participant,
    ParticipantContact,
    Response,
    Submission,
)
from surveys.services import withdraw
from surveys.signals import answers_changed
from surveys.tasks import delete_expired_data_task
from tests.factories import ParticipantFactory

pytestmark = pytest.mark.django_db
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def answered(survey):
    """Three participants answered `reasons` in the open wave 2 (values 2, 4, 7); each has an
    e-mail address, a Prolific id and a session id; a pending reminder waits for the first."""
    study = survey.study
    study.retention_days = 30
    study.save(update_fields=["retention_days"])
    wave = survey.waves[2]
    people = []
    for n, value in enumerate((2, 4, 7), start=1):
        p = ParticipantFactory(study=study, arm=survey.control, groups={"side": 1 + n % 2},
                               external_id=f"PID{n}", external_study_id="S1", consented_at=timezone.now(),
                               consent_version=survey.consent)
        now = timezone.now()
        submission = Submission.objects.create(participant=p, wave=wave, started_at=now, completed_at=now,
                                               external_session_id=f"SES{n}", external_study_id="W1",
                                               external_id=f"PID{n}")
        Response.objects.create(submission=submission, item=survey.items["reasons"], value=value)
        ParticipantContact.objects.create(participant=p, email=f"p{n}@example.org")
        people.append(p)
    Message.objects.create(participant=people[0], wave=wave, kind="reminder1")
    due = survey.waves[3].closes_at + dt.timedelta(days=30)
    return survey, wave, people, due


@pytest.fixture
def changes():
    received = []
    answers_changed.connect(lambda sender, **kw: received.append(kw), dispatch_uid="test-retention", weak=False)
    yield received
    answers_changed.disconnect(dispatch_uid="test-retention")


def mean_of(wave, code="reasons"):
    row = IndexResult.objects.filter(wave=wave, item__code=code, group="all", index="mean").first()
    return (row.value, row.n) if row else None


def test_the_retention_period_ends_30_days_after_the_last_wave_closes(answered):
    survey, _wave, _people, due = answered
    assert retention.retention_ends_at(survey.study) == due
    survey.study.retention_days = None
    assert retention.retention_ends_at(survey.study) is None


def test_nothing_is_deleted_before_the_period_ends(answered):
    survey, _wave, _people, due = answered
    assert retention.delete_expired_data(now=due - SECOND) == []
    assert ParticipantContact.objects.count() == 3 and DataDeletion.objects.count() == 0
    assert set(Participant.objects.values_list("external_id", flat=True)) == {"PID1", "PID2", "PID3"}


def test_when_the_period_ends_addresses_and_external_ids_are_deleted_once_and_recorded(answered, changes):
    survey, wave, people, due = answered
    with time_machine.travel(due, tick=False):
        delete_expired_data_task.delay()  # the periodic task (eager here)
    assert ParticipantContact.objects.count() == 0
    assert set(Participant.objects.values_list("external_id", "external_study_id")) == {("", "")}
    assert set(Submission.objects.values_list("external_session_id", "external_study_id", "external_id")) == {
        ("", "", "")}  # each wave's Prolific ids too
    record = DataDeletion.objects.get()
    assert (record.study, record.due_at, record.contacts_deleted, record.external_ids_cleared,
            record.participants_answers_deleted) == (survey.study, due, 3, 3, 0)
    assert Message.objects.get().status == "skipped"
    assert Response.objects.count() == 3 and changes == []  # answers kept: nothing to recompute
    assert retention.delete_expired_data(now=due + SECOND) == []  # a second run finds nothing
    assert DataDeletion.objects.count() == 1


def test_when_asked_the_answers_go_too_and_the_analysis_recomputes_to_match(
        answered, changes, django_capture_on_commit_callbacks):
    survey, wave, people, due = answered
    survey.study.retention_deletes_answers = True
    survey.study.save(update_fields=["retention_deletes_answers"])
    compute_wave_indices(study_id=survey.study.pk, wave_id=wave.pk)
    assert mean_of(wave) == (pytest.approx(13 / 3), 3)
    with django_capture_on_commit_callbacks(execute=True):
        retention.delete_expired_data(now=due)
    assert Response.objects.count() == 0 and Submission.objects.count() == 0
    assert all(p.groups == {} for p in Participant.objects.all())
    assert changes == [{"signal": answers_changed, "study_id": survey.study.pk, "wave_ids": [wave.pk],
                        "deleted": True}]
    assert DataDeletion.objects.get().participants_answers_deleted == 3
    latest = AnalysisRun.objects.filter(wave=wave).order_by("-pk").first()
    assert latest.status == "done"
    assert mean_of(wave) is None  # no answers left: no stored index claims otherwise


def test_withdrawal_with_deletion_removes_the_address_and_the_analysis_recomputes_without_them(
        answered, django_capture_on_commit_callbacks):
    survey, wave, people, _due = answered
    compute_wave_indices(study_id=survey.study.pk, wave_id=wave.pk)
    assert mean_of(wave) == (pytest.approx(13 / 3), 3)
    with django_capture_on_commit_callbacks(execute=True):
        withdraw(participant=people[2], delete_answers=True)  # the 7
    assert not ParticipantContact.objects.filter(participant=people[2]).exists()
    assert ParticipantContact.objects.count() == 2
    assert mean_of(wave) == (pytest.approx(3.0), 2)


def test_withdrawal_keeping_answers_still_leaves_the_participant_out_of_the_analysis(
        answered, django_capture_on_commit_callbacks):
    survey, wave, people, _due = answered
    compute_wave_indices(study_id=survey.study.pk, wave_id=wave.pk)
    with django_capture_on_commit_callbacks(execute=True):
        withdraw(participant=people[0], delete_answers=False)  # the 2
    assert not ParticipantContact.objects.filter(participant=people[0]).exists()
    assert Response.objects.count() == 3
    assert mean_of(wave) == (pytest.approx(5.5), 2)
