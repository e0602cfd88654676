"""The pipeline with real components: PostgreSQL, Redis and Celery workers started as subprocesses.

Slow; `.ci/run` runs them (`make test-slow` with DATABASE_URL set). They are skipped on SQLite or
when Redis is not reachable (Redis database TEST_REDIS_DB, default 11; see
tests/plugins/celery_worker.py).
"""

import io
import json
import signal
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from analysis.models import AnalysisRun, IndexResult
from analysis.pipeline import enqueue, indices, provenance
from disagreement.celery import app
from surveys.models import Response, Wave
from surveys.signals import wave_closed
from tests.plugins.celery_worker import (
    REDIS_DB,
    WORKER_OPTIONS,
    WORKER_TESTS,
    broker_fixture,
    wait_for,
)

pytestmark = WORKER_TESTS
broker = broker_fixture(db=REDIS_DB, broker_transport_options={"visibility_timeout": 5})
STALLING_WORKER = [sys.executable, str(Path(__file__).with_name("stalling_worker.py")), *WORKER_OPTIONS]


def start_worker(processes, *, stall: bool = False):
    # A lost run is found fast (a heartbeat every second, lost after 3); the stalling worker
    # waits a minute.
    return processes.start(STALLING_WORKER if stall else None, ANALYSIS_HEARTBEAT_SECONDS="1",
                           ANALYSIS_RUN_LOST_AFTER_SECONDS="3", STALL_SECONDS="60")


def resend_until(predicate, *, timeout: float = 90, what: str) -> None:
    """Run the resend sweep (as beat would) until `predicate` holds."""
    from django.test import override_settings

    def swept() -> bool:
        with override_settings(ANALYSIS_RUN_LOST_AFTER_SECONDS=3):
            enqueue.resend_lost_runs()
        return predicate()

    wait_for(swept, timeout=timeout, what=what, interval=1)


def stored(wave) -> dict:
    rows = IndexResult.objects.filter(wave=wave).values_list("item__code", "group", "index", "value", "ci_low",
                                                             "ci_high", "n")
    return {(i, g, x): (v, lo, hi, n) for i, g, x, v, lo, hi, n in rows}


@pytest.fixture
def demo(broker, demo_study):
    AnalysisRun.objects.all().delete()
    IndexResult.objects.all().delete()
    return demo_study


def close_wave(wave: Wave) -> None:
    Wave.objects.filter(pk=wave.pk).update(state=Wave.State.CLOSED)
    wave_closed.send(sender=Wave, study_id=wave.study_id, wave_id=wave.pk)


def export_wave_csv(wave: Wave, path: Path, codes: list[str]) -> None:
    from analysis.pipeline.inputs import wave_answers_frame

    frame = wave_answers_frame(study_id=wave.study_id, wave_id=wave.pk)
    frame = frame[frame["item"].isin(codes)]
    frame.to_csv(path, index=False)


def test_a_real_worker_computes_a_closed_wave_like_the_command_line(demo, celery_processes, tmp_path):
    worker = start_worker(celery_processes)
    try:
        wave = demo.waves.get(number=5)
        close_wave(wave)
        wait_for(lambda: AnalysisRun.objects.filter(wave=wave, status="done").exists(), what="the worker's run")
    finally:
        log = celery_processes.stop(worker)
    run = AnalysisRun.objects.get(wave=wave, status="done")
    assert "analysis.compute_wave_indices" in log
    # The same answers through `manage.py indices`, for the 7-point items (one scale for the CLI).
    seven_point = list(demo.items.filter(role="attitude", kind="likert").values_list("code", flat=True))
    path = tmp_path / "wave5.csv"
    export_wave_csv(wave, path, seven_point)
    out = io.StringIO()
    call_command("indices", str(path), "--by", "arm", "side", "--scale-min", "1", "--scale-max", "7",
                 "--bootstrap", str(provenance.INDEX_PARAMETERS["bootstrap"]), "--seed", str(run.seed),
                 "--format", "json", stdout=out, stderr=io.StringIO())
    records = json.loads(out.getvalue())
    ours = stored(wave)
    compared = 0
    for record in records:
        if record["item"] is None:
            continue  # pooled rows pool over different item sets here
        key = (record["item"], record["group"], record["index"])
        value, low, high, n = ours[key]
        assert n == record["n"], key
        assert (value is None and record["value"] is None) or value == pytest.approx(
            record["value"], rel=1e-9, abs=1e-12), key
        # The worker resamples all items of the wave (the thermometer too) in one stream, the
        # command only the 7-point ones, so intervals agree up to Monte Carlo error.
        if low is not None and record["ci_low"] is not None:
            width = max(high - low, record["ci_high"] - record["ci_low"], 1e-12)
            assert abs(low - record["ci_low"]) <= 0.2 * width + 1e-9, key
            assert abs(high - record["ci_high"]) <= 0.2 * width + 1e-9, key
        compared += 1
    assert compared > 200


def test_a_worker_killed_mid_computation_is_replaced_and_the_result_is_complete(demo, celery_processes):
    wave = demo.waves.get(number=4)
    # Reference: an undisturbed computation, in-process.
    reference_run = indices.compute_wave_indices(study_id=demo.pk, wave_id=wave.pk)
    reference = stored(wave)
    IndexResult.objects.all().delete()
    AnalysisRun.objects.all().delete()

    # A worker that stalls inside the computation (after the rows were read), then is killed.
    slow = start_worker(celery_processes, stall=True)
    try:
        time.sleep(3)
        enqueue.request_wave_indices(study_id=demo.pk, wave_id=wave.pk)
        wait_for(lambda: AnalysisRun.objects.filter(wave=wave, status="running").exists(), what="running")
        time.sleep(1)
    finally:
        celery_processes.stop(slow, signal.SIGKILL)
    assert not IndexResult.objects.filter(wave=wave).exists()  # nothing half-stored
    # The run's heartbeat stopped: the resend sweep sends it again and a fresh worker finishes it.
    fresh = start_worker(celery_processes)
    try:
        resend_until(lambda: AnalysisRun.objects.filter(wave=wave, status="done").exists(), what="the resend")
    finally:
        celery_processes.stop(fresh)
    run = AnalysisRun.objects.get(wave=wave, status="done")
    assert run.fingerprint == reference_run.fingerprint
    assert stored(wave) == reference
    assert AnalysisRun.objects.filter(wave=wave, status__in=["queued", "running"]).count() == 0


def test_the_same_task_delivered_twice_at_once_writes_once(demo, celery_processes):
    wave = demo.waves.get(number=3)
    workers = [start_worker(celery_processes), start_worker(celery_processes)]
    try:
        time.sleep(3)
        from analysis.tasks import compute_wave_indices_task

        for _ in range(2):
            compute_wave_indices_task.apply_async(kwargs={"study_id": demo.pk, "wave_id": wave.pk, "force": True})
        # Both deliveries adopt the one active run: one computes, the other finds it done.
        wait_for(lambda: AnalysisRun.objects.filter(wave=wave, status="done").exists()
                 and not AnalysisRun.objects.filter(wave=wave, status__in=["queued", "running"]).exists(),
                 what="both deliveries")
        time.sleep(2)
    finally:
        for worker in workers:
            celery_processes.stop(worker)
    statuses = sorted(AnalysisRun.objects.filter(wave=wave).values_list("status", flat=True))
    assert statuses.count("done") >= 1 and "failed" not in statuses
    assert IndexResult.objects.filter(wave=wave, item__code="threat", group="all", index="mean").count() == 1


def test_answers_are_stored_while_the_broker_is_down_and_the_sweep_catches_up(demo, broker, celery_processes):
    wave = demo.waves.get(number=5)
    indices.compute_wave_indices(study_id=demo.pk, wave_id=wave.pk)
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # unreachable
    app._pool = None  # a fresh producer pool for the new broker URL
    response = Response.objects.filter(submission__wave=wave, value__isnull=False, item__code="threat").first()
    Response.objects.filter(pk=response.pk).update(value=1 if response.value != 1 else 2)
    run = enqueue.request_wave_indices(study_id=demo.pk, wave_id=wave.pk)  # dispatch fails quietly
    assert AnalysisRun.objects.get(pk=run.pk).status == "queued"
    # The broker is back; the periodic sweep re-dispatches the stale run.
    app.conf.broker_url = broker
    app._pool = None  # a fresh producer pool for the new broker URL
    AnalysisRun.objects.filter(pk=run.pk).update(created_at=run.created_at - __import__("datetime").timedelta(hours=1))
    worker = start_worker(celery_processes)
    try:
        enqueue.sweep_indices()
        wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status="done").exists(), what="the sweep")
    finally:
        celery_processes.stop(worker)
    assert enqueue.waves_needing_indices(study_id=demo.pk) == [] or wave not in enqueue.waves_needing_indices(
        study_id=demo.pk)
