"""Reads that feed the analysis pipeline: database -> one object of inputs per wave
(`WaveInputs`) or per study (`StudyInputs`), and DataFrames. No computation here.

A recompute reads each input once: the study's items in one query (`StudyItems`: scales,
grouping codes, the item code <-> id map, the data-quality items), the exclusions, and the cheap
aggregates its fingerprint hashes (`state`); the answers and free-text frames are read on first
use, so a wave whose fingerprint is unchanged is skipped without reading them.

Only analysable participants count: never previews, never withdrawn, never excluded
(`Participant.objects.analysable()`).
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from django.db.models import Count, Exists, F, FloatField, Max, OuterRef, Sum, Value
from django.db.models.functions import Cast, Coalesce, Length

from common import fastsql, group_keys
from surveys import kinds
from surveys.models import Arm, Exclusion, Item, Participant, Response, Study, Submission, Wave


@dataclass(frozen=True)
class ItemScale:
    code: str
    scale_min: float
    scale_max: float
    step: float
    reverse_coded: bool
    #: In the indices across items (pooled rows, constraint, alignment); options are not.
    pooled: bool = True


@dataclass(frozen=True)
class StudyItems:
    """A study's items as the pipeline uses them, read in one query (`read_study_items`)."""

    #: Numeric attitude items by code, in questionnaire order.
    scales: dict[str, ItemScale]
    #: Codes of the grouping items, in questionnaire order.
    grouping: list[str]
    #: Every item: code -> database id.
    ids: dict[str, int]
    #: Ids of the Likert attitude items (the straight-lining screen reads them).
    likert: list[int]
    #: The attention checks: (id, expected answer).
    attention: list[tuple[int, float | None]]

    @cached_property
    def codes(self) -> dict[int, str]:
        return {pk: code for code, pk in self.ids.items()}

    def scale_state(self) -> dict[str, list]:
        """The scales as a fingerprint records them."""
        return {code: [s.scale_min, s.scale_max, s.step, s.reverse_coded] for code, s in self.scales.items()}


def read_study_items(*, study_id: int) -> StudyItems:
    scales: dict[str, ItemScale] = {}
    grouping: list[str] = []
    ids: dict[str, int] = {}
    likert: list[int] = []
    attention: list[tuple[int, float | None]] = []
    rows = Item.objects.filter(study_id=study_id).order_by("order", "id").values_list(
        "pk", "code", "role", "kind", "scale_min", "scale_max", "step", "reverse_coded", "expected_answer")
    for pk, code, role, kind, scale_min, scale_max, step, reverse_coded, expected in rows:
        ids[code] = pk
        kind_ = kinds.kind_of(kind)
        if role == Item.Role.ATTITUDE and kind_.numeric:
            scales[code] = ItemScale(code, scale_min, scale_max, step, reverse_coded, pooled=kind_.pooled)
        if role == Item.Role.ATTITUDE and kind_.straightlining:
            likert.append(pk)
        elif role == Item.Role.GROUPING:
            grouping.append(code)
        elif role == Item.Role.ATTENTION:
            attention.append((pk, expected))
    return StudyItems(scales=scales, grouping=grouping, ids=ids, likert=likert, attention=attention)


def list_grouping_codes(*, study_id: int) -> list[str]:
    return list(Item.objects.filter(study_id=study_id, role=Item.Role.GROUPING).order_by("order", "id")
                .values_list("code", flat=True))


def list_excluded_public_ids(*, study_id: int) -> list[str]:
    return sorted(Exclusion.objects.filter(participant__study_id=study_id, lifted_at__isnull=True)
                  .values_list("participant__public_id", flat=True))


def intervention_wave_of(*, study_id: int) -> int | None:
    """The first wave at which some arm is shown an intervention (None: no intervention)."""
    return (Wave.objects.filter(study_id=study_id, interventions__isnull=False).order_by("number")
            .values_list("number", flat=True).first())


def has_control_arm(*, study_id: int) -> bool:
    return Arm.objects.filter(study_id=study_id, is_control=True).exists()


# --- One wave's inputs ----------------------------------------------------------------------------


@dataclass(eq=False)
class WaveInputs:
    """Everything one wave's indices are computed from, each read once (`read_wave_inputs`).

    `state` is what the wave's fingerprint hashes: answer count, highest answer id, a checksum
    that changes when any value moves between answers, the exclusions and the scales; the
    free-text answers (`text`); completions, durations and attention checks (`submissions`),
    which the stored data-quality rows depend on. `answers` and `texts` are read on first use.
    """

    study_id: int
    wave_id: int
    wave_number: int
    items: StudyItems
    excluded: list[str]
    state: dict

    @cached_property
    def answers(self) -> pd.DataFrame:
        """The wave's analysable numeric answers (`wave_answers_frame`)."""
        return wave_answers_frame(study_id=self.study_id, wave_id=self.wave_id, items=self.items,
                                  wave_number=self.wave_number)

    @cached_property
    def texts(self) -> pd.DataFrame:
        """The wave's analysable free-text answers (`wave_texts_frame`)."""
        return wave_texts_frame(study_id=self.study_id, wave_id=self.wave_id, grouping=self.items.grouping)


def read_wave_inputs(*, wave: Wave, items: StudyItems | None = None, excluded: list[str] | None = None) -> WaveInputs:
    """The inputs of `wave`; `items` and `excluded` when the caller read them for its study already."""
    study_id = wave.study_id
    items = items if items is not None else read_study_items(study_id=study_id)
    excluded = excluded if excluded is not None else list_excluded_public_ids(study_id=study_id)
    state = wave_input_state(study_id=study_id, wave_id=wave.pk, items=items, excluded=excluded)
    state["text"] = wave_text_state(study_id=study_id, wave_id=wave.pk)  # free-text answers
    # completions, durations and attention checks: the stored data-quality rows depend on them
    state["submissions"] = wave_submission_state(study_id=study_id, wave_id=wave.pk)
    return WaveInputs(study_id=study_id, wave_id=wave.pk, wave_number=wave.number, items=items, excluded=excluded,
                      state=state)


# --- One study's inputs (its effects) -------------------------------------------------------------


@dataclass(eq=False)
class StudyInputs:
    """Everything a study's effects are estimated from, each read once (`read_study_inputs`):
    its waves in order, items, exclusions, each wave's answer state (what the fingerprint
    hashes, as `wave_input_state`) and, on first use, the answers of every wave."""

    study_id: int
    waves: list[Wave]
    items: StudyItems
    excluded: list[str]
    states: list[dict]

    @cached_property
    def answers(self) -> pd.DataFrame:
        return study_answers_frame(study_id=self.study_id, waves=self.waves, items=self.items)


def read_study_inputs(*, study: Study) -> StudyInputs:
    waves = list(Wave.objects.filter(study=study).order_by("number"))
    items = read_study_items(study_id=study.pk)
    excluded = list_excluded_public_ids(study_id=study.pk)
    states = [wave_input_state(study_id=study.pk, wave_id=wave.pk, items=items, excluded=excluded) for wave in waves]
    return StudyInputs(study_id=study.pk, waves=waves, items=items, excluded=excluded, states=states)


# --- Numeric answers ----------------------------------------------------------------------------


def _wave_responses(*, study_id: int, wave_id: int):
    # The conditions of Participant.objects.analysable() on the joined participant rather than
    # as `participant__in=<subquery>`: PostgreSQL then hash-joins the wave's answers instead of
    # looking them up one index probe at a time (a 1M-answer wave: ~20x faster).
    active_exclusion = Exclusion.objects.filter(participant=OuterRef("submission__participant"), lifted_at__isnull=True)
    return Response.objects.filter(
        submission__wave_id=wave_id,
        submission__wave__study_id=study_id,
        submission__participant__study_id=study_id,
        submission__participant__is_preview=False,
        submission__participant__withdrawn_at__isnull=True,
        item__role=Item.Role.ATTITUDE,
        item__kind__in=kinds.values(numeric=True),
    ).exclude(Exists(active_exclusion))


def _group_columns(grouping_codes: list[str]) -> dict[str, F]:
    return {f"g_{code}": F(f"submission__participant__groups__{code}") for code in grouping_codes}


def _normalise_group_values(frame: pd.DataFrame, grouping_codes: list[str]) -> pd.DataFrame:
    # JSON values arrive as numbers (1, 2.0) or strings; group keys show them as "side:1".
    for code in grouping_codes:
        column = frame.pop(f"g_{code}")
        frame[code] = column.map(group_keys.format_value)
    return frame


def wave_counts_frame(*, study_id: int, wave_id: int) -> pd.DataFrame:
    """Answer counts of one wave with one grouped query (GROUP BY item, arm, groups, value).

    Columns: item, arm, <grouping codes...>, value (NaN = missing code), count. Missing codes
    ("don't know", skipped) have a NaN value and are counted, never placed on the scale.
    """
    grouping_codes = list_grouping_codes(study_id=study_id)
    rows = (
        _wave_responses(study_id=study_id, wave_id=wave_id)
        .values(item_code=F("item__code"), arm=F("submission__participant__arm__name"),
                **_group_columns(grouping_codes), answer=F("value"))
        .annotate(count=Count("id"))
        .order_by()
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["item_code", "arm", *[f"g_{c}" for c in grouping_codes], "answer", "count"]
    ).rename(columns={"item_code": "item", "answer": "value"})
    frame = _normalise_group_values(frame, grouping_codes)
    return frame[["item", "arm", *grouping_codes, "value", "count"]]


def wave_answers_frame(*, study_id: int, wave_id: int, items: StudyItems | None = None,
                       wave_number: int | None = None) -> pd.DataFrame:
    """One row per answer of one wave: participant (public id), wave (number), item, value
    (NaN = missing code), arm and one column per grouping item. Needed where one person's
    several answers matter (constraint, alignment, pooled rows, participant resampling).
    `items` and `wave_number` when the caller has them (else they are read).

    Answers are read as three numeric columns (`common.fastsql.numeric_columns`: on PostgreSQL
    a binary COPY straight into numpy arrays) and joined to the participants' and items'
    attributes afterwards, so memory stays near the size of the numbers (1M answers: about
    25 MB of arrays) instead of one Python object per answer."""
    items = items if items is not None else read_study_items(study_id=study_id)
    grouping_codes = items.grouping
    if wave_number is None:
        wave_number = Wave.objects.filter(pk=wave_id).values_list("number", flat=True).first()
    rows = (_wave_responses(study_id=study_id, wave_id=wave_id)
            .order_by("submission__participant_id", "item__order", "item_id"))
    pid, iid, values = fastsql.numeric_columns(rows.values_list("submission__participant_id", "item_id", "value"),
                                               "iif")
    frame = pd.DataFrame({"value": values})
    del values
    people = pd.DataFrame.from_records(
        list(Participant.objects.analysable().filter(study_id=study_id, submissions__wave_id=wave_id).values_list(
            "pk", "public_id", "arm__name", *[f"groups__{code}" for code in grouping_codes])),
        columns=["pk", "participant", "arm", *[f"g_{c}" for c in grouping_codes]],
    ).set_index("pk")
    people = _normalise_group_values(people, grouping_codes)
    codes = pd.Series(items.codes, dtype=object)
    position = people.index.get_indexer(pid)
    del pid
    frame.insert(0, "participant", pd.Categorical(people["participant"].to_numpy()[position]) if len(position)
                 else pd.Series([], dtype=object))
    frame.insert(1, "wave", wave_number)
    frame.insert(2, "item", codes.reindex(iid).to_numpy())
    del iid
    frame["arm"] = people["arm"].to_numpy()[position] if len(position) else []
    for code in grouping_codes:
        frame[code] = people[code].to_numpy()[position] if len(position) else []
    frame["participant"] = frame["participant"].astype(str)
    return frame


def study_answers_frame(*, study_id: int, waves: list[Wave], items: StudyItems) -> pd.DataFrame:
    """The rows of `wave_answers_frame` of every wave in `waves`, in that order, compactly: the
    participant, item, arm and grouping columns are categoricals (an integer code per answer,
    each public id, item code, arm name and group value once), wave numbers the smallest
    integer type. The same values and row order as the waves' frames concatenated, so the
    effects computed from them are the same; at 100,000 participants x 20 waves x 10 items
    (17.7 million answers) about 300 MB instead of several GB of Python strings (one public id
    per answer) copied by the concatenation. Each wave is read as three numeric columns (a
    binary COPY on PostgreSQL) and the participants' attributes once for the study."""
    grouping_codes = items.grouping
    people = pd.DataFrame.from_records(
        list(Participant.objects.analysable().filter(study_id=study_id).order_by("pk").values_list(
            "pk", "public_id", "arm__name", *[f"groups__{code}" for code in grouping_codes])),
        columns=["pk", "participant", "arm", *[f"g_{c}" for c in grouping_codes]],
    ).set_index("pk")
    people = _normalise_group_values(people, grouping_codes)
    item_ids = pd.Index(list(items.codes))
    positions, item_positions, values, numbers, sizes = [], [], [], [], []
    for wave in waves:
        rows = (_wave_responses(study_id=study_id, wave_id=wave.pk)
                .order_by("submission__participant_id", "item__order", "item_id"))
        pid, iid, value = fastsql.numeric_columns(
            rows.values_list("submission__participant_id", "item_id", "value"), "iif")
        positions.append(people.index.get_indexer(pid).astype(np.int32))
        item_positions.append(item_ids.get_indexer(iid).astype(np.int32))
        values.append(value)
        numbers.append(wave.number)
        sizes.append(len(pid))
        del pid, iid, value
    position = np.concatenate(positions) if positions else np.empty(0, np.int32)
    del positions
    frame = pd.DataFrame({
        "participant": _categorical(position, people["participant"]),
        "wave": np.repeat(np.array(numbers, dtype=np.int16 if max(numbers, default=0) < 2**15 else np.int64),
                          sizes),
        "item": pd.Categorical.from_codes(
            np.concatenate(item_positions) if item_positions else np.empty(0, np.int32),
            categories=pd.Index(list(items.codes.values()), dtype=object)),
        "value": np.concatenate(values) if values else np.empty(0),
    })
    del item_positions, values
    frame["arm"] = _categorical(position, people["arm"])
    for code in grouping_codes:
        frame[code] = _categorical(position, people[code])
    return frame


def _categorical(position: np.ndarray, per_person: pd.Series) -> pd.Categorical:
    """The values of `per_person` (one per participant) at `position`, as a categorical (None
    and NaN: missing)."""
    codes, categories = pd.factorize(per_person, sort=False)
    return pd.Categorical.from_codes(codes.astype(np.int32)[position] if len(position) else
                                     np.empty(0, np.int32), categories=pd.Index(categories, dtype=object))


def wave_input_state(*, study_id: int, wave_id: int, items: StudyItems | None = None,
                     excluded: list[str] | None = None) -> dict:
    """What the numeric indices of a wave depend on, cheap to read: answer count, highest answer
    id, a checksum that changes when any value moves between answers, the excluded participants
    and the scales."""
    responses = _wave_responses(study_id=study_id, wave_id=wave_id)
    state = responses.aggregate(
        n=Count("id"), max_id=Max("id"),
        checksum=Sum(Cast(F("id"), FloatField()) * F("value")),
        participants=Count("submission__participant", distinct=True),
    )
    state["checksum"] = None if state["checksum"] is None else round(state["checksum"], 3)
    state["excluded"] = excluded if excluded is not None else list_excluded_public_ids(study_id=study_id)
    state["scales"] = (items if items is not None else read_study_items(study_id=study_id)).scale_state()
    return state


def wave_submission_state(*, study_id: int, wave_id: int) -> dict:
    """What the wave's data-quality rows depend on besides the attitude answers: completions,
    durations and the attention-check answers (a change in any of them is a new fingerprint)."""
    submissions = Submission.objects.filter(wave_id=wave_id, wave__study_id=study_id,
                                            participant__is_preview=False)
    state = submissions.aggregate(n=Count("id"), completed=Count("completed_at"), last=Max("completed_at"),
                                  duration=Sum("duration_seconds"))
    attention = Response.objects.filter(submission__in=submissions, item__role=Item.Role.ATTENTION).aggregate(
        n=Count("id"), max_id=Max("id"), checksum=Sum(Cast(F("id"), FloatField()) * Coalesce(F("value"), Value(0.0))))
    state["duration"] = None if state["duration"] is None else round(state["duration"], 3)
    attention["checksum"] = None if attention["checksum"] is None else round(attention["checksum"], 3)
    state["attention"] = attention
    return state


# --- Free-text answers --------------------------------------------------------------------------


def _wave_texts(*, study_id: int, wave_id: int):
    participants = Participant.objects.analysable().filter(study_id=study_id)
    return (Response.objects.filter(submission__wave_id=wave_id, submission__wave__study_id=study_id,
                                    submission__participant__in=participants,
                                    item__kind__in=kinds.values(free_text=True))
            .exclude(text=""))


def wave_texts_frame(*, study_id: int, wave_id: int, grouping: list[str] | None = None) -> pd.DataFrame:
    """One row per text answer of the wave: wave (number), item (code), text, arm, the
    participant's language and one column per grouping item (`grouping`: the codes, when the caller has them)."""
    grouping = grouping if grouping is not None else list_grouping_codes(study_id=study_id)
    rows = _wave_texts(study_id=study_id, wave_id=wave_id).order_by("id").values_list(
        "submission__wave__number", "item__code", "text", "submission__participant__arm__name",
        "submission__participant__language",
        *[f"submission__participant__groups__{code}" for code in grouping])
    frame = pd.DataFrame.from_records(list(rows), columns=["wave", "item", "text", "arm", "language", *grouping])
    for code in grouping:
        frame[code] = frame[code].map(group_keys.format_value)
    return frame


def wave_text_state(*, study_id: int, wave_id: int) -> dict:
    """What the text indices of a wave depend on, cheap to read: count, highest id, a length
    checksum and the latest answer time (an edited text changes at least the last two)."""
    state = _wave_texts(study_id=study_id, wave_id=wave_id).aggregate(
        n=Count("id"), max_id=Max("id"), checksum=Sum(F("id") * Length("text")), latest=Max("answered_at"))
    return {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in state.items()}

