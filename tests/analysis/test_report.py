"""The study report: built by a worker from stored results into one self-contained HTML file."""

import re

import pytest

from analysis.models import AnalysisPlan, AnalysisRun, EffectEstimate, StudyReport
from analysis.report.build import build_study_report
from analysis.stats.plan import Plan, PlannedOutcome
from surveys.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(demo_study):
    AnalysisPlan.objects.create(study=demo_study, content=Plan(outcomes=(PlannedOutcome("mad_pairwise"),)).to_dict(),
                                frozen_at=demo_study.created_at, frozen_hash="a" * 64)
    run = build_study_report(study_id=demo_study.pk)
    return demo_study, run


def test_the_report_holds_every_section_from_stored_results_and_no_cdn(built):
    study, run = built
    assert run.status == "done" and run.kind == "report"
    html = StudyReport.objects.get(study=study).html
    for section in ("design", "enrolment", "quality", "trends", "effects", "glossary", "provenance"):
        assert f'<section id="{section}">' in html
    assert "Agreement A (van der Eijk)" in html and "Pairwise distance (MAD)" in html  # glossary of indices used
    assert "a" * 64 in html  # the frozen plan's hash
    assert "Difference in differences of the index" in html  # the method in plain words
    # plotly.js inlined, nothing fetched from elsewhere
    assert "Plotly" in html and len(html) > 3_000_000
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    outside_plotly = html.split("<script>")[0]
    assert "http" not in outside_plotly.replace("https://www.w3.org", "")
    # provenance: the runs it was built from
    effects = AnalysisRun.objects.filter(study=study, kind="effects", status="done").latest("finished_at")
    assert f"Effects run {effects.pk}" in html and run.parameters["effects_run"] == effects.pk
    # planned and exploratory apart: the pooled mad_pairwise DiD of the intervention arm is planned
    planned = html.split('<h3 id="planned">')[1].split('<h3 id="exploratory">')[0]
    stored = EffectEstimate.objects.filter(study=study, is_primary=True, wave__isnull=True, sample="all", group="all")
    assert stored.exists() and planned.count("<tr><td>intervention</td>") == stored.count()
    assert "Pairwise distance (MAD)" in planned and ">nan<" not in html


def test_an_unchanged_study_skips_the_rebuild(built):
    study, first = built
    again = build_study_report(study_id=study.pk)
    assert again.status == "skipped" and StudyReport.objects.filter(study=study).count() == 1


def test_members_read_the_report_and_only_who_may_recompute_queue_a_build(client, built):
    study, run = built
    viewer = MembershipFactory(study=study, role=Membership.Role.VIEWER).user
    client.force_login(viewer)
    page = client.get(f"/studies/{study.slug}/report/")
    assert page.status_code == 200 and b"Download (HTML)" in page.content
    download = client.get(f"/studies/{study.slug}/report/download/")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert download.content.decode() == StudyReport.objects.get().html
    framed = client.get(f"/studies/{study.slug}/report/view/")
    assert "sandbox allow-scripts" in framed["Content-Security-Policy"]
    assert client.post(f"/studies/{study.slug}/report/build/").status_code == 403
    client.force_login(MembershipFactory(study=study, role=Membership.Role.ANALYST).user)
    assert client.post(f"/studies/{study.slug}/report/build/").status_code == 302
    queued = AnalysisRun.objects.filter(study=study, kind="report").latest("created_at")
    assert queued.status in ("queued", "running", "done", "skipped")  # eager in tests
    stranger = MembershipFactory().user
    client.force_login(stranger)
    assert client.get(f"/studies/{study.slug}/report/download/").status_code == 404


def test_the_report_page_shows_progress_while_a_build_is_queued(client, owner, study):
    AnalysisRun.objects.create(study=study, kind="report", status="queued")
    client.force_login(owner)
    page = client.get(f"/studies/{study.slug}/report/").content.decode()
    assert 'http-equiv="refresh"' in page and "waiting for a worker" in page
    assert client.get(f"/studies/{study.slug}/report/download/").status_code == 404
