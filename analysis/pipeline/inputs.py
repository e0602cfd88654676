"""Reads that feed analysis: database -> DataFrames. No computation here.

Only analysable participants count: never previews, never withdrawn, never excluded
(`Participant.objects.analysable()`).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Exists, F, FloatField, Max, OuterRef, Sum, Value
from django.db.models.functions import Cast, Coalesce

from common import group_keys
from surveys import kinds
from surveys.models import Exclusion, Item, Participant, Response, Study, Submission, Wave


@dataclass(frozen=True)
class ItemScale:
    code: str
    scale_min: float
    scale_max: float
    step: float
    reverse_coded: bool


def list_attitude_scales(*, study_id: int) -> dict[str, ItemScale]:
    """Numeric attitude items of a study by code, in questionnaire order."""
    items = Item.objects.filter(study_id=study_id, role=Item.Role.ATTITUDE, kind__in=kinds.values(numeric=True))
    return {
        item.code: ItemScale(item.code, item.scale_min, item.scale_max, item.step, item.reverse_coded)
        for item in items.order_by("order", "id")
    }


def list_grouping_codes(*, study_id: int) -> list[str]:
    return list(Item.objects.filter(study_id=study_id, role=Item.Role.GROUPING).order_by("order", "id")
                .values_list("code", flat=True))


def get_study_waves(*, study_id: int) -> list[Wave]:
    return list(Wave.objects.filter(study_id=study_id).order_by("number"))


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


def wave_answers_frame(*, study_id: int, wave_id: int) -> pd.DataFrame:
    """One row per answer of one wave: participant (public id), wave (number), item, value
    (NaN = missing code), arm and one column per grouping item. Needed where one person's
    several answers matter (constraint, alignment, pooled rows, participant resampling).

    Answers are read as three numeric columns (on PostgreSQL with a binary COPY straight into
    numpy arrays, elsewhere in chunks) and joined to the participants' and items' attributes
    afterwards, so memory stays near the size of the numbers (1M answers: about 25 MB of
    arrays) instead of one Python object per answer."""
    grouping_codes = list_grouping_codes(study_id=study_id)
    wave_number = Wave.objects.filter(pk=wave_id).values_list("number", flat=True).first()
    rows = (_wave_responses(study_id=study_id, wave_id=wave_id)
            .order_by("submission__participant_id", "item__order", "item_id"))
    if connection.vendor == "postgresql":
        pid, iid, values = _copy_answer_columns(rows)
    else:
        pid, iid, values = _chunked_answer_columns(rows)
    frame = pd.DataFrame({"value": values})
    del values
    people = pd.DataFrame.from_records(
        list(Participant.objects.analysable().filter(study_id=study_id, submissions__wave_id=wave_id).values_list(
            "pk", "public_id", "arm__name", *[f"groups__{code}" for code in grouping_codes])),
        columns=["pk", "participant", "arm", *[f"g_{c}" for c in grouping_codes]],
    ).set_index("pk")
    people = _normalise_group_values(people, grouping_codes)
    codes = pd.Series(dict(Item.objects.filter(study_id=study_id).values_list("pk", "code")))
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


# One row of PostgreSQL's binary COPY of (bigint, bigint, double precision), none NULL: a field
# count, then per field its byte length and its big-endian value.
_COPY_ROW = np.dtype([("fields", ">i2"), ("n1", ">i4"), ("participant", ">i8"), ("n2", ">i4"), ("item", ">i8"),
                      ("n3", ">i4"), ("value", ">f8")])
_COPY_HEADER = 19  # signature (11 bytes), flags, header extension length
_COPY_TRAILER = 2


def _copy_answer_columns(rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(participant ids, item ids, values) of the answers `rows`, by a binary COPY of the query.

    The rows' values travel as fixed-width binary fields (a missing value as NaN), so the COPY
    output is an array of records that numpy reads in place, with no Python object per answer."""
    query = rows.annotate(
        _value=Coalesce(F("value"), Value(float("nan")), output_field=FloatField()),
    ).values_list("submission__participant_id", "item_id", "_value")
    sql, params = query.query.sql_with_params()
    buffer = bytearray()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)", params) as copy:
            for block in copy:
                buffer += block
    records = np.frombuffer(buffer, dtype=_COPY_ROW, offset=_COPY_HEADER,
                            count=(len(buffer) - _COPY_HEADER - _COPY_TRAILER) // _COPY_ROW.itemsize)
    if len(records) and not (np.all(records["fields"] == 3) and np.all(records["n1"] == 8)
                             and np.all(records["n2"] == 8) and np.all(records["n3"] == 8)):
        raise RuntimeError("unexpected layout of the binary COPY of a wave's answers")
    columns = (records["participant"].astype(np.int64), records["item"].astype(np.int64),
               records["value"].astype(np.float64))
    del records, buffer
    return columns


def _chunked_answer_columns(rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    participant_ids, item_ids, values = [], [], []
    chunk: list = []
    for row in rows.values_list("submission__participant_id", "item_id", "value").iterator(chunk_size=50_000):
        chunk.append(row)
        if len(chunk) == 200_000:
            _append_chunk(chunk, participant_ids, item_ids, values)
            chunk = []
    _append_chunk(chunk, participant_ids, item_ids, values)
    return (np.concatenate(participant_ids) if participant_ids else np.empty(0, dtype=np.int64),
            np.concatenate(item_ids) if item_ids else np.empty(0, dtype=np.int64),
            np.concatenate(values) if values else np.empty(0, dtype=float))


def _append_chunk(chunk, participant_ids, item_ids, values) -> None:
    if not chunk:
        return
    array = np.array(chunk, dtype=float)
    participant_ids.append(array[:, 0].astype(np.int64))
    item_ids.append(array[:, 1].astype(np.int64))
    values.append(array[:, 2])


def wave_input_state(*, study_id: int, wave_id: int) -> dict:
    """What the indices of a wave depend on, cheap to read: answer count, highest answer id, a
    checksum that changes when any value moves between answers, and the excluded participants."""
    responses = _wave_responses(study_id=study_id, wave_id=wave_id)
    state = responses.aggregate(
        n=Count("id"), max_id=Max("id"),
        checksum=Sum(Cast(F("id"), FloatField()) * F("value")),
        participants=Count("submission__participant", distinct=True),
    )
    state["checksum"] = None if state["checksum"] is None else round(state["checksum"], 3)
    state["excluded"] = list_excluded_public_ids(study_id=study_id)
    state["scales"] = {code: [s.scale_min, s.scale_max, s.step, s.reverse_coded]
                       for code, s in list_attitude_scales(study_id=study_id).items()}
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


def list_excluded_public_ids(*, study_id: int) -> list[str]:
    return sorted(Exclusion.objects.filter(participant__study_id=study_id, lifted_at__isnull=True)
                  .values_list("participant__public_id", flat=True))


def get_study(*, study_id: int) -> Study:
    return Study.objects.get(pk=study_id)


def get_analysis_state(*, study_id: int | None = None) -> dict:
    """Counts of queued/running runs, failures of the last day with the latest error, and when
    the last run finished; for /healthz and the study overview."""
    from django.utils import timezone

    from analysis.models import AnalysisRun

    runs = AnalysisRun.objects.all() if study_id is None else AnalysisRun.objects.filter(study_id=study_id)
    since = timezone.now() - timezone.timedelta(days=1)
    failed = runs.filter(status=AnalysisRun.Status.FAILED, finished_at__gte=since).order_by("-finished_at")
    last = runs.filter(finished_at__isnull=False).order_by("-finished_at").first()
    latest_failure = failed.first()
    return {
        "queued": runs.filter(status=AnalysisRun.Status.QUEUED).count(),
        "running": runs.filter(status=AnalysisRun.Status.RUNNING).count(),
        "failed_last_day": failed.count(),
        "last_error": latest_failure.error if latest_failure else None,
        "last_finished_at": last.finished_at.isoformat() if last else None,
        "last_status": last.status if last else None,
    }


def list_study_summaries(*, user) -> list[dict]:
    """The user's studies with status, participants, current wave and last finished analysis."""
    from django.utils import timezone

    from analysis.models import AnalysisRun

    summaries = []
    for study in Study.objects.for_user(user).order_by("slug"):
        current = Wave.objects.filter(study=study).open(timezone.now()).first()
        last = AnalysisRun.objects.filter(study=study, finished_at__isnull=False).order_by("-finished_at").first()
        summaries.append({
            "study": study,
            "participants": study.participants.filter(is_preview=False).count(),
            "current_wave": current.number if current else None,
            "last_run": last,
        })
    return summaries


def list_wave_summaries(*, study_id: int) -> list[dict]:
    """Per wave: times, state, started and completed submissions, response rate among those
    still enrolled, and its last indices run."""
    from analysis.models import AnalysisRun

    enrolled = Participant.objects.filter(study_id=study_id, is_preview=False, withdrawn_at__isnull=True).count()
    rows = []
    for wave in Wave.objects.filter(study_id=study_id).order_by("number"):
        submissions = wave.submissions.filter(participant__is_preview=False)
        completed = submissions.filter(completed_at__isnull=False).count()
        run = AnalysisRun.objects.filter(wave=wave, kind=AnalysisRun.Kind.INDICES).order_by("-created_at", "-id").first()
        rows.append({
            "wave": wave, "started": submissions.count(), "completed": completed,
            "response_rate": completed / enrolled if enrolled else None, "run": run,
        })
    return rows


def user_may_recompute(*, user, study: Study) -> bool:
    from surveys.models import Membership

    return user.is_superuser or Membership.objects.filter(
        study=study, user=user, role__in=[Membership.Role.OWNER, Membership.Role.ANALYST]).exists()
