"""Attrition per wave and arm, the at-risk list, the Prolific export and per-wave completion
redirects; every count below is worked out by hand from the participants listed in `panel`."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from surveys import attrition
from surveys.models import Message, ParticipantContact, Submission, Wave
from tests.factories import (
    ArmFactory,
    MembershipFactory,
    ParticipantFactory,
    StudyFactory,
    UserFactory,
    WaveFactory,
)
from tests.surveys.test_participant_flow import answer_page, link_of, page_form

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def panel():
    """Three waves: 1 and 2 closed, 3 open. Arms control and contact.

    p1 control  joined before w1; completed w1, w2; invited to w1, w2
    p2 control  joined before w1; completed w1, started w2; invited to w1, w2; reminder1 and
                last chance for w2; has an e-mail address
    p3 contact  joined before w1; completed w1; invited to w2; its w2 reminder failed (pending)
    p4 contact  joined after w1 closed; completed w2
    p5 contact  joined before w1; completed w1; withdrew before w2 opened
    preview     completed w1 (never counted)
    """
    now = timezone.now()
    study = StudyFactory(slug="attrition")
    control = ArmFactory(study=study, name="control", is_control=True)
    contact = ArmFactory(study=study, name="contact")
    w1 = WaveFactory(study=study, number=1, opens_at=now - 30 * DAY, closes_at=now - 23 * DAY, state="closed")
    w2 = WaveFactory(study=study, number=2, opens_at=now - 16 * DAY, closes_at=now - 9 * DAY, state="closed")
    w3 = WaveFactory(study=study, number=3, opens_at=now - 2 * DAY, closes_at=now + 5 * DAY, state="open")
    early = now - 31 * DAY
    p1 = ParticipantFactory(study=study, arm=control, joined_at=early, external_id="PID1", external_study_id="S")
    p2 = ParticipantFactory(study=study, arm=control, joined_at=early, external_id="PID2", external_study_id="S")
    p3 = ParticipantFactory(study=study, arm=contact, joined_at=early)
    p4 = ParticipantFactory(study=study, arm=contact, joined_at=now - 20 * DAY, external_id="=PID4",
                            external_study_id="S")
    p5 = ParticipantFactory(study=study, arm=contact, joined_at=early, withdrawn_at=now - 20 * DAY)
    preview = ParticipantFactory(study=study, arm=control, joined_at=early, is_preview=True, external_id="PREV")

    def done(p, w, *, completed=True, session=""):
        started = w.opens_at + DAY
        Submission.objects.create(participant=p, wave=w, started_at=started, external_session_id=session,
                                  completed_at=started + dt.timedelta(minutes=10 + p.pk) if completed else None)

    for p in (p1, p2, p3, p5, preview):
        done(p, w1)
    done(p1, w2, session="SES1")
    done(p2, w2, completed=False)
    done(p4, w2, session="SES4")

    def mail(p, w, kind, status="sent"):
        Message.objects.create(participant=p, wave=w, kind=kind, status=status,
                               sent_at=w.opens_at if status == "sent" else None)

    for p in (p1, p2):
        mail(p, w1, "invitation")
        mail(p, w2, "invitation")
    mail(p2, w2, "reminder1")
    mail(p2, w2, "last_chance")
    mail(p3, w2, "invitation")
    mail(p3, w2, "reminder1", status="pending")
    ParticipantContact.objects.create(participant=p2, email="p2@example.org")
    return dict(study=study, waves=(w1, w2, w3), people=(p1, p2, p3, p4, p5))


def test_attrition_per_wave_and_arm_counts_as_worked_out_by_hand(panel):
    rows = [(r.wave, r.arm, r.enrolled, r.invited, r.reminded, r.started, r.completed)
            for r in attrition.list_wave_attrition(study_id=panel["study"].pk)]
    assert rows == [
        # wave, arm, enrolled, invited, reminded, started, completed
        (1, "contact", 2, 0, 0, 2, 2),
        (1, "control", 2, 2, 0, 2, 2),
        (2, "contact", 2, 1, 0, 1, 1),
        (2, "control", 2, 2, 1, 2, 1),
        (3, "contact", 2, 0, 0, 0, 0),
        (3, "control", 2, 0, 0, 0, 0),
    ]
    w2_control = attrition.list_wave_attrition(study_id=panel["study"].pk)[3]
    assert w2_control.completion_rate == 0.5


def test_the_at_risk_list_holds_who_missed_the_last_closed_wave(panel):
    p1, p2, p3, p4, p5 = panel["people"]
    wave, rows, count = attrition.list_at_risk(study_id=panel["study"].pk)
    assert wave == panel["waves"][1] and count == 2
    assert [(r.public_id, r.arm, r.last_completed_wave, r.reminders, r.has_email) for r in rows] == [
        (p2.public_id, "control", 1, 2, True),
        (p3.public_id, "contact", 1, 0, False),
    ]


def test_the_attrition_page_shows_the_table_to_members_only(client, panel):
    member = MembershipFactory(study=panel["study"], role="viewer").user
    client.force_login(member)
    response = client.get("/studies/attrition/attrition/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<td>2</td><td>control</td><td>2</td><td>2</td>\n      <td>1</td><td>2</td><td>1</td>" in html
    # A viewer sees the count of participants at risk, not who they are (participant-level data).
    assert "At risk: missed wave 2 (2)" in html and panel["people"][1].public_id not in html
    assert "prolific-completed" not in html and "ids (CSV)" not in html
    client.force_login(MembershipFactory(study=panel["study"], role="analyst").user)
    html = client.get("/studies/attrition/attrition/").content.decode()
    assert "At risk: missed wave 2 (2)" in html and panel["people"][1].public_id in html
    assert "p2@example.org" not in html
    client.force_login(UserFactory(username="outsider"))
    assert client.get("/studies/attrition/attrition/").status_code == 404
    client.logout()
    assert client.get("/studies/attrition/attrition/").status_code == 302


def test_the_snippet_renders_for_the_overview_page(panel):
    from django.template.loader import render_to_string

    html = render_to_string("surveys/_attrition_table.html", attrition.attrition_context(panel["study"], at_risk_limit=1))
    assert html.count("<tr>") == 1 + 6 + 1 + 1  # heads, six rows, at-risk head, one of two at risk
    assert "All 2 at risk" in html


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_owners_download_the_prolific_ids_that_completed_a_wave(client, panel):
    owner = MembershipFactory(study=panel["study"], role="owner").user
    client.force_login(owner)
    response = client.get("/studies/attrition/waves/2/prolific-completed.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert [(r["PROLIFIC_PID"], r["STUDY_ID"], r["SESSION_ID"], r["withdrawn"]) for r in rows] == [
        ("PID1", "S", "SES1", "no"), ("'=PID4", "S", "SES4", "no")]  # formula-like cells are defused
    wave1 = read_csv(client.get("/studies/attrition/waves/1/prolific-completed.csv"))
    assert [r["PROLIFIC_PID"] for r in wave1] == ["PID1", "PID2"]  # the preview's PREV never


def test_the_prolific_export_is_for_owners_and_analysts_of_the_study_only(client, panel):
    client.force_login(MembershipFactory(study=panel["study"], role="viewer").user)
    assert client.get("/studies/attrition/waves/2/prolific-completed.csv").status_code == 403
    client.force_login(MembershipFactory(study=panel["study"], role="analyst").user)
    assert client.get("/studies/attrition/waves/2/prolific-completed.csv").status_code == 200
    assert client.get("/studies/attrition/waves/9/prolific-completed.csv").status_code == 404
    client.force_login(UserFactory(username="outsider"))
    assert client.get("/studies/attrition/waves/2/prolific-completed.csv").status_code == 404


def test_a_waves_redirect_prefers_its_own_url_then_its_prolific_code_then_the_studys_url():
    study = StudyFactory(completion_url="https://example.org/study-done")
    wave = Wave(study=study, number=1)
    assert wave.redirect_url() == "https://example.org/study-done"
    wave.completion_code = "C0DE 1"
    assert wave.redirect_url() == "https://app.prolific.com/submissions/complete?cc=C0DE%201"
    wave.completion_url = "https://example.org/wave-done"
    assert wave.redirect_url() == "https://example.org/wave-done"


def test_finishing_a_wave_with_a_completion_code_redirects_to_prolific_with_that_code(client, survey, enroll):
    survey.study.completion_url = "https://example.org/study-done"
    survey.study.save()
    Wave.objects.filter(pk=survey.waves[2].pk).update(completion_code="W2CODE")
    _participant, secret = enroll(external_id="5f0c1e2d3b4a5968", external_study_id="st2")
    url = f"/p/{secret}/"
    _response, _hidden, codes = page_form(client, url)
    answer_page(client, url, codes)
    _response, _hidden, codes = page_form(client, url)
    assert link_of(answer_page(client, url, codes)) == "https://app.prolific.com/submissions/complete?cc=W2CODE"


def test_finishing_a_prolific_wave_without_coming_from_prolific_shows_the_code_and_the_link(client, survey, enroll):
    Wave.objects.filter(pk=survey.waves[2].pk).update(completion_code="W2CODE")
    _participant, secret = enroll()
    url = f"/p/{secret}/"
    _response, _hidden, codes = page_form(client, url)
    answer_page(client, url, codes)
    _response, _hidden, codes = page_form(client, url)
    assert link_of(answer_page(client, url, codes)) == url
    page = client.get(url).content.decode()
    assert '<strong id="completion-code">W2CODE</strong>' in page
    assert 'href="https://app.prolific.com/submissions/complete?cc=W2CODE"' in page


def test_the_at_risk_list_is_paged_earliest_joiners_first(client, panel, monkeypatch):
    from surveys.views import attrition as views

    p1, p2, p3, p4, p5 = panel["people"]
    monkeypatch.setattr(views, "AT_RISK_LISTED", 1)
    client.force_login(MembershipFactory(study=panel["study"], role="analyst").user)
    first = client.get("/studies/attrition/attrition/").content.decode()
    assert p2.public_id in first and p3.public_id not in first
    assert "1–1 of 2 at risk" in first and 'href="?page=2"' in first and 'rel="prev"' not in first
    second = client.get("/studies/attrition/attrition/?page=2").content.decode()
    assert p3.public_id in second and p2.public_id not in second
    assert "2–2 of 2 at risk" in second and 'href="?page=1"' in second and 'rel="next"' not in second
    assert "past its end" in client.get("/studies/attrition/attrition/?page=3").content.decode()
    for bad in ("0", "x", "-1", "1.5"):
        response = client.get(f"/studies/attrition/attrition/?page={bad}")
        assert response.status_code == 400 and b"page must be" in response.content
    # the same rows as the whole list, in the same order
    _wave, everyone, _count = attrition.list_at_risk(study_id=panel["study"].pk)
    assert [r.public_id for r in everyone] == [p2.public_id, p3.public_id]
    assert attrition.list_at_risk(study_id=panel["study"].pk, limit=1, offset=1)[1] == everyone[1:]
