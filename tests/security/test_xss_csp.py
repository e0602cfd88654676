"""No script in participant pages: researcher text is sanitized when saved and when rendered, and
every page carries a Content-Security-Policy without inline script or CDN. (The browser test that
nothing executes is tests/e2e/test_security_browser.py.)"""

import pytest
from django.test import Client

from surveys.models import ConsentVersion, Intervention, Participant, Study

pytestmark = pytest.mark.django_db

ATTACK = ('<p>Hello <strong>you</strong></p><script>document.title="pwned"</script>'
          '<img src=x onerror="document.title=\'pwned\'"><a href="javascript:alert(1)">x</a>')


def test_intervention_content_is_sanitized_when_saved(survey):
    intervention = Intervention.objects.get()
    intervention.content = {"en": ATTACK}
    intervention.save()
    stored = Intervention.objects.get().content["en"]
    assert "<strong>you</strong>" in stored
    assert "<script" not in stored and "onerror" not in stored and "javascript:" not in stored


def test_text_stored_unsanitized_is_cleaned_on_render(survey, enroll):
    # A row written around save() (e.g. an update()) is still cleaned on its way to the page.
    Intervention.objects.update(content={"en": ATTACK})
    _participant, secret = enroll(arm=survey.treated)
    page = Client().get(f"/p/{secret}/").content.decode()
    assert "<strong>you</strong>" in page
    assert "<script>document" not in page and "onerror" not in page and "javascript:" not in page


def test_consent_and_completion_text_are_sanitized(survey):
    ConsentVersion.objects.update(text={"en": ATTACK})
    Study.objects.update(completion_text={"en": ATTACK})
    page = Client().get("/s/survey/").content.decode()
    assert "<strong>you</strong>" in page and "onerror" not in page and "<script>document" not in page
    consent = ConsentVersion.objects.get()
    consent.save()
    assert "onerror" not in ConsentVersion.objects.get().text["en"]
    study = Study.objects.get()
    study.save()
    assert "onerror" not in Study.objects.get().completion_text["en"]


def test_plain_text_reads_as_written(survey):
    ConsentVersion.objects.update(text={"en": "Answers 1 < 2 & 3 > 2 stay readable."})
    page = Client().get("/s/survey/").content.decode()
    assert "Answers 1 &lt; 2 &amp; 3 &gt; 2 stay readable." in page


@pytest.mark.parametrize("path", ["/s/survey/", "/accounts/login/", "/admin/login/", "/studies/", "/api/docs/"])
def test_every_page_sends_a_csp_without_inline_script_or_cdn(survey, path):
    response = Client().get(path, follow=True)
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in policy
    assert "http" not in policy  # no CDN
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_participant_pages_have_no_inline_script(survey, enroll):
    _participant, secret = enroll(arm=survey.treated)
    for path in (f"/p/{secret}/", "/s/survey/", f"/p/{secret}/withdraw/"):
        html = Client().get(path).content.decode()
        for chunk in html.split("<script")[1:]:
            assert ' src="' in chunk.split(">")[0] or 'type="application/json"' in chunk.split(">")[0], path
    assert Participant.objects.count() == 1
