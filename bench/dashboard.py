"""Benchmark: server time of each researcher dashboard page in PostgreSQL.

    python bench/dashboard.py [--participants 20000] [--requests 30] [--database-url URL]
        [--database-name dashboard_bench] [--reuse]

    # the size of a national panel (about 16 million answers; builds in about an hour on two
    # busy cores, needs about 6 GB of memory while building and 5 GB of disk):
    nice python bench/dashboard.py --participants 100000 --requests 15 --database-name dashboard_bench_100k

Builds a throwaway database (`dashboard_bench` on the server of DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/postgres) holding a study of 20 waves, 10 seven-point
attitude items plus an attention check, 3 arms and 2 groups (sides), simulated with
`analysis.stats.simulate` (attrition, an intervention from wave 5) and loaded with COPY. Its
stored results are the real ones in shape: the indices of every wave (`wave_index_frame`, 50
bootstrap resamples instead of 1000 to build fast: the pages read the same rows either way), the
dashboard tables stored beside them (`store_wave_dashboard`, as the pipeline does) and the effects
(`estimate_effects`, 20 resamples and permutations). The answers are loaded with COPY, around the
write path, so the panel counts the write path keeps are counted once from them
(`surveys.summaries.recount_study`), as `manage.py recount_panel` does after a restore. Then it
requests every page
`--requests` times through Django's test client in this process (a logged-in member; the
connection is kept, as production's CONN_MAX_AGE does) and prints p50/p95 of the server time
per page (wall clock), with the CPU time of this process and the time spent in SQL (p50) and
their sum per request (p50, p95; on a busy machine wall time grows with the load, CPU time much
less), the number of SQL queries and the response size. Prints figures; asserts nothing
about time (target: p95 under 150 ms per page). `--reuse` measures the database the last run
built instead of building it again (migrating it and storing the dashboard tables if missing).
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scratch_db import bench_url, recreate_database  # noqa: E402

WAVES, ITEMS, INTERVENTION_WAVE = 20, 10, 5
ARMS = (("control", 1.0), ("contact", 1.0), ("norms", 1.0))




def copy_rows(cursor, sql: str, rows) -> None:
    with cursor.connection.cursor().copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def build(participants: int):
    """The study, its answers and its stored results; returns (study, researcher)."""
    import pandas as pd
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from analysis.models import AnalysisRun, EffectEstimate, IndexResult
    from analysis.pipeline.dashboard_store import store_wave_dashboard
    from analysis.pipeline.indices import wave_index_frame
    from analysis.pipeline.inputs import read_study_items
    from analysis.stats.effects import estimate_effects
    from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel
    from analysis.stats.tables import Scale
    from surveys import summaries
    from surveys.models import Arm, ConsentVersion, Intervention, Item, Membership, Study, Wave

    t0 = time.perf_counter()
    spec = PanelSpec(n_participants=participants, n_waves=WAVES, arms=ARMS, intervention_wave=INTERVENTION_WAVE,
                     items=tuple(ItemSpec(f"q{i}", loading=-1.0 if i % 4 == 3 else 1.0) for i in range(ITEMS)),
                     attrition_per_wave=0.02)
    panel = simulate_panel(spec, seed=1)
    now = timezone.now()
    study = Study.objects.create(slug="bench", title="Dashboard benchmark", status="active",
                                 primary_outcome="mad_pairwise")
    consent = ConsentVersion.objects.create(study=study, version=1, text={"en": "ok"})
    Item.objects.create(study=study, code="side", prompt={"en": "side"}, kind="choice", role="grouping",
                        scale_min=1, scale_max=2, step=1, labels={"en": {"1": "left", "2": "right"}})
    items = {s.code: Item.objects.create(study=study, code=s.code, prompt={"en": s.code}, scale_min=1, scale_max=7,
                                         step=1, order=i + 1, reverse_coded=s.loading < 0)
             for i, s in enumerate(spec.items)}
    attention = Item.objects.create(study=study, code="attention", prompt={"en": "choose 3"}, role="attention",
                                    scale_min=1, scale_max=7, step=1, expected_answer=3, order=99)
    arms = {name: Arm.objects.create(study=study, name=name, is_control=name == "control") for name, _w in ARMS}
    start = now - timezone.timedelta(days=7 * WAVES)
    waves = {n: Wave.objects.create(study=study, number=n, opens_at=start + timezone.timedelta(days=7 * (n - 1)),
                                    closes_at=start + timezone.timedelta(days=7 * n), state="closed")
             for n in range(1, WAVES + 1)}
    for name, arm in arms.items():
        if name != "control":
            Intervention.objects.create(wave=waves[INTERVENTION_WAVE], arm=arm, content={"en": "note"})
    user = get_user_model().objects.create_user("bench", password="bench-password-123", is_staff=True)
    Membership.objects.create(study=study, user=user, role="owner")

    people = panel.participants
    side_value = {"left": 1, "right": 2}
    rng = np.random.default_rng(2)
    with connection.cursor() as cursor:
        copy_rows(cursor, "COPY surveys_participant (study_id, public_id, external_id, external_study_id, arm_id,"
                          " language, groups, joined_at, consented_at, consent_version_id, is_preview) FROM STDIN",
                  ((study.pk, f"B{i:09d}", "", "", arms[row.arm].pk, "en", f'{{"side": {side_value[row.group]}}}',
                    start, start, consent.pk, False) for i, row in enumerate(people.itertuples(index=False))))
        cursor.execute("SELECT public_id, id FROM surveys_participant WHERE study_id = %s", [study.pk])
        pk_of = dict(cursor.fetchall())
        sim_to_pk = {sim: pk_of[f"B{i:09d}"] for i, sim in enumerate(people["participant"])}
        answered = panel.answers[["participant", "wave"]].drop_duplicates()
        durations = rng.lognormal(np.log(180), 0.4, len(answered))
        copy_rows(cursor, "COPY surveys_submission (participant_id, wave_id, started_at, completed_at,"
                          " duration_seconds, item_order, page, saw_intervention, user_agent_family,"
                          " external_session_id) FROM STDIN",
                  ((sim_to_pk[p], waves[int(w)].pk, waves[int(w)].opens_at,
                    waves[int(w)].opens_at + timezone.timedelta(seconds=float(d)), float(d), "[]", 0, False, "", "")
                   for (p, w), d in zip(answered.itertuples(index=False), durations, strict=True)))
        cursor.execute("SELECT participant_id, wave_id, id FROM surveys_submission WHERE wave_id = ANY(%s)",
                       [[w.pk for w in waves.values()]])
        submission_of = {(p, w): s for p, w, s in cursor.fetchall()}
        buffer = io.StringIO()
        answers = panel.answers
        for p, w, item, value in answers[["participant", "wave", "item", "value"]].itertuples(index=False):
            sub = submission_of[(sim_to_pk[p], waves[int(w)].pk)]
            if value == value:
                buffer.write(f"{sub}\t{items[item].pk}\t{value}\t\t\t{now.isoformat()}\n")
            else:
                buffer.write(f"{sub}\t{items[item].pk}\t\\N\t\tdont_know\t{now.isoformat()}\n")
        for sub in submission_of.values():
            check = 3 if rng.random() < 0.95 else int(rng.integers(4, 8))
            buffer.write(f"{sub}\t{attention.pk}\t{check}\t\t\t{now.isoformat()}\n")
        buffer.seek(0)
        with cursor.connection.cursor().copy(
                "COPY surveys_response (submission_id, item_id, value, text, missing, answered_at) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        cursor.execute("ANALYZE")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    summaries.recount_study(study.pk)  # rows loaded around the write path
    print(f"panel counts: {time.perf_counter() - t0:.1f} s")

    # Stored results, as the pipeline stores them (fewer resamples to build quickly).
    t0 = time.perf_counter()
    frame = answers.assign(participant=answers["participant"].astype(str), item=answers["item"].astype(str))
    frame = frame.merge(people[["participant", "arm", "group"]].astype(str), on="participant")
    frame["side"] = frame.pop("group").map(lambda g: str(side_value[g]))
    from analysis.pipeline.inputs import ItemScale

    scales = {code: ItemScale(code, 1, 7, 1, item.reverse_coded) for code, item in items.items()}
    study_items = read_study_items(study_id=study.pk)  # grouping "side", the attention check
    rows = []
    for number, wave in waves.items():
        run = AnalysisRun.objects.create(study=study, wave=wave, kind="indices", status="done", finished_at=now)
        table = wave_index_frame(frame[frame["wave"] == number], scales=scales, grouping=["side"], seed=number,
                                 bootstrap=50, level=0.95)
        # The answer counts and submission quality the pipeline stores beside the indices.
        store_wave_dashboard(run=run, wave=wave, answers=frame[frame["wave"] == number], items=study_items)
        for item, group, index, value, low, high, n in table[
                ["item", "group", "index", "value", "ci_low", "ci_high", "n"]].itertuples(index=False):
            rows.append(IndexResult(study=study, wave=wave, item=None if pd.isna(item) else items[item], group=group,
                                    index=index, value=_finite(value), ci_low=_finite(low), ci_high=_finite(high),
                                    n=0 if pd.isna(n) else int(n), computed_at=now, run=run))
    IndexResult.objects.bulk_create(rows, batch_size=5000)
    indices_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    effects = estimate_effects(frame, arm_column="arm", control="control", intervention_wave=INTERVENTION_WAVE,
                               scales={code: Scale(1, 7, 1) for code in items}, by="side", seed=3,
                               bootstrap=20, permutations=20, primary_outcome="mad_pairwise")
    run = AnalysisRun.objects.create(study=study, kind="effects", status="done", finished_at=now)
    EffectEstimate.objects.bulk_create([
        EffectEstimate(study=study, arm=arms[r["arm"]], outcome=r["outcome"],
                       item=items.get(r["item"]) if isinstance(r["item"], str) else None,
                       wave=None if r["wave"] == "pooled" else waves[int(r["wave"])], method=r["method"],
                       group=r.get("group") or "all", sample=r.get("sample") or "all",
                       estimate=_finite(r["estimate"]), se=_finite(r["se"]), ci_low=_finite(r["ci_low"]),
                       ci_high=_finite(r["ci_high"]), p_value=_finite(r["p_value"]), p_holm=_finite(r["p_holm"]),
                       p_ri=_finite(r.get("p_ri")), n=int(r["n"]), attrition_warning=bool(r["attrition_warning"]),
                       is_primary=bool(r["primary"]), run=run)
        for r in effects.frame.to_dict("records")
    ], batch_size=5000)
    effects_s = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built in {load_s:.1f} s: {participants:,} participants, {len(answers):,} answers, "
          f"{len(submission_of):,} submissions; {IndexResult.objects.count():,} stored indices ({indices_s:.1f} s), "
          f"{EffectEstimate.objects.count():,} effect estimates ({effects_s:.1f} s)")
    return study, user


def fill_dashboard_tables(study) -> None:
    """A database built before the dashboard tables, the quality flags or the panel counts
    existed: store them as the pipeline and the write path would."""
    from django.db import transaction

    from analysis.models import AnalysisRun, SubmissionQuality
    from analysis.pipeline.dashboard_store import store_wave_dashboard, wave_dashboard_stored
    from analysis.pipeline.inputs import read_study_items, wave_answers_frame
    from analysis.pipeline.quality_store import store_wave_quality
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
    print(f"stored tables checked and filled in {time.perf_counter() - t0:.1f} s")


def _finite(value):
    import math

    return None if value is None or value != value or not math.isfinite(value) else float(value)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--database-name", default="dashboard_bench",
                        help="the throwaway database to build (dropped and created again unless --reuse)")
    parser.add_argument("--reuse", action="store_true", help="measure the database the last run built")
    args = parser.parse_args()

    name = args.database_name
    if not args.reuse:
        recreate_database(args.database_url, name)
    os.environ["DATABASE_URL"] = bench_url(args.database_url, name)
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
    if args.reuse:
        from django.contrib.auth import get_user_model

        from surveys.models import Study

        study, user = Study.objects.get(slug="bench"), get_user_model().objects.get(username="bench")
        call_command("migrate", verbosity=0)
        fill_dashboard_tables(study)
    else:
        call_command("migrate", verbosity=0)
        study, user = build(args.participants)
    measure(study, user, args.requests)


if __name__ == "__main__":
    main()
