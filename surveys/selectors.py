"""Reads for the participant survey and the preview (writes live in services.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.http import Http404
from django.utils import timezone

from .models import (
    Intervention,
    Item,
    Participant,
    ParticipantToken,
    Response,
    Study,
    Submission,
    Wave,
    translate,
)


def get_token(secret: str) -> ParticipantToken | None:
    """The active token of a personal link, with its participant and study; None when unknown."""
    return ParticipantToken.lookup(secret)


def get_landing_study(slug: str) -> Study | None:
    """A study whose landing page participants may see (active or closed; drafts are hidden)."""
    return Study.objects.filter(slug=slug).exclude(status=Study.Status.DRAFT).first()


def get_returning_participant(*, study: Study, external_id: str, external_study_id: str) -> Participant | None:
    """The participant already known by this Prolific pair, if any."""
    if not external_id:
        return None
    return Participant.objects.filter(
        study=study, external_id=external_id, external_study_id=external_study_id, is_preview=False
    ).first()


def get_preview_study(*, user, slug: str) -> Study:
    """`slug` if `user` is a member of it (any status); 404 otherwise, so non-members learn nothing."""
    study = Study.objects.for_user(user).filter(slug=slug).first()
    if study is None:
        raise Http404("No such study.")
    return study


def list_grouping_items(study: Study) -> list[Item]:
    return list(study.items.filter(role=Item.Role.GROUPING).order_by("order", "id"))


def list_missing_baseline_items(participant: Participant) -> list[Item]:
    """Grouping items the participant has not answered yet (the baseline page)."""
    answered = set((participant.groups or {}).keys())
    return [item for item in list_grouping_items(participant.study) if item.code not in answered]


def needs_baseline(participant: Participant) -> bool:
    """Whether a grouping item is unanswered (a cheap check: codes only, asked on every page)."""
    answered = set((participant.groups or {}).keys())
    codes = participant.study.items.filter(role=Item.Role.GROUPING).values_list("code", flat=True)
    return any(code not in answered for code in codes)


def list_wave_items(wave: Wave) -> dict[str, Item]:
    """The wave's items by code (grouping items are asked at baseline, never in a wave).
    Read once per Wave instance: a request asks several times (page, form, service)."""
    cached = getattr(wave, "_items_by_code", None)
    if cached is None:
        items = wave.items.exclude(role=Item.Role.GROUPING).select_related("study")
        cached = wave._items_by_code = {item.code: item for item in items}
    return cached


def get_intervention(*, wave: Wave, arm_id: int | None) -> Intervention | None:
    if arm_id is None:
        return None
    return Intervention.objects.filter(wave=wave, arm_id=arm_id).first()


def page_codes(submission: Submission, page: int, per_page: int) -> list[str]:
    """Item codes shown on `page` (0-based) of a submission, in the participant's recorded order."""
    return list(submission.item_order[page * per_page:(page + 1) * per_page])


def page_count(submission: Submission, per_page: int) -> int:
    return -(-len(submission.item_order) // per_page)


@dataclass(frozen=True)
class ParticipantState:
    """What `/p/<token>/` shows now.

    kind: ``withdrawn``; ``baseline`` (grouping items due); ``intervention`` or ``items`` (of
    `wave`, with `submission` when started); ``waiting`` (nothing open; `next_wave` opens
    later; `completed` is the wave just finished, if any); ``over`` (no wave left).
    """

    kind: str
    wave: Wave | None = None
    submission: Submission | None = None
    next_wave: Wave | None = None
    completed: Submission | None = None


def wave_accepts_answers(*, participant: Participant, wave: Wave, now: dt.datetime | None = None) -> bool:
    """Open waves accept answers; a preview participant's chosen wave does in any state."""
    if participant.is_preview:
        return participant.preview_wave_id == wave.pk
    if participant.study.status != Study.Status.ACTIVE:
        return False
    now = now or timezone.now()
    return wave.state == Wave.State.OPEN and wave.opens_at <= now < wave.closes_at


def get_participant_state(participant: Participant, *, now: dt.datetime | None = None) -> ParticipantState:
    """Decide which page the participant's link shows now."""
    now = now or timezone.now()
    if participant.withdrawn_at is not None:
        return ParticipantState(kind="withdrawn")
    if needs_baseline(participant):
        return ParticipantState(kind="baseline")
    study = participant.study
    if participant.is_preview:
        waves = Wave.objects.filter(pk=participant.preview_wave_id)
    elif study.status != Study.Status.ACTIVE:
        waves = Wave.objects.none()
    else:
        waves = study.waves.open(now).order_by("number")
    submissions = {s.wave_id: s for s in Submission.objects.filter(participant=participant)}
    for wave in waves:
        submission = submissions.get(wave.pk)
        if submission is None or submission.completed_at is None:
            return ParticipantState(kind="items", wave=wave, submission=submission)
    completed = max((s for s in submissions.values() if s.completed_at), key=lambda s: s.completed_at, default=None)
    if participant.is_preview or study.status != Study.Status.ACTIVE:
        return ParticipantState(kind="over", completed=completed)
    next_wave = (
        study.waves.exclude(state=Wave.State.CLOSED).filter(closes_at__gt=now)
        .exclude(pk__in=[wave_id for wave_id, s in submissions.items() if s.completed_at])
        .order_by("opens_at", "number").first()
    )
    if next_wave is None:
        return ParticipantState(kind="over", completed=completed)
    return ParticipantState(kind="waiting", next_wave=next_wave, completed=completed)



def list_my_answers(participant: Participant, *, language: str) -> list[dict]:
    """The participant's own answers, one row each, for the my-data download (baseline first)."""
    rows: list[dict] = []
    study = participant.study
    grouping = {item.code: item for item in list_grouping_items(study)}
    for code, value in sorted((participant.groups or {}).items()):
        item = grouping.get(code)
        label = item.value_labels(language).get(str(value), "") if item and value is not None else ""
        rows.append({
            "participant": participant.public_id, "wave": "baseline", "item": code,
            "question": item.prompt_in(language) if item else "", "value": "" if value is None else value,
            "value_label": label, "text": "", "missing": "dont_know" if value is None else "",
            "answered_at": participant.assigned_at.isoformat() if participant.assigned_at else "",
        })
    responses = (Response.objects.filter(submission__participant=participant)
                 .select_related("item", "item__study", "submission__wave")
                 .order_by("submission__wave__number", "item__order", "item__id"))
    for response in responses:
        item = response.item
        value = response.value
        shown = "" if value is None else (int(value) if float(value).is_integer() else value)
        rows.append({
            "participant": participant.public_id, "wave": response.submission.wave.number, "item": item.code,
            "question": item.prompt_in(language), "value": shown,
            "value_label": item.value_labels(language).get(str(shown), "") if value is not None else "",
            "text": response.text, "missing": response.missing, "answered_at": response.answered_at.isoformat(),
        })
    return rows


def completion_text(study: Study, language: str) -> str:
    return translate(study.completion_text, language, study.default_language)
