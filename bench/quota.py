"""Benchmark: the quota check and the overview's enrolment table, from the stored stratum counts
and (for comparison) from the participants' rows, in PostgreSQL.

    python bench/quota.py [--participants 100000] [--repeats 20]
        [--database-url postgres://postgres@127.0.0.1:5432/quota_bench] [--admin-database postgres]

Recreates the database of `--database-url` (connected to `--admin-database` for that), migrates it and loads one study with
`--participants` enrolled participants (grouping answers `side` 1|2 and `region` 1..5, 1%
withdrawn, 1% turned away), inserted inside PostgreSQL around the write path and then counted
once (`summaries.recount_study`). Then, `--repeats` times each: `enrolment.full_quota` (what
every baseline runs under the study-row lock) from the stored counts and from the rows (the
former count per quota), `enrolment.overview` (the study page's enrolment table), and a whole
baseline of a new participant (`services.record_baseline`: the quota check, the stratum count,
the arm). Prints p50/p95 in ms and the queries of each. Asserts nothing about time.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scratch_db import recreate_database  # noqa: E402

QUOTAS = {"side": {"1": 60000, "2": 60000}, "region": {str(r): 25000 for r in range(1, 6)}}


def raw_full_quota(study, groups):
    """`full_quota` as it was: one COUNT over the enrolled participants per quota."""
    from surveys import enrolment

    for code, caps in sorted((study.quotas or {}).items()):
        value = groups.get(code)
        if value is not None and str(value) in caps and \
                enrolment.enrolled(study).filter(**{f"groups__{code}": value}).count() >= int(caps[str(value)]):
            return f"{code}={value}"
    return None


def build(participants: int):
    from django.db import connection, transaction

    from surveys import summaries
    from surveys.models import Arm, ConsentVersion, Item, Study

    study = Study.objects.create(slug="quota", title="Quota benchmark", status="active")
    consent = ConsentVersion.objects.create(study=study, version=1, text={"en": "ok"})
    for order, (code, top) in enumerate((("side", 2), ("region", 5))):
        Item.objects.create(study=study, code=code, prompt={"en": code}, kind="choice", role="grouping", order=order,
                            scale_min=1, scale_max=top, step=1, labels={"en": {str(v): str(v) for v in range(1, top + 1)}})
    for name in ("control", "contact"):
        Arm.objects.create(study=study, name=name, is_control=name == "control")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO surveys_participant (study_id, public_id, external_id, external_study_id, language, groups,"
            " joined_at, consented_at, consent_version_id, is_preview, link_opened_at, join_key, link_emails_sent,"
            " withdrawn_at, screened_out_at)"
            " SELECT %(study)s, 'Q' || g, '', '', 'en',"
            " jsonb_build_object('side', 1 + g %% 2, 'region', 1 + g %% 5), now(), now(), %(consent)s, false,"
            " now(), '', 0, CASE WHEN g %% 100 = 7 THEN now() END, CASE WHEN g %% 100 = 8 THEN now() END"
            " FROM generate_series(1, %(n)s) AS g", {"study": study.pk, "consent": consent.pk, "n": participants})
    t0 = time.perf_counter()
    summaries.recount_study(study.pk)
    print(f"recount_study of {participants:,} participants: {time.perf_counter() - t0:.1f} s")
    Study.objects.filter(pk=study.pk).update(quotas=QUOTAS)
    study.refresh_from_db()
    return study, consent


def timed(label: str, repeats: int, action) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as sql:
            t0 = time.perf_counter()
            action()
            times.append((time.perf_counter() - t0) * 1000)
        queries = len(sql)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"{label:<44} p50 {statistics.median(times):8.2f} ms   p95 {p95:8.2f} ms   {queries} queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/quota_bench")
    parser.add_argument("--admin-database", default="postgres", help="where to connect to recreate the database")
    args = parser.parse_args()
    url = urlparse(args.database_url)
    recreate_database(url._replace(path=f"/{args.admin_database}").geturl(), url.path.lstrip("/"))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from surveys import enrolment, services
    from surveys.models import Participant

    study, consent = build(args.participants)
    groups = {"side": 1, "region": 3}
    assert enrolment.full_quota(study, groups) == raw_full_quota(study, groups)
    print(f"{args.participants:,} participants, quotas on {len(QUOTAS)} grouping items "
          f"({sum(len(c) for c in QUOTAS.values())} values)")
    timed("full_quota, stored counts", args.repeats, lambda: enrolment.full_quota(study, groups))
    timed("full_quota, raw rows (as before)", args.repeats, lambda: raw_full_quota(study, groups))
    timed("overview (enrolment table), stored counts", args.repeats, lambda: enrolment.overview(study))
    made = iter(range(args.repeats))

    def baseline():
        person = Participant.objects.create(study=study, public_id=f"N{next(made)}", consented_at=study.created_at,
                                            consent_version=consent)
        services.record_baseline(participant=person, answers=groups)

    timed("record_baseline of a newcomer (whole)", args.repeats, baseline)


if __name__ == "__main__":
    main()
