"""Researcher pages (login required; a non-member gets 404). Thin: read stored results, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from surveys.models import Study

from . import selectors
from .services import recompute_study


def member_study(request, slug: str) -> Study:
    return get_object_or_404(Study.objects.for_user(request.user), slug=slug)


@login_required
def study_list(request):
    studies = selectors.list_study_summaries(user=request.user)
    return render(request, "analysis/study_list.html", {"studies": studies})


@login_required
def study_overview(request, slug: str):
    study = member_study(request, slug)
    context = {
        "study": study,
        "waves": selectors.list_wave_summaries(study_id=study.pk),
        "analysis": selectors.get_analysis_state(study_id=study.pk),
        "can_recompute": selectors.user_may_recompute(user=request.user, study=study),
    }
    return render(request, "analysis/study_overview.html", context)


@login_required
@require_POST
def study_recompute(request, slug: str):
    study = member_study(request, slug)
    if not selectors.user_may_recompute(user=request.user, study=study):
        return HttpResponseForbidden("Only owners and analysts may recompute.")
    runs = recompute_study(study_id=study.pk)
    messages.success(request, f"Recompute queued for {len(runs)} wave(s).")
    return redirect("study-overview", slug=study.slug)

