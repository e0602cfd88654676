"""Browser tests: Playwright's Python package driving Debian's chromium (never a downloaded
browser). Without chromium they skip with the reason shown; with E2E_REQUIRED=1 (CI) they fail."""

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent
AXE = HERE / "vendor" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# there (to set up and check data) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail(f"E2E_REQUIRED=1 but {reason}", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A fresh 360x740 phone-sized browser context (no cookies), English by default."""
    contexts = []

    def open_page(locale: str = "en-GB"):
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale=locale,
                                      extra_http_headers={"Accept-Language": locale})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def check_accessibility(page) -> list[dict]:
    """Run axe-core on the page; return its serious and critical violations."""
    # Through the DevTools protocol, so the page's Content-Security-Policy (no inline script) allows it.
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def visit():
    """Check and photograph the page the browser is on: axe finds nothing serious or critical,
    nothing is wider than the 360 px viewport."""
    seen = []

    def check(page, name: str):
        page.wait_for_load_state("load")
        screenshot(page, name)
        violations = check_accessibility(page)
        assert violations == [], f"{name}: {violations}"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than the viewport"
        seen.append(name)

    check.seen = seen
    return check


def tab_to(page, selector: str, *, limit: int = 60, shift: bool = False) -> None:
    """Press Tab until the element matching `selector` has the focus (keyboard-only navigation)."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if shift else "Tab")
    raise AssertionError(f"could not reach {selector} with the Tab key")
