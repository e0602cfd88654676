"""Researcher pages: login required, members only (404 otherwise), the analysis state shown."""

import pytest

from analysis.models import AnalysisRun
from tests.factories import MembershipFactory, StudyFactory, SubmissionFactory, WaveFactory

pytestmark = pytest.mark.django_db


PAGES = ("", "trends/", "distributions/", "effects/", "quality/", "glossary/", "plan/", "report/")


def test_pages_need_a_login(client, study):
    for url in ("/studies/", *[f"/studies/{study.slug}/{page}" for page in PAGES],
                f"/studies/{study.slug}/trends/?format=csv&chart=trend"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    for url in (f"/studies/{study.slug}/recompute/", f"/studies/{study.slug}/quality/exclude/"):
        response = client.post(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_every_page_answers_a_member_and_hides_the_study_from_anyone_else(client):
    from tests.analysis.test_dashboards import build_dashboard_study

    dash = build_dashboard_study()
    client.force_login(dash.owner)
    for page in PAGES:
        response = client.get(f"/studies/dash/{page}")
        assert response.status_code == 200, page
        assert b"Dashboards" in response.content
    outsider = MembershipFactory(study=StudyFactory(slug="elsewhere")).user
    client.force_login(outsider)
    for page in PAGES:
        assert client.get(f"/studies/dash/{page}").status_code == 404, page
        assert client.get(f"/studies/dash/{page}?format=csv&chart=trend").status_code == 404, page
    response = client.post("/studies/dash/quality/exclude/", {"participants": ["P3"], "reason": "x"})
    assert response.status_code == 404
    assert b"Dashboards" not in client.get("/studies/").content


def test_a_researcher_sees_only_member_studies(client, owner, study):
    other = StudyFactory(slug="not-mine", title="Not mine")
    client.force_login(owner)
    listing = client.get("/studies/").content.decode()
    assert study.title in listing and "Not mine" not in listing
    assert client.get(f"/studies/{other.slug}/").status_code == 404
    assert client.post(f"/studies/{other.slug}/recompute/").status_code == 404


def test_the_overview_shows_waves_response_rates_and_a_failed_run(client, owner, study):
    wave = WaveFactory(study=study, number=1)
    SubmissionFactory(participant__study=study, wave=wave, completed_at=wave.opens_at.replace(year=2100))
    SubmissionFactory(participant__study=study, wave=wave)
    AnalysisRun.objects.create(study=study, wave=wave, kind="indices", status="failed", error="ValueError: boom",
                               finished_at=wave.opens_at)
    client.force_login(owner)
    page = client.get(f"/studies/{study.slug}/").content.decode()
    assert "50%" in page  # 1 of 2 enrolled participants completed wave 1
    assert "ValueError: boom" in page and "Recompute" in page


def test_a_viewer_cannot_recompute(client, study):
    viewer = MembershipFactory(study=study, role="viewer").user
    client.force_login(viewer)
    assert "Recompute</button>" not in client.get(f"/studies/{study.slug}/").content.decode()
    assert client.post(f"/studies/{study.slug}/recompute/").status_code == 403
    assert not AnalysisRun.objects.exists()


def test_every_page_of_a_study_without_answers_or_results_renders(client, owner, study):
    from tests.factories import ArmFactory, ItemFactory

    ItemFactory(study=study, code="q1")
    ArmFactory(study=study, name="control", is_control=True)
    WaveFactory(study=study, number=1)
    client.force_login(owner)
    for page in PAGES:
        response = client.get(f"/studies/{study.slug}/{page}")
        assert response.status_code == 200, page
    assert b"Not computed yet" in client.get(f"/studies/{study.slug}/trends/").content
    assert b"No participant is flagged" in client.get(f"/studies/{study.slug}/quality/").content
