"""Prolific re-entry without takeover, and a join whose response was lost.

- Someone who knows a participant's PROLIFIC_PID and STUDY_ID gets a link that continues answering
  but can neither delete the answers (withdrawal with deletion) nor download them.
- The same browser retrying a join whose link never arrived (the join cookie proves it is the
  same browser) gets that participant back with a full link, never a second enrolment; enrolled
  counts leave out participants who never opened their link.
"""

import pytest
from django.test import Client

from analysis.dashboards.reads import list_wave_rows
from surveys import attrition
from surveys.models import Participant, ParticipantToken, Response
from tests.factories import ResponseFactory, SubmissionFactory

pytestmark = pytest.mark.django_db

PROLIFIC = {"PROLIFIC_PID": "victim-pid", "STUDY_ID": "st1"}


def link_of(response) -> str:
    assert response.status_code == 303, response.content[:500]
    return response["Location"].split("?")[0]


@pytest.fixture
def victim(survey, enroll):
    participant, secret = enroll(external_id=PROLIFIC["PROLIFIC_PID"], external_study_id=PROLIFIC["STUDY_ID"])
    submission = SubmissionFactory(participant=participant, wave=survey.waves[1])
    ResponseFactory(submission=submission, item=survey.items["reasons"], value=3)
    return participant, secret


def test_an_attacker_with_the_prolific_id_can_answer_but_not_delete_or_download(survey, victim):
    participant, _secret = victim
    attacker = Client()
    url = link_of(attacker.post("/s/survey/", PROLIFIC))
    assert attacker.get(url).status_code == 200  # continues answering
    refused = attacker.post(url + "withdraw/", {"delete_answers": "on"})
    assert refused.status_code == 403 and "first personal link" in refused.content.decode()
    participant.refresh_from_db()
    assert participant.withdrawn_at is None and Response.objects.filter(submission__participant=participant).count() == 1
    assert attacker.get(url + "my-data/").status_code == 403
    page = attacker.get(url + "withdraw/").content.decode()
    assert 'name="delete_answers"' not in page


def test_the_original_link_still_deletes(survey, victim):
    participant, secret = victim
    link_of(Client().post("/s/survey/", PROLIFIC))  # someone re-entered meanwhile
    response = Client().post(f"/p/{secret}/withdraw/", {"delete_answers": "on"})
    assert response.status_code == 303
    assert Response.objects.filter(submission__participant=participant).count() == 0


def _join(client, **extra):
    consent = {"agree": "on", "consent_version": Participant._meta.apps.get_model("surveys", "ConsentVersion")
               .objects.get().pk}
    return client.post("/s/survey/", {**consent, **extra})


def test_the_same_browser_retrying_a_lost_join_gets_that_participant_back(survey):
    browser = Client()
    assert browser.get("/s/survey/").cookies["join"]["httponly"]
    _lost = _join(browser)  # the response never reached the browser
    participant = Participant.objects.get()
    assert participant.link_opened_at is None
    assert list_wave_rows(study_id=survey.study.pk)[0]["response_rate"] is None  # not enrolled yet
    url = link_of(_join(browser))
    assert Participant.objects.count() == 1
    token = ParticipantToken.objects.filter(participant=participant).latest("pk")
    assert token.grants_data_access  # the same browser: a full link
    assert browser.get(url).status_code == 200
    participant.refresh_from_db()
    assert participant.link_opened_at is not None
    assert Participant.objects.enrolled().count() == 1


def test_a_lost_prolific_join_retried_from_another_browser_gets_a_restricted_link(survey):
    first = Client()
    first.get("/s/survey/", PROLIFIC)
    _join(first, **PROLIFIC)  # lost
    other = Client()
    link_of(other.post("/s/survey/", PROLIFIC))
    assert Participant.objects.count() == 1
    assert not ParticipantToken.objects.latest("pk").grants_data_access
    again = link_of(_join(first, **PROLIFIC))  # the joining browser itself
    assert Participant.objects.count() == 1 and ParticipantToken.objects.latest("pk").grants_data_access
    assert first.get(again).status_code == 200


def test_once_the_link_was_opened_the_join_cookie_brings_nobody_back(survey):
    kiosk = Client()
    kiosk.get("/s/survey/")
    kiosk.get(link_of(_join(kiosk)))
    link_of(_join(kiosk))  # the next person at the same browser
    assert Participant.objects.count() == 2


def test_enrolled_counts_leave_out_unopened_joins(survey):
    browser = Client()
    browser.get("/s/survey/")
    _join(browser)
    rows = attrition.list_wave_attrition(study_id=survey.study.pk)
    assert sum(row.enrolled for row in rows) == 0
    assert Participant.objects.filter(study=survey.study).count() == 1
