"""Project-wide views: health check."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means "not usable", reported not raised
        return "error"
    return "ok"


def _broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from disagreement.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # noqa: BLE001
        return "error"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    """200 with the state of the database, the broker and the analyses; 503 when the database is
    unusable. `degraded`: the broker is unreachable, or runs are queued or running longer than
    expected (`analysis.overdue`: lost by a worker or never delivered; the resend sweep sends
    them again)."""
    state = {"database": _database_state(), "broker": _broker_state()}
    state["status"] = "ok" if state["database"] == "ok" and state["broker"] != "error" else "degraded"
    if state["database"] == "ok":
        from analysis.pipeline.state import analysis_state

        state["analysis"] = analysis_state()
        if state["analysis"]["overdue"]:
            state["status"] = "degraded"
    return JsonResponse(state, status=200 if state["database"] == "ok" else 503)


_FAVICON = settings.BASE_DIR / "static" / "favicon.ico"


@require_GET
def favicon(request):
    """``/favicon.ico``: browsers ask for it on every page whatever the page links; our own icon
    (``static/favicon.ico``), cached for a day, never a 404."""
    response = HttpResponse(_FAVICON.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
