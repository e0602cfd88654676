"""Withdrawal (with or without deleting answers), the answers_changed signal, and my-data."""

import csv
import io

import pytest

from surveys import services
from surveys.models import Participant, Response, Submission
from surveys.signals import answers_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(survey, enroll, client):
    """A participant who answered wave 2 completely (two pages)."""
    survey.study.items_per_page = 10
    survey.study.save()
    participant, secret = enroll(groups={"side": 2})
    client.get(f"/p/{secret}/")
    data = {"step": "answers", "wave": "2", "page": "0", "i_reasons": "5", "i_understand": "6", "i_threat": "dk",
            "i_marry": "2", "i_warmth": "40", "i_story": "=HYPERLINK(\"x\")", "i_attention": "3"}
    assert client.post(f"/p/{secret}/", data).status_code == 303
    return participant, secret


@pytest.fixture
def signals():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    answers_changed.connect(receiver, dispatch_uid="test-receiver")
    yield received
    answers_changed.disconnect(dispatch_uid="test-receiver")


def test_withdrawing_keeps_answers_but_stops_new_ones(client, answered, signals, django_capture_on_commit_callbacks):
    participant, secret = answered
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/p/{secret}/withdraw/", {})
    assert response.status_code == 303
    participant.refresh_from_db()
    assert participant.withdrawn_at is not None
    assert Response.objects.filter(submission__participant=participant).count() == 7
    assert Participant.objects.analysable().filter(pk=participant.pk).exists() is False
    assert signals == [{"signal": answers_changed, "study_id": participant.study_id,
                        "wave_ids": [participant.submissions.get().wave_id], "deleted": False}]
    page = client.get(f"/p/{secret}/withdraw/").content.decode()
    assert "Delete all my answers" in page


def test_withdrawing_with_deletion_removes_every_answer(client, answered, signals, django_capture_on_commit_callbacks):
    participant, secret = answered
    wave_id = participant.submissions.get().wave_id
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/p/{secret}/withdraw/", {"delete_answers": "on"})
    participant.refresh_from_db()
    assert participant.withdrawn_at is not None and participant.groups == {}
    assert Submission.objects.filter(participant=participant).count() == 0
    assert Response.objects.count() == 0
    assert participant.arm is not None  # the allocation record stays
    assert signals[-1] == {"signal": answers_changed, "study_id": participant.study_id, "wave_ids": [wave_id],
                           "deleted": True}
    assert "None of your answers are stored." in client.get(f"/p/{secret}/withdraw/").content.decode()


def test_deletion_may_follow_a_plain_withdrawal_and_repeats_change_nothing(answered, signals,
                                                                          django_capture_on_commit_callbacks):
    participant, _secret = answered
    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw(participant=participant, delete_answers=False)
        first = Participant.objects.get(pk=participant.pk).withdrawn_at
        services.withdraw(participant=participant, delete_answers=False)
        services.withdraw(participant=participant, delete_answers=True)
        services.withdraw(participant=participant, delete_answers=True)
    assert Participant.objects.get(pk=participant.pk).withdrawn_at == first
    assert Response.objects.count() == 0
    assert [s["deleted"] for s in signals] == [False, True]


def test_a_preview_participant_withdrawing_sends_no_signal(survey, signals, django_capture_on_commit_callbacks):
    participant, _secret = services.start_preview(study=survey.study, wave=survey.waves[2], arm=None, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw(participant=participant, delete_answers=True)
    assert signals == []


def test_my_data_downloads_own_answers_as_csv(client, answered):
    participant, secret = answered
    response = client.get(f"/p/{secret}/my-data/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"my-answers-{participant.public_id}.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_item = {row["item"]: row for row in rows}
    assert len(rows) == 8  # the baseline answer and the 7 wave answers
    assert by_item["side"]["wave"] == "baseline" and by_item["side"]["value_label"] == "right"
    assert by_item["reasons"]["value"] == "5" and by_item["reasons"]["wave"] == "2"
    assert by_item["threat"]["missing"] == "dont_know" and by_item["threat"]["value"] == ""
    assert by_item["warmth"]["value"] == "40"
    assert by_item["story"]["text"] == "'=HYPERLINK(\"x\")"  # never a spreadsheet formula
    assert {row["participant"] for row in rows} == {participant.public_id}
    assert "external" not in response.content.decode()


def test_my_data_holds_nothing_of_other_participants(client, answered, enroll):
    _other, other_secret = enroll()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/p/{other_secret}/my-data/").content.decode("utf-8-sig"))))
    assert [row["item"] for row in rows] == ["side"]
