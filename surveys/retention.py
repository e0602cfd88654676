"""Data retention: identifying data (e-mail addresses, Prolific and other external ids, session
ids) is kept for `Study.retention_days` after the study's last wave closes, then deleted by the
periodic task `surveys.delete_expired_data`, and each deletion is recorded (`DataDeletion`).
With `Study.retention_deletes_answers`, the answers go too, and `answers_changed` tells the
analysis to recompute the affected waves."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from surveys import summaries
from surveys.models import (
    DataDeletion,
    Message,
    Participant,
    ParticipantContact,
    Response,
    Study,
    Submission,
)
from surveys.signals import answers_changed


def retention_ends_at(study: Study) -> dt.datetime | None:
    """When the study's identifying data is due for deletion: its last wave's closing time plus
    `retention_days`; None without a retention period or waves."""
    if study.retention_days is None:
        return None
    last_close = study.waves.aggregate(last=Max("closes_at"))["last"]
    if last_close is None:
        return None
    return last_close + dt.timedelta(days=study.retention_days)


def delete_identifying_data(*, study: Study, due_at: dt.datetime, delete_answers: bool = False) -> DataDeletion | None:
    """Delete the study's e-mail addresses and external ids (and answers if asked), and record it.  # atomic; a second call finds nothing and records nothing"""
    with transaction.atomic():
        Study.objects.select_for_update().get(pk=study.pk)  # one deletion of a study at a time
        contacts = ParticipantContact.objects.filter(participant__study=study).delete()[0]
        Message.objects.filter(participant__study=study, status__in=[Message.Status.PENDING, Message.Status.QUEUED]
                               ).update(status=Message.Status.SKIPPED, last_error="retention period ended")
        external = Participant.objects.filter(study=study).exclude(external_id="", external_study_id="").update(
            external_id="", external_study_id="")
        Submission.objects.filter(participant__study=study).exclude(
            external_session_id="", external_study_id="", external_id="").update(
            external_session_id="", external_study_id="", external_id="")
        deleted_for = 0
        wave_ids: list[int] = []
        if delete_answers:
            submissions = Submission.objects.filter(participant__study=study, participant__is_preview=False)
            wave_ids = sorted(set(submissions.values_list("wave_id", flat=True)))
            deleted_for = submissions.values("participant_id").distinct().count()
            Response.objects.filter(submission__in=submissions).delete()
            submissions.delete()
            Participant.objects.filter(study=study).exclude(groups={}).update(groups={})
            summaries.recount_study(study.pk)
        if not (contacts or external or deleted_for):
            return None
        record = DataDeletion.objects.create(
            study=study, due_at=due_at, contacts_deleted=contacts, external_ids_cleared=external,
            participants_answers_deleted=deleted_for)
        if deleted_for:
            study_id = study.pk
            transaction.on_commit(lambda: answers_changed.send(
                sender=Study, study_id=study_id, wave_ids=wave_ids, deleted=True))
    return record


def delete_expired_data(*, now: dt.datetime | None = None) -> list[DataDeletion]:
    """Run `delete_identifying_data` for every study whose retention period has ended.  # idempotent"""
    now = now or timezone.now()
    records = []
    for study in Study.objects.filter(retention_days__isnull=False).exclude(status=Study.Status.DRAFT):
        due = retention_ends_at(study)
        if due is None or due > now:
            continue
        record = delete_identifying_data(study=study, due_at=due, delete_answers=study.retention_deletes_answers)
        if record is not None:
            records.append(record)
    return records
