"""The participant's way through /s/<slug>/ and /p/<token>/: join, baseline, intervention, pages,
resume, completion."""

import re

import pytest
from django.utils import timezone

from surveys.models import Participant, Response, Submission

pytestmark = pytest.mark.django_db


def link_of(response) -> str:
    assert response.status_code == 303, response.content[:500]
    return response["Location"]


def page_form(client, url):
    """GET the page; return (response, dict of hidden fields, item codes on the page in order)."""
    response = client.get(url)
    html = response.content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    codes = list(dict.fromkeys(re.findall(r'name="i_(\w+?)(?:_dk)?"', html)))
    return response, hidden, codes


ANSWERS = {"reasons": "5", "understand": "6", "threat": "dk", "marry": "2", "warmth": "40",
           "story": "We argued about the rent.", "attention": "3"}


def answer_page(client, url, codes, **override):
    _response, hidden, _codes = page_form(client, url)
    data = {**hidden}
    for code in codes:
        value = override.get(code, ANSWERS[code])
        if code == "warmth" and value == "dk":
            data["i_warmth_dk"] = "on"
        elif value is not None:
            data[f"i_{code}"] = value
    return client.post(url, data)


def test_landing_shows_consent_in_browser_language_and_keeps_prolific_params(client, survey):
    response = client.get("/s/survey/?PROLIFIC_PID=abc123&STUDY_ID=st1&SESSION_ID=se1",
                          HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ihre Antworten werden unter einem Pseudonym gespeichert" in html
    assert 'lang="de"' in html
    for name, value in (("PROLIFIC_PID", "abc123"), ("STUDY_ID", "st1"), ("SESSION_ID", "se1")):
        assert f'name="{name}" value="{value}"' in html


def test_joining_records_consent_and_prolific_ids_and_issues_a_personal_link(client, survey):
    response = client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk,
                                          "PROLIFIC_PID": "abc123", "STUDY_ID": "st1", "SESSION_ID": "se1"})
    url = link_of(response)
    assert re.fullmatch(r"/p/[\w-]{32}/\?PROLIFIC_PID=abc123&STUDY_ID=st1&SESSION_ID=se1", url)
    participant = Participant.objects.get()
    assert (participant.external_id, participant.external_study_id) == ("abc123", "st1")
    assert participant.consent_version == survey.consent and participant.consented_at is not None
    assert participant.arm is None  # the arm comes after the baseline
    client.get(url)
    assert Submission.objects.filter(participant=participant).exists() is False  # baseline first


def test_joining_without_ticking_consent_stores_nothing(client, survey):
    response = client.post("/s/survey/", {"consent_version": survey.consent.pk})
    assert response.status_code == 400
    assert "Please tick the box" in response.content.decode()
    assert 'aria-describedby="agree-error"' in response.content.decode()
    assert Participant.objects.count() == 0


def test_a_returning_prolific_participant_gets_a_fresh_link_and_no_second_participant(client, survey):
    params = {"PROLIFIC_PID": "abc123", "STUDY_ID": "st1"}
    first = link_of(client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk, **params}))
    landing = client.get("/s/survey/", params)
    assert "Welcome back" in landing.content.decode()
    second = link_of(client.post("/s/survey/", params))
    assert first != second
    assert Participant.objects.count() == 1
    assert Participant.objects.get().tokens.count() == 2
    # Same PID but another Prolific study is another participant.
    link_of(client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk,
                                       "PROLIFIC_PID": "abc123", "STUDY_ID": "st2"}))
    assert Participant.objects.count() == 2


def test_the_link_from_a_returning_visit_cannot_download_earlier_answers(client, survey, enroll):
    participant, _secret = enroll(external_id="abc123", external_study_id="st1")
    url = link_of(client.post("/s/survey/", {"PROLIFIC_PID": "abc123", "STUDY_ID": "st1"}))
    response = client.get(url.split("?")[0] + "my-data/")
    assert response.status_code == 403
    assert "first personal link" in response.content.decode()


def test_baseline_then_arm_then_intervention_then_items_in_recorded_order(client, survey):
    url = link_of(client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk}))
    baseline = client.get(url)
    assert "Which side are you usually on?" in baseline.content.decode()
    assert link_of(client.post(url, {"step": "baseline", "i_side": "2"})) == url
    participant = Participant.objects.get()
    assert participant.groups == {"side": 2}
    assert participant.arm in (survey.control, survey.treated)
    if participant.arm != survey.treated:  # make the intervention visible for this test
        Participant.objects.filter(pk=participant.pk).update(arm=survey.treated)
    page = client.get(url).content.decode()
    assert "Most people on the other side value what you value." in page
    assert 'name="i_' not in page
    link_of(client.post(url, {"step": "intervention", "wave": "2"}))
    submission = Submission.objects.get(participant=participant)
    assert submission.saw_intervention is True
    assert sorted(submission.item_order) == sorted(survey.items)
    _response, hidden, codes = page_form(client, url)
    assert codes == submission.item_order[:4]
    assert hidden["page"] == "0"


def test_answers_are_saved_page_by_page_and_a_participant_resumes_where_they_left(client, survey, enroll):
    participant, secret = enroll()
    url = f"/p/{secret}/"
    _response, _hidden, codes = page_form(client, url)
    assert link_of(answer_page(client, url, codes)) == url
    submission = Submission.objects.get(participant=participant)
    assert submission.page == 1 and submission.completed_at is None
    assert set(Response.objects.filter(submission=submission).values_list("item__code", flat=True)) == set(codes)
    # Leave and come back later with a fresh client (another device): page 2 is shown.
    other = type(client)()
    _response, hidden, rest = page_form(other, url)
    assert hidden["page"] == "1"
    assert rest == submission.item_order[4:]
    assert "Page 2 of 2" in _response.content.decode()
    assert link_of(answer_page(other, url, rest)) == url
    submission.refresh_from_db()
    assert submission.completed_at is not None and submission.duration_seconds >= 0
    values = {r.item.code: (r.value, r.text, r.missing) for r in submission.responses.select_related("item")}
    assert values == {"reasons": (5, "", ""), "understand": (6, "", ""), "threat": (None, "", "dont_know"),
                      "marry": (2, "", ""), "warmth": (40, "", ""), "story": (None, "We argued about the rent.", ""),
                      "attention": (3, "", "")}
    done = other.get(url).content.decode()
    assert "Thank you! Your answers are saved." in done
    assert "Wave 3 opens on" in done


def test_finishing_redirects_to_the_completion_url(client, survey, enroll):
    survey.study.completion_url = "https://app.prolific.com/submissions/complete?cc=ABC123"
    survey.study.save()
    _participant, secret = enroll()
    url = f"/p/{secret}/"
    _response, _hidden, codes = page_form(client, url)
    answer_page(client, url, codes)
    _response, _hidden, codes = page_form(client, url)
    assert link_of(answer_page(client, url, codes)) == survey.study.completion_url


def test_an_empty_text_answer_is_stored_as_skipped_and_a_slider_takes_dont_know(client, survey, enroll):
    participant, secret = enroll()
    survey.study.items_per_page = 10
    survey.study.save()
    url = f"/p/{secret}/"
    _response, _hidden, codes = page_form(client, url)
    link_of(answer_page(client, url, codes, story="", warmth="dk"))
    answers = {r.item.code: r for r in Response.objects.select_related("item")}
    assert (answers["story"].missing, answers["story"].text) == ("skipped", "")
    assert (answers["warmth"].missing, answers["warmth"].value) == ("dont_know", None)


def test_before_a_wave_opens_the_page_says_when(client, survey, enroll):
    survey.waves[2].state = "closed"
    survey.waves[2].closes_at = timezone.now()
    survey.waves[2].save()
    _participant, secret = enroll()
    page = client.get(f"/p/{secret}/").content.decode()
    assert "No questions right now" in page
    assert "Wave 3 opens on" in page
    assert 'name="i_' not in page


def test_after_the_last_wave_the_page_says_the_study_is_over(client, survey, enroll):
    for wave in survey.waves.values():
        wave.state = "closed"
        wave.save()
    _participant, secret = enroll()
    page = client.get(f"/p/{secret}/").content.decode()
    assert "There are no more waves in this study." in page


def test_pages_are_german_when_the_participant_switches_language(client, survey, enroll):
    _participant, secret = enroll()
    url = f"/p/{secret}/"
    response = client.post("/i18n/setlang/", {"language": "de", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    page = client.get(url).content.decode()
    assert 'lang="de"' in page
    assert "Seite 1 von 2" in page
    assert "Speichern und weiter" in page


def test_a_language_the_study_does_not_offer_falls_back_to_the_study_default(client, survey, enroll):
    survey.study.languages = ["de"]
    survey.study.save()
    _participant, secret = enroll()
    page = client.get(f"/p/{secret}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="de"' in page
