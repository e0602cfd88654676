"""Benchmark: a wave opening for 100,000 participants with e-mail addresses.

    python bench/reminders.py [--participants 100000] [--batch-size 250] [--database-url URL]
                              [--broker redis://127.0.0.1:6379/12]

Builds a throwaway database (`disagreement_bench_reminders` on the server of DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/postgres), loads a study whose N participants all gave
an address, and runs the schedule at the wave's opening: the wave opens, N invitation rows are
planned and dispatched in batch tasks of --batch-size, and each batch claims, renders (a fresh
personal link and an unsubscribe link per message) and sends through Django's locmem backend.

Without --broker the batch tasks run eagerly in this process, one after another (one worker's
work, without the broker's overhead). With --broker one real Celery worker (solo pool) is
started against that Redis and the clock runs until every message is recorded as sent.
Prints figures; asserts nothing about time (target: under 180 s for 100,000).
"""

import argparse
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scratch_db import bench_url, recreate_database  # noqa: E402

NAME = "disagreement_bench_reminders"




def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--broker", default="", help="Redis URL: send through one real Celery worker")
    args = parser.parse_args()

    recreate_database(args.database_url, NAME)
    os.environ["DATABASE_URL"] = bench_url(args.database_url, NAME)
    os.environ["MESSAGE_BATCH_SIZE"] = str(args.batch_size)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    if args.broker:
        os.environ["CELERY_BROKER_URL"] = args.broker
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")
    import django

    django.setup()
    import datetime as dt

    from django.core import mail
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from surveys import scheduling
    from surveys.models import Arm, Message, Participant, ParticipantContact, Study, Wave

    n = args.participants
    study = Study.objects.create(slug="bench", title="Benchmark", status="active", collect_email=True,
                                 languages=["en", "de"])
    arms = [Arm.objects.create(study=study, name="control", is_control=True),
            Arm.objects.create(study=study, name="intervention")]
    now = timezone.now()
    wave = Wave.objects.create(study=study, number=1, opens_at=now, closes_at=now + dt.timedelta(days=7),
                               state="scheduled")
    load = time.perf_counter()
    joined = now - dt.timedelta(days=1)
    participants = Participant.objects.bulk_create(
        [Participant(study=study, arm=arms[i % 2], language="de" if i % 3 == 0 else "en", joined_at=joined)
         for i in range(n)], batch_size=5000)
    ParticipantContact.objects.bulk_create(
        [ParticipantContact(participant=p, email=f"p{i}@example.org", consented_at=joined)
         for i, p in enumerate(participants)], batch_size=5000)
    load = time.perf_counter() - load
    print(f"loaded {n:,} participants with addresses in {load:.1f} s", file=sys.stderr)

    worker = None
    if args.broker:
        import redis

        redis.Redis.from_url(args.broker).flushdb()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "disagreement", "worker", "--pool", "solo", "--loglevel",
             "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=dict(os.environ), start_new_session=True)
        time.sleep(5)  # let the worker connect

    mail.outbox = []
    outbox_total = [0]
    if worker is None:
        from celery.signals import task_postrun

        @task_postrun.connect(weak=False)
        def empty_outbox(**kwargs):  # keep memory flat: count the batch's mails, then drop them
            outbox_total[0] += len(mail.outbox)
            mail.outbox.clear()

    started = time.perf_counter()
    cpu_started = time.process_time()
    opened = scheduling.open_due_waves(now=now + dt.timedelta(seconds=1))
    planned = scheduling.plan_messages(now=now + dt.timedelta(seconds=1))
    planned_at = time.perf_counter()
    dispatched, batches = scheduling.dispatch_due_messages(now=now + dt.timedelta(seconds=1))
    enqueued_at = time.perf_counter()
    if worker is not None:
        try:
            while Message.objects.filter(wave=wave).exclude(status__in=["sent", "given_up", "skipped"]).exists():
                time.sleep(0.5)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    finished = time.perf_counter()
    cpu = time.process_time() - cpu_started
    sent = Message.objects.filter(wave=wave, status="sent").count()
    total = finished - started

    mode = f"one Celery worker via {args.broker}" if args.broker else "eager (this process is the one worker)"
    print(f"wave opening for {n:,} participants, batches of {args.batch_size}, {mode}")
    print(f"  wave opened:                {bool(opened)}")
    print(f"  plan {planned:,} invitation rows:   {planned_at - started:8.1f} s")
    if args.broker:
        print(f"  enqueue {batches:,} batch tasks:    {enqueued_at - planned_at:8.1f} s")
        print(f"  render and send (worker):   {finished - enqueued_at:8.1f} s")
    else:
        print(f"  enqueue, render and send:   {enqueued_at - planned_at:8.1f} s  ({batches:,} batch tasks)")
    print(f"  total:                      {total:8.1f} s  ({sent / total:,.0f} messages/s; target < 180 s)")
    print(f"  messages sent:              {sent:,} (rendered into the locmem outbox here: {outbox_total[0]:,})")
    print(f"  CPU time of this process:   {cpu:8.1f} s  (the rest is waiting: database, other processes)")
    print(f"  load average at the end:    {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"  peak memory of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
