"""A 3-wave study runs through its whole schedule with real components: PostgreSQL, Redis, Celery
beat and two Celery workers started by the test. The workers run every task at a clock the test
sets (time-machine, read from a file at each task's start), so weeks pass in a minute or two.
Mail goes through Django's file-based backend (a worker cannot share locmem with this process);
the test reads every message back and checks that exactly the expected ones went out, none
twice, although beat ticks every second and the test fires the schedule task twice at once.

Slow; skipped on SQLite or when Redis is not reachable (Redis database TEST_REDIS_DB + 1, default 12;
see tests/plugins/celery_worker.py).
"""

import datetime as dt
import email
import re
import sys
import time
from collections import Counter
from pathlib import Path

from analysis.models import AnalysisRun
from surveys.models import Message, ParticipantContact, Submission, Wave
from tests.factories import ParticipantFactory, StudyFactory, WaveFactory
from tests.plugins.celery_worker import (
    CELERY,
    REDIS_DB,
    WORKER_OPTIONS,
    WORKER_TESTS,
    broker_fixture,
    wait_for,
)

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)

pytestmark = WORKER_TESTS
broker = broker_fixture(db=REDIS_DB + 1)

#: Runs a Celery worker whose tasks see the time written in $CLOCK_FILE (plus the time the task runs).
CLOCK_WORKER = """
import datetime as dt, os, sys
from pathlib import Path
import time_machine
from celery.signals import task_postrun, task_prerun

CLOCK = Path(os.environ["CLOCK_FILE"])
travellers = []

@task_prerun.connect
def travel(**kwargs):
    traveller = time_machine.travel(dt.datetime.fromisoformat(CLOCK.read_text().strip()), tick=True)
    traveller.start()
    travellers.append(traveller)

@task_postrun.connect
def back(**kwargs):
    while travellers:
        travellers.pop().stop()

from celery.__main__ import main
sys.argv = ["celery", "-A", "disagreement", "worker", *sys.argv[1:]]
main()
"""


def environment(tmp_path: Path) -> dict:
    return {
        "CLOCK_FILE": str(tmp_path / "clock"),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "SITE_URL": "http://panel.test",
        "MESSAGE_BATCH_SIZE": "2",  # several batches, shared between the two workers
        "SCHEDULE_TICK_SECONDS": "1",
        "ANALYSIS_SWEEP_SECONDS": "3600",
        "RETENTION_SWEEP_SECONDS": "3600",
    }


def read_mailbox(folder: Path) -> list[email.message.Message]:
    """Every message the file-based backend wrote (one file per connection, messages separated by
    a line of 79 dashes)."""
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk))
    return messages


def kind_of(subject: str) -> str:
    for marker, kind in (("is open", "invitation"), ("Reminder:", "reminder"), ("Last chance", "last_chance")):
        if marker in subject:
            return kind
    raise AssertionError(subject)


def test_a_three_wave_study_runs_through_its_schedule_with_beat_and_two_workers(celery_processes, tmp_path):
    start_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    study = StudyFactory(slug="panel", title="Panel", collect_email=True, reminder_delays_hours=[24, 72],
                         last_chance_hours=24)
    waves = [WaveFactory(study=study, number=n, opens_at=start_at + dt.timedelta(days=10 * (n - 1)),
                         closes_at=start_at + dt.timedelta(days=10 * (n - 1) + 7), state=Wave.State.SCHEDULED)
             for n in (1, 2, 3)]
    people = {}
    for name in ("a", "b", "c"):
        people[name] = ParticipantFactory(study=study)
        ParticipantContact.objects.create(participant=people[name], email=f"{name}@example.org")
    (tmp_path / "mail").mkdir()
    clock = tmp_path / "clock"
    clock.write_text((start_at - HOUR).isoformat())
    env = environment(tmp_path)
    processes = [
        celery_processes.start([sys.executable, "-c", CLOCK_WORKER, *WORKER_OPTIONS, "-n", f"w{i}@%h"],
                               name=f"w{i}", **env)
        for i in (1, 2)
    ]
    processes.append(celery_processes.start([*CELERY, "beat", "--loglevel", "INFO",
                                             "-s", str(tmp_path / "beat-schedule")], name="beat", **env))
    from surveys.tasks import advance_schedule_task

    def settle(moment: dt.datetime, expected: dict[str, int], wave: Wave, *, double: bool = False) -> None:
        """Set the workers' clock, optionally fire the schedule task twice at once, and wait until
        every expected message of `wave` is sent and nothing is in flight."""
        clock.write_text(moment.isoformat())
        if double:
            advance_schedule_task.apply_async()
            advance_schedule_task.apply_async()

        def done() -> bool:
            sent = Counter(Message.objects.filter(wave=wave, status="sent").values_list("kind", flat=True))
            busy = Message.objects.filter(status__in=["pending", "queued", "sending"]).exists()
            return all(sent[kind] == n for kind, n in expected.items()) and not busy
        try:
            wait_for(done, timeout=90, interval=0.3, what=f"{expected} at {moment}")
        except AssertionError as error:  # say what the table holds
            rows = list(Message.objects.order_by("pk").values_list("wave__number", "kind", "participant_id",
                                                                   "status", "attempts", "last_error"))
            raise AssertionError(f"{error}; messages: {rows}") from None
        time.sleep(2)  # a few more beat ticks at this moment: they must send nothing more

    def complete(name: str, wave: Wave, at: dt.datetime) -> None:
        Submission.objects.create(participant=people[name], wave=wave, started_at=at - MINUTE, completed_at=at)

    try:
        for wave in waves:
            opens, closes = wave.opens_at, wave.closes_at
            settle(opens + MINUTE, {"invitation": 3}, wave, double=True)
            assert Wave.objects.get(pk=wave.pk).state == "open"
            complete("a", wave, opens + 2 * HOUR)
            settle(opens + 24 * HOUR + MINUTE, {"invitation": 3, "reminder1": 2}, wave, double=wave.number == 2)
            complete("c", wave, opens + 30 * HOUR)
            settle(opens + 72 * HOUR + MINUTE, {"invitation": 3, "reminder1": 2, "reminder2": 1}, wave)
            settle(closes - 24 * HOUR + MINUTE,
                   {"invitation": 3, "reminder1": 2, "reminder2": 1, "last_chance": 1}, wave, double=True)
            clock.write_text((closes + MINUTE).isoformat())
            wait_for(lambda w=wave: Wave.objects.get(pk=w.pk).state == "closed", timeout=90, interval=0.3,
                     what=f"wave {wave.number} closed")
            # Closing sent wave_closed once, which queued the wave's analysis on the workers.
            wait_for(lambda w=wave: AnalysisRun.objects.filter(wave=w).exists(), timeout=90, interval=0.3,
                     what="the wave's analysis run")
    finally:
        for process in processes:
            celery_processes.stop(process)

    mailbox = read_mailbox(tmp_path / "mail")
    received = Counter((m["To"].split("@")[0], int(re.search(r"wave (\d+)", m["Subject"]).group(1)),
                        kind_of(m["Subject"])) for m in mailbox)
    expected = Counter()
    for number in (1, 2, 3):
        expected.update([(n, number, "invitation") for n in "abc"])
        expected.update([("b", number, "reminder"), ("c", number, "reminder"), ("b", number, "reminder"),
                         ("b", number, "last_chance")])
    assert received == expected
    assert len(mailbox) == 21
    ids = [m["X-Disagreement-Message"] for m in mailbox]
    assert len(set(ids)) == len(ids) == Message.objects.filter(status="sent").count() == 21  # none twice
    for message in mailbox:
        body = message.get_payload(decode=True).decode()
        assert re.search(r"http://panel\.test/p/[\w-]{32}/", body)
        assert re.search(r"http://panel\.test/u/[\w:.-]+/", body)
    assert Counter(AnalysisRun.objects.filter(kind="indices").values_list("wave__number", flat=True)).keys() == {
        1, 2, 3}
    assert Message.objects.exclude(status="sent").count() == 0
