"""Enrolment policy: who may join a study now, at which wave, and whether their stratum has room.

A study's policy (fields on ``Study``; the spec's ``enrolment`` section):
- a window: ``enrol_opens_at``, and closing at ``enrol_closes_at`` or when wave
  ``enrol_closes_at_wave`` opens, whichever comes first;
- late arrivals (after it closes): ``refuse`` them with a clear page, or ``next_wave``: they join,
  answer the baseline, and take waves from the next one that opens;
- ``enrol_cap``: most participants overall; ``quotas``: most per grouping answer
  (``{"side": {"1": 500, "2": 500}}``). Both are checked at baseline (under a lock on the study
  row), when the answer is known; the cap is also checked when a newcomer joins, so nobody consents
  to a study that is already full. Those turned away see a clear page and, from Prolific, go back
  with ``quota_full_code``.

Counts are of enrolled participants (``Participant.objects.enrolled()``: not previews, and they
opened their personal link, i.e. reached the baseline) who are not withdrawn and not screened out.
A join whose link never reached the browser does not take a place; the overview's "enrolled vs
cap" counts the same set. The quotas and the overview read these counts per grouping answer from
`StratumCount`, which the write path keeps (`surveys.summaries`), never from the participants'
rows. Arms stay
balanced within strata however quotas close: arms come from permuted blocks per stratum
(``services.assign_arm``), so a closed stratum leaves its blocks, and the others', as they were.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from surveys import summaries
from surveys.models import Participant, Study, Wave

REFUSE = "refuse"
NEXT_WAVE = "next_wave"
POLICIES = (REFUSE, NEXT_WAVE)


@dataclass(frozen=True)
class JoinDecision:
    """May a newcomer join now; if not, `reason` ("not_yet", "closed", "full") and `message`;
    `first_wave`: the wave a late arrival starts with (None: the current one)."""

    allowed: bool
    reason: str = ""
    message: str = ""
    first_wave: int | None = None


def closes_at(study: Study) -> dt.datetime | None:
    """When enrolment closes: the date, or the opening of wave N, whichever is first."""
    edges = [study.enrol_closes_at] if study.enrol_closes_at else []
    if study.enrol_closes_at_wave:
        opens = Wave.objects.filter(study=study, number=study.enrol_closes_at_wave).values_list(
            "opens_at", flat=True).first()
        if opens is not None:
            edges.append(opens)
    return min(edges) if edges else None


def enrolled(study: Study):
    """The participants who count against the cap and the quotas."""
    return Participant.objects.enrolled().filter(study=study, withdrawn_at__isnull=True,
                                                 screened_out_at__isnull=True)


def join_decision(study: Study, now: dt.datetime) -> JoinDecision:
    """Whether a newcomer may join `study` at `now` (returning participants always may)."""
    if study.enrol_opens_at and now < study.enrol_opens_at:
        return JoinDecision(False, "not_yet", _("Enrolment in this study has not opened yet. Please come back later."))
    first_wave = None
    closing = closes_at(study)
    if closing is not None and now >= closing:
        if study.late_arrivals != NEXT_WAVE:
            return JoinDecision(False, "closed", _("Enrolment in this study has closed. Thank you for your interest."))
        upcoming = (study.waves.exclude(state=Wave.State.CLOSED).filter(opens_at__gt=now)
                    .order_by("opens_at", "number").values_list("number", flat=True).first())
        if upcoming is None:
            return JoinDecision(False, "closed", _("Enrolment in this study has closed. Thank you for your interest."))
        first_wave = upcoming
    if study.enrol_cap is not None and count_enrolled(study) >= study.enrol_cap:
        return JoinDecision(False, "full", _("This study has all the participants it needs. Thank you for your interest."))
    return JoinDecision(True, first_wave=first_wave)


def full_at_baseline(study: Study, groups: dict, *, exclude_pk: int | None = None) -> str | None:
    """At baseline: "cap" when the study's cap is reached by the others, else the full quota
    (`full_quota`), else None. Both from the stored counts (`count_enrolled`, `full_quota`)."""
    if study.enrol_cap is not None:
        others = count_enrolled(study)
        if exclude_pk is not None:
            others -= enrolled(study).filter(pk=exclude_pk).exists()
        if others >= study.enrol_cap:
            return "cap"
    return full_quota(study, groups, exclude_pk=exclude_pk)


def full_quota(study: Study, groups: dict, *, exclude_pk: int | None = None) -> str | None:
    """The first "code=value" whose quota `groups` would exceed, or None when there is room.
    Reads the stored stratum counts (`summaries.read_strata`: one query, whatever the number of
    participants; at baseline inside the transaction that holds the study-row lock), less
    participant `exclude_pk` where they are counted (one more, by primary key)."""
    wanted = [(code, value, int(caps[str(value)])) for code, caps in sorted((study.quotas or {}).items())
              if (value := groups.get(code)) is not None and isinstance(caps, dict) and str(value) in caps]
    if not wanted:
        return None
    taken = summaries.read_strata(study_id=study.pk, codes=[code for code, _value, _cap in wanted])
    if exclude_pk is not None:
        mine = enrolled(study).filter(pk=exclude_pk).values_list("groups", flat=True).first()
        for code, value in (mine or {}).items() if isinstance(mine, dict) else ():
            key = (str(code), summaries.stratum_value(value))
            if key in taken:
                taken[key] -= 1
    for code, value, cap in wanted:
        if taken.get((code, summaries.stratum_value(value)), 0) >= cap:
            return f"{code}={value}"
    return None


def overview(study: Study, *, panel: summaries.PanelCounts | None = None) -> dict:
    """Enrolled vs cap, overall and per quota value, for the study's overview page (`panel`: the
    study's panel counts when the caller read them)."""
    base = enrolled(study)
    rows = []
    quotas = sorted((study.quotas or {}).items())
    taken = summaries.read_strata(study_id=study.pk, codes=[code for code, _caps in quotas]) if quotas else {}
    for code, caps in quotas:
        for value, cap in sorted((caps or {}).items()):
            number = float(value) if "." in value else int(value)
            rows.append({"stratum": f"{code} = {value}", "enrolled": taken.get((code, summaries.stratum_value(number)), 0),
                         "cap": cap})
    screened_out = _screened_out(study)
    active = panel.total("active") if panel is not None else summaries.read_total(study_id=study.pk, name="active")
    return {"enrolled": base.count() if active is None else active - screened_out["enrolled"], "cap": study.enrol_cap,
            "quotas": rows, "closes_at": closes_at(study), "opens_at": study.enrol_opens_at,
            "late_arrivals": study.late_arrivals, "screened_out": screened_out["all"]}


def _screened_out(study: Study) -> dict:
    """Participants turned away by a quota: all, and those among `enrolled(study)` but for that
    (one query through a partial index)."""
    return Participant.objects.filter(study=study, screened_out_at__isnull=False).aggregate(
        all=Count("pk"),
        enrolled=Count("pk", filter=Q(is_preview=False, link_opened_at__isnull=False, withdrawn_at__isnull=True)))


def count_enrolled(study: Study) -> int:
    """`enrolled(study).count()` without reading every participant: the panel counts' `active`
    (enrolled and not withdrawn) less the few of them turned away by a quota (a partial index);
    the raw rows when the study has no panel counts."""
    active = summaries.read_total(study_id=study.pk, name="active")
    if active is None:
        return enrolled(study).count()
    return active - _screened_out(study)["enrolled"]
