"""The researcher dashboards of the demo study in a real browser: log in, open every page, check
that each figure was drawn with the expected number of traces, that nothing went to another
host, that the console stayed clean, and that axe-core finds nothing serious or critical."""

from urllib.parse import urlsplit

import pytest
from django.conf import settings

from .conftest import check_accessibility, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desktop(browser):
    contexts = []

    def open_page(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB",
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


class Watch:
    """Console errors, uncaught exceptions and every requested URL of one page."""

    def __init__(self, page):
        self.errors, self.urls = [], []
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.urls.append(request.url))

    def console(self, message) -> None:
        # The browser's own favicon probe on pages outside the dashboards (the login page) is
        # not an error of ours.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"{message.text} ({message.location.get('url')})")


def drawn_traces(page) -> dict[str, int]:
    """Wait until every figure on the page is drawn; its number of plotted traces by chart name."""
    expected = page.locator("[data-figure]").count()
    page.wait_for_function(f"document.querySelectorAll('[data-rendered=true]').length === {expected}")
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-figure]')].map(el => [
        el.id.replace('plot-', ''),
        el.querySelector('.main-svg') ? el._fullData.filter(t => t.visible !== false).length : -1]))""")


def test_every_dashboard_page_of_the_demo_study(live_server, desktop, demo_study):
    study = demo_study
    waves_with_answers = study.waves.filter(submissions__isnull=False).distinct().count()
    arms = study.arms.count()
    assert waves_with_answers == 5 and arms == 2

    base = live_server.url
    page = desktop()
    watch = Watch(page)
    page.goto(f"{base}/accounts/login/?next=/studies/")
    page.fill("#id_username", settings.DEMO_RESEARCHER_USERNAME)
    page.fill("#id_password", settings.DEMO_RESEARCHER_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit], input[type=submit]")
    assert page.url == f"{base}/studies/"
    assert page.locator("a", has_text=study.title).count() == 1
    screenshot(page, "dash-01-studies")

    # Expected traces per chart, from the demo's design: 2 arms, sides left/right, 5 waves with
    # answers, one intervention arm; a line and a band per line on the trend charts.
    pages = [
        ("dash-02-overview", "/studies/demo/", {"funnel": arms}),
        ("dash-03-trends", "/studies/demo/trends/", {"trend": 2 * arms, "between": 2 * 2}),
        ("dash-04-trends-side-item", "/studies/demo/trends/?index=mean&item=threat&grouping=side",
         {"trend": 2 * 2, "between": 2 * 2}),
        ("dash-05-trends-everyone", "/studies/demo/trends/?grouping=all", {"trend": 2}),
        ("dash-06-distributions", "/studies/demo/distributions/", {"distribution": waves_with_answers * 2}),
        ("dash-07-distributions-slider", "/studies/demo/distributions/?item=warmth&grouping=arm",
         {"distribution": waves_with_answers * arms}),
        ("dash-08-effects", "/studies/demo/effects/", {"individual": arms - 1, "indices": arms - 1, "waves": arms - 1}),
        ("dash-09-quality", "/studies/demo/quality/", {"quality": 3}),
    ]
    for name, path, expected in pages:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("load")
        traces = drawn_traces(page)
        assert traces == expected, f"{name}: {traces}"
        for chart in expected:
            assert page.locator(f"#chart-{chart} figcaption").is_visible()
            assert page.locator(f'button[data-png="plot-{chart}"]').is_visible()
        text = page.locator("main").inner_text()
        assert "n = " in text, name
        assert "Computed" in text or "Counted" in text, name
        screenshot(page, name)
        violations = check_accessibility(page)
        assert violations == [], f"{name}: {violations}"

    # The CSV link of a chart downloads its data; the PNG button hands over an image.
    page.goto(f"{base}/studies/demo/trends/")
    drawn_traces(page)
    href = page.locator("#chart-trend a[download]").get_attribute("href")
    data = page.request.get(f"{base}/studies/demo/trends/{href}")
    assert data.status == 200 and data.headers["content-type"].startswith("text/csv")
    assert data.text().splitlines()[0] == "wave,group,index,value,ci_low,ci_high,n,computed_at"
    assert len(data.text().splitlines()) == 1 + arms * waves_with_answers
    with page.expect_download() as download:
        page.click('button[data-png="plot-trend"]')
    assert download.value.suggested_filename == "demo-trend.png"

    # Controls are a plain GET form: choosing and submitting gives a bookmarkable URL.
    page.select_option("#id_grouping", "side")
    with page.expect_navigation():
        page.click("form.controls button[type=submit]")
    assert "grouping=side" in page.url and drawn_traces(page)["trend"] == 4

    # A phone can read the pages too: nothing wider than the screen.
    phone = desktop(360, 740)
    phone_watch = Watch(phone)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{base}/studies/demo/trends/")
    drawn_traces(phone)
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"trends is {overflow}px wider than a phone"
    screenshot(phone, "dash-10-trends-phone")

    hosts = {urlsplit(url).netloc for url in watch.urls + phone_watch.urls if not url.startswith(("data:", "blob:"))}
    assert hosts == {urlsplit(base).netloc}, hosts
    assert watch.errors == [] and phone_watch.errors == [], watch.errors + phone_watch.errors
