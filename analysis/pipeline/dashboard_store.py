"""The dashboard tables the pipeline stores with each wave's indices, so that no page scans the
answers: `WaveAnswerCount` (the distributions page) and `SubmissionQuality` (the quality screens).
`analysis.dashboards.reads` reads them.
"""

import numpy as np
import pandas as pd
from django.db import connection

from analysis.models import AnalysisRun, SubmissionQuality, WaveAnswerCount
from analysis.pipeline.inputs import StudyItems
from common import fastsql, group_keys
from surveys.models import Participant, Response, Submission, Wave


def answer_count_frame(answers: pd.DataFrame, *, grouping_codes: list[str]) -> pd.DataFrame:
    """The answer counts of one wave per item, grouping (`all`, `arm`, each grouping code), group
    key and value, from the wave's answers frame (`inputs.wave_answers_frame`); missing codes
    are left out, a missing group is `<grouping>:(none)`. Columns: item, grouping, group, value,
    count. Counted with integer codes and one bincount per grouping: a wave may have a million
    answers."""
    columns = ["item", "grouping", "group", "value", "count"]
    answered = answers["value"].notna().to_numpy()
    if not answered.any():
        return pd.DataFrame(columns=columns)
    item_codes, items = pd.factorize(answers["item"].to_numpy()[answered])
    value_codes, values = pd.factorize(answers["value"].to_numpy()[answered])
    # Imported survey data: counts are sums of the respondents' weights (rounded when stored).
    weights = answers["weight"].to_numpy(dtype=float)[answered] if "weight" in answers else None
    parts = []
    for grouping in (group_keys.ALL, group_keys.ARM, *grouping_codes):
        if grouping == group_keys.ALL:
            group_codes, keys = np.zeros(len(item_codes), dtype=np.intp), [group_keys.ALL]
        else:
            group_codes, found = pd.factorize(answers[grouping].to_numpy()[answered], use_na_sentinel=False)
            keys = [group_keys.single(grouping, v) for v in found]
        cells = (item_codes * len(keys) + group_codes) * len(values) + value_codes
        counts = np.bincount(cells, weights=weights, minlength=len(items) * len(keys) * len(values))
        if weights is not None:
            counts = np.round(counts).astype(np.int64)
        hit = np.flatnonzero(counts)
        item_of, rest = np.divmod(hit, len(keys) * len(values))
        group_of, value_of = np.divmod(rest, len(values))
        parts.append(pd.DataFrame({"item": np.asarray(items, dtype=object)[item_of], "grouping": grouping,
                                   "group": np.asarray(keys, dtype=object)[group_of],
                                   "value": np.asarray(values, dtype=float)[value_of], "count": counts[hit]}))
    frame = pd.concat(parts, ignore_index=True)[columns]
    return frame.astype({"value": float, "count": int})


def store_wave_dashboard(*, run: AnalysisRun, wave: Wave, answers: pd.DataFrame, items: StudyItems) -> None:
    """Replace the dashboard tables of one wave: its answer counts (from the analysable answers
    the indices were computed from) and the quality aggregates of its submissions. Called by the
    pipeline inside the transaction that replaces the wave's indices, so a reader sees both old
    or both new."""
    counts = answer_count_frame(answers, grouping_codes=items.grouping)
    WaveAnswerCount.objects.filter(wave=wave).delete()
    WaveAnswerCount.objects.bulk_create([
        WaveAnswerCount(study_id=wave.study_id, wave=wave, item_id=items.ids[item], grouping=grouping, group=group,
                        value=float(value), count=int(count), run=run)
        for item, grouping, group, value, count in counts.itertuples(index=False) if item in items.ids
    ], batch_size=5000)
    SubmissionQuality.objects.filter(wave=wave).delete()
    _insert_submission_quality(run=run, wave=wave, items=items)


def wave_dashboard_stored(*, wave_id: int) -> bool:
    """Whether the wave's dashboard tables were stored (every computed wave has submissions)."""
    return SubmissionQuality.objects.filter(wave_id=wave_id).exists()


def _insert_submission_quality(*, run: AnalysisRun, wave: Wave, items: StudyItems) -> None:
    """One INSERT .. SELECT: the wave's submissions (non-preview participants) with the count,
    minimum and maximum of their Likert attitude answers and their attention-check answers. The
    answers are grouped in the database; nothing per answer travels to Python."""
    likert = list(items.likert)
    attention = [item_id for item_id, _answer in items.attention]
    wanted = [*likert, *attention] or [-1]

    def among(ids: list[int]) -> tuple[str, list]:
        return (f"r.item_id IN ({', '.join(['%s'] * len(ids))})", list(ids)) if ids else ("1 = 0", [])

    is_likert, likert_params = among(likert)
    is_attention, attention_params = among(attention)
    wrong_parts, wrong_params = [], []
    for item_id, answer in items.attention:
        if answer is not None:
            wrong_parts.append("(r.item_id = %s AND (r.value IS NULL OR r.value <> %s))")
            wrong_params += [item_id, answer]
    is_wrong = " OR ".join(wrong_parts) or "1 = 0"
    table = {model: fastsql.table(model) for model in (SubmissionQuality, Submission, Participant, Response)}
    sql = f"""
        INSERT INTO {table[SubmissionQuality]} (study_id, wave_id, submission_id, participant_id, duration_seconds,
            likert_answered, likert_min, likert_max, attention_answered, attention_failed, run_id)
        SELECT p.study_id, s.wave_id, s.id, s.participant_id,
               CASE WHEN s.completed_at IS NOT NULL THEN s.duration_seconds END,
               COALESCE(a.likert_answered, 0), a.likert_min, a.likert_max,
               COALESCE(a.attention_answered, 0), COALESCE(a.attention_failed, 0), %s
        FROM {table[Submission]} s
        JOIN {table[Participant]} p ON p.id = s.participant_id
        LEFT JOIN (
            SELECT r.submission_id,
                   SUM(CASE WHEN {is_likert} AND r.value IS NOT NULL THEN 1 ELSE 0 END) AS likert_answered,
                   MIN(CASE WHEN {is_likert} THEN r.value END) AS likert_min,
                   MAX(CASE WHEN {is_likert} THEN r.value END) AS likert_max,
                   SUM(CASE WHEN {is_attention} THEN 1 ELSE 0 END) AS attention_answered,
                   SUM(CASE WHEN {is_wrong} THEN 1 ELSE 0 END) AS attention_failed
            FROM {table[Response]} r
            JOIN {table[Submission]} rs ON rs.id = r.submission_id
            WHERE rs.wave_id = %s AND r.item_id IN ({', '.join(['%s'] * len(wanted))})
            GROUP BY r.submission_id
        ) a ON a.submission_id = s.id
        WHERE s.wave_id = %s AND p.study_id = %s AND p.is_preview = %s
    """
    params = [run.pk, *likert_params, *likert_params, *likert_params, *attention_params, *wrong_params,
              wave.pk, *wanted, wave.pk, wave.study_id, False]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
