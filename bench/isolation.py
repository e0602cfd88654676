"""Benchmark: participants while a study's effects recompute, and recompute throughput per worker.

    .venv/bin/python bench/isolation.py [--participants 20000] [--waves 20] [--items 10]
        [--concurrency 32] [--seconds 30] [--web-workers 4] [--throughput-workers 1 2]
        [--database-url postgres://postgres@127.0.0.1:5432/disagreement_isolation]
        [--broker redis://127.0.0.1:6379/4] [--reuse] [--skip-latency] [--skip-throughput]

Builds (or with `--reuse` keeps) a study in a database of its own: `--participants` participants
(two sides, control and intervention arms, the intervention at wave 3) who answered `--items`
seven-point items in each of `--waves` waves (default 20 x 20,000 x 10 = 200,000 answers a wave,
4M in all), loaded inside PostgreSQL (`panel_seed.load_panel`); its last wave is open for new participants.

1. Participant latency. gunicorn (`--web-workers` sync workers) serves the study; `--concurrency`
   simulated participants at a time each load the landing page, join (POST), load their page and
   answer the baseline (POST), for `--seconds` with nothing else running ("quiet"), then again
   while a Celery worker recomputes the study's effects from all its answers ("during effects").
   Prints p50/p95/p99 of the joins and of the answers side by side, and whether the effects run
   was running for the whole measurement.
2. Throughput. Every wave's indices are recomputed (forced) by 1 and then 2 worker processes
   (`--throughput-workers`); prints waves per minute for each and the speed-up.

Prints figures and the load average; asserts nothing about time. The machine may be shared:
compare the two columns of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from submit import Client, ensure_database, environment, free_port  # noqa: E402

SLUG = "isolation"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CONSENT_RE = re.compile(r'name="consent_version" value="(\d+)"')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--waves", type=int, default=20)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each latency phase")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--throughput-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/disagreement_isolation")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--reuse", action="store_true", help="keep the study an earlier run loaded")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    return parser.parse_args()


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def build_study(participants: int, waves: int, n_items: int) -> int:
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone
    from panel_seed import PanelDesign, load_panel

    from surveys import summaries
    from surveys.models import Arm, ConsentVersion, Intervention, Item, Study, Wave

    now = timezone.now()
    with transaction.atomic():
        Study.objects.filter(slug=SLUG).delete()
        study = Study.objects.create(slug=SLUG, title="Isolation benchmark", status=Study.Status.ACTIVE,
                                     languages=["en"], primary_outcome="mad_pairwise")
        consent = ConsentVersion.objects.create(study=study, version=1, text={"en": "Benchmark consent."})
        Item.objects.create(study=study, code="side", prompt={"en": "Which side?"}, kind="choice", role="grouping",
                            scale_min=1, scale_max=2, step=1, labels={"en": {"1": "left", "2": "right"}})
        items = [Item.objects.create(study=study, code=f"q{i}", prompt={"en": f"Statement {i}."}, kind="likert",
                                     scale_min=1, scale_max=7, step=1, order=i + 1) for i in range(n_items)]
        arms = [Arm.objects.create(study=study, name="control", is_control=True),
                Arm.objects.create(study=study, name="intervention")]
        wave_rows = []
        for number in range(1, waves + 1):
            last = number == waves
            wave = Wave.objects.create(
                study=study, number=number, opens_at=now - dt.timedelta(days=7 * (waves - number + 1)),
                closes_at=now + dt.timedelta(days=1) if last else now - dt.timedelta(days=7 * (waves - number)),
                state=Wave.State.OPEN if last else Wave.State.CLOSED)
            wave.items.set(items)
            wave_rows.append(wave)
        Intervention.objects.create(wave=wave_rows[min(2, waves - 1)], arm=arms[1], content={"en": "Intervention."})
    design = PanelDesign(study_id=study.pk, consent_id=consent.pk, arm_ids=tuple(a.pk for a in arms),
                         waves=tuple((w.pk, w.number) for w in wave_rows), items=tuple((i.pk, False) for i in items),
                         intervention_wave=min(3, waves))
    with transaction.atomic(), connection.cursor() as cursor:  # every participant answers every wave
        load_panel(cursor, design, participants=participants, attrition=0, skipped=0, dont_know=0)
    summaries.recount_study(study.pk)  # rows loaded around the write path
    return study.pk


class Browser(Client):
    """`Client` with a longer timeout (joins wait while the machine is loaded)."""

    timeout = 60


def join_and_answer(port: int, latencies: dict[str, list[float]], errors: list[str]) -> None:
    client = Browser(port)
    status, html, _ = client.request("GET", f"/s/{SLUG}/")
    consent, csrf = CONSENT_RE.search(html), CSRF_RE.search(html)
    if status != 200 or consent is None:
        errors.append(f"landing {status}")
        return
    data = {"agree": "on", "consent_version": consent.group(1), **({"csrfmiddlewaretoken": csrf.group(1)} if csrf else {})}
    status, _html, elapsed = client.request("POST", f"/s/{SLUG}/", urlencode(data).encode())
    latencies["join"].append(elapsed)
    if status != 303:
        errors.append(f"join {status}")
        return
    link = client.last_location
    status, html, _ = client.request("GET", link)
    csrf = CSRF_RE.search(html)
    data = {"step": "baseline", "i_side": "1", **({"csrfmiddlewaretoken": csrf.group(1)} if csrf else {})}
    status, _html, elapsed = client.request("POST", link, urlencode(data).encode())
    latencies["answer"].append(elapsed)
    if status != 303:
        errors.append(f"answer {status}")


def run_load(port: int, concurrency: int, seconds: float, until=None):
    latencies: dict[str, list[float]] = {"join": [], "answer": []}
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def worker():
        while time.monotonic() < deadline and not (until and until()):
            join_and_answer(port, latencies, errors)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def cuts(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return float("nan"), float("nan"), float("nan")
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49] * 1000, q[94] * 1000, q[98] * 1000


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def worker_command(concurrency: int) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "disagreement", "worker", "--loglevel", "WARNING",
            "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--prefetch-multiplier", "1"]


def main() -> int:
    args = parse_args()
    ensure_database(args.database_url)
    env = {**environment(args.database_url), "CELERY_BROKER_URL": args.broker}
    os.environ.update(env)
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connection

    from analysis.models import AnalysisRun
    from analysis.pipeline import enqueue
    from surveys.models import Study, Wave

    call_command("migrate", verbosity=0)
    study = Study.objects.filter(slug=SLUG).first()
    if study is None or not args.reuse:
        t0 = time.perf_counter()
        study_id = build_study(args.participants, args.waves, args.items)
        print(f"loaded {args.participants:,} participants x {args.waves} waves x {args.items} items "
              f"({args.participants * args.waves * args.items:,} answers) in {time.perf_counter() - t0:.0f} s")
    else:
        study_id = study.pk
        print(f"reusing study {SLUG}")
    connection.close()
    redis.Redis.from_url(args.broker).flushdb()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-isolation"
    logs.mkdir(exist_ok=True)
    print(f"load average before: {load()}  (logs in {logs})")

    if not args.skip_latency:
        port = free_port()
        web = start([sys.executable, "-m", "gunicorn", "disagreement.wsgi", "--workers", str(args.web_workers),
                     "--bind", f"127.0.0.1:{port}", "--timeout", "60"], env, logs / "gunicorn.log")
        worker = start(worker_command(1), env, logs / "worker-latency.log")
        try:
            for _ in range(240):
                try:
                    if Client(port).request("GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            run_load(port, 4, 3)  # warm up every web worker
            quiet, quiet_errors = run_load(port, args.concurrency, args.seconds)
            AnalysisRun.objects.filter(study_id=study_id, kind="effects").delete()  # no skip: compute
            run = enqueue.request_study_effects(study_id=study_id)
            t0 = time.monotonic()
            while not AnalysisRun.objects.filter(pk=run.pk, status="running").exists():
                time.sleep(0.2)
            started_after = time.monotonic() - t0

            def finished() -> bool:
                return not AnalysisRun.objects.filter(pk=run.pk, status="running").exists()

            busy, busy_errors = run_load(port, args.concurrency, args.seconds, until=finished)
            throughout = not finished()
            while not finished():
                time.sleep(1)
            run.refresh_from_db()
            connection.close()
        finally:
            stop(worker)
            stop(web)
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
        print(f"\n1. participants ({args.concurrency} concurrent clients, gunicorn {args.web_workers} sync workers, "
              f"study of {args.participants:,} participants)")
        print(f"   effects run: {run.status} in {seconds:.1f} s (started {started_after:.1f} s after the request); "
              f"running for the whole measurement: {'yes' if throughout else 'no'}")
        print(f"   {'':10} {'quiet':>34}   {'during effects':>34}")
        for kind in ("join", "answer"):
            a, b = cuts(quiet[kind]), cuts(busy[kind])
            print(f"   {kind:10} n={len(quiet[kind]):5} p50 {a[0]:6.0f} p95 {a[1]:6.0f} p99 {a[2]:6.0f} ms"
                  f"   n={len(busy[kind]):5} p50 {b[0]:6.0f} p95 {b[1]:6.0f} p99 {b[2]:6.0f} ms"
                  f"   p95 ratio {b[1] / a[1]:.2f}")
        print(f"   errors: quiet {len(quiet_errors)}, during effects {len(busy_errors)}"
              f"{' e.g. ' + busy_errors[0] if busy_errors else ''}")
        print(f"   load average after: {load()}")

    if not args.skip_throughput:
        waves = list(Wave.objects.filter(study_id=study_id).order_by("number").values_list("pk", flat=True))
        connection.close()
        rates = {}
        for count in args.throughput_workers:
            AnalysisRun.objects.filter(study_id=study_id).delete()
            redis.Redis.from_url(args.broker).flushdb()  # no message left from the previous round
            worker = start(worker_command(count), env, logs / f"worker-{count}.log")
            try:
                time.sleep(5)
                t0 = time.monotonic()
                for wave_id in waves:
                    enqueue.request_wave_indices(study_id=study_id, wave_id=wave_id, force=True)
                while AnalysisRun.objects.filter(study_id=study_id, kind="indices",
                                                 status__in=["queued", "running"]).exists():
                    time.sleep(0.5)
                took = time.monotonic() - t0
                connection.close()
            finally:
                stop(worker)
            done = AnalysisRun.objects.filter(study_id=study_id, kind="indices", status="done").count()
            rates[count] = done / took * 60
            print(f"\n2. {count} worker process(es): {done} waves' indices in {took:.1f} s = {rates[count]:.1f} "
                  f"waves/min  (load average {load()})")
        if len(rates) >= 2:
            low, high = min(rates), max(rates)
            print(f"   speed-up {high} vs {low} workers: {rates[high] / rates[low]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
