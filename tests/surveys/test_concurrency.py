"""Double clicks and retries racing each other on PostgreSQL (SQLite serialises writers anyway)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from surveys.models import Participant, Response, Submission

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (set DATABASE_URL)"),
]


def race(n, action):
    barrier = threading.Barrier(n)
    results = []

    def run():
        from django.db import connections

        try:
            barrier.wait()
            results.append(action())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def baselines(secrets):
    """An action for `race`: each call answers the baseline (side 1) with the next link."""
    queue = list(secrets)
    lock = threading.Lock()

    def answer():
        with lock:
            secret = queue.pop()
        return Client().post(f"/p/{secret}/", {"step": "baseline", "i_side": "1"}).status_code

    return answer


def test_simultaneous_posts_of_one_page_store_one_answer_set(survey, enroll):
    survey.study.items_per_page = 10
    survey.study.save()
    participant, secret = enroll()
    Client().get(f"/p/{secret}/")
    data = {"step": "answers", "wave": "2", "page": "0", "i_reasons": "5", "i_understand": "6", "i_threat": "dk",
            "i_marry": "2", "i_warmth": "40", "i_story": "", "i_attention": "3"}
    statuses = race(6, lambda: Client().post(f"/p/{secret}/", data).status_code)
    assert statuses == [303] * 6
    assert Response.objects.filter(submission__participant=participant).count() == 7
    assert Submission.objects.get(participant=participant).page == 1


def test_simultaneous_joins_with_one_prolific_pair_make_one_participant(survey):
    data = {"agree": "on", "consent_version": survey.consent.pk, "PROLIFIC_PID": "p1", "STUDY_ID": "s1"}
    statuses = race(6, lambda: Client().post("/s/survey/", data).status_code)
    assert statuses == [303] * 6
    assert Participant.objects.count() == 1
    assert Participant.objects.get().tokens.count() == 6


def test_simultaneous_baselines_fill_one_block_without_gaps(survey):
    from surveys.models import AllocationBlock
    from tests.factories import ParticipantFactory, ParticipantTokenFactory

    secrets = [ParticipantTokenFactory(participant=ParticipantFactory(study=survey.study)).secret for _ in range(8)]
    assert race(8, baselines(secrets)) == [303] * 8
    blocks = AllocationBlock.objects.filter(stratum="side:1")
    assert sum(b.used for b in blocks) == 8
    assert Participant.objects.filter(arm__isnull=False).count() == 8


def test_simultaneous_baselines_never_take_more_places_than_the_quota(survey):
    from surveys import enrolment, summaries
    from surveys.models import Study
    from tests.factories import ParticipantFactory, ParticipantTokenFactory

    Study.objects.filter(pk=survey.study.pk).update(quotas={"side": {"1": 3}})
    secrets = [ParticipantTokenFactory(participant=ParticipantFactory(study=survey.study, groups={})).secret
               for _ in range(8)]
    race(8, baselines(secrets))
    study = Study.objects.get(pk=survey.study.pk)
    assert enrolment.enrolled(study).filter(groups__side=1).count() == 3  # the stored count, read under the lock
    assert Participant.objects.filter(screened_out_at__isnull=False).count() == 5
    assert summaries.read_strata(study_id=study.pk) == {("side", "1"): 3}
