"""Attrition of a panel: per wave and arm, how many were enrolled, invited, reminded, started and
completed, and the participants at risk of dropping out (they missed the last closed wave).
Reads only; preview participants never count. The overview page includes
`surveys/_attrition_table.html` with `attrition_context(study)`.

Definitions (per wave W and arm):
- enrolled: joined before W closed, opened their personal link (a join whose response was lost
  does not count) and had not withdrawn before W opened;
- invited: received W's invitation (a sent message); reminded: received at least one reminder
  or the last-chance reminder for W;
- started / completed: have a submission for W / a completed one;
- completion_rate: completed / enrolled (None when nobody was enrolled).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from surveys.models import Message, Participant, ParticipantContact, Study, Submission, Wave

NO_ARM = "(no arm)"


@dataclass(frozen=True)
class AttritionRow:
    wave: int
    arm: str
    enrolled: int
    invited: int
    reminded: int
    started: int
    completed: int

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.enrolled if self.enrolled else None


def _arm(name: str | None) -> str:
    return name or NO_ARM


def list_wave_attrition(*, study_id: int) -> list[AttritionRow]:
    """One row per (wave, arm), waves in order, arms by name; arms without anyone are left out."""
    waves = list(Wave.objects.filter(study_id=study_id).order_by("number"))
    people = Participant.objects.enrolled().filter(study_id=study_id)  # who opened their link
    counts: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for wave in waves:
        enrolled = (people.filter(joined_at__lt=wave.closes_at)
                    .filter(Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=wave.opens_at))
                    .values("arm__name").annotate(n=Count("pk")))
        for row in enrolled:
            counts[(wave.number, _arm(row["arm__name"]))]["enrolled"] = row["n"]
    submissions = (Submission.objects.filter(wave__study_id=study_id, participant__is_preview=False)
                   .values("wave__number", "participant__arm__name")
                   .annotate(started=Count("pk"), completed=Count("pk", filter=Q(completed_at__isnull=False))))
    for row in submissions:
        key = (row["wave__number"], _arm(row["participant__arm__name"]))
        counts[key]["started"] = row["started"]
        counts[key]["completed"] = row["completed"]
    sent = Message.objects.filter(wave__study_id=study_id, participant__is_preview=False, status=Message.Status.SENT)
    invited = (sent.filter(kind="invitation").values("wave__number", "participant__arm__name")
               .annotate(n=Count("participant", distinct=True)))
    for row in invited:
        counts[(row["wave__number"], _arm(row["participant__arm__name"]))]["invited"] = row["n"]
    reminded = (sent.exclude(kind="invitation").values("wave__number", "participant__arm__name")
                .annotate(n=Count("participant", distinct=True)))
    for row in reminded:
        counts[(row["wave__number"], _arm(row["participant__arm__name"]))]["reminded"] = row["n"]
    return [
        AttritionRow(wave=number, arm=arm, **{k: values.get(k, 0) for k in
                                              ("enrolled", "invited", "reminded", "started", "completed")})
        for (number, arm), values in sorted(counts.items())
    ]


@dataclass(frozen=True)
class AtRisk:
    public_id: str
    arm: str
    joined_at: dt.datetime
    last_completed_wave: int | None
    reminders: int
    has_email: bool


def last_closed_wave(*, study_id: int, now: dt.datetime | None = None) -> Wave | None:
    """The wave that closed most recently (by state or by time)."""
    now = now or timezone.now()
    return (Wave.objects.filter(study_id=study_id).filter(Q(state=Wave.State.CLOSED) | Q(closes_at__lte=now))
            .order_by("-closes_at", "-number").first())


def list_at_risk(*, study_id: int, now: dt.datetime | None = None) -> tuple[Wave | None, list[AtRisk]]:
    """Participants still in the study who were enrolled for the last closed wave but did not
    complete it, with the last wave they did complete; (that wave, the list)."""
    wave = last_closed_wave(study_id=study_id, now=now)
    if wave is None:
        return None, []
    people = (Participant.objects.filter(study_id=study_id, is_preview=False, withdrawn_at__isnull=True,
                                         joined_at__lt=wave.closes_at)
              .exclude(Exists(Submission.objects.filter(participant=OuterRef("pk"), wave=wave,
                                                        completed_at__isnull=False)))
              .annotate(last_completed=Max("submissions__wave__number",
                                           filter=Q(submissions__completed_at__isnull=False)),
                        has_email=Exists(ParticipantContact.objects.filter(participant=OuterRef("pk"))))
              .select_related("arm").order_by("joined_at", "pk"))
    reminders = dict(Message.objects.filter(wave=wave, status=Message.Status.SENT).exclude(kind="invitation")
                     .values("participant_id").annotate(n=Count("pk")).values_list("participant_id", "n"))
    rows = [AtRisk(public_id=p.public_id, arm=_arm(p.arm.name if p.arm else None), joined_at=p.joined_at,
                   last_completed_wave=p.last_completed, reminders=reminders.get(p.pk, 0), has_email=p.has_email)
            for p in people]
    return wave, rows


def attrition_context(study: Study, *, at_risk_limit: int | None = 50, participant_level: bool = True) -> dict:
    """Template context for `surveys/_attrition_table.html`. Without `participant_level` (a viewer:
    `common.access.may_read_participant_data` says no) the at-risk list is left out; its count stays."""
    wave, at_risk = list_at_risk(study_id=study.pk)
    shown = (at_risk[:at_risk_limit] if at_risk_limit else at_risk) if participant_level else []
    return {"attrition_rows": list_wave_attrition(study_id=study.pk), "at_risk_wave": wave,
            "at_risk": shown, "at_risk_count": len(at_risk), "at_risk_hidden": not participant_level,
            "attrition_study": study}


def list_prolific_completions(*, wave: Wave) -> list[dict]:
    """Prolific ids (and session ids) of the non-preview participants who completed `wave`, for
    Prolific's approvals and the next wave's allowlist; withdrawn participants are marked."""
    rows = (Submission.objects.filter(wave=wave, completed_at__isnull=False, participant__is_preview=False)
            .exclude(participant__external_id="")
            .values_list("participant__external_id", "participant__external_study_id", "external_session_id",
                         "completed_at", "participant__withdrawn_at")
            .order_by("completed_at", "pk"))
    return [{"PROLIFIC_PID": pid, "STUDY_ID": prolific_study, "SESSION_ID": session,
             "completed_at": completed.isoformat(), "withdrawn": "yes" if withdrawn else "no"}
            for pid, prolific_study, session, completed, withdrawn in rows]
