"""Waves open and close on time, and invitations and reminders go out once each (in-process,
eager Celery, Django's locmem mailbox). The same schedule with a real worker and beat is in
test_scheduling_worker.py."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from disagreement.celery import app
from surveys import messaging, scheduling
from surveys.models import Message, ParticipantContact, ParticipantToken, Submission, Wave
from surveys.services import withdraw
from surveys.signals import wave_closed
from tests.factories import ParticipantFactory, StudyFactory, WaveFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
LINK_RE = re.compile(r"http://testserver/p/([\w-]+)/")
STEP = 6 * HOUR  # the schedule runs every 6 simulated hours (every due time is on this grid)
UNSUBSCRIBE_RE = re.compile(r"http://testserver/u/([\w:.-]+)/")


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "http://testserver"
    settings.MESSAGE_BATCH_SIZE = 2  # several batches even for a handful of messages


def make_panel(*, waves=3):
    """Waves open at T0 + 1, 15, 29 days for 7 days; reminders after 24 h and 72 h, last chance 24 h
    before closing."""
    study = StudyFactory(slug="panel", title="Panel & co", collect_email=True, reminder_delays_hours=[24, 72],
                         last_chance_hours=24)
    made = [WaveFactory(study=study, number=n, opens_at=T0 + (1 + 14 * (n - 1)) * DAY,
                        closes_at=T0 + (8 + 14 * (n - 1)) * DAY, state=Wave.State.SCHEDULED)
            for n in range(1, waves + 1)]
    return study, made


def person(study, name, *, email=True, **kwargs):
    participant = ParticipantFactory(study=study, joined_at=T0, **kwargs)
    if email:
        ParticipantContact.objects.create(participant=participant, email=f"{name}@example.org", consented_at=T0)
    return participant


def complete(participant, wave, at):
    Submission.objects.create(participant=participant, wave=wave, started_at=at - HOUR, completed_at=at)


def sent_messages():
    """(recipient, wave number, kind) of every e-mail in the outbox, read from its text."""
    kinds = {"is open": "invitation", "Reminder:": "reminder", "Last chance": "last_chance"}
    found = []
    for email in mail.outbox:
        kind = next(k for marker, k in kinds.items() if marker in email.subject)
        wave = int(re.search(r"wave (\d+)", email.subject).group(1))
        found.append((email.to[0].split("@")[0], wave, kind))
    return found


@pytest.fixture
def closed_signals():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    wave_closed.connect(receiver, dispatch_uid="test-scheduling")
    yield received
    wave_closed.disconnect(dispatch_uid="test-scheduling")


def test_registered_survey_task_names_are_pinned():
    app.loader.import_default_modules()
    ours = sorted(name for name in app.tasks if name.startswith("surveys."))
    assert ours == ["surveys.advance_schedule", "surveys.delete_expired_data", "surveys.send_message_batch"]
    task = app.tasks["surveys.send_message_batch"]
    assert task.acks_late is True and task.time_limit == 300


def test_message_schedule_lists_invitation_reminders_and_last_chance_in_time_order():
    study, (wave, *_rest) = make_panel(waves=1)
    assert scheduling.message_schedule(study=study, wave=wave) == [
        ("invitation", wave.opens_at), ("reminder1", wave.opens_at + 24 * HOUR),
        ("reminder2", wave.opens_at + 72 * HOUR), ("last_chance", wave.closes_at - 24 * HOUR)]
    # A reminder due after the last chance is dropped; no last chance without its setting.
    study.reminder_delays_hours, study.last_chance_hours = [24, 150], None
    assert [k for k, _ in scheduling.message_schedule(study=study, wave=wave)] == ["invitation", "reminder1",
                                                                                    "reminder2"]
    study.last_chance_hours = 24
    assert [k for k, _ in scheduling.message_schedule(study=study, wave=wave)] == ["invitation", "reminder1",
                                                                                    "last_chance"]


def test_a_three_wave_study_runs_through_its_schedule_and_each_message_goes_once(
        closed_signals, django_capture_on_commit_callbacks):
    study, waves = make_panel()
    a, b, c, d = (person(study, name) for name in "abcd")
    person(study, "e", email=False)  # no address: never mailed
    person(study, "p", is_preview=True)  # a researcher's test run: never mailed
    f = person(study, "f")
    # a completes every wave 2 h after it opens, b after 50 h, c never; d completes wave 1 after
    # 30 h and unsubscribes on day 10; f withdraws before anything opens.
    plan = {(a.pk, w.number): w.opens_at + 2 * HOUR for w in waves}
    plan.update({(b.pk, w.number): w.opens_at + 50 * HOUR for w in waves})
    plan[(d.pk, 1)] = waves[0].opens_at + 30 * HOUR
    with time_machine.travel(T0, tick=False) as clock:
        withdraw(participant=f, delete_answers=False)
        now = T0
        while now <= T0 + 40 * DAY:
            clock.move_to(now)
            for (pid, number), at in plan.items():
                if now - STEP < at <= now:
                    complete(type(a).objects.get(pk=pid), waves[number - 1], at)
            if now == T0 + 10 * DAY:
                messaging.unsubscribe(participant_id=d.pk)
            with django_capture_on_commit_callbacks(execute=True):
                scheduling.advance_schedule()
                scheduling.advance_schedule()  # a second tick at the same moment changes nothing
            now += STEP

    expected = []
    for number in (1, 2, 3):
        expected += [(name, number, "invitation") for name in ("abcd" if number == 1 else "abc")]
        expected += [(name, number, "reminder") for name in ("bcd" if number == 1 else "bc")]
        expected += [("c", number, "reminder"), ("c", number, "last_chance")]
    assert sorted(sent_messages()) == sorted(expected)
    assert len(mail.outbox) == 23
    assert Message.objects.filter(status="sent").count() == 23
    assert Message.objects.exclude(status="sent").count() == 0
    assert [w.state for w in Wave.objects.order_by("number")] == ["closed"] * 3
    assert sorted(s["wave_id"] for s in closed_signals) == sorted(w.pk for w in waves)  # once each


def test_each_message_carries_a_working_personal_link_and_unsubscribe_link(client):
    study, (wave, *_rest) = make_panel(waves=1)
    a = person(study, "a")
    with time_machine.travel(wave.opens_at + HOUR, tick=False):
        scheduling.advance_schedule()
    (email,) = mail.outbox
    assert email.to == ["a@example.org"]
    assert email.subject == "Panel & co: wave 1 is open"  # plain text: nothing escaped
    secret = LINK_RE.search(email.body).group(1)
    token = ParticipantToken.lookup(secret)
    assert token.participant == a and token.grants_data_access is False
    unsubscribe = UNSUBSCRIBE_RE.search(email.body).group(1)
    assert email.extra_headers["List-Unsubscribe"] == f"<http://testserver/u/{unsubscribe}/>"
    assert messaging.read_unsubscribe_token(unsubscribe) == a.pk
    assert messaging.read_unsubscribe_token(unsubscribe[:-2] + "xx") is None
    assert client.get(f"/p/{secret}/").status_code == 200


def test_the_participants_language_and_the_studys_own_template_are_used():
    from surveys.models import MessageTemplate

    study, (wave, *_rest) = make_panel(waves=1)
    person(study, "de", language="de")
    person(study, "en", language="en")
    person(study, "fr", language="fr")  # not offered: the study's default language
    MessageTemplate.objects.create(study=study, kind="invitation", language="en", subject="Welle {{ wave }} / custom",
                                   body="Go: {{ link }}\nStop: {{ unsubscribe_link }}")
    with time_machine.travel(wave.opens_at + HOUR, tick=False):
        scheduling.advance_schedule()
    by_to = {m.to[0].split("@")[0]: m for m in mail.outbox}
    assert by_to["de"].subject == "Panel & co: Welle 1 ist geöffnet"
    assert "Ihr persönlicher Link" in by_to["de"].body or "persönlichen Link" in by_to["de"].body
    assert by_to["en"].subject == "Welle 1 / custom"
    assert by_to["en"].body.startswith("Go: http://testserver/p/")
    assert by_to["fr"].subject == "Welle 1 / custom"


def test_reminders_skip_whoever_completed_or_withdrew_after_planning():
    study, (wave, *_rest) = make_panel(waves=1)
    a, b, c = (person(study, name) for name in "abc")
    Wave.objects.filter(pk=wave.pk).update(state="open")
    with time_machine.travel(wave.opens_at + 25 * HOUR, tick=False):
        scheduling.plan_messages(now=wave.opens_at + 25 * HOUR)
        assert Message.objects.filter(kind="reminder1").count() == 3
        complete(a, wave, wave.opens_at + 25 * HOUR)
        withdraw(participant=b, delete_answers=False)
        scheduling.advance_schedule()
    assert [m.to for m in mail.outbox] == [["c@example.org"]]
    statuses = dict(Message.objects.values_list("participant__contact__email", "status").filter(
        participant__contact__isnull=False))
    assert statuses == {"a@example.org": "skipped", "c@example.org": "sent"}
    assert Message.objects.get(participant=a).status == "skipped"
    assert Message.objects.get(participant=a).last_error == "wave completed"
    assert Message.objects.get(participant=b).status == "skipped"
    assert not ParticipantContact.objects.filter(participant=b).exists()


def test_a_batch_delivered_twice_sends_each_message_once():
    study, (wave, *_rest) = make_panel(waves=1)
    for name in "abc":
        person(study, name)
    Wave.objects.filter(pk=wave.pk).update(state="open")
    now = wave.opens_at + HOUR
    with time_machine.travel(now, tick=False):
        scheduling.plan_messages(now=now)
        ids = list(Message.objects.values_list("pk", flat=True))
        Message.objects.update(status="queued", queued_at=now)
        first = messaging.send_message_batch(message_ids=ids)
        second = messaging.send_message_batch(message_ids=ids)
    assert (first.sent, first.claimed, second.sent, second.claimed) == (3, 3, 0, 0)
    assert len(mail.outbox) == 3


def test_a_lost_batch_is_queued_again_and_a_dead_senders_rows_are_never_resent():
    study, (wave, *_rest) = make_panel(waves=1)
    a, b = person(study, "a"), person(study, "b")
    Wave.objects.filter(pk=wave.pk).update(state="open")
    now = wave.opens_at + HOUR
    scheduling.plan_messages(now=now)
    Message.objects.filter(participant=a).update(status="queued", queued_at=now)  # its task was lost
    Message.objects.filter(participant=b).update(status="sending", claimed_at=now, attempts=1)  # worker died
    with time_machine.travel(now + 20 * dt.timedelta(minutes=1), tick=False):
        tick = scheduling.advance_schedule()
    assert (tick.requeued, tick.interrupted, tick.dispatched) == (1, 1, 1)
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    assert Message.objects.get(participant=b).status == "interrupted"


def test_waves_open_and_close_only_when_due_and_draft_studies_stay_untouched(closed_signals,
                                                                         django_capture_on_commit_callbacks):
    study, (wave, *_rest) = make_panel(waves=1)
    draft = StudyFactory(status="draft")
    draft_wave = WaveFactory(study=draft, number=1, opens_at=wave.opens_at, closes_at=wave.closes_at,
                             state="scheduled")
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.advance_schedule(now=wave.opens_at - dt.timedelta(seconds=1))
        assert Wave.objects.get(pk=wave.pk).state == "scheduled"
        assert scheduling.advance_schedule(now=wave.opens_at).opened == [wave.pk]
        assert Wave.objects.get(pk=wave.pk).state == "open"
        assert scheduling.advance_schedule(now=wave.closes_at).closed == [wave.pk]
        assert scheduling.advance_schedule(now=wave.closes_at).closed == []
    assert Wave.objects.get(pk=wave.pk).state == "closed"
    assert Wave.objects.get(pk=draft_wave.pk).state == "scheduled"
    assert closed_signals == [{"signal": wave_closed, "study_id": study.pk, "wave_id": wave.pk}]


def test_a_wave_missed_entirely_while_the_schedule_was_down_closes_without_messages(
        closed_signals, django_capture_on_commit_callbacks):
    study, (wave, *_rest) = make_panel(waves=1)
    person(study, "a")
    with django_capture_on_commit_callbacks(execute=True):
        tick = scheduling.advance_schedule(now=wave.closes_at + DAY)
    assert tick.opened == [] and tick.closed == [wave.pk] and mail.outbox == []
    assert len(closed_signals) == 1


def test_after_downtime_only_the_latest_due_message_is_sent():
    study, (wave, *_rest) = make_panel(waves=1)
    person(study, "a")
    # The schedule was down from before the opening until after the second reminder was due.
    with time_machine.travel(wave.opens_at + 73 * HOUR, tick=False):
        scheduling.advance_schedule()
    assert list(Message.objects.values_list("kind", flat=True)) == ["reminder2"]
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("delays", [[0], [-24], ["24"], [1.5], "24,72", list(range(1, 13)), [True]])
def test_reminder_delays_must_be_a_short_list_of_positive_whole_hours(delays):
    from django.core.exceptions import ValidationError

    study = StudyFactory.build(reminder_delays_hours=delays)
    with pytest.raises(ValidationError, match="reminder delays"):
        study.clean()


def test_reminder_delays_are_sorted_and_deduplicated_and_may_be_empty():
    study = StudyFactory.build(reminder_delays_hours=[72, 24, 72])
    study.clean()
    assert study.reminder_delays_hours == [24, 72]
    study.reminder_delays_hours = None
    study.clean()
    assert study.reminder_delays_hours == []


def test_the_admin_action_closes_a_wave_now_and_sends_wave_closed_once(client, closed_signals,
                                                                     django_capture_on_commit_callbacks):
    from tests.factories import MembershipFactory

    study, (wave, *_rest) = make_panel(waves=1)
    Wave.objects.filter(pk=wave.pk).update(state="open")
    owner = MembershipFactory(study=study).user
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            response = client.post("/admin/surveys/wave/", {"action": "close_now", "_selected_action": [wave.pk]})
            assert response.status_code == 302
    assert Wave.objects.get(pk=wave.pk).state == "closed"
    assert closed_signals == [{"signal": wave_closed, "study_id": study.pk, "wave_id": wave.pk}]
