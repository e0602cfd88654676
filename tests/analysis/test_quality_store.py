"""The quality flags the workers store with each wave (`analysis.pipeline.quality_store`) equal
what the screens compute from the submissions' rows (`analysis.stats.quality` over
`quality_submissions_frame`), exactly, under every speeder threshold, after random answers,
withdrawals, exclusions and deletions."""

import datetime as dt
import random

import pandas as pd
import pytest
from django.utils import timezone

from analysis.dashboards import reads
from analysis.models import AnalysisRun, FlaggedParticipantCount, ParticipantQuality
from analysis.pipeline.dashboard_store import store_wave_dashboard
from analysis.pipeline.inputs import read_study_items, wave_answers_frame
from analysis.pipeline.quality_store import SPEEDER_SHARES
from analysis.stats.quality import (
    QualityRules,
    flag_submissions,
    flagged_participants,
    summarize_flags,
)
from surveys import services, summaries
from surveys.exclusions import exclude_participants
from surveys.models import Item, Participant, Response
from tests.factories import (
    ArmFactory,
    ItemFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db


def build(rng: random.Random):
    now = timezone.now()
    study = StudyFactory(slug="quality")
    items = [ItemFactory(study=study, code=f"q{i}", order=i) for i in range(5)]
    check = ItemFactory(study=study, code="check", role=Item.Role.ATTENTION, expected_answer=3, order=9)
    arm = ArmFactory(study=study, name="control", is_control=True)
    waves = [WaveFactory(study=study, number=n, opens_at=now - dt.timedelta(days=40 - 7 * n),
                         closes_at=now - dt.timedelta(days=34 - 7 * n), state="closed") for n in (1, 2, 3)]
    people = [ParticipantFactory(study=study, arm=arm, joined_at=now - dt.timedelta(days=50)) for _ in range(40)]
    for person in people:
        for wave in waves:
            if rng.random() < 0.15:
                continue
            started = wave.opens_at + dt.timedelta(hours=1)
            duration = rng.choice([20.0, 60.0, 90.0, 100.0, 120.0, 300.0])
            done = rng.random() < 0.9
            submission = SubmissionFactory(participant=person, wave=wave, started_at=started,
                                           completed_at=started + dt.timedelta(seconds=duration) if done else None,
                                           duration_seconds=duration if done else None)
            same = rng.random() < 0.15
            for item in items[:rng.choice([3, 5])]:
                Response.objects.create(submission=submission, item=item, value=4 if same else rng.randint(1, 7))
            if rng.random() < 0.9:
                Response.objects.create(submission=submission, item=check, value=3 if rng.random() < 0.85 else 5)
    return study, waves, people


def store(study, waves) -> None:
    """What the pipeline stores beside each wave's indices."""
    for wave in waves:
        run = AnalysisRun.objects.create(study=study, wave=wave, kind="indices", status="done",
                                         finished_at=timezone.now())
        store_wave_dashboard(run=run, wave=wave, items=read_study_items(study_id=study.pk),
                             answers=wave_answers_frame(study_id=study.pk, wave_id=wave.pk))


def assert_stored_equals_raw(study) -> None:
    assert reads.quality_stored(study_id=study.pk)
    for share in SPEEDER_SHARES:
        flags = flag_submissions(reads.quality_submissions_frame(study_id=study.pk), QualityRules(float(share)))
        raw_summary = summarize_flags(flags)
        raw_people = flagged_participants(reads.with_public_ids(flags[flags["flagged"]], study_id=study.pk))
        stored = reads.stored_quality_summary(study_id=study.pk, speeder_share=share)
        pd.testing.assert_frame_equal(stored.astype(raw_summary.dtypes.to_dict()), raw_summary, check_exact=True)
        people, total = reads.stored_flagged_participants(study_id=study.pk, speeder_share=share, limit=None)
        assert total == len(raw_people) > 0
        pd.testing.assert_frame_equal(people, raw_people.astype({"flagged_waves": int}), check_exact=True)
        first, _total = reads.stored_flagged_participants(study_id=study.pk, speeder_share=share, limit=5)
        pd.testing.assert_frame_equal(first, raw_people.head(5).astype({"flagged_waves": int}))
    assert_count_exact(study)


def assert_count_exact(study) -> None:
    """The stored count of flagged participants per threshold equals the rows."""
    for share in SPEEDER_SHARES:
        stored = FlaggedParticipantCount.objects.get(study=study, speeder_share=share).participants
        assert stored == ParticipantQuality.objects.filter(study=study, speeder_share=share).count()


@pytest.mark.parametrize("seed", [1, 2])
def test_stored_flags_equal_the_raw_flags_after_random_changes(seed, django_capture_on_commit_callbacks):
    rng = random.Random(seed)
    study, waves, people = build(rng)
    summaries.recount_study(study.pk)
    store(study, waves)
    assert_stored_equals_raw(study)
    rng.shuffle(people)
    services.withdraw(participant=people[0], delete_answers=False)
    services.withdraw(participant=people[1], delete_answers=True)
    exclude_participants(study_id=study.pk, public_ids=[people[2].public_id, people[3].public_id], reason="flagged")
    with django_capture_on_commit_callbacks(execute=True), summaries.tracking([people[4].pk]):
        people[4].delete()
    assert_count_exact(study)  # the deleted participant's rows went with them: recounted at once
    with django_capture_on_commit_callbacks(execute=True):  # as the admin or the retention purge deletes several
        Participant.objects.filter(pk__in=[people[5].pk, people[6].pk]).delete()
    assert_count_exact(study)
    # The withdrawn one is off the page at once; the rest follows the recompute.
    stored_ids = set(ParticipantQuality.objects.filter(study=study).values_list("public_id", flat=True))
    shown, _total = reads.stored_flagged_participants(study_id=study.pk, speeder_share="0.5", limit=None)
    assert people[0].public_id not in set(shown["participant"]) and people[4].public_id not in stored_ids
    store(study, waves)
    assert_stored_equals_raw(study)


def test_the_quality_page_reads_the_stored_flags(client, django_user_model):
    from surveys.models import Membership

    study, waves, _people = build(random.Random(5))
    store(study, waves)
    user = django_user_model.objects.create_user("reader", password="x-password-123")
    Membership.objects.create(study=study, user=user, role="owner")
    client.force_login(user)
    people, total = reads.stored_flagged_participants(study_id=study.pk, speeder_share="0.33", limit=None)
    response = client.get("/studies/quality/quality/?rows=100")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"of {total} flagged participant" in html and people["participant"][0] in html
    csv = client.get("/studies/quality/quality/?format=csv&chart=flagged").content.decode()
    assert len(csv.strip().splitlines()) == total + 1
