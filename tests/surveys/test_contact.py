"""The optional e-mail address: collected with consent on the landing page, kept in its own table,
never in the participant's download, deleted on withdrawal and on unsubscribing."""

import pytest

from surveys import messaging
from surveys.models import Message, Participant, ParticipantContact

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(survey):
    survey.study.collect_email = True
    survey.study.save(update_fields=["collect_email"])
    return survey


def join(client, survey, **data):
    return client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk, **data})


def test_the_landing_page_offers_the_address_field_only_when_the_study_collects_email(client, survey):
    assert 'name="email"' not in client.get("/s/survey/").content.decode()
    survey.study.collect_email = True
    survey.study.save(update_fields=["collect_email"])
    html = client.get("/s/survey/").content.decode()
    assert 'name="email"' in html and 'name="email_consent"' in html
    assert '<label for="id_email">' in html


def test_joining_with_an_address_and_consent_stores_it_apart_from_the_answers(client, mailing):
    response = join(client, mailing, email="ann@example.org", email_consent="on")
    assert response.status_code == 303
    participant = Participant.objects.get()
    contact = ParticipantContact.objects.get()
    assert contact.participant == participant and contact.email == "ann@example.org"
    assert contact.consented_at == participant.consented_at


def test_an_address_is_ignored_when_the_study_does_not_collect_email(client, survey):
    assert join(client, survey, email="ann@example.org", email_consent="on").status_code == 303
    assert Participant.objects.count() == 1 and ParticipantContact.objects.count() == 0


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "ann@example.org"}, "Please tick the box to receive e-mails"),
    ({"email": "not-an-address", "email_consent": "on"}, "Please enter a valid e-mail address"),
])
def test_an_address_without_consent_or_a_malformed_one_stores_nothing(client, mailing, data, message):
    response = join(client, mailing, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Participant.objects.count() == 0 and ParticipantContact.objects.count() == 0


def test_joining_without_an_address_works_as_before(client, mailing):
    assert join(client, mailing).status_code == 303
    assert Participant.objects.count() == 1 and ParticipantContact.objects.count() == 0


def test_the_participants_download_never_contains_the_address(client, mailing, enroll):
    participant, secret = enroll()
    ParticipantContact.objects.create(participant=participant, email="ann@example.org")
    body = client.get(f"/p/{secret}/my-data/").content.decode()
    assert "ann@example.org" not in body and "email" not in body.splitlines()[0]


def test_withdrawal_deletes_the_address_and_drops_unsent_messages(client, mailing, enroll):
    participant, secret = enroll()
    ParticipantContact.objects.create(participant=participant, email="ann@example.org")
    wave = mailing.waves[2]
    pending = Message.objects.create(participant=participant, wave=wave, kind="reminder1")
    sent = Message.objects.create(participant=participant, wave=wave, kind="invitation", status="sent",
                                  sent_at=participant.joined_at)
    assert client.post(f"/p/{secret}/withdraw/", {}).status_code == 303
    assert not ParticipantContact.objects.filter(participant=participant).exists()
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert (pending.status, pending.last_error) == ("skipped", "withdrawn")
    assert sent.status == "sent"  # the record of what went out stays (it holds no address)


def test_the_unsubscribe_link_asks_first_then_deletes_the_address(client, mailing, enroll):
    participant, _secret = enroll()
    ParticipantContact.objects.create(participant=participant, email="ann@example.org")
    token = messaging.unsubscribe_token(participant.pk)
    page = client.get(f"/u/{token}/")
    assert page.status_code == 200 and "Stop e-mails and delete my address" in page.content.decode()
    assert ParticipantContact.objects.filter(participant=participant).exists()  # a link scanner's GET changes nothing
    done = client.post(f"/u/{token}/")
    assert done.status_code == 200 and "Your e-mail address is deleted" in done.content.decode()
    assert not ParticipantContact.objects.filter(participant=participant).exists()
    again = client.get(f"/u/{token}/")
    assert "We have no e-mail address of yours" in again.content.decode()


def test_the_unsubscribe_page_speaks_german(client, mailing, enroll):
    participant, _secret = enroll(language="de")
    ParticipantContact.objects.create(participant=participant, email="ann@example.org")
    page = client.get(f"/u/{messaging.unsubscribe_token(participant.pk)}/", HTTP_ACCEPT_LANGUAGE="de")
    assert "E-Mails beenden und meine Adresse löschen" in page.content.decode()


@pytest.mark.parametrize("token", ["nonsense", "1:abc:def", "x" * 300])
def test_a_forged_unsubscribe_link_is_404(client, mailing, token):
    assert client.get(f"/u/{token}/").status_code == 404
    assert client.post(f"/u/{token}/").status_code == 404
