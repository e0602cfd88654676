"""The indices pipeline: computed per wave, stored, idempotent, and only from analysable answers.

These run eagerly (no broker); tests/analysis/test_worker.py runs the same code in real workers.
"""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from analysis.models import AnalysisRun, IndexResult
from analysis.pipeline import enqueue, indices, provenance
from analysis.pipeline import inputs as selectors
from analysis.pipeline import runs as runs_module
from common import fastsql
from surveys.models import Exclusion, Item, Response, Wave
from surveys.signals import wave_closed
from tests.factories import (
    ArmFactory,
    GroupingItemFactory,
    ItemFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db

# Answers of 8 participants to two 5-point items; sides 1/2, arms control/treated.
ANSWERS = {
    # participant: (arm, side, trust, threat)
    "a": ("control", 1, 1, 5), "b": ("control", 1, 2, 4), "c": ("control", 2, 4, 2), "d": ("control", 2, 5, 1),
    "e": ("treated", 1, 1, 5), "f": ("treated", 1, 1, 4), "g": ("treated", 2, 5, 2), "h": ("treated", 2, 4, None),
}


@pytest.fixture
def panel(settings):
    study = StudyFactory(slug="panel")
    arms = {"control": ArmFactory(study=study, name="control", is_control=True),
            "treated": ArmFactory(study=study, name="treated")}
    GroupingItemFactory(study=study, code="side")
    trust = ItemFactory(study=study, code="trust", scale_max=5, dont_know=True)
    threat = ItemFactory(study=study, code="threat", scale_max=5, reverse_coded=True)
    wave = WaveFactory(study=study, number=1)
    people = {}
    for key, (arm, side, trust_value, threat_value) in ANSWERS.items():
        person = ParticipantFactory(study=study, arm=arms[arm], groups={"side": side})
        submission = SubmissionFactory(participant=person, wave=wave)
        Response.objects.create(submission=submission, item=trust, value=trust_value)
        if threat_value is None:
            Response.objects.create(submission=submission, item=threat, missing="skipped")
        else:
            Response.objects.create(submission=submission, item=threat, value=threat_value)
        people[key] = person
    return {"study": study, "wave": wave, "people": people, "items": {"trust": trust, "threat": threat}}


def stored(study, **filters) -> dict[tuple, tuple]:
    rows = IndexResult.objects.filter(study=study, **filters).values_list(
        "wave__number", "item__code", "group", "index", "value", "ci_low", "ci_high", "n")
    return {(w, i, g, x): (v, lo, hi, n) for w, i, g, x, v, lo, hi, n in rows}


def test_counts_come_from_one_grouped_query(panel):
    with pytest.MonkeyPatch.context():
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            counts = selectors.wave_counts_frame(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1
    trust = counts[counts["item"] == "trust"]
    assert trust["count"].sum() == 8
    control_side1 = trust[(trust["arm"] == "control") & (trust["side"] == "1")]
    assert sorted(zip(control_side1["value"], control_side1["count"], strict=True)) == [(1.0, 1), (2.0, 1)]
    assert counts.loc[counts["item"] == "threat", "value"].isna().sum() == 1  # the missing code is counted


def test_compute_stores_every_group_key_and_pooled_rows(panel):
    run = indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    assert run.status == "done" and run.fingerprint and run.code_version
    rows = stored(panel["study"])
    groups = {key[2] for key in rows}
    assert {"all", "arm:control", "arm:treated", "side:1", "side:2"} <= groups
    assert any("|" in g for g in groups)  # between-group pairs
    # n and mean of trust for everyone: (1+2+4+5+1+1+5+4)/8
    value, low, high, n = rows[(1, "trust", "all", "mean")]
    assert (n, value) == (8, pytest.approx(23 / 8))
    assert low <= value <= high
    # the skipped answer is excluded from threat's n
    assert rows[(1, "threat", "all", "n")][0] == 7
    assert rows[(1, "threat", "arm:treated", "mean")][3] == 3
    # pooled rows exist (item null) for the per-item indices
    assert (1, None, "all", "mad_pairwise") in rows
    assert (1, None, "all", "constraint") in rows


def test_a_rerun_on_unchanged_answers_is_skipped_and_keeps_the_rows(panel):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    first = indices.compute_wave_indices(**ids)
    before = stored(panel["study"])
    second = indices.compute_wave_indices(**ids)
    assert second.status == "skipped" and second.fingerprint == first.fingerprint
    assert stored(panel["study"]) == before
    forced = indices.compute_wave_indices(**ids, force=True)
    assert forced.status == "done"
    assert stored(panel["study"]) == before  # same seed, same data: identical intervals too
    assert AnalysisRun.objects.filter(status__in=["queued", "running"]).count() == 0


def test_changed_answers_are_recomputed(panel):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    first = indices.compute_wave_indices(**ids)
    Response.objects.filter(item__code="trust", value=1).update(value=3)
    second = indices.compute_wave_indices(**ids)
    assert second.status == "done" and second.fingerprint != first.fingerprint
    assert stored(panel["study"])[(1, "trust", "all", "mean")][0] == pytest.approx((3 + 2 + 4 + 5 + 3 + 3 + 5 + 4) / 8)


def test_swapping_two_answers_changes_the_fingerprint(panel):
    def fingerprint() -> str:
        state = selectors.read_wave_inputs(wave=panel["wave"]).state
        return provenance.wave_fingerprint(state, parameters=provenance.INDEX_PARAMETERS)

    before = fingerprint()
    a = Response.objects.get(submission__participant=panel["people"]["a"], item__code="trust")
    d = Response.objects.get(submission__participant=panel["people"]["d"], item__code="trust")
    Response.objects.filter(pk=a.pk).update(value=d.value)
    Response.objects.filter(pk=d.pk).update(value=a.value)
    # Counts are unchanged, but the correlations between items are not.
    assert fingerprint() != before


def test_one_recompute_reads_each_input_once(panel, django_assert_max_num_queries):
    # The fingerprint and the computation share one read of the study's items (scales, grouping
    # codes, the item code <-> id map, the data-quality items) and of the exclusions; 40 queries
    # when each step read its own.
    item_table = fastsql.table(Item)
    with django_assert_max_num_queries(30) as queries:
        run = indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    assert run.status == "done"
    assert sum(f"FROM {item_table}" in q["sql"] for q in queries.captured_queries) == 1


def test_an_unchanged_wave_is_skipped_without_reading_its_answers(panel, monkeypatch):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    indices.compute_wave_indices(**ids)

    def unexpected(**kwargs):
        raise AssertionError("an unchanged wave's answers were read")

    monkeypatch.setattr(selectors, "wave_answers_frame", unexpected)
    monkeypatch.setattr(selectors, "wave_texts_frame", unexpected)
    assert indices.compute_wave_indices(**ids).status == "skipped"


def test_excluded_withdrawn_and_preview_participants_are_left_out(panel):
    people = panel["people"]
    Exclusion.objects.create(participant=people["a"], reason="failed attention check")
    people["b"].withdrawn_at = timezone.now()
    people["b"].save()
    people["c"].is_preview = True
    people["c"].save()
    run = indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    rows = stored(panel["study"])
    assert rows[(1, "trust", "all", "n")][0] == 5
    assert rows[(1, "trust", "all", "mean")][0] == pytest.approx((5 + 1 + 1 + 5 + 4) / 5)
    assert run.exclusions_applied == [people["a"].public_id]


def test_a_burst_of_requests_queues_one_run(panel, django_capture_on_commit_callbacks):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            runs = {enqueue.request_wave_indices(**ids).pk for _ in range(5)}
    assert len(runs) == 1 and len(callbacks) == 1
    assert AnalysisRun.objects.get().status == "done"


def test_closing_a_wave_computes_its_indices(panel, django_capture_on_commit_callbacks):
    wave = panel["wave"]
    with django_capture_on_commit_callbacks(execute=True):
        Wave.objects.filter(pk=wave.pk).update(state="closed")
        wave_closed.send(sender=Wave, study_id=wave.study_id, wave_id=wave.pk)
    assert AnalysisRun.objects.get(wave=wave).status == "done"
    assert IndexResult.objects.filter(wave=wave).exists()


def test_a_failure_is_recorded_with_its_error(panel, monkeypatch):
    def explode(*args, **kwargs):
        raise ValueError("no variance anywhere")

    monkeypatch.setattr(indices, "wave_index_frame", explode)
    with pytest.raises(ValueError):
        indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    run = AnalysisRun.objects.get()
    assert run.status == "failed" and "no variance anywhere" in run.error
    assert not IndexResult.objects.exists()  # nothing half-stored


def test_a_failed_recompute_keeps_the_previous_result(panel, monkeypatch):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    indices.compute_wave_indices(**ids)
    before = stored(panel["study"])
    monkeypatch.setattr(indices, "_store", lambda **kw: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        indices.compute_wave_indices(**ids, force=True)
    assert stored(panel["study"]) == before


def test_the_sweep_queues_only_waves_whose_answers_changed(panel, django_capture_on_commit_callbacks):
    indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    assert enqueue.waves_needing_indices() == []
    Response.objects.filter(item__code="trust", value=5).update(value=4)
    assert enqueue.waves_needing_indices() == [panel["wave"]]
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueue.sweep_indices() == [panel["wave"].pk]
    assert enqueue.waves_needing_indices() == []


def test_the_sweep_redispatches_a_run_whose_task_was_lost(panel):
    run = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="queued")
    AnalysisRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timezone.timedelta(hours=2))
    enqueue.sweep_indices()
    run.refresh_from_db()
    assert run.status == "done"


def test_the_sweep_redispatches_an_effects_run_whose_task_was_lost(panel, monkeypatch):
    run = AnalysisRun.objects.create(study=panel["study"], kind="effects", status="queued")
    AnalysisRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timezone.timedelta(hours=2))
    sent = []
    monkeypatch.setattr(enqueue, "dispatch", lambda name, kwargs, **options: sent.append((name, kwargs)))
    enqueue.sweep_indices()
    assert sent == [("analysis.compute_study_effects", {"study_id": panel["study"].pk, "run_id": run.pk})]


def _aged(run, **seconds_ago):
    """Set `run`'s timestamps (created_at, dispatched_at, started_at, heartbeat_at) that long ago."""
    now = timezone.now()
    AnalysisRun.objects.filter(pk=run.pk).update(
        **{field: now - timezone.timedelta(seconds=ago) for field, ago in seconds_ago.items()})


def test_a_run_whose_worker_stopped_beating_is_sent_again_within_a_minute(panel, monkeypatch):
    alive = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="running")
    _aged(alive, created_at=600, started_at=600, heartbeat_at=20)  # a long run, still beating
    sent = []
    monkeypatch.setattr(enqueue, "dispatch", lambda name, kwargs, **options: sent.append(kwargs["run_id"]) or True)
    assert enqueue.resend_lost_runs() == [] and sent == []
    _aged(alive, heartbeat_at=61)  # its worker died a minute ago
    assert enqueue.resend_lost_runs() == [alive.pk] and sent == [alive.pk]


def test_a_queued_run_never_sent_or_not_picked_up_is_sent_again(panel, monkeypatch):
    sent = []
    monkeypatch.setattr(enqueue, "dispatch", lambda name, kwargs, **options: sent.append(kwargs["run_id"]) or True)
    never_sent = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="queued")
    assert enqueue.resend_lost_runs() == []  # its message may still be on its way
    _aged(never_sent, created_at=6)  # never sent (the broker refused it): sent at the next sweep
    assert enqueue.resend_lost_runs() == [never_sent.pk]
    assert AnalysisRun.objects.get(pk=never_sent.pk).dispatched_at is not None
    assert enqueue.resend_lost_runs() == []  # sent a moment ago: waits for a worker
    _aged(never_sent, dispatched_at=61)
    assert enqueue.resend_lost_runs() == [never_sent.pk] and sent == [never_sent.pk, never_sent.pk]


def test_recompute_sends_again_a_queued_run_the_broker_never_received(panel, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    stuck = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        runs = enqueue.recompute_study(study_id=panel["study"].pk)
    assert [run.pk for run in runs] == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.status == "done" and stuck.dispatched_at is not None


def test_recompute_leaves_a_live_run_to_its_worker(panel, monkeypatch, django_capture_on_commit_callbacks):
    live = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="running",
                                      started_at=timezone.now(), heartbeat_at=timezone.now())
    sent = []
    monkeypatch.setattr(enqueue, "dispatch", lambda name, kwargs, **options: sent.append(kwargs) or True)
    with django_capture_on_commit_callbacks(execute=True):
        assert [run.pk for run in enqueue.recompute_study(study_id=panel["study"].pk)] == [live.pk]
    assert sent == []


def test_a_duplicate_message_of_a_finished_run_computes_nothing(panel, monkeypatch):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    run = indices.compute_wave_indices(**ids)
    monkeypatch.setattr(indices, "wave_index_frame", lambda *a, **k: pytest.fail("computed twice"))
    again = indices.compute_wave_indices(**ids, force=True, run_id=run.pk)
    assert again.pk == run.pk and again.status == "done"
    assert AnalysisRun.objects.count() == 1


def test_a_run_claimed_by_a_live_worker_is_not_computed_by_a_second(panel, monkeypatch):
    live = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="running",
                                      started_at=timezone.now(), heartbeat_at=timezone.now())
    monkeypatch.setattr(indices, "wave_index_frame", lambda *a, **k: pytest.fail("computed by a second worker"))
    result = indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk, run_id=live.pk)
    assert result.pk == live.pk and result.status == "running" and not IndexResult.objects.exists()


def test_a_lost_run_is_adopted_and_a_late_result_of_its_first_worker_is_not_stored(panel):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    lost = AnalysisRun.objects.create(study=panel["study"], wave=panel["wave"], kind="indices", status="running")
    _aged(lost, started_at=300, heartbeat_at=300)
    first = AnalysisRun.objects.get(pk=lost.pk)  # what the presumed-dead worker holds
    adopted = indices.compute_wave_indices(**ids, run_id=lost.pk)
    assert adopted.pk == lost.pk and adopted.status == "done"
    with pytest.raises(runs_module.RunTakenOver):
        with runs_module.swap(first):
            pass


def test_the_sweep_redispatches_a_report_run_whose_task_was_lost(panel, monkeypatch):
    run = AnalysisRun.objects.create(study=panel["study"], kind="report", status="running",
                                     started_at=timezone.now() - timezone.timedelta(hours=2))
    assert run.wave is None
    sent = []
    monkeypatch.setattr(enqueue, "dispatch", lambda name, kwargs, **options: sent.append((name, kwargs)))
    enqueue.sweep_indices()
    assert sent == [("analysis.build_study_report", {"study_id": panel["study"].pk, "run_id": run.pk})]


def test_a_broker_outage_never_fails_the_caller(panel, monkeypatch):
    from analysis.tasks import compute_wave_indices_task

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(compute_wave_indices_task, "apply_async", refuse)
    run = enqueue.request_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    assert AnalysisRun.objects.get(pk=run.pk).status == "queued"  # the sweep will pick it up


@pytest.mark.skipif(connection.vendor != "postgresql", reason="select_for_update is a no-op on SQLite")
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_write_one_result(panel):
    ids = dict(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    results, errors = [], []

    def work():
        try:
            results.append(indices.compute_wave_indices(**ids).pk)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # All three adopted the one active run; one computed, the others found it done.
    assert len(results) == 3 and len(set(results)) == 1
    assert list(AnalysisRun.objects.values_list("status", flat=True)) == ["done"]
    assert IndexResult.objects.filter(index="mean", group="all", item__code="trust").count() == 1
    assert AnalysisRun.objects.filter(status__in=["queued", "running"]).count() == 0


def test_recompute_api_queues_every_wave_for_owners_and_analysts(panel, client, owner,
                                                                 django_capture_on_commit_callbacks):
    from surveys.models import Membership

    Membership.objects.filter(user=owner).update(study=panel["study"])
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/studies/panel/recompute/")
    assert response.status_code == 202
    body = response.json()
    assert len(body["run_ids"]) == 1 and body["runs"][0]["wave"] == 1
    assert AnalysisRun.objects.get(pk=body["run_ids"][0]).status == "done"


def test_recompute_api_refuses_anonymous_viewers_and_strangers(panel, client, stranger):
    from surveys.models import Membership

    assert client.post("/api/v1/studies/panel/recompute/").status_code in (401, 403)
    client.force_login(stranger)
    assert client.post("/api/v1/studies/panel/recompute/").status_code == 404
    Membership.objects.create(study=panel["study"], user=stranger, role="viewer")
    assert client.post("/api/v1/studies/panel/recompute/").status_code == 403
    assert not AnalysisRun.objects.exists()


def test_a_withdrawal_recomputes_the_waves_it_touched(panel, django_capture_on_commit_callbacks):
    from surveys.signals import answers_changed

    indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    person = panel["people"]["a"]
    person.withdrawn_at = timezone.now()
    person.save()
    with django_capture_on_commit_callbacks(execute=True):
        answers_changed.send(sender=None, study_id=panel["study"].pk, wave_ids=[panel["wave"].pk], deleted=False)
    assert stored(panel["study"])[(1, "trust", "all", "n")][0] == 7


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_computation_holds_no_lock_on_the_study_wave_or_participant_rows(panel, monkeypatch):
    """While the numbers are computed, another session can lock (NOWAIT) every row a participant's
    request writes: the study, the wave, the participants."""
    compute = indices.wave_index_frame
    seen = []

    def probe(*args, **kwargs):
        from django.db import connections

        def other_session():
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    for table, ids in (("surveys_study", [panel["study"].pk]), ("surveys_wave", [panel["wave"].pk]),
                                       ("surveys_participant", [p.pk for p in panel["people"].values()])):
                        cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) FOR UPDATE NOWAIT", [ids])
                        seen.append((table, len(cursor.fetchall())))
            except Exception as exc:  # noqa: BLE001
                seen.append(("error", str(exc)))
            finally:
                connections.close_all()

        thread = threading.Thread(target=other_session)
        thread.start()
        thread.join()
        return compute(*args, **kwargs)

    monkeypatch.setattr(indices, "wave_index_frame", probe)
    run = indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk)
    assert run.status == "done"
    assert seen == [("surveys_study", 1), ("surveys_wave", 1), ("surveys_participant", len(panel["people"]))]


def test_a_message_naming_a_deleted_run_computes_nothing(panel, monkeypatch):
    monkeypatch.setattr(indices, "wave_index_frame", lambda *a, **k: pytest.fail("computed a deleted run"))
    result = indices.compute_wave_indices(study_id=panel["study"].pk, wave_id=panel["wave"].pk, run_id=999_999)
    assert result.status == "skipped" and not AnalysisRun.objects.exists()
