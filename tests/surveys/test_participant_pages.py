"""What every participant page carries: the favicon, the study's title in the page's language,
progress with the time left, the personal link after joining, the stale-tab message, and
Prolific's SESSION_ID kept through the baseline."""

import pytest

from surveys import selectors
from surveys.models import Item, Participant, Study, Submission
from tests.surveys.test_participant_flow import answer_page, link_of, page_form

pytestmark = pytest.mark.django_db


def test_favicon_is_our_own_icon_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age=86400" in response["Cache-Control"]


def test_pages_link_the_icon(client, survey):
    assert 'rel="icon" href="/static/favicon.ico"' in client.get("/s/survey/").content.decode()


def test_title_and_description_follow_the_page_language(client, survey):
    Study.objects.filter(pk=survey.study.pk).update(
        title_i18n={"en": "How far apart do we feel?", "de": "Wie weit liegen wir auseinander?"},
        description="A panel about disagreement.",
        description_i18n={"en": "A panel about disagreement.", "de": "Ein Panel über Meinungsverschiedenheiten."})
    german = client.get("/s/survey/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "<h1>Wie weit liegen wir auseinander?</h1>" in german
    assert "Wie weit liegen wir auseinander?</title>" in german
    assert "Ein Panel über Meinungsverschiedenheiten." in german
    english = client.get("/s/survey/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>How far apart do we feel?</h1>" in english and "A panel about disagreement." in english


def test_a_language_without_a_title_falls_back_to_the_default_title(survey):
    study = survey.study
    study.title, study.title_i18n = "Default title", {"de": "Deutscher Titel"}
    assert study.title_in("de") == "Deutscher Titel"
    assert study.title_in("de-AT") == "Deutscher Titel"
    assert study.title_in("en") == "Default title"


def test_wave_pages_show_progress_as_text_and_bar_with_minutes_left(client, survey, enroll):
    _participant, secret = enroll()
    url = f"/p/{secret}/"
    first = client.get(url).content.decode()
    # 7 items at the default 12 s each: 84 s, so about 2 minutes.
    assert "Page 1 of 2 · <span id=\"time-left\">about 2 minutes left</span>" in first
    assert '<progress class="progress-bar" max="100" value="0" aria-labelledby="progress">' in first
    _response, _hidden, codes = page_form(client, url)
    answer_page(client, url, codes)
    second = client.get(url).content.decode()
    # 3 items left: 36 s, rounded up to a minute.
    assert "Page 2 of 2 · <span id=\"time-left\">about 1 minute left</span>" in second
    assert 'value="50"' in second


def test_minutes_left_come_from_measured_times_of_completed_waves(survey, enroll):
    from django.core.cache import cache
    for _ in range(5):
        participant, _secret = enroll()
        Submission.objects.create(participant=participant, wave=survey.waves[2], item_order=["a", "b", "c", "d"],
                                  completed_at=survey.waves[2].opens_at, started_at=survey.waves[2].opens_at,
                                  duration_seconds=120)
    cache.delete(f"surveys:pace:{survey.study.pk}")
    assert selectors.seconds_per_item(survey.study.pk) == 30.0
    assert selectors.minutes_left(7, 30.0) == 4  # 210 s
    assert selectors.minutes_left(0, 30.0) == 0


def test_the_personal_link_is_shown_once_with_a_copy_button_after_joining(client, survey):
    url = link_of(client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk}))
    baseline = client.get(url).content.decode()
    assert f'id="personal-link" type="text" readonly value="http://testserver{url}"' in baseline
    assert 'id="copy-link"' in baseline and "surveys/copy-link.js" in baseline
    link_of(client.post(url, {"step": "baseline", "i_side": "1"}))
    assert 'id="personal-link"' not in client.get(url).content.decode()


def test_without_a_baseline_the_first_wave_page_shows_the_link_until_it_is_answered(client, survey, enroll):
    Item.objects.filter(study=survey.study, role="grouping").update(role="attitude")
    _participant, secret = enroll(groups={})
    url = f"/p/{secret}/"
    assert 'id="personal-link"' in client.get(url).content.decode()
    _response, _hidden, codes = page_form(client, url)
    answer_page(client, url, codes)
    assert 'id="personal-link"' not in client.get(url).content.decode()


def test_the_personal_link_is_not_shown_once_the_baseline_is_done(client, survey, enroll):
    _participant, secret = enroll()
    assert 'id="personal-link"' not in client.get(f"/p/{secret}/").content.decode()


def test_a_stale_tab_is_told_its_page_was_answered_and_sees_where_it_is(client, survey, enroll):
    participant, secret = enroll()
    url = f"/p/{secret}/"
    _response, hidden, codes = page_form(client, url)
    stale_tab = {**hidden, **{f"i_{code}": "3" if code != "warmth" else "50" for code in codes}}
    assert link_of(answer_page(client, url, codes)) == url
    response = client.post(url, stale_tab)  # the same page again, from a second tab
    assert link_of(response) == url + "?stale=1"
    page = client.get(url + "?stale=1").content.decode()
    assert "You sent a page you had already answered" in page
    assert "Page 2 of 2" in page
    assert Submission.objects.get(participant=participant).page == 1


def test_prolific_session_id_survives_the_baseline_and_lands_on_the_wave(client, survey):
    params = {"agree": "on", "consent_version": survey.consent.pk, "PROLIFIC_PID": "abc123", "STUDY_ID": "st1",
              "SESSION_ID": "se1"}
    url = link_of(client.post("/s/survey/", params))
    _response, hidden, _codes = page_form(client, url)
    assert (hidden["PROLIFIC_PID"], hidden["STUDY_ID"], hidden["SESSION_ID"]) == ("abc123", "st1", "se1")
    home = link_of(client.post(url, {**hidden, "i_side": "1"}))
    assert home.endswith("?PROLIFIC_PID=abc123&STUDY_ID=st1&SESSION_ID=se1")
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(arm=survey.control)
    client.get(home)
    assert Submission.objects.get(participant=participant).external_session_id == "se1"


def test_a_malformed_session_id_is_not_carried(client, survey):
    url = link_of(client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk}))
    _response, hidden, _codes = page_form(client, url + "?SESSION_ID=%3Cscript%3E")
    assert "SESSION_ID" not in hidden
