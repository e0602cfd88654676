"""In a real browser: an intervention holding `<script>` and an `onerror` attribute executes
nothing (sanitized on render even when stored raw), the Content-Security-Policy header is sent,
and the browser itself refuses an inline script on a participant page."""

import pytest
from django.test import Client

from surveys.models import Intervention
from tests.factories import ParticipantFactory, ParticipantTokenFactory, make_survey_study

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ATTACK = ('<p>Read this <strong>carefully</strong>.</p><script>window.__pwned = "script"</script>'
          '<img src="/missing.png" onerror="window.__pwned = \'onerror\'">'
          '<svg onload="window.__pwned = \'svg\'"></svg><a href="javascript:window.__pwned=1">link</a>')


def test_an_intervention_with_script_and_onerror_executes_nothing(live_server, phone):
    survey = make_survey_study()
    Intervention.objects.update(content={"en": ATTACK})  # stored raw, around the save-time sanitizer
    participant = ParticipantFactory(study=survey.study, arm=survey.treated, groups={"side": 1},
                                     consent_version=survey.consent)
    secret = ParticipantTokenFactory(participant=participant).secret
    page = phone()
    page.set_default_timeout(30_000)  # a busy machine
    dialogs, violations = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(f"{live_server.url}/p/{secret}/")
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    page.wait_for_load_state("load")
    assert page.locator(".intervention strong").inner_text() == "carefully"
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".intervention script, .intervention [onerror], .intervention [onload]").count() == 0
    assert dialogs == []
    # Even a script that got into the page would not run: the browser enforces the policy.
    page.evaluate("""() => { const s = document.createElement('script');
                            s.textContent = 'window.__pwned = "inline"'; document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__pwned") is None
    assert any("inline" in text or "script-src" in text for text in violations)
    assert Client().get(f"/p/{secret}/")["Content-Security-Policy"] == response.headers["content-security-policy"]


def test_the_api_docs_work_under_the_policy(live_server, phone):
    page = phone()
    page.set_default_timeout(30_000)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info", timeout=20_000)
    assert violations == []
