"""Reads behind the researcher dashboards: stored results and cheap aggregate queries -> frames.

Nothing here computes an index or writes, and no page scans the answers: trends and effects come
from `IndexResult` and `EffectEstimate`; distributions and the quality flags from
`WaveAnswerCount` and `SubmissionQuality`, which the pipeline stores with each wave's indices
(`analysis.pipeline.dashboard_store`); the attrition funnel and response rates from the panel
counts the write path keeps (`surveys.summaries`).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from analysis.models import (
    AnalysisRun,
    EffectEstimate,
    FlaggedParticipantCount,
    IndexResult,
    ParticipantQuality,
    SubmissionQuality,
    WaveAnswerCount,
    WaveQuality,
)
from analysis.stats import glossary, quality
from analysis.stats.coverage import under_covered
from common import access, fastsql, group_keys
from surveys import kinds, summaries
from surveys.models import Arm, Exclusion, Item, Participant, Submission, Wave
from surveys.summaries import PanelCounts

#: Indices between two groups shown under the trends of a grouping.
BETWEEN_GROUP_INDICES = glossary.where(glossary.PAIR, between_chart=True)
#: Order of the per-cell indices in the selector; others (pair, across-item) follow.
CELL_INDEX_ORDER = glossary.display_order(glossary.CELL)
ACROSS_ITEM_INDICES = glossary.names(glossary.ACROSS_ITEM)
PAIR_INDICES = glossary.names(glossary.PAIR)
#: The indices of the effects page's outcome selector, in display order.
EFFECT_INDICES = tuple(name for name in glossary.display_order(glossary.CELL, glossary.PAIR, glossary.ACROSS_ITEM)
                       if not glossary.entry(name).count)
INDIVIDUAL_OUTCOMES = ("value", "extremity", "distance_other_group")


# --- Study-wide facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """A way to split the participants: `all`, `arm`, or a grouping item's code."""

    key: str
    label: str


def study_items(*, study) -> list[Item]:
    """Every item of `study` in questionnaire order, read once per page and handed to the
    functions below (`items=`), which would otherwise each query them."""
    items = list(Item.objects.filter(study_id=study.pk).order_by("order", "id"))
    for item in items:
        item.study = study  # value_labels() reads the study's default language
    return items


def list_groupings(*, study_id: int, items: list[Item] | None = None) -> list[Grouping]:
    groupings = [Grouping(group_keys.ALL, "everyone"), Grouping(group_keys.ARM, "arm")]
    if items is None:
        codes = Item.objects.filter(study_id=study_id, role=Item.Role.GROUPING).order_by("order", "id") \
            .values_list("code", flat=True)
    else:
        codes = [item.code for item in items if item.role == Item.Role.GROUPING]
    groupings.extend(Grouping(code, code) for code in codes)
    return groupings


def list_numeric_items(*, study_id: int, items: list[Item] | None = None) -> list[Item]:
    """Numeric attitude items, in questionnaire order."""
    if items is not None:
        return [item for item in items if item.role == Item.Role.ATTITUDE and item.is_numeric]
    return list(Item.objects.filter(study_id=study_id, role=Item.Role.ATTITUDE, kind__in=kinds.values(numeric=True))
                .order_by("order", "id"))


def count_analysable_participants(*, study_id: int, panel: PanelCounts | None = None) -> int:
    """Participants who enter analysis, from the panel counts (one query when not given) or, when
    there are none, counted from the raw rows."""
    counted = panel.total("analysable") if panel is not None else \
        summaries.read_total(study_id=study_id, name="analysable")
    if counted is not None:
        return counted
    return Participant.objects.analysable().filter(study_id=study_id).count()


def group_labels(*, study_id: int, language: str, items: list[Item] | None = None) -> dict[str, str]:
    """Readable names of the single-group keys: `side:1` -> `side: left`, `arm:x` -> `arm x`."""
    labels = {group_keys.ALL: "everyone"}
    for name in Arm.objects.filter(study_id=study_id).values_list("name", flat=True):
        labels[group_keys.arm(name)] = f"arm {name}"
    if items is None:
        items = list(Item.objects.filter(study_id=study_id, role=Item.Role.GROUPING).select_related("study"))
    for item in items:
        if item.role != Item.Role.GROUPING:
            continue
        for value, text in item.value_labels(language).items():
            labels[group_keys.single(item.code, group_keys.format_value(value, text_as_number=True))] = \
                f"{item.code}: {text}"
    return labels


def label_group(key: str, labels: dict[str, str]) -> str:
    """A single key by its label; a pair `A|B` as `A - B` (signed values are A minus B)."""
    if group_keys.is_pair(key):
        first, second = group_keys.split_pair(key)
        return f"{labels.get(first, first)} − {labels.get(second, second)}"
    return labels.get(key, key)


def stored_index_keys(*, study_id: int) -> set[tuple[str, str]]:
    """The (index, group) pairs with stored results: one DISTINCT query that feeds both
    `list_stored_groups` and `list_stored_indices` (`keys=`)."""
    return set(IndexResult.objects.filter(study_id=study_id).order_by().values_list("index", "group").distinct())


def list_stored_groups(*, study_id: int, keys: set[tuple[str, str]] | None = None) -> list[str]:
    """Group keys that have stored indices: singles (from `n`) and pairs (from `wasserstein`)."""
    if keys is not None:
        return sorted({group for index, group in keys if index in ("n", "wasserstein")})
    return sorted(set(IndexResult.objects.filter(study_id=study_id, index__in=("n", "wasserstein"))
                      .order_by().values_list("group", flat=True).distinct()))


def groups_of(grouping: str, stored: list[str]) -> tuple[list[str], list[str]]:
    """The single keys and pair keys that belong to `grouping` (`all`, `arm` or a code)."""
    if grouping == group_keys.ALL:
        return ([group_keys.ALL] if group_keys.ALL in stored else []), []
    mine = [g for g in stored if group_keys.of_column(g, grouping)]
    return [g for g in mine if not group_keys.is_pair(g)], [g for g in mine if group_keys.is_pair(g)]


def list_stored_indices(*, study_id: int, keys: set[tuple[str, str]] | None = None) -> list[str]:
    # order_by() drops the model's ordering, which DISTINCT would otherwise include (and join for).
    if keys is not None:
        names = {index for index, _group in keys}
    else:
        names = set(IndexResult.objects.filter(study_id=study_id).order_by().values_list("index", flat=True)
                    .distinct())
    # Pair indices are drawn under the trends of a grouping, not chosen; unknown names go last.
    ordered = [name for name in glossary.display_order(glossary.CELL, glossary.ACROSS_ITEM, glossary.TEXT)
               if name in names]
    return ordered + sorted(names - set(ordered) - set(PAIR_INDICES))


def intervention_wave(*, study_id: int) -> int | None:
    first = Wave.objects.filter(study_id=study_id, interventions__isnull=False).order_by("number") \
        .values_list("number", flat=True).first()
    return first


def pre_intervention_waves(*, study_id: int, intervention: int | None) -> list[int]:
    """Numbers of the waves before the intervention wave (none without an intervention)."""
    if intervention is None:
        return []
    return list(Wave.objects.filter(study_id=study_id, number__lt=intervention).order_by("number")
                .values_list("number", flat=True))


# --- Trends ---------------------------------------------------------------------------------------

TREND_COLUMNS = ["wave", "group", "index", "value", "ci_low", "ci_high", "n", "computed_at"]


def index_trend_frame(*, study_id: int, indices: list[str], item_id: int | None, groups: list[str]) -> pd.DataFrame:
    """Stored index rows over waves: wave, group, index, value, ci_low, ci_high, n, computed_at.
    `item_id` None = pooled over attitude items."""
    if not groups or not indices:
        return pd.DataFrame(columns=TREND_COLUMNS)
    rows = (IndexResult.objects.filter(study_id=study_id, index__in=indices, group__in=groups)
            .filter(Q(item_id=item_id) if item_id is not None else Q(item__isnull=True))
            .order_by("wave__number", "group")
            .values_list("wave__number", "group", "index", "value", "ci_low", "ci_high", "n", "computed_at"))
    frame = pd.DataFrame.from_records(list(rows), columns=TREND_COLUMNS)
    order = {g: i for i, g in enumerate(groups)}
    frame = frame.sort_values(["index", "group", "wave"], key=lambda s: s.map(order) if s.name == "group" else s,
                              kind="stable", ignore_index=True)
    return frame.astype({"value": float, "ci_low": float, "ci_high": float})


def period_starts(*, study_id: int) -> dict[int, str]:
    """Repeated cross-sections: wave number -> the ISO date its period starts (the time axis)."""
    return {number: opens.date().isoformat()
            for number, opens in Wave.objects.filter(study_id=study_id).values_list("number", "opens_at")}


def period_labels(*, study_id: int) -> dict[int, str]:
    """Repeated cross-sections: wave number -> period label (e.g. 1974)."""
    return {number: period or str(number)
            for number, period in Wave.objects.filter(study_id=study_id).values_list("number", "period")}


def under_coverage_flags(index: str, n: pd.Series, *, pooled: bool = False) -> pd.Series:
    """True where the bootstrap interval of `index` at that n is one the coverage study found to
    under-cover (`analysis.stats.coverage.under_covered`; docs/indices.md, coverage table)."""
    return pd.Series([under_covered(index, value, pooled=pooled) for value in n], index=n.index, dtype=bool)


# --- Distributions ----------------------------------------------------------------------------------

DISTRIBUTION_COLUMNS = ["wave", "group", "value", "count"]


def answer_distribution_frame(*, study_id: int, item_id: int, grouping: str) -> pd.DataFrame:
    """Answer counts of one item per wave, group and value (analysable participants; missing codes
    are left out), as stored with each wave's indices (`WaveAnswerCount`): a few hundred rows, no
    scan of the answers. `group` is a group key (docs/contracts.md)."""
    rows = (WaveAnswerCount.objects.filter(study_id=study_id, item_id=item_id, grouping=grouping).order_by()
            .values_list("wave__number", "group", "value", "count"))
    frame = pd.DataFrame.from_records(list(rows), columns=DISTRIBUTION_COLUMNS)
    frame = frame.sort_values(["wave", "group", "value"], kind="stable", ignore_index=True)
    return frame.astype({"wave": int, "value": float, "count": int})


# --- Study list ---------------------------------------------------------------------------------------


def list_study_summaries(*, user) -> list[dict]:
    """The user's studies with status, participants, current wave and last finished analysis."""
    rows = []
    for study in access.studies_for(user).order_by("slug"):
        current = Wave.objects.filter(study=study).open(timezone.now()).first()
        last = AnalysisRun.objects.filter(study=study, finished_at__isnull=False).order_by("-finished_at").first()
        # enrolled participants from the panel counts (one small row per arm), raw rows without them
        enrolled = summaries.read_total(study_id=study.pk, name="joined")
        rows.append({
            "study": study,
            "participants": enrolled if enrolled is not None else study.participants.enrolled().count(),
            "current_wave": current.number if current else None,
            "last_run": last,
        })
    return rows


# --- Overview: attrition funnel ---------------------------------------------------------------------


def panel_counts(*, study_id: int) -> PanelCounts | None:
    """The study's panel counts kept by the write path (`surveys.summaries`), or None when they
    are not there yet (a study from before them, a wave whose times changed by a bulk update):
    the functions below then count the raw rows."""
    return summaries.read_panel_counts(study_id=study_id)


def submission_counts(*, study_id: int, panel: PanelCounts | None = None) -> list[dict]:
    """Started and completed submissions of non-preview participants per arm and wave number:
    from the panel counts, or one GROUP BY over the study's submissions (the index on wave)."""
    if panel is not None:
        return [{"arm_name": panel.arms.get(arm), "number": number, "started": row["started"],
                 "completed": row["completed"]}
                for (number, arm), row in sorted(panel.waves.items()) if row["started"]]
    return list(Submission.objects.filter(wave__study_id=study_id, participant__is_preview=False)
                .values(arm_name=F("participant__arm__name"), number=F("wave__number"))
                .annotate(started=Count("id"), completed=Count("id", filter=Q(completed_at__isnull=False)))
                .order_by())


def _people_counts(*, study_id: int, panel: PanelCounts | None) -> list[dict]:
    if panel is not None:
        return [{"arm_name": panel.arms.get(arm), "joined": row["joined"], "consented": row["consented"]}
                for arm, row in sorted(panel.study.items()) if row["joined"]]
    participants = Participant.objects.enrolled().filter(study_id=study_id)  # who opened their link
    return list(participants.values(arm_name=F("arm__name"))
                .annotate(joined=Count("id"), consented=Count("id", filter=Q(consented_at__isnull=False))).order_by())


def attrition_funnel_frame(*, study_id: int, counts: list[dict] | None = None,
                           panel: PanelCounts | None = None) -> pd.DataFrame:
    """Per arm: joined, consented, completed wave 1..W (non-preview participants; withdrawn ones
    count where they got to). Columns: arm, stage, step (0, 1, 2.. in funnel order), count, share
    (of joined). `counts`: `submission_counts` when the caller has them already; `panel`: the
    panel counts (else the raw rows are counted)."""
    people = _people_counts(study_id=study_id, panel=panel)
    completed = counts if counts is not None else submission_counts(study_id=study_id, panel=panel)
    waves = ([w.number for w in panel.wave_list] if panel is not None else
             list(Wave.objects.filter(study_id=study_id).order_by("number").values_list("number", flat=True)))
    arms = list(Arm.objects.filter(study_id=study_id).values_list("name", flat=True))  # control first
    counts_of: dict[tuple[str, str], int] = {}
    for row in people:
        arm = row["arm_name"] or "unassigned"
        counts_of[(arm, "joined")] = row["joined"]
        counts_of[(arm, "consented")] = row["consented"]
    for row in completed:
        key = (row["arm_name"] or "unassigned", f"wave {row['number']}")
        counts_of[key] = counts_of.get(key, 0) + row["completed"]
    if any(arm == "unassigned" for arm, _stage in counts_of):
        arms.append("unassigned")
    stages = ["joined", "consented", *[f"wave {n}" for n in waves]]
    records = []
    for arm in arms:
        joined = counts_of.get((arm, "joined"), 0)
        for step, stage in enumerate(stages):
            count = counts_of.get((arm, stage), 0)
            records.append({"arm": arm, "stage": stage, "step": step, "count": count,
                            "share": count / joined if joined else float("nan")})
    return pd.DataFrame.from_records(records, columns=["arm", "stage", "step", "count", "share"])


def list_wave_rows(*, study_id: int, counts: list[dict] | None = None,
                   panel: PanelCounts | None = None) -> list[dict]:
    """Per wave: times, state, started and completed submissions (non-preview), response rate
    among participants still enrolled, and its latest indices run. Three or four small queries,
    whatever the number of waves (`counts`: `submission_counts` when the caller has them
    already; `panel`: the panel counts, else the raw rows are counted)."""
    if panel is not None:
        enrolled = panel.total("active")
    else:
        enrolled = Participant.objects.enrolled().filter(study_id=study_id, withdrawn_at__isnull=True).count()
    counts = counts if counts is not None else submission_counts(study_id=study_id, panel=panel)
    started: dict[int, int] = {}
    completed: dict[int, int] = {}
    for row in counts:
        started[row["number"]] = started.get(row["number"], 0) + row["started"]
        completed[row["number"]] = completed.get(row["number"], 0) + row["completed"]
    latest = (AnalysisRun.objects.filter(wave=OuterRef("pk"), kind=AnalysisRun.Kind.INDICES)
              .order_by("-created_at", "-id").values("id")[:1])
    waves = list(Wave.objects.filter(study_id=study_id).order_by("number").annotate(last_run_id=Subquery(latest)))
    runs = AnalysisRun.objects.defer("parameters", "exclusions_applied").in_bulk(
        [w.last_run_id for w in waves if w.last_run_id])
    return [{"wave": w, "started": started.get(w.number, 0), "completed": completed.get(w.number, 0),
             "response_rate": completed.get(w.number, 0) / enrolled if enrolled else None,
             "run": runs.get(w.last_run_id)}
            for w in waves]


# --- Effects ----------------------------------------------------------------------------------------

EFFECT_COLUMNS = ["arm", "outcome", "method", "group", "wave", "estimate", "se", "ci_low", "ci_high", "p_value",
                  "p_holm", "p_ri", "n", "attrition_warning", "primary", "p_plan_holm"]


def effect_items(*, study_id: int, items: list[Item] | None = None) -> tuple[list[Item], bool, list[str]]:
    """What effect estimates are stored: the items (in questionnaire order), whether estimates
    pooled over items exist, and the single groups (not `all`, not pairs). One DISTINCT query."""
    pairs = set(EffectEstimate.objects.filter(study_id=study_id).order_by().values_list("item_id", "group").distinct())
    ids = {item_id for item_id, _group in pairs}
    groups = sorted({group for _item, group in pairs if group != group_keys.ALL and not group_keys.is_pair(group)})
    return [item for item in list_numeric_items(study_id=study_id, items=items) if item.pk in ids], None in ids, groups


def effects_frame(*, study_id: int, item_id: int | None, sample: str, pooled: bool,
                  outcome: str | None = None) -> pd.DataFrame:
    """Stored effect estimates of one item (None = rows without an item) and sample; `pooled`
    True gives the estimates pooled over post waves (wave null), False the per-wave ones."""
    rows = EffectEstimate.objects.filter(study_id=study_id, sample=sample, wave__isnull=pooled)
    rows = rows.filter(item_id=item_id) if item_id is not None else rows.filter(item__isnull=True)
    if outcome is not None:
        rows = rows.filter(outcome=outcome)
    records = rows.order_by("arm__name", "outcome", "wave__number").values_list(
        "arm__name", "outcome", "method", "group", "wave__number", "estimate", "se", "ci_low", "ci_high",
        "p_value", "p_holm", "p_ri", "n", "attrition_warning", "is_primary", "p_plan_holm")
    frame = pd.DataFrame.from_records(list(records), columns=EFFECT_COLUMNS)
    rank = {name: i for i, name in enumerate((*INDIVIDUAL_OUTCOMES, *glossary.display_order(glossary.CELL, glossary.PAIR)))}
    frame = frame.sort_values(["arm", "outcome", "wave"], key=lambda s: s.map(lambda v: rank.get(v, len(rank)))
                              if s.name == "outcome" else s, kind="stable", ignore_index=True)
    return frame.astype({c: float for c in ("estimate", "se", "ci_low", "ci_high", "p_value", "p_holm", "p_ri",
                                            "p_plan_holm")})


# --- Quality ----------------------------------------------------------------------------------------


QUALITY_COLUMNS = ("participant", "wave", "duration_seconds", "likert_answered", "likert_min", "likert_max",
                   "attention_answered", "attention_failed")


def quality_submissions_frame(*, study_id: int) -> pd.DataFrame:
    """One row per submission of non-preview, non-withdrawn participants, with what
    `analysis.stats.quality.flag_submissions` needs, as stored with each wave's indices
    (`SubmissionQuality`; waves not yet computed are absent). `participant` is the participant's
    database id (numbers travel and group faster than strings; `with_public_ids` names the few
    that are shown). Two small queries, the rows read as one float array."""
    withdrawn = list(Participant.objects.filter(study_id=study_id, withdrawn_at__isnull=False)
                     .values_list("id", flat=True))
    rows = (SubmissionQuality.objects.filter(study_id=study_id).order_by()
            .values_list("participant_id", "wave__number", "duration_seconds", "likert_answered", "likert_min",
                         "likert_max", "attention_answered", "attention_failed"))
    frame = pd.DataFrame(fastsql.float_matrix(rows, len(QUALITY_COLUMNS)), columns=list(QUALITY_COLUMNS))
    frame = frame.astype({"participant": np.int64, "wave": int, "likert_answered": int, "attention_answered": int,
                          "attention_failed": int})
    if withdrawn:
        frame = frame[~frame["participant"].isin(withdrawn)]
    return frame.sort_values(["wave", "participant"], ignore_index=True)


def quality_stored(*, study_id: int) -> bool:
    """Whether every wave with quality rows has its flags stored (`WaveQuality`, written by the
    workers since they store them); otherwise the page flags the rows itself. One query."""
    waves = (Wave.objects.filter(study_id=study_id).order_by()
             .annotate(rows=Exists(SubmissionQuality.objects.filter(wave=OuterRef("pk"))),
                       flags=Exists(WaveQuality.objects.filter(wave=OuterRef("pk"))))
             .values_list("rows", "flags"))
    return all(flags or not rows for rows, flags in waves)


QUALITY_SUMMARY_COLUMNS = ["wave", "submissions", "completed", "median_duration", *quality.FLAGS, "flagged"]


def stored_quality_summary(*, study_id: int, speeder_share: str) -> pd.DataFrame:
    """`summarize_flags` of the study's submissions as the workers stored it per wave."""
    rows = (WaveQuality.objects.filter(study_id=study_id, speeder_share=speeder_share, submissions__gt=0)
            .order_by("wave__number").values_list("wave__number", *QUALITY_SUMMARY_COLUMNS[1:]))
    frame = pd.DataFrame.from_records(list(rows), columns=QUALITY_SUMMARY_COLUMNS)
    return frame.astype({"median_duration": float})


def stored_flagged_participants(*, study_id: int, speeder_share: str,
                                limit: int | None) -> tuple[pd.DataFrame, int]:
    """`flagged_participants` as the workers stored it (participants who have not withdrawn),
    the first `limit` (all for None), with how many there are: (frame, count)."""
    stored = ParticipantQuality.objects.filter(study_id=study_id, speeder_share=speeder_share)
    rows = stored.filter(participant__withdrawn_at__isnull=True)
    # All stored (the count the workers keep, else counted), less the few who withdrew since:
    # looked up from the withdrawn participants (a partial index), not by reading every row.
    counted = FlaggedParticipantCount.objects.filter(study_id=study_id, speeder_share=speeder_share) \
        .values_list("participants", flat=True).first()
    withdrawn = list(Participant.objects.filter(study_id=study_id, withdrawn_at__isnull=False).order_by()
                     .values_list("pk", flat=True))
    # by participant id alone: the unique (participant, speeder_share) index, whatever the
    # planner's statistics of a table the workers just rewrote
    gone = ParticipantQuality.objects.filter(participant_id__in=withdrawn, speeder_share=speeder_share).count() \
        if withdrawn else 0
    total = (counted if counted is not None else stored.count()) - gone
    ordered = rows.order_by("-flagged_waves", "public_id").values_list("public_id", "flagged_waves", *quality.FLAGS)
    records = [(public_id, count, *([int(n) for n in waves.split()] for waves in lists))
               for public_id, count, *lists in (ordered[:limit] if limit is not None else ordered)]
    frame = pd.DataFrame.from_records(records, columns=["participant", "flagged_waves", *quality.FLAGS])
    return frame.astype({"flagged_waves": int}), total


def with_public_ids(frame: pd.DataFrame, *, study_id: int) -> pd.DataFrame:
    """`frame` with its `participant` database ids replaced by the participants' public ids."""
    public = dict(fastsql.raw_rows(Participant.objects.filter(study_id=study_id).order_by()
                                   .values_list("id", "public_id")))
    return frame.assign(participant=frame["participant"].map(public))


def list_active_exclusions(*, study_id: int) -> list[Exclusion]:
    return list(Exclusion.objects.filter(participant__study_id=study_id, lifted_at__isnull=True)
                .select_related("participant", "excluded_by").order_by("-created_at"))

