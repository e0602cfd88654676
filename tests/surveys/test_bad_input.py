"""Every kind of bad input gets a clear message and a 4xx, and stores nothing."""

import pytest
from django.test import Client
from django.utils import timezone

from surveys.models import Participant, Response, Submission
from surveys.services import TEXT_MAX_LENGTH
from surveys.views.participant import MAX_BODY_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_page(survey):
    """Every item on one page, so one POST answers the whole wave."""
    survey.study.items_per_page = 10
    survey.study.save()
    return survey


@pytest.fixture
def started(one_page, enroll, client):
    participant, secret = enroll()
    client.get(f"/p/{secret}/")
    return participant, secret


def good_answers(**override):
    data = {"step": "answers", "wave": "2", "page": "0", "i_reasons": "5", "i_understand": "6",
            "i_threat": "dk", "i_marry": "2", "i_warmth": "40", "i_story": "A text.", "i_attention": "3"}
    data.update(override)
    return {k: v for k, v in data.items() if v is not None}


def stored() -> int:
    return Response.objects.count()


def test_it_rejects_a_value_outside_the_scale(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(i_reasons="9"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please choose one of the options shown." in html
    assert 'id="q-reasons-error"' in html and 'aria-describedby="q-reasons-error"' in html
    assert stored() == 0


def test_it_rejects_a_slider_value_off_its_step_grid_or_range(client, started):
    _participant, secret = started
    for bad in ("40.5", "101", "-1", "nan", "1e309", "forty"):
        response = client.post(f"/p/{secret}/", good_answers(i_warmth=bad))
        assert response.status_code == 400, bad
        assert 'id="q-warmth-error"' in response.content.decode(), bad
    assert stored() == 0


def test_it_rejects_a_missing_required_answer_and_keeps_the_other_answers_shown(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(i_marry=None))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please choose an answer." in html
    assert 'href="#q-marry"' in html  # the error summary links to the question
    assert 'value="5" checked' in html  # what was answered is not lost
    assert stored() == 0


def test_it_rejects_dont_know_where_the_item_offers_none(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(i_reasons="dk"))
    assert response.status_code == 400
    assert stored() == 0


def test_it_rejects_a_slider_with_both_a_number_and_dont_know(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", {**good_answers(), "i_warmth_dk": "on"})
    assert response.status_code == 400
    assert "not both" in response.content.decode()
    assert stored() == 0


def test_it_rejects_an_item_not_in_the_wave(client, started, survey):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(i_side="1", i_nosuchitem="3"))
    assert response.status_code == 400
    assert "not on this page" in response.content.decode()
    assert stored() == 0


def test_it_rejects_text_over_the_length_limit(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(i_story="x" * (TEXT_MAX_LENGTH + 1)))
    html = response.content.decode()
    assert response.status_code == 400
    assert f"at most {TEXT_MAX_LENGTH} characters (it has {TEXT_MAX_LENGTH + 1})" in html
    assert stored() == 0
    assert client.post(f"/p/{secret}/", good_answers(i_story="x" * TEXT_MAX_LENGTH)).status_code == 303


def test_it_refuses_an_oversized_body_with_413(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(i_story="x" * (MAX_BODY_BYTES + 10)))
    assert response.status_code == 413
    assert "more data than any page" in response.content.decode()
    assert stored() == 0


def test_an_unknown_or_forged_token_is_404(client, started):
    _participant, secret = started
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for url in (f"/p/{forged}/", "/p/x/", f"/p/{'a' * 200}/", f"/p/{forged}/withdraw/", f"/p/{forged}/my-data/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/p/{forged}/", good_answers()).status_code == 404
    assert stored() == 0


def test_a_revoked_token_is_404(client, started):
    participant, secret = started
    participant.tokens.update(revoked_at=timezone.now())
    assert client.get(f"/p/{secret}/").status_code == 404


def test_answers_to_a_closed_wave_are_refused_with_410(client, started, survey):
    _participant, secret = started
    wave = survey.waves[2]
    wave.state = "closed"
    wave.closes_at = timezone.now()
    wave.save()
    response = client.post(f"/p/{secret}/", good_answers())
    assert response.status_code == 410
    assert "Wave 2 closed on" in response.content.decode()
    assert stored() == 0


def test_a_withdrawn_participant_cannot_answer(client, started):
    participant, secret = started
    Participant.objects.filter(pk=participant.pk).update(withdrawn_at=timezone.now())
    response = client.post(f"/p/{secret}/", good_answers())
    assert response.status_code == 403
    assert "You have withdrawn" in response.content.decode()
    assert stored() == 0
    assert "You have withdrawn" in client.get(f"/p/{secret}/").content.decode()


def test_a_repeated_post_stores_exactly_one_answer_set(client, started):
    participant, secret = started
    first = client.post(f"/p/{secret}/", good_answers())
    again = client.post(f"/p/{secret}/", good_answers())
    changed = client.post(f"/p/{secret}/", good_answers(i_reasons="1"))  # a retry after editing
    assert first.status_code == again.status_code == changed.status_code == 303
    assert again["Location"] == changed["Location"] == first["Location"] + "?stale=1"  # says it was answered
    assert stored() == 7
    submission = Submission.objects.get(participant=participant)
    assert submission.responses.get(item__code="reasons").value == 5
    assert submission.completed_at is not None


def test_a_page_from_the_future_is_refused(client, started):
    _participant, secret = started
    response = client.post(f"/p/{secret}/", good_answers(page="3"))
    assert response.status_code == 400
    assert stored() == 0


def test_a_post_without_wave_or_step_is_a_clear_400(client, started):
    _participant, secret = started
    for data in ({}, {"step": "answers"}, {"step": "answers", "wave": "99"}, {"step": "x", "wave": "2"},
                 {"step": "answers", "wave": "2", "page": "minus"}):
        response = client.post(f"/p/{secret}/", data)
        assert response.status_code == 400, data
        assert "The form was incomplete" in response.content.decode()
    assert stored() == 0


def test_a_malformed_prolific_id_is_a_clear_400(client, survey):
    response = client.get("/s/survey/", {"PROLIFIC_PID": "<script>", "STUDY_ID": "x"})
    assert response.status_code == 400
    assert "malformed Prolific id" in response.content.decode()
    response = client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk,
                                          "PROLIFIC_PID": "a" * 129})
    assert response.status_code == 400
    assert Participant.objects.count() == 0


def test_consent_to_an_outdated_version_is_refused(client, survey):
    from tests.factories import ConsentVersionFactory

    old = survey.consent
    ConsentVersionFactory(study=survey.study, version=2)
    response = client.post("/s/survey/", {"agree": "on", "consent_version": old.pk})
    assert response.status_code == 400
    assert "consent information has changed" in response.content.decode()
    assert Participant.objects.count() == 0


def test_unknown_draft_and_closed_studies(client, survey):
    assert client.get("/s/nosuch/").status_code == 404
    survey.study.status = "draft"
    survey.study.save()
    assert client.get("/s/survey/").status_code == 404
    survey.study.status = "closed"
    survey.study.save()
    response = client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk})
    assert response.status_code == 410
    assert Participant.objects.count() == 0


def test_baseline_answers_off_the_options_are_refused(client, survey):
    participant_url = client.post("/s/survey/", {"agree": "on", "consent_version": survey.consent.pk})["Location"]
    response = client.post(participant_url, {"step": "baseline", "i_side": "3"})
    assert response.status_code == 400
    assert Participant.objects.get().groups == {}
    assert Participant.objects.get().arm is None


def test_a_post_without_csrf_token_is_refused(started):
    _participant, secret = started
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/p/{secret}/", good_answers()).status_code == 403
    assert stored() == 0
