"""Reading the numbers in a real browser: the glossary, the effects page (comparable units,
placebo points, planned apart from exploratory, help links) and the study report (drawn
offline from the downloaded file, printed to PDF)."""

from urllib.parse import urlsplit

import pytest
from django.conf import settings

from analysis.models import AnalysisPlan
from analysis.report.build import build_study_report
from analysis.stats.plan import Plan, PlannedOutcome

from .conftest import check_accessibility, screenshot
from .test_dashboards import Watch, drawn_traces

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in(browser, live_server, demo_study):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/studies/")
    page.fill("#id_username", settings.DEMO_RESEARCHER_USERNAME)
    page.fill("#id_password", settings.DEMO_RESEARCHER_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit], input[type=submit]")
    yield page
    context.close()


def test_glossary_effects_and_report_read_well(signed_in, live_server, demo_study, tmp_path):
    page, base = signed_in, live_server.url
    watch = Watch(page)

    # The glossary: every index with its reading; reached from a chart's help link.
    page.goto(f"{base}/studies/demo/trends/")
    drawn_traces(page)
    with page.expect_navigation():
        page.click("#chart-trend a.chart-help")
    assert "/studies/demo/glossary/#" in page.url
    assert page.locator("#agreement_a").inner_text().startswith("Agreement A (van der Eijk)")
    assert "lower = more disagreement" in page.locator("main").inner_text()
    screenshot(page, "read-01-glossary")
    assert check_accessibility(page) == []

    # The effects page: the forest plot on one axis (shares of the possible range, raw values
    # beside the points), placebo points before the intervention, planned apart from exploratory.
    page.goto(f"{base}/studies/demo/effects/?item=threat&outcome=mad_pairwise")
    traces = drawn_traces(page)
    assert traces == {"individual": 1, "indices": 1, "waves": 1}
    axis = page.locator("#plot-indices .g-xtitle").text_content()
    assert "share of the outcome's possible range" in axis
    assert page.locator("#plot-indices .textpoint").count() > 0  # the raw values
    symbols = page.evaluate("document.getElementById('plot-waves')._fullData[0].marker.symbol")
    assert symbols[:2] == ["circle-open", "circle-open"]  # waves 1 and 2: placebo checks
    assert page.locator("#plot-waves .g-ytitle").text_content().startswith("effect on Pairwise distance (MAD)")
    assert page.locator("h3#planned").is_visible() and page.locator("h3#exploratory").is_visible()
    screenshot(page, "read-02-effects")
    assert check_accessibility(page) == []
    # The empty chart of a pooled answer-level outcome says why.
    page.goto(f"{base}/studies/demo/effects/?item=pooled&outcome=value")
    drawn_traces(page)
    assert "never pooled over items" in page.locator("#chart-waves").inner_text()

    # The report: built by the worker (here: the service the task calls), shown, downloaded.
    AnalysisPlan.objects.create(study=demo_study, content=Plan(outcomes=(PlannedOutcome("mad_pairwise"),)).to_dict(),
                                frozen_at=demo_study.created_at, frozen_hash="b" * 64)
    assert build_study_report(study_id=demo_study.pk).status == "done"
    page.goto(f"{base}/studies/demo/report/")
    frame = page.frame_locator("#report-frame")
    frame.locator("section#provenance").wait_for()
    assert "b" * 64 in frame.locator("section#design").inner_text()
    screenshot(page, "read-03-report-page")
    assert check_accessibility(page) == []
    with page.expect_download() as download:
        page.click("#report-download")
    saved = tmp_path / "report.html"
    download.value.save_as(saved)

    # The downloaded file alone, offline: every chart drawn, nothing fetched, prints to PDF.
    offline = page.context.browser.new_context(offline=True)
    report = offline.new_page()
    offline_watch = Watch(report)
    report.goto(saved.as_uri())
    charts = report.locator("[data-figure]").count()
    assert charts >= 2
    report.wait_for_function(f"document.querySelectorAll('[data-rendered=true]').length === {charts}")
    assert report.locator("section#glossary").inner_text().count("more disagreement") >= 2
    pdf = report.pdf(format="A4", print_background=True)
    assert pdf[:4] == b"%PDF" and len(pdf) > 50_000
    (tmp_path / "report.pdf").write_bytes(pdf)
    screenshot(report, "read-04-report-file")
    assert {urlsplit(u).scheme for u in offline_watch.urls} <= {"file", "data", "blob"}
    assert offline_watch.errors == []
    offline.close()

    hosts = {urlsplit(url).netloc for url in watch.urls if not url.startswith(("data:", "blob:", "about:"))}
    assert hosts == {urlsplit(base).netloc}, hosts
    assert watch.errors == [], watch.errors
