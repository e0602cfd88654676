"""Running a panel over time: waves open and close at their times, and invitations and reminders
are planned and handed to workers in batches. One periodic task (`surveys.advance_schedule`,
every SCHEDULE_TICK_SECONDS) calls `advance_schedule`; every step is safe to run twice at once:

- a wave changes state by a conditional UPDATE, so only one run opens or closes it, and only
  that run sends `surveys.signals.wave_closed` (after commit);
- a message is planned by inserting its (participant, wave, kind) row, unique in the database;
- due rows are moved pending -> queued under row locks that concurrent runs skip, so each row
  goes into one batch task; the task claims it again before sending (`surveys.messaging`).

Message schedule of an open wave: the invitation at `opens_at`, reminder i at `opens_at` +
`Study.reminder_delays_hours[i]`, the last-chance reminder at `closes_at - last_chance_hours`.
Only the latest kind that is due is planned, so a schedule that was down for a while sends one
message, not a burst. Reminders go only to those who have not completed the wave; the
invitation only to those who gave their address before the wave opened (later joiners are in
the wave already).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from common.celery import dispatch
from surveys.models import Message, Participant, Study, Submission, Wave
from surveys.signals import wave_closed

logger = logging.getLogger(__name__)

#: Rows moved to queued per transaction while dispatching.
DISPATCH_CHUNK = 5000
#: A queued row whose task never ran (broker lost it) is planned again after this.
QUEUE_LEASE = dt.timedelta(minutes=10)
#: A row claimed longer ago than the batch task's hard time limit was interrupted; it may have
#: gone out, so it is never sent again.
SEND_LEASE = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Tick:
    """What one run of the schedule did."""

    opened: list[int]
    closed: list[int]
    planned: int
    requeued: int
    interrupted: int
    dispatched: int
    batches: int


def advance_schedule(*, now: dt.datetime | None = None) -> Tick:
    """Open and close due waves, plan due messages and dispatch them in batches.  # idempotent; safe to run concurrently"""
    now = now or timezone.now()
    opened = open_due_waves(now=now)
    closed = close_due_waves(now=now)
    planned = plan_messages(now=now)
    requeued, interrupted = recover_stale_messages(now=now)
    dispatched, batches = dispatch_due_messages(now=now)
    tick = Tick(opened=opened, closed=closed, planned=planned, requeued=requeued, interrupted=interrupted,
                dispatched=dispatched, batches=batches)
    if opened or closed or planned or dispatched or requeued or interrupted:
        logger.info("schedule at %s: %s", now.isoformat(), tick)
    return tick


# --- Waves ----------------------------------------------------------------------------------------


def open_due_waves(*, now: dt.datetime) -> list[int]:
    """Scheduled waves of active studies whose window contains `now` become open; returns their ids."""
    opened = []
    due = Wave.objects.filter(state=Wave.State.SCHEDULED, opens_at__lte=now, closes_at__gt=now,
                              study__status=Study.Status.ACTIVE).values_list("pk", flat=True)
    for wave_id in list(due):
        if Wave.objects.filter(pk=wave_id, state=Wave.State.SCHEDULED).update(state=Wave.State.OPEN):
            opened.append(wave_id)
    return opened


def close_wave(*, wave_id: int) -> bool:
    """Close one wave now; sends `wave_closed` after commit.  # atomic; True only for the call that closed it"""
    with transaction.atomic():
        wave = Wave.objects.filter(pk=wave_id).exclude(state=Wave.State.CLOSED).values("study_id").first()
        if wave is None:
            return False
        changed = Wave.objects.filter(pk=wave_id).exclude(state=Wave.State.CLOSED).update(state=Wave.State.CLOSED)
        if not changed:
            return False
        study_id = wave["study_id"]
        transaction.on_commit(lambda: wave_closed.send(sender=Wave, study_id=study_id, wave_id=wave_id))
    return True


def close_due_waves(*, now: dt.datetime) -> list[int]:
    """Waves (of studies past draft) whose closing time has passed become closed; returns their ids."""
    due = (Wave.objects.filter(closes_at__lte=now).exclude(state=Wave.State.CLOSED)
           .exclude(study__status=Study.Status.DRAFT).order_by("closes_at", "pk").values_list("pk", flat=True))
    return [wave_id for wave_id in list(due) if close_wave(wave_id=wave_id)]


# --- Planning -------------------------------------------------------------------------------------


def message_schedule(*, study: Study, wave: Wave) -> list[tuple[str, dt.datetime]]:
    """(kind, due time) of every message of `wave`, in time order."""
    schedule = [("invitation", wave.opens_at)]
    last_chance = None
    if study.last_chance_hours:
        last_chance = wave.closes_at - dt.timedelta(hours=study.last_chance_hours)
        if last_chance <= wave.opens_at:
            last_chance = None
    end = last_chance or wave.closes_at
    for number, hours in enumerate(sorted(study.reminder_delays_hours or []), start=1):
        due = wave.opens_at + dt.timedelta(hours=hours)
        if due < end:
            schedule.append((f"reminder{number}", due))
    if last_chance is not None:
        schedule.append(("last_chance", last_chance))
    return schedule


def due_kind(*, study: Study, wave: Wave, now: dt.datetime) -> str | None:
    """The latest kind of message of `wave` that is due at `now`, or None."""
    if not (wave.opens_at <= now < wave.closes_at):
        return None
    due = [kind for kind, at in message_schedule(study=study, wave=wave) if at <= now]
    return due[-1] if due else None


def plan_messages(*, now: dt.datetime) -> int:
    """Insert the due message rows of every open wave (existing rows are left alone); returns how many were new."""
    planned = 0
    waves = Wave.objects.open(now).filter(study__status=Study.Status.ACTIVE).select_related("study")
    for wave in waves:
        kind = due_kind(study=wave.study, wave=wave, now=now)
        if kind is None:
            continue
        recipients = Participant.objects.filter(
            study_id=wave.study_id, is_preview=False, withdrawn_at__isnull=True, contact__isnull=False,
        ).exclude(Exists(Message.objects.filter(participant=OuterRef("pk"), wave=wave, kind=kind)))
        if kind == "invitation":
            recipients = recipients.filter(contact__consented_at__lte=wave.opens_at)
        else:
            recipients = recipients.exclude(Exists(Submission.objects.filter(
                participant=OuterRef("pk"), wave=wave, completed_at__isnull=False)))
        ids = list(recipients.values_list("pk", flat=True))
        for start in range(0, len(ids), DISPATCH_CHUNK):
            rows = [Message(participant_id=pid, wave=wave, kind=kind, created_at=now, next_attempt_at=now)
                    for pid in ids[start:start + DISPATCH_CHUNK]]
            # A concurrent run may have inserted some of these rows: the unique constraint keeps one.
            Message.objects.bulk_create(rows, ignore_conflicts=True)
        planned += len(ids)
    return planned


# --- Dispatching ----------------------------------------------------------------------------------


def recover_stale_messages(*, now: dt.datetime) -> tuple[int, int]:
    """Queued rows whose task was lost go back to pending; rows left claimed by a dead worker are
    recorded as interrupted (they may have gone out). Returns (requeued, interrupted)."""
    requeued = Message.objects.filter(status=Message.Status.QUEUED, queued_at__lt=now - QUEUE_LEASE).update(
        status=Message.Status.PENDING, queued_at=None)
    interrupted = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now - SEND_LEASE).update(
        status=Message.Status.INTERRUPTED,
        last_error="the worker stopped while sending; not sent again, as it may have gone out")
    return requeued, interrupted


def dispatch_due_messages(*, now: dt.datetime) -> tuple[int, int]:
    """Move due pending rows to queued and send them to workers in batches of MESSAGE_BATCH_SIZE.
    Returns (messages, batches)."""
    size = max(1, settings.MESSAGE_BATCH_SIZE)
    total = batches = 0
    while True:
        with transaction.atomic():
            ids = list(Message.objects.select_for_update(skip_locked=True)
                       .filter(status=Message.Status.PENDING, next_attempt_at__lte=now)
                       .order_by("pk").values_list("pk", flat=True)[:DISPATCH_CHUNK])
            if not ids:
                break
            Message.objects.filter(pk__in=ids, status=Message.Status.PENDING).update(
                status=Message.Status.QUEUED, queued_at=now)
        for start in range(0, len(ids), size):
            # A broker outage leaves the rows queued; recover_stale_messages plans them again.
            dispatch("surveys.send_message_batch", {"message_ids": ids[start:start + size]},
                     catch_up="queued messages are retried later")
            batches += 1
        total += len(ids)
    return total, batches

