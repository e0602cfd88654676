"""Researcher pages of a running panel (login required; a non-member gets 404, `common.access`
decides): attrition per wave and arm with the at-risk list, and the CSV of Prolific ids that
completed a wave."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common import access, csvsafe
from surveys import attrition

PROLIFIC_COLUMNS = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "completed_at", "withdrawn"]


@login_required
@require_GET
def study_attrition(request, slug: str):
    study = access.get_member_study(request.user, slug)
    return render(request, "surveys/attrition.html",
                  {"study": study, "page": "attrition", **attrition.attrition_context(
                      study, at_risk_limit=None,
                      participant_level=access.may_read_participant_data(request.user, study))})


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
