"""Researcher pages of a running panel (login required; a non-member gets 404, `common.access`
decides): attrition per wave and arm with the at-risk list, and the CSV of Prolific ids that
completed a wave."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common import access, csvsafe
from surveys import attrition, summaries

#: Participants at risk per page of the attrition page's list (earliest joiners first; the count is of all).
AT_RISK_LISTED = 100
PROLIFIC_COLUMNS = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "completed_at", "withdrawn"]


@login_required
@require_GET
def study_attrition(request, slug: str):
    study = access.get_member_study(request.user, slug)
    page = request.GET.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 1_000_000:
        return HttpResponseBadRequest("page must be a whole number from 1 (the at-risk list's page).",
                                      content_type="text/plain; charset=utf-8")
    panel = summaries.read_panel_counts(study_id=study.pk)  # kept by the write path; None: count raw rows
    context = attrition.attrition_context(
        study, at_risk_limit=AT_RISK_LISTED, panel=panel, at_risk_page=int(page),
        participant_level=access.may_read_participant_data(request.user, study))
    return render(request, "surveys/attrition.html", {"study": study, "page": "attrition", **context})


@never_cache
@login_required
@require_GET
def prolific_completions(request, slug: str, number: int):
    """Owners and analysts download the Prolific ids that completed wave `number` (identifying data)."""
    study = access.get_member_study(request.user, slug, roles=access.may_read_participant_data)
    wave = get_object_or_404(study.waves, number=number)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-wave{wave.number}-prolific-completed.csv"'
    writer = csvsafe.DictWriter(response, fieldnames=PROLIFIC_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in attrition.list_prolific_completions(wave=wave):
        writer.writerow(row)
    return response
