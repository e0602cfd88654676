"""Excluding participants from analysis: validated, atomic, recorded once, announced after commit."""

import pytest

from surveys.exclusions import exclude_participants
from surveys.models import Exclusion
from surveys.signals import answers_changed
from tests.factories import ParticipantFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def changes():
    received = []
    answers_changed.connect(lambda sender, **kw: received.append((sender, kw)), dispatch_uid="test-exclusions",
                            weak=False)
    yield received
    answers_changed.disconnect(dispatch_uid="test-exclusions")


@pytest.fixture
def people(survey):
    """Three participants; the first two answered waves 1 and 2, the third only wave 2."""
    people = [ParticipantFactory(study=survey.study, public_id=f"X{n}") for n in range(3)]
    for person in people[:2]:
        SubmissionFactory(participant=person, wave=survey.waves[1])
    for person in people:
        SubmissionFactory(participant=person, wave=survey.waves[2])
    return people


def test_excluding_records_each_participant_and_announces_every_wave_with_answers(
        survey, people, changes, django_capture_on_commit_callbacks):
    researcher = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        created = exclude_participants(study_id=survey.study.pk, public_ids=["X2", "X0", "X2"],
                                       reason="  speeder  ", by=researcher)
        assert changes == []  # only once the exclusions are committed
    assert sorted(e.participant.public_id for e in created) == ["X0", "X2"]
    assert {(e.reason, e.excluded_by) for e in Exclusion.objects.all()} == {("speeder", researcher)}
    waves = sorted([survey.waves[1].pk, survey.waves[2].pk])
    assert changes == [(Exclusion, {"signal": answers_changed, "study_id": survey.study.pk, "wave_ids": waves,
                                    "deleted": False})]


def test_excluding_again_changes_nothing_and_announces_nothing(survey, people, changes,
                                                               django_capture_on_commit_callbacks):
    exclude_participants(study_id=survey.study.pk, public_ids=["X1"], reason="attention")
    with django_capture_on_commit_callbacks(execute=True):
        assert exclude_participants(study_id=survey.study.pk, public_ids=["X1"], reason="again") == []
    assert Exclusion.objects.get().reason == "attention" and changes == []


@pytest.mark.parametrize(("ids", "reason", "message"), [
    ([], "x", "Choose at least one participant to exclude."),
    (["X0"], "   ", "Give a reason for the exclusion."),
    (["X0"], "r" * 201, "The reason is too long (at most 200 characters)."),
    (["X0", "nobody"], "x", "Not participants of this study: nobody."),
])
def test_bad_input_is_refused_with_a_clear_message_and_stores_nothing(survey, people, changes, ids, reason, message):
    with pytest.raises(ValueError) as refused:
        exclude_participants(study_id=survey.study.pk, public_ids=ids, reason=reason)
    assert str(refused.value) == message
    assert not Exclusion.objects.exists() and changes == []


def test_previews_and_other_studies_participants_cannot_be_excluded(survey, people):
    ParticipantFactory(study=survey.study, public_id="PV", is_preview=True)
    ParticipantFactory(public_id="ELSEWHERE")
    with pytest.raises(ValueError, match="Not participants of this study: ELSEWHERE, PV."):
        exclude_participants(study_id=survey.study.pk, public_ids=["X0", "PV", "ELSEWHERE"], reason="x")
    assert not Exclusion.objects.exists()
