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
- completion_rate: completed / enrolled (None when nobody was enrolled);
- at risk: enrolled (opened their link), not withdrawn, joined before the last closed wave
  closed and did not complete it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from surveys.models import Message, Participant, ParticipantContact, Study, Submission, Wave
from surveys.summaries import PanelCounts

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


def list_wave_attrition(*, study_id: int, panel: PanelCounts | None = None) -> list[AttritionRow]:
    """One row per (wave, arm), waves in order, arms by name; arms without anyone are left out.
    From the panel counts the write path keeps (`surveys.summaries`) when given, else from the
    raw rows (the definition the counts are tested against)."""
    if panel is not None:
        rows = []
        for (number, arm), values in panel.waves.items():
            if any(values[k] for k in ATTRITION_COUNTS):
                rows.append(AttritionRow(wave=number, arm=_arm(panel.arms.get(arm)),
                                         **{k: values[k] for k in ATTRITION_COUNTS}))
        return sorted(rows, key=lambda row: (row.wave, row.arm))
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
        AttritionRow(wave=number, arm=arm, **{k: values.get(k, 0) for k in ATTRITION_COUNTS})
        for (number, arm), values in sorted(counts.items())
    ]


ATTRITION_COUNTS = ("enrolled", "invited", "reminded", "started", "completed")


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


def list_at_risk(*, study_id: int, now: dt.datetime | None = None, limit: int | None = None, offset: int = 0,
                 panel: PanelCounts | None = None) -> tuple[Wave | None, list[AtRisk], int]:
    """Participants still in the study who were enrolled for the last closed wave but did not
    complete it, with the last wave they did complete, earliest joiners first: (that wave, the
    `limit` of them after the first `offset` (all for None), how many there are). The count
    comes from the panel counts when given; the list reads only the participants it shows."""
    wave = last_closed_wave(study_id=study_id, now=now)
    if wave is None:
        return None, [], 0
    people = (Participant.objects.enrolled().filter(study_id=study_id, withdrawn_at__isnull=True,
                                                    joined_at__lt=wave.closes_at)
              .exclude(Exists(Submission.objects.filter(participant=OuterRef("pk"), wave=wave,
                                                        completed_at__isnull=False))))
    if panel is not None:
        total = sum(values["current"] - values["current_completed"]
                    for (number, _arm), values in panel.waves.items() if number == wave.number)
    else:
        total = people.count()
    # plain values, not model instances: a page of them is built in a fraction of the time
    shown = (people.annotate(has_email=Exists(ParticipantContact.objects.filter(participant=OuterRef("pk"))))
             .order_by("joined_at", "pk").values_list("pk", "public_id", "arm__name", "joined_at", "has_email"))
    shown = list(shown[offset:offset + limit] if limit is not None else shown[offset:])
    ids = [pk for pk, *_rest in shown]
    last_completed = dict(Submission.objects.filter(participant_id__in=ids, completed_at__isnull=False).order_by()
                          .values("participant_id").annotate(n=Max("wave__number")).values_list("participant_id", "n"))
    reminders = dict(Message.objects.filter(wave=wave, status=Message.Status.SENT, participant_id__in=ids)
                     .exclude(kind="invitation").order_by()
                     .values("participant_id").annotate(n=Count("pk")).values_list("participant_id", "n"))
    rows = [AtRisk(public_id=public_id, arm=_arm(arm), joined_at=joined_at, last_completed_wave=last_completed.get(pk),
                   reminders=reminders.get(pk, 0), has_email=has_email)
            for pk, public_id, arm, joined_at, has_email in shown]
    return wave, rows, total


def attrition_context(study: Study, *, at_risk_limit: int | None = 50, participant_level: bool = True,
                      panel: PanelCounts | None = None, at_risk_page: int = 1) -> dict:
    """Template context for `surveys/_attrition_table.html` (`panel`: the study's panel counts,
    `surveys.summaries.read_panel_counts`; without them the raw rows are counted). Without
    `participant_level` (a viewer: `common.access.may_read_participant_data` says no) the at-risk
    list is left out (not even read); its count stays. `at_risk_page`: which `at_risk_limit`
    participants of the list (1 = the earliest joiners)."""
    offset = (at_risk_page - 1) * at_risk_limit if at_risk_limit else 0
    wave, at_risk, count = list_at_risk(study_id=study.pk, limit=at_risk_limit if participant_level else 0,
                                        offset=offset, panel=panel)
    pages = -(-count // at_risk_limit) if at_risk_limit else 1
    return {"attrition_rows": list_wave_attrition(study_id=study.pk, panel=panel), "at_risk_wave": wave,
            "at_risk": at_risk, "at_risk_count": count, "at_risk_hidden": not participant_level,
            "attrition_study": study, "at_risk_page": at_risk_page, "at_risk_pages": max(pages, 1),
            "at_risk_first": offset + 1, "at_risk_last": offset + len(at_risk)}


def list_prolific_completions(*, wave: Wave) -> list[dict]:
    """Prolific ids (and session ids) of the non-preview participants who completed `wave`, for
    Prolific's approvals and the next wave's allowlist; withdrawn participants are marked."""
    rows = (Submission.objects.filter(wave=wave, completed_at__isnull=False, participant__is_preview=False)
            .exclude(participant__external_id="")
            .values_list("external_id", "participant__external_id", "external_study_id",
                         "participant__external_study_id", "external_session_id", "completed_at",
                         "participant__withdrawn_at")
            .order_by("completed_at", "pk"))
    # This wave's own ids (each Prolific wave is a Prolific study of its own), else those the
    # participant joined with (a wave reached by e-mail carries none).
    return [{"PROLIFIC_PID": pid or joined_pid, "STUDY_ID": prolific_study or joined_study, "SESSION_ID": session,
             "completed_at": completed.isoformat(), "withdrawn": "yes" if withdrawn else "no"}
            for pid, joined_pid, prolific_study, joined_study, session, completed, withdrawn in rows]
