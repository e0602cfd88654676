"""The study report pages: `/studies/<slug>/report/` shows the latest report built by a worker
(or its progress) and lets a member who may recompute queue a new build; `download/` is the
self-contained HTML file; `view/` serves it to the page's frame, sandboxed. No request builds
a report."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from analysis.models import ACTIVE_STATUSES, AnalysisRun, StudyReport
from analysis.pipeline.enqueue import request_study_report
from common import access

#: The stored report runs its own inline scripts (plotly.js and the drawing code): served in a
#: sandbox without same-origin rights, it can reach neither the site's cookies nor the network.
REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
              "img-src data: blob:; font-src data:; sandbox allow-scripts allow-modals allow-popups")


def _latest(study) -> StudyReport | None:
    return StudyReport.objects.filter(study=study).select_related("run").first()


@login_required
def study_report(request, slug: str):
    study = access.get_member_study(request.user, slug)
    run = (AnalysisRun.objects.filter(study=study, kind=AnalysisRun.Kind.REPORT).defer("parameters", "exclusions_applied")
           .order_by("-created_at", "-id").first())
    # the page shows when and from which run the report was built, not the file (megabytes)
    latest = StudyReport.objects.filter(study=study).defer("html").first()
    context = {"study": study, "page": "report", "report": latest, "run": run,
               "building": run is not None and run.status in ACTIVE_STATUSES,
               "can_build": access.may_recompute(request.user, study)}
    return render(request, "analysis/report/page.html", context)


@login_required
@require_POST
def study_report_build(request, slug: str):
    study = access.get_member_study(request.user, slug, roles=access.may_recompute)
    request_study_report(study_id=study.pk)
    messages.success(request, "The report is being built; this page shows it when it is ready.")
    return redirect("study-report", slug=study.slug)


def _stored(request, slug: str) -> tuple[object, StudyReport]:
    study = access.get_member_study(request.user, slug)
    report = _latest(study)
    if report is None:
        raise Http404("No report has been built for this study yet.")
    return study, report


@login_required
def study_report_download(request, slug: str):
    study, report = _stored(request, slug)
    response = HttpResponse(report.html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="{study.slug}-report-'
                                       f'{report.created_at:%Y%m%d-%H%M}.html"')
    response["Content-Security-Policy"] = REPORT_CSP
    return response


@login_required
@xframe_options_sameorigin
def study_report_view(request, slug: str):
    _study, report = _stored(request, slug)
    response = HttpResponse(report.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = REPORT_CSP
    return response
