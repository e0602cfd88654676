"""Researcher pages: login required, members only (404 otherwise), the analysis state shown."""

import pytest

from analysis.models import AnalysisRun
from tests.factories import MembershipFactory, StudyFactory, SubmissionFactory, WaveFactory

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client, study):
    for url in ("/studies/", f"/studies/{study.slug}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


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
