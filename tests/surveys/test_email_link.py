""""E-mail me this link" on the first page: sent through Django's e-mail, the address not stored
(unless the study collects addresses and the participant agrees), at most three sends per
participant, and a bad address is a clear form error, never a 5xx."""

import pytest
from django.core import mail

from surveys.models import Participant, ParticipantContact, Study
from tests.surveys.test_participant_flow import link_of

pytestmark = pytest.mark.django_db


def _join(client, survey):
    return link_of(client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk}))


def test_the_first_page_offers_to_email_the_link_and_sends_it_without_storing_the_address(client, survey):
    url = _join(client, survey)
    page = client.get(url).content.decode()
    assert 'name="link_email"' in page and 'name="step" value="email_link"' in page
    assert 'name="link_email_consent"' not in page  # the study does not collect addresses
    response = client.post(url, {"step": "email_link", "link_email": "me@example.org"})
    assert link_of(response) == url + "?emailed=1"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["me@example.org"] and f"http://testserver{url}" in message.body
    assert "We sent your personal link by e-mail" in client.get(url + "?emailed=1").content.decode()
    participant = Participant.objects.get()
    assert participant.link_emails_sent == 1 and not ParticipantContact.objects.exists()


def test_a_bad_address_is_a_form_error_and_nothing_is_sent(client, survey):
    url = _join(client, survey)
    for bad in ("not-an-address", "", "a@b@c", "x" * 300 + "@example.org"):
        response = client.post(url, {"step": "email_link", "link_email": bad})
        assert response.status_code == 400, bad
        assert 'aria-invalid="true"' in response.content.decode()
    assert mail.outbox == [] and Participant.objects.get().link_emails_sent == 0


def test_at_most_three_sends_per_participant(client, survey):
    url = _join(client, survey)
    for _ in range(3):
        link_of(client.post(url, {"step": "email_link", "link_email": "me@example.org"}))
    response = client.post(url, {"step": "email_link", "link_email": "me@example.org"})
    assert response.status_code == 429
    assert "e-mailed 3 times already" in response.content.decode()
    assert len(mail.outbox) == 3


def test_a_failing_mail_server_is_a_clear_page_not_a_500(client, survey, settings):
    settings.EMAIL_BACKEND = "tests.surveys.test_email_link.BrokenBackend"
    url = _join(client, survey)
    response = client.post(url, {"step": "email_link", "link_email": "me@example.org"})
    assert response.status_code == 503 and "could not be sent" in response.content.decode()


def test_a_study_that_collects_addresses_keeps_it_only_with_consent(client, survey):
    Study.objects.filter(pk=survey.study.pk).update(collect_email=True)
    url = _join(client, survey)
    assert 'name="link_email_consent"' in client.get(url).content.decode()
    link_of(client.post(url, {"step": "email_link", "link_email": "once@example.org"}))
    assert not ParticipantContact.objects.exists()
    link_of(client.post(url, {"step": "email_link", "link_email": "keep@example.org", "link_email_consent": "on"}))
    contact = ParticipantContact.objects.get()
    assert contact.email == "keep@example.org" and contact.consented_at is not None
    assert 'name="link_email_consent"' not in client.get(url).content.decode()  # an address is on file


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("connection refused")
