"""The live survey never waits for the analysis, and lost runs come back: PostgreSQL, Redis and
Celery workers (and beat, and a web server) started as subprocesses.

Slow; `.ci/run` runs them (`make test-slow` with DATABASE_URL set). They are skipped on SQLite or
when Redis is not reachable (Redis database TEST_REDIS_DB + 2, see tests/plugins/celery_worker.py).
The Redis outage test starts a private redis-server (port TEST_PRIVATE_REDIS_PORT, default 6390)
that it can stop; the database restart is what PostgreSQL does to every session when it
restarts: it terminates them (`pg_terminate_backend`, "terminating connection due to
administrator command").
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from analysis.demo import DEMO_GROUPING_ITEM
from analysis.models import AnalysisRun, EffectEstimate
from analysis.pipeline import enqueue
from disagreement.celery import app
from surveys.models import ConsentVersion, Participant
from tests.factories import ParticipantTokenFactory
from tests.plugins.celery_worker import (
    CELERY,
    REDIS_DB,
    WORKER_OPTIONS,
    WORKER_TESTS,
    broker_fixture,
    wait_for,
)

pytestmark = WORKER_TESTS
broker = broker_fixture(db=REDIS_DB + 2)
ROOT = Path(__file__).resolve().parents[2]
STALLING_WORKER = [sys.executable, str(Path(__file__).with_name("stalling_worker.py")), *WORKER_OPTIONS]
PRIVATE_REDIS_PORT = int(os.environ.get("TEST_PRIVATE_REDIS_PORT", "6390"))


@pytest.fixture
def demo(broker, demo_study):
    AnalysisRun.objects.all().delete()
    return demo_study


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def join(client, study) -> str:
    consent = ConsentVersion.objects.filter(study=study).order_by("-version").first()
    response = client.post(f"/s/{study.slug}/", {"agree": "on", "consent_version": consent.pk})
    assert response.status_code == 303, response.content[:300]
    return response["Location"].split("?")[0]


def test_joins_baseline_answers_and_withdrawals_take_under_a_second_while_effects_compute(demo, celery_processes,
                                                                                          client):
    # The worker's effects computation stays 25 s inside its read snapshot (every answer read).
    worker = celery_processes.start(STALLING_WORKER, STALL_EFFECTS_SECONDS="25", STALL_SECONDS="0")
    try:
        time.sleep(3)
        EffectEstimate.objects.filter(study=demo).delete()
        run = enqueue.request_study_effects(study_id=demo.pk)
        wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status="running").exists(), what="effects running")
        time.sleep(2)  # inside the snapshot now

        seconds = {}
        seconds["join"], link = timed(lambda: join(client, demo))
        client.get(link)
        seconds["baseline"], response = timed(
            lambda: client.post(link, {"step": "baseline", f"i_{DEMO_GROUPING_ITEM['code']}": "1"}))
        assert response.status_code == 303
        leaving = Participant.objects.filter(study=demo, withdrawn_at__isnull=True, is_preview=False).exclude(
            arm__isnull=True).first()
        secret = ParticipantTokenFactory(participant=leaving).secret  # the database keeps only hashes
        seconds["withdrawal"], response = timed(lambda: client.post(f"/p/{secret}/withdraw/", {}))
        assert response.status_code == 303
        still_running = AnalysisRun.objects.get(pk=run.pk).status == "running"
        wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=["done", "skipped"]).exists(),
                 timeout=120, what="the effects run")
    finally:
        log = celery_processes.stop(worker)
    assert still_running, "the requests were not made while the effects computed"
    print("during effects:", {name: round(value, 3) for name, value in seconds.items()})
    assert max(seconds.values()) < 1.0, seconds
    assert Participant.objects.get(pk=leaving.pk).withdrawn_at is not None
    assert EffectEstimate.objects.filter(study=demo).exists(), log[-2000:]


def start_beat(processes, tmp_path, **env):
    return processes.start([*CELERY, "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
                           name="beat", **env)


def test_a_run_whose_whole_worker_was_killed_completes_within_two_minutes_of_a_restart(demo, celery_processes,
                                                                                       tmp_path):
    wave = demo.waves.get(number=4)
    # Production's heartbeat, lost-run limit and resend interval (the settings' defaults).
    beat = start_beat(celery_processes, tmp_path)
    slow = celery_processes.start(STALLING_WORKER, STALL_SECONDS="600")
    try:
        time.sleep(3)
        run = enqueue.request_wave_indices(study_id=demo.pk, wave_id=wave.pk, force=True)
        wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status="running").exists(), what="running")
        time.sleep(2)
        celery_processes.stop(slow, signal.SIGKILL)  # the whole worker, its pool and all
        killed_at = time.monotonic()
        fresh = celery_processes.start()
        wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status="done").exists(), timeout=150,
                 what="the run after the restart", interval=1)
        took = time.monotonic() - killed_at
        celery_processes.stop(fresh)
    finally:
        celery_processes.stop(beat)
    print(f"killed worker: run done {took:.0f} s after the kill")
    assert took < 120, took


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which it may stop and start; yields (start, stop, url)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    state = {}

    def start():
        state["process"] = subprocess.Popen(
            ["redis-server", "--port", str(PRIVATE_REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", PRIVATE_REDIS_PORT)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("private redis-server did not start")

    def stop():
        state["process"].terminate()
        state["process"].wait(timeout=10)

    start()
    yield start, stop, f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
    if state["process"].poll() is None:
        stop()


def test_a_recompute_made_while_redis_is_down_completes_within_two_minutes_of_its_return(
        demo, celery_processes, tmp_path, private_redis, settings):
    start_redis, stop_redis, url = private_redis
    previous = app.conf.broker_url
    app.conf.broker_url, app._pool, app.amqp._producer_pool = url, None, None
    celery_processes.broker_url = url
    wave = demo.waves.get(number=2)
    beat = start_beat(celery_processes, tmp_path)
    worker = celery_processes.start()
    try:
        time.sleep(3)
        stop_redis()
        took, runs = timed(lambda: enqueue.recompute_study(study_id=demo.pk))  # the Recompute button's service
        assert took < 10  # a broker outage fails nothing and is hardly waited for
        run = next(run for run in runs if run.wave_id == wave.pk)
        assert AnalysisRun.objects.get(pk=run.pk).dispatched_at is None  # never sent
        time.sleep(5)
        start_redis()
        back_at = time.monotonic()
        wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status="done").exists(),
                 timeout=150, what="the recompute after Redis returned", interval=1)
        took = time.monotonic() - back_at
    finally:
        for process in (worker, beat):
            celery_processes.stop(process)
        app.conf.broker_url, app._pool, app.amqp._producer_pool = previous, None, None
    print(f"Redis outage: the recompute finished {took:.0f} s after Redis returned")
    assert took < 120, took
    assert AnalysisRun.objects.get(pk=run.pk).status == "done"


def test_after_a_database_restart_the_next_ten_participant_requests_all_succeed(demo, tmp_path):
    port = int(os.environ.get("TEST_WEB_PORT", "0")) or _free_port()
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "disagreement.settings", "DATABASE_CONN_MAX_AGE": "600",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    log = (tmp_path / "gunicorn.log").open("wb")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "disagreement.wsgi", "--workers", "2", "--bind",
                            f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    landing = f"http://127.0.0.1:{port}/s/{demo.slug}/"
    try:
        wait_for(lambda: _status(landing) == 200, timeout=60, what="gunicorn")
        for _ in range(10):  # every web worker holds a persistent connection now
            assert _status(landing) == 200
        with connection.cursor() as cursor:  # what a PostgreSQL restart does to those sessions
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            terminated = cursor.fetchone()[0]
        statuses = [_status(landing) for _ in range(10)]
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
    assert terminated >= 1
    assert statuses == [200] * 10, (tmp_path / "gunicorn.log").read_text()[-3000:]
    assert "terminating connection" not in (tmp_path / "gunicorn.log").read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except Exception:  # noqa: BLE001 - not up yet
        return 0

