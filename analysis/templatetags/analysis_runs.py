"""`{% analysis_runs study %}`: the latest run of each of a study's analyses (queued, running,
done...), shown on every study page; while one is queued or running the page reloads itself
every few seconds (an HTML refresh, no JavaScript) and offers a Refresh link."""

from django import template

from analysis.models import ACTIVE_STATUSES
from analysis.pipeline.state import latest_runs

register = template.Library()

#: Seconds between reloads of a page while an analysis is queued or running.
REFRESH_SECONDS = 5


@register.inclusion_tag("analysis/_runs.html", takes_context=True)
def analysis_runs(context, study):
    runs = latest_runs(study_id=study.pk)
    return {"runs": runs, "active": any(run.status in ACTIVE_STATUSES for run in runs),
            "refresh_seconds": REFRESH_SECONDS, "request": context.get("request")}
