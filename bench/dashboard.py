"""Benchmark: server time of each researcher dashboard page in PostgreSQL.

    python bench/dashboard.py [--participants 20000] [--requests 30] [--database-url URL]
        [--database-name dashboard_bench] [--rebuild] [--reuse] [--bootstrap 50] [--effects-bootstrap 20]

    # the size of a national panel: 100,000 participants x 20 waves x 10 items (17.7 million
    # answers); loads in about 17 minutes and stores every wave's indices in 15 more on two busy
    # cores (6 GB of disk); the effects of this size held over 15 GB after five minutes and were
    # stopped (docs/dashboards.md says how the page was measured then):
    nice python bench/dashboard.py --participants 100000 --requests 15 --database-name dashboard_bench_100k \
        --effects-bootstrap 10

Builds a database (`--database-name` on the server of DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/postgres) holding a study of 20 waves, 10 seven-point attitude
items plus an attention check, 3 arms and 2 groups (sides), and keeps it: a later run with the
same `--participants` measures it again without building (`--rebuild` builds anew, `--reuse`
measures whatever it holds). The participants, their personal links, submissions and answers
are made inside PostgreSQL (`panel_seed.load_panel`: INSERT ... SELECT generate_series, seeded;
attrition, skipped waves, "don't know", unfinished, fast, straight-lined and careless
submissions), around the write path, so the panel counts it keeps are counted once from them
(`surveys.summaries.recount_study`, as `manage.py recount_panel` does after a restore). The
stored results are the real ones: every wave's indices through the pipeline's own service
(`compute_wave_indices`, which stores the dashboard tables and quality flags beside them), then
the effects (`compute_study_effects`) and the study report (`build_study_report`), with fewer
resamples than the pipeline's 1000 (`--bootstrap`, `--effects-bootstrap`) to build quickly: the
pages read the same rows either way.

Then it requests every page `--requests` times through Django's test client in this process (a
logged-in owner; the connection is kept, as production's CONN_MAX_AGE does) and prints p50/p95
of the server time per page (wall clock), with the CPU time of this process and the time spent
in SQL (p50) and their sum per request (p50, p95; on a busy machine wall time grows with the
load, CPU time much less), the number of SQL queries and the response size. Prints figures;
asserts nothing about time (target: p95 under 150 ms per page, and at 100,000 participants at
most twice the time at 1,000).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scratch_db import bench_url, database_exists, recreate_database  # noqa: E402

WAVES, ITEMS, INTERVENTION_WAVE = 20, 10, 5
ARMS = (("control", 1.0), ("contact", 1.0), ("norms", 1.0))




def build(participants: int, *, bootstrap: int = 50, effects_bootstrap: int = 20):
    """The study, its answers and its stored results; returns (study, researcher)."""
    from unittest import mock

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone
    from panel_seed import PanelDesign, load_panel

    from analysis.models import EffectEstimate, IndexResult
    from analysis.pipeline import provenance
    from analysis.pipeline.effects import compute_study_effects
    from analysis.pipeline.indices import compute_wave_indices
    from analysis.report.build import build_study_report
    from surveys import summaries
    from surveys.models import Arm, ConsentVersion, Intervention, Item, Membership, Study, Wave

    t0 = time.perf_counter()
    now = timezone.now()
    study = Study.objects.create(slug="bench", title="Dashboard benchmark", status="active",
                                 primary_outcome="mad_pairwise")
    consent = ConsentVersion.objects.create(study=study, version=1, text={"en": "ok"})
    Item.objects.create(study=study, code="side", prompt={"en": "side"}, kind="choice", role="grouping",
                        scale_min=1, scale_max=2, step=1, labels={"en": {"1": "left", "2": "right"}})
    items = [Item.objects.create(study=study, code=f"q{i}", prompt={"en": f"q{i}"}, scale_min=1, scale_max=7,
                                 step=1, order=i + 1, reverse_coded=i % 4 == 3) for i in range(ITEMS)]
    attention = Item.objects.create(study=study, code="attention", prompt={"en": "choose 3"}, role="attention",
                                    scale_min=1, scale_max=7, step=1, expected_answer=3, order=99)
    arms = [Arm.objects.create(study=study, name=name, is_control=name == "control") for name, _w in ARMS]
    start = now - timezone.timedelta(days=7 * WAVES)
    waves = [Wave.objects.create(study=study, number=n, opens_at=start + timezone.timedelta(days=7 * (n - 1)),
                                 closes_at=start + timezone.timedelta(days=7 * n), state="closed")
             for n in range(1, WAVES + 1)]
    for arm in arms[1:]:
        Intervention.objects.create(wave=waves[INTERVENTION_WAVE - 1], arm=arm, content={"en": "note"})
    user = get_user_model().objects.create_user("bench", password="bench-password-123", is_staff=True)
    Membership.objects.create(study=study, user=user, role="owner")
    design = PanelDesign(study_id=study.pk, consent_id=consent.pk, arm_ids=tuple(a.pk for a in arms),
                         waves=tuple((w.pk, w.number) for w in waves),
                         items=tuple((i.pk, i.reverse_coded) for i in items), grouping_code="side",
                         attention_id=attention.pk, intervention_wave=INTERVENTION_WAVE)
    with transaction.atomic(), connection.cursor() as cursor:
        counts = load_panel(cursor, design, participants=participants)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    summaries.recount_study(study.pk)  # rows loaded around the write path
    print(f"loaded in {load_s:.1f} s: {counts['participants']:,} participants, {counts['submissions']:,} "
          f"submissions, {counts['answers']:,} answers; panel counts {time.perf_counter() - t0:.1f} s", flush=True)

    # Stored results through the pipeline's own services (what a worker runs), with fewer
    # resamples to build quickly: the pages read the same rows either way.
    t0 = time.perf_counter()
    with mock.patch.dict(provenance.INDEX_PARAMETERS, {"bootstrap": bootstrap}), \
            mock.patch.dict(provenance.EFFECT_PARAMETERS, {"bootstrap": effects_bootstrap,
                                                           "permutations": effects_bootstrap}), \
            mock.patch("analysis.pipeline.enqueue.request_study_effects"):  # once, below
        for wave in waves:
            compute_wave_indices(study_id=study.pk, wave_id=wave.pk, force=True)
        indices_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        compute_study_effects(study_id=study.pk)
    effects_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_study_report(study_id=study.pk)  # what the report page shows
    print(f"report built in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"{IndexResult.objects.count():,} stored indices ({indices_s:.1f} s), "
          f"{EffectEstimate.objects.count():,} effect estimates ({effects_s:.1f} s)", flush=True)
    return study, user


def fill_dashboard_tables(study) -> None:
    """A database built before the dashboard tables, the quality flags or the panel counts
    existed: store them as the pipeline and the write path would."""
    from django.db import transaction

    from analysis.models import AnalysisRun, FlaggedParticipantCount, StudyReport, SubmissionQuality
    from analysis.pipeline.dashboard_store import store_wave_dashboard, wave_dashboard_stored
    from analysis.pipeline.inputs import read_study_items, wave_answers_frame
    from analysis.pipeline.quality_store import recount_flagged, store_wave_quality
    from analysis.report.build import build_study_report
    from surveys import summaries
    from surveys.models import Wave

    t0 = time.perf_counter()
    for wave in Wave.objects.filter(study=study).order_by("number"):
        run = AnalysisRun.objects.filter(wave=wave, kind="indices", status="done").order_by("-id").first()
        if run is not None and not wave_dashboard_stored(wave_id=wave.pk):
            with transaction.atomic():
                if SubmissionQuality.objects.filter(wave=wave).exists():  # only the quality flags are missing
                    store_wave_quality(run=run, wave=wave)
                else:
                    store_wave_dashboard(run=run, wave=wave, items=read_study_items(study_id=study.pk),
                                         answers=wave_answers_frame(study_id=study.pk, wave_id=wave.pk))
    if summaries.read_panel_counts(study_id=study.pk) is None:
        summaries.recount_study(study.pk)
    if not FlaggedParticipantCount.objects.filter(study=study).exists():  # a database from before the count
        recount_flagged(study_id=study.pk)
    if not StudyReport.objects.filter(study=study).exists():
        build_study_report(study_id=study.pk)
    print(f"stored tables checked and filled in {time.perf_counter() - t0:.1f} s")


def measure(study, user, requests: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    base = f"/studies/{study.slug}/"
    pages = [
        ("study list", "/studies/"),
        ("overview", base),
        ("trends (arms, pooled)", f"{base}trends/"),
        ("trends (side, one item)", f"{base}trends/?grouping=side&item=q3&index=mean"),
        ("distributions", f"{base}distributions/"),
        ("effects", f"{base}effects/"),
        ("quality", f"{base}quality/"),
        ("attrition", f"{base}attrition/"),
        ("text", f"{base}text/"),
        ("glossary", f"{base}glossary/"),
        ("report", f"{base}report/"),
        ("trends CSV", f"{base}trends/?format=csv&chart=trend"),
    ]
    print(f"\n{'page':26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8} {'sql p50':>8} {'c+s p50':>8} "
          f"{'c+s p95':>8} {'queries':>8} {'KB':>7}")
    for name, url in pages:
        assert client.get(url).status_code == 200, url  # warm-up (imports, template compilation)
        times, cpu, sql = [], [], []
        for _ in range(requests):
            with CaptureQueriesContext(connection) as queries:
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        # CPU of this process plus time waiting for SQL: the server's own work, which the load of
        # a shared machine inflates much less than wall time.
        work = sorted(c + s for c, s in zip(cpu, sql, strict=True))
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        work95 = work[min(len(work) - 1, int(round(0.95 * (len(work) - 1))))]
        print(f"{name:26} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} {statistics.median(cpu):8.1f} "
              f"{statistics.median(sql):8.1f} {statistics.median(work):8.1f} {work95:8.1f} {len(queries):8d} "
              f"{len(response.content) / 1024:7.0f}")
    print(f"\nload average during the run: {os.getloadavg()[0]:.2f} (1 min), CPUs: {os.cpu_count()}")


def existing_participants(url: str) -> int | None:
    """The number of participants of the benchmark study in the database at `url`, if any."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM surveys_participant p JOIN surveys_study s"
                               " ON s.id = p.study_id WHERE s.slug = 'bench'").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row and row[0] else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--database-name", default="dashboard_bench",
                        help="the benchmark database: reused when it holds the study of --participants, "
                             "else (re)built")
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it holds the study")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database the last run built, whatever its size")
    parser.add_argument("--bootstrap", type=int, default=50,
                        help="resamples of the stored indices while building (the pipeline's: 1000)")
    parser.add_argument("--effects-bootstrap", type=int, default=20,
                        help="resamples and permutations of the stored effects while building (the pipeline's: 1000)")
    args = parser.parse_args()

    name = args.database_name
    url = bench_url(args.database_url, name)
    held = existing_participants(url) if database_exists(args.database_url, name) else None
    reuse = not args.rebuild and held is not None and (args.reuse or held == args.participants)
    if not reuse:
        recreate_database(args.database_url, name)
    else:
        print(f"reusing {name} ({held:,} participants)")
    os.environ["DATABASE_URL"] = url
    os.environ["DATABASE_CONN_MAX_AGE"] = "60"  # as in production: no reconnect per request
    os.environ["DJANGO_DEBUG"] = "false"  # as in production: no query log, no debug templates
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if reuse:
        from django.contrib.auth import get_user_model

        from surveys.models import Study

        study, user = Study.objects.get(slug="bench"), get_user_model().objects.get(username="bench")
        call_command("migrate", verbosity=0)
        fill_dashboard_tables(study)
    else:
        call_command("migrate", verbosity=0)
        study, user = build(args.participants, bootstrap=args.bootstrap, effects_bootstrap=args.effects_bootstrap)
    measure(study, user, args.requests)


if __name__ == "__main__":
    main()
