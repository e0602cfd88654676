"""Prolific round trip per wave: each Prolific wave is a Prolific study of its own, with its own
STUDY_ID and SESSION_ID; they are kept per participant and wave, recognise the returning
participant, and the completion CSV of a wave shows that wave's ids."""

import csv
import io
import re

import pytest
from django.utils import timezone

from surveys.models import Participant, Submission, Wave
from tests.factories import MembershipFactory
from tests.surveys.test_participant_flow import answer_page, link_of, page_form

pytestmark = pytest.mark.django_db

# Prolific's "URL parameters" option appends exactly these three names to the study URL:
# ?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}
PROLIFIC_TEMPLATE = "/s/survey/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"


def prolific_url(pid: str, study_id: str, session: str) -> str:
    """The study URL as Prolific sends a participant to it (its placeholders filled in)."""
    return (PROLIFIC_TEMPLATE.replace("{{%PROLIFIC_PID%}}", pid).replace("{{%STUDY_ID%}}", study_id)
            .replace("{{%SESSION_ID%}}", session))


def _finish_wave(client, url):
    while True:
        _response, hidden, codes = page_form(client, url)
        if "page" not in hidden:
            return
        answer_page(client, url, codes)


@pytest.fixture
def prolific_waves(survey):
    Wave.objects.filter(pk=survey.waves[2].pk).update(prolific_study_id="STUDYW2", completion_code="W2")
    Wave.objects.filter(pk=survey.waves[3].pk).update(prolific_study_id="STUDYW3", completion_code="W3")
    return survey


def test_a_newcomer_from_prolific_keeps_the_ids_of_the_wave_through_consent_and_baseline(client, prolific_waves):
    landing = client.get(prolific_url("PID1", "STUDYW2", "SESS2")).content.decode()
    for name, value in (("PROLIFIC_PID", "PID1"), ("STUDY_ID", "STUDYW2"), ("SESSION_ID", "SESS2")):
        assert f'name="{name}" value="{value}"' in landing
    url = link_of(client.post("/s/survey/", {"agree": "on", "consent_version": prolific_waves.consent.pk,
                                             "PROLIFIC_PID": "PID1", "STUDY_ID": "STUDYW2", "SESSION_ID": "SESS2"}))
    _response, hidden, _codes = page_form(client, url)
    home = link_of(client.post(url, {**hidden, "i_side": "1"}))
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(arm=prolific_waves.control)
    client.get(home)
    submission = Submission.objects.get(participant=participant)
    assert (submission.external_id, submission.external_study_id, submission.external_session_id) == (
        "PID1", "STUDYW2", "SESS2")


def test_the_next_waves_prolific_study_recognises_the_participant_and_keeps_its_own_ids(client, prolific_waves):
    participant = Participant.objects.create(
        study=prolific_waves.study, external_id="PID1", external_study_id="STUDYW2", groups={"side": 1},
        arm=prolific_waves.control, consented_at=timezone.now(), consent_version=prolific_waves.consent,
        link_opened_at=timezone.now())
    now = timezone.now()
    first = Submission.objects.create(participant=participant, wave=prolific_waves.waves[2], item_order=[],
                                      started_at=now, completed_at=now, external_id="PID1", external_study_id="STUDYW2",
                                      external_session_id="SESS2")
    Wave.objects.filter(pk=prolific_waves.waves[2].pk).update(state=Wave.State.CLOSED,
                                                              closes_at=timezone.now())
    Wave.objects.filter(pk=prolific_waves.waves[3].pk).update(state=Wave.State.OPEN, opens_at=timezone.now())
    # Prolific's URL of wave 3's study: another STUDY_ID, a new SESSION_ID, the same PROLIFIC_PID
    landing = client.get(prolific_url("PID1", "STUDYW3", "SESS3")).content.decode()
    assert "Welcome back" in landing
    url = link_of(client.post("/s/survey/", {"PROLIFIC_PID": "PID1", "STUDY_ID": "STUDYW3", "SESSION_ID": "SESS3"}))
    assert re.fullmatch(r"/p/[\w-]{32}/\?PROLIFIC_PID=PID1&STUDY_ID=STUDYW3&SESSION_ID=SESS3", url)
    client.get(url)
    assert Participant.objects.count() == 1
    third = Submission.objects.get(participant=participant, wave=prolific_waves.waves[3])
    assert (third.external_study_id, third.external_session_id) == ("STUDYW3", "SESS3")
    first.refresh_from_db()
    assert (first.external_study_id, first.external_session_id) == ("STUDYW2", "SESS2")
    assert Participant.objects.get().external_study_id == "STUDYW2"  # the one they joined with stays
    # A STUDY_ID that is none of the study's waves' is not a way in for a known PROLIFIC_PID.
    assert "Welcome back" not in client.get(prolific_url("PID1", "OTHER", "S")).content.decode()


def test_the_personal_link_with_prolific_ids_keeps_them_for_the_wave_it_starts(client, prolific_waves, enroll):
    _participant, secret = enroll(external_id="PID7", external_study_id="STUDYW2")
    client.get(f"/p/{secret}/?PROLIFIC_PID=PID7&STUDY_ID=STUDYW2&SESSION_ID=S7")
    submission = Submission.objects.get()
    assert (submission.external_id, submission.external_study_id, submission.external_session_id) == (
        "PID7", "STUDYW2", "S7")
    client.get(f"/p/{secret}/?STUDY_ID=OTHER&SESSION_ID=S8")  # the first ids that arrived for a wave stay
    submission.refresh_from_db()
    assert (submission.external_study_id, submission.external_session_id) == ("STUDYW2", "S7")


def test_the_completion_csv_of_a_wave_shows_that_waves_prolific_ids(client, prolific_waves, enroll):
    joined, secret = enroll(external_id="PID1", external_study_id="STUDYW1")
    url = f"/p/{secret}/"
    client.get(url + "?PROLIFIC_PID=PID1&STUDY_ID=STUDYW2&SESSION_ID=SESS2")
    _finish_wave(client, url)
    by_mail, secret2 = enroll(external_id="=PID2", external_study_id="STUDYW1")
    _finish_wave(client, f"/p/{secret2}/")  # reached by e-mail: the ids they joined with
    client.force_login(MembershipFactory(study=prolific_waves.study, role="owner").user)
    response = client.get("/studies/survey/waves/2/prolific-completed.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["PROLIFIC_PID"], r["STUDY_ID"], r["SESSION_ID"]) for r in rows] == [
        ("PID1", "STUDYW2", "SESS2"), ("'=PID2", "STUDYW1", "")]  # through common/csvsafe.py


def test_the_spec_carries_each_waves_prolific_study(prolific_waves):
    from surveys.spec.service import export_spec
    from surveys.spec.validate import validate_spec

    spec = export_spec(prolific_waves.study)
    assert [w.get("prolific_study_id") for w in spec["waves"]] == [None, "STUDYW2", "STUDYW3"]
    spec["waves"][2]["prolific_study_id"] = "STUDYW2"
    assert [str(p) for p in validate_spec(spec)] == [
        "waves[2].prolific_study_id: wave 2 has this Prolific study already (each wave is a Prolific study of its own)"]
