"""Benchmark: a full recompute of one wave with 1,000,000 answers in PostgreSQL.

    python bench/pipeline.py [--participants 100000] [--items 10] [--database-url URL]
        [--database-name disagreement_bench] [--reuse-database]

Builds a throwaway database (`--database-name` on the server of DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/postgres), loads a study of N participants x items answers in
one wave inside PostgreSQL (`panel_seed.load_panel`, shared with bench/dashboard.py), then runs
the service a Celery worker runs (`compute_wave_indices`) in a fresh process and prints the time split into database query (input fingerprint included),
computation and storage, the CPU time of that process, the load average, and its peak memory
(VmHWM, which starts afresh at exec, unlike getrusage's ru_maxrss that a child inherits from
the loading parent). `--reuse-database` skips the load when an earlier run left the same
answers there. Prints figures; asserts nothing about time.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scratch_db import bench_url, recreate_database  # noqa: E402


def memory_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc (Linux). Unlike getrusage's
    ru_maxrss, VmHWM starts afresh at exec, so a worker's figure is not its parent's."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    return memory_mb("VmHWM")


def existing_study(url: str, answers: int) -> tuple[int, int] | None:
    """(study id, wave id) of the benchmark study in `url` when it holds `answers` answers."""
    import psycopg

    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            row = conn.execute(
                "SELECT s.id, w.id, (SELECT count(*) FROM surveys_response r JOIN surveys_submission b"
                " ON b.id = r.submission_id WHERE b.wave_id = w.id) FROM surveys_study s"
                " JOIN surveys_wave w ON w.study_id = s.id WHERE s.slug = 'bench'").fetchone()
    except psycopg.Error:
        return None
    return (row[0], row[1]) if row and row[2] == answers else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--database-name", default="disagreement_bench",
                        help="the throwaway database to (re)create on that server")
    parser.add_argument("--reuse-database", action="store_true",
                        help="keep the answers a previous run loaded (same --participants and --items)")
    parser.add_argument("--recompute", nargs=2, type=int, metavar=("STUDY_ID", "WAVE_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recompute:
        recompute(*args.recompute)
        return

    name = args.database_name
    if args.reuse_database and existing_study(bench_url(args.database_url, name), args.participants * args.items):
        print(f"reusing the answers loaded in {name}")
        os.environ["DATABASE_URL"] = bench_url(args.database_url, name)
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")
        subprocess.run([sys.executable, __file__, "--recompute", *map(str, existing_study(
            os.environ["DATABASE_URL"], args.participants * args.items))], check=True, env=os.environ.copy())
        return
    recreate_database(args.database_url, name)
    os.environ["DATABASE_URL"] = bench_url(args.database_url, name)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from panel_seed import PanelDesign, load_panel

    from surveys.models import Arm, ConsentVersion, Item, Study, Wave

    n, n_items = args.participants, args.items
    study = Study.objects.create(slug="bench", title="Benchmark", status="active")
    Item.objects.create(study=study, code="side", prompt={"en": "side"}, kind="choice", role="grouping",
                        scale_min=1, scale_max=2, step=1, labels={"en": {"1": "left", "2": "right"}})
    items = [Item.objects.create(study=study, code=f"q{i}", prompt={"en": f"q{i}"}, scale_min=1, scale_max=7,
                                 step=1, order=i, reverse_coded=(i % 3 == 0)) for i in range(n_items)]
    arms = [Arm.objects.create(study=study, name="control", is_control=True),
            Arm.objects.create(study=study, name="intervention")]
    now = timezone.now()
    wave = Wave.objects.create(study=study, number=1, opens_at=now - timezone.timedelta(days=7), closes_at=now,
                               state="closed")

    consent = ConsentVersion.objects.create(study=study, version=1, text={"en": "ok"})
    t0 = time.perf_counter()
    design = PanelDesign(study_id=study.pk, consent_id=consent.pk, arm_ids=tuple(a.pk for a in arms),
                         waves=((wave.pk, wave.number),), items=tuple((i.pk, i.reverse_coded) for i in items))
    with transaction.atomic(), connection.cursor() as cursor:  # every participant answers every item
        load_panel(cursor, design, participants=n, attrition=0, skipped=0, dont_know=0)
    load_s = time.perf_counter() - t0
    answers = n * n_items
    print(f"loaded {answers:,} answers ({n:,} participants x {n_items} items) in {load_s:.1f} s")

    connection.close()
    # The recompute runs in a fresh process, as in a worker, so its peak memory is its own.
    subprocess.run([sys.executable, __file__, "--recompute", str(study.pk), str(wave.pk)], check=True,
                   env=os.environ.copy())


def recompute(study_id: int, wave_id: int) -> None:
    import django

    django.setup()
    from analysis.models import AnalysisRun, IndexResult
    from analysis.pipeline.indices import compute_wave_indices

    # Results of an earlier run would make this one a skip; start from none.
    AnalysisRun.objects.filter(study_id=study_id).delete()
    rss_before = memory_mb("VmRSS")
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = compute_wave_indices(study_id=study_id, wave_id=wave_id)
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    timings = run.parameters["timings"]
    one, five, _fifteen = os.getloadavg()
    print(f"full recompute of the wave: {total:.2f} s, {cpu:.2f} s CPU in this process "
          f"(status {run.status}, {IndexResult.objects.count():,} rows; load average {one:.2f} / {five:.2f})")
    print(f"  database query: {timings['query_s']:.2f} s")
    print(f"  computation:    {timings['compute_s']:.2f} s")
    print(f"  storage:        {timings['store_s']:.2f} s")
    print(f"  fingerprint and bookkeeping: {total - sum(timings.values()):.2f} s")
    print(f"peak memory of the worker process: {peak_rss_mb():.0f} MB (resident after Django start-up: "
          f"{rss_before:.0f} MB)")
    t0 = time.perf_counter()
    again = compute_wave_indices(study_id=study_id, wave_id=wave_id)
    print(f"rerun on unchanged answers: {time.perf_counter() - t0:.2f} s (status {again.status})")


if __name__ == "__main__":
    main()
