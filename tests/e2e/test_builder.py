"""An owner builds a two-wave study with the builder only (1,366 px window, no sideways scrolling,
axe-core on every page), previews it, launches it, and a participant completes wave 1."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys.models import Study, Submission
from surveys.scheduling import open_due_waves
from tests.factories import UserFactory

from .conftest import check_accessibility, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def check(page, name: str) -> None:
    page.wait_for_load_state("load")
    screenshot(page, name)
    assert check_accessibility(page) == [], name
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(
        e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 5)
        .map(e => e.tagName + '#' + e.id + '.' + e.className)""")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the window: {wide}"


def submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.locator(f"{form_selector} button[type=submit]").first.click()


def logged_in(browser, base: str, username: str, password: str, next_url: str):
    """A 1,366 x 768 window, logged in, on `next_url`."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    return context, page


def test_an_owner_builds_previews_and_launches_a_two_wave_study(live_server, browser):
    UserFactory(username="builder", password="build-it-1")
    base = live_server.url
    context, page = logged_in(browser, base, "builder", "build-it-1", "/studies/new/")
    check(page, "builder-01-new")
    page.fill("#new-slug", "two-wave")
    page.fill("#new-title", "Two waves")
    with page.expect_navigation():
        page.get_by_role("button", name="Create the study").click()
    assert page.url.endswith("/studies/two-wave/design/")
    check(page, "builder-02-design-empty")

    # Consent, then two items, then two waves: the builder's forms only.
    page.locator("summary", has_text="Add a consent version").click()
    page.fill("#consent-new-en", "You agree to take part; you may withdraw at any time.")
    with page.expect_navigation():
        page.get_by_role("button", name="Add version").click()
    page.locator("#item-new summary").click()
    page.fill("#item-new-code", "reasons")
    page.select_option("#item-new-kind", "likert")
    page.fill("#item-new-prompt-en", "People who disagree with me have good reasons.")
    page.fill("#item-new-max", "5")
    page.fill("#item-new-labels-en", "1 = Strongly disagree\n5 = Strongly agree")
    with page.expect_navigation():
        page.get_by_role("button", name="Add item").click()
    page.locator("#item-new summary").click()
    page.fill("#item-new-code", "story")
    page.select_option("#item-new-kind", "text")
    assert not page.locator("#item-new-max").is_visible()  # kind-specific fields follow the kind
    page.fill("#item-new-prompt-en", "Describe a disagreement you had this week.")
    with page.expect_navigation():
        page.get_by_role("button", name="Add item").click()
    now = timezone.now().astimezone(dt.UTC)
    for opens, closes in ((now - dt.timedelta(hours=1), now + dt.timedelta(days=7)),
                          (now + dt.timedelta(days=7), now + dt.timedelta(days=14))):
        page.locator("#wave-new summary").click()
        page.fill("#wave-new-opens", opens.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#wave-new-closes", closes.strftime("%Y-%m-%dT%H:%M"))
        with page.expect_navigation():
            page.get_by_role("button", name="Add wave").click()
    assert "Nothing was saved" not in page.content()
    study = Study.objects.get(slug="two-wave")
    assert [sorted(w.items.values_list("code", flat=True)) for w in study.waves.order_by("number")] == [
        ["reasons", "story"], ["reasons", "story"]]
    check(page, "builder-03-design-built")

    # The preview frames show wave 1 as participants will see it.
    frame = page.frame(name="preview-phone")
    frame.wait_for_load_state("load")
    assert "People who disagree with me have good reasons." in frame.content()
    assert page.frame(name="preview-desktop").locator("text=Strongly agree").count() >= 1

    with page.expect_navigation():
        page.get_by_role("button", name="Launch the study").click()
    study.refresh_from_db()
    assert study.status == Study.Status.ACTIVE
    open_due_waves(now=timezone.now())  # what the scheduler's next tick does

    participant = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB").new_page()
    participant.goto(f"{base}/s/two-wave/")
    participant.locator("input[name=agree]").check()
    with participant.expect_navigation():
        participant.locator("form[method=post] button[type=submit]").first.click()
    while "Finish" not in participant.content() and participant.locator("input[name=i_reasons]").count() == 0:
        with participant.expect_navigation():
            participant.locator("form[method=post] button[type=submit]").first.click()
    participant.locator("input[name=i_reasons][value='4']").check()
    participant.fill("textarea[name=i_story]", "We disagreed about dinner.")
    with participant.expect_navigation():
        participant.locator("form[method=post] button[type=submit]").first.click()
    submission = Submission.objects.get(participant__study=study, wave__number=1)
    assert submission.completed_at is not None
    assert sorted(submission.responses.values_list("item__code", flat=True)) == ["reasons", "story"]
    context.close()


def test_the_demo_design_read_only_and_its_preview_in_german(live_server, browser, demo_study):
    from surveys.models import Membership

    viewer = UserFactory(username="viewer", password="view-it-1")
    Membership.objects.create(study=demo_study, user=viewer, role="viewer")
    context, page = logged_in(browser, live_server.url, "viewer", "view-it-1", "/studies/demo/design/")
    check(page, "builder-04-demo-read-only")
    assert "read-only" in page.content() and page.locator("button", has_text="Save item").count() == 0
    page.goto(f"{live_server.url}/studies/demo/design/preview/?wave=3&lang=de&arm=intervention")
    check(page, "builder-05-preview-de")
    assert "Ein kurzer Hinweis" in page.content()
    phone = browser.new_context(viewport={"width": 360, "height": 740}, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(f"{live_server.url}/studies/demo/design/")
    check(small, "builder-06-demo-phone")
    context.close()
    phone.close()
