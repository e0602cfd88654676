"""The state of the computations, for /healthz (every study) and a study's overview page."""

from django.db.models import Count, Q
from django.utils import timezone

from analysis.models import AnalysisRun
from analysis.pipeline.runs import lost_runs


def analysis_state(*, study_id: int | None = None) -> dict:
    """Counts of queued and running runs, of those overdue (`overdue`: a running run whose
    heartbeat stopped, a queued one not picked up in time; see `runs.lost_runs`), failures of the
    last day with the latest error, and when the last run finished and how; of one study, or of
    all (None). Four queries."""
    runs = AnalysisRun.objects.all() if study_id is None else AnalysisRun.objects.filter(study_id=study_id)
    runs = runs.order_by()
    since = timezone.now() - timezone.timedelta(days=1)
    failed = Q(status=AnalysisRun.Status.FAILED, finished_at__gte=since)
    state = runs.aggregate(queued=Count("id", filter=Q(status=AnalysisRun.Status.QUEUED)),
                           running=Count("id", filter=Q(status=AnalysisRun.Status.RUNNING)),
                           failed_last_day=Count("id", filter=failed))
    overdue = lost_runs() if study_id is None else lost_runs().filter(study_id=study_id)
    state["overdue"] = overdue.order_by().count()
    state["last_error"] = (runs.filter(failed).order_by("-finished_at").values_list("error", flat=True).first()
                           if state["failed_last_day"] else None)
    last = runs.filter(finished_at__isnull=False).order_by("-finished_at").values("finished_at", "status").first()
    state["last_finished_at"] = last["finished_at"].isoformat() if last else None
    state["last_status"] = last["status"] if last else None
    return state


def latest_runs(*, study_id: int, scan: int = 200) -> list[AnalysisRun]:
    """The latest run of each (kind, wave) of a study, effects first then waves in order, from
    its `scan` most recent runs (one query): what the dashboards show as queued / running / done."""
    latest: dict[tuple[str, int | None], AnalysisRun] = {}
    # Without the run's parameters and exclusions (the public ids of every excluded participant:
    # they grow with the study), which no page showing this reads.
    for run in (AnalysisRun.objects.filter(study_id=study_id).select_related("wave")
                .defer("parameters", "exclusions_applied").order_by("-created_at", "-id")[:scan]):
        latest.setdefault((run.kind, run.wave_id), run)
    return sorted(latest.values(), key=lambda run: (run.kind != "effects", run.wave.number if run.wave else 0))
