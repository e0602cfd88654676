"""What keeps a worker's memory low (bench/pipeline.py) changes no number: the numeric columns of a
wave's answers (a binary COPY on PostgreSQL) read what the ORM reads, and the resampling gives the
same intervals whatever the chunk of participant weights."""

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from analysis.pipeline import inputs as selectors
from analysis.stats import bootstrap
from analysis.stats.tables import Scale, compute_index_table
from common import fastsql
from surveys.models import Exclusion, Response
from tests.factories import (
    ArmFactory,
    GroupingItemFactory,
    ItemFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)


@pytest.fixture
def wave_with_answers(db):
    """12 participants x 2 items (one slider with fractional steps), missing codes, a preview, a
    withdrawn and an excluded participant, a second wave and a free-text item to leave out."""
    study = StudyFactory(slug="memory")
    arm = ArmFactory(study=study, name="control", is_control=True)
    GroupingItemFactory(study=study, code="side")
    likert = ItemFactory(study=study, code="trust", scale_max=5, dont_know=True, order=2)
    slider = ItemFactory(study=study, code="warmth", kind="slider", scale_min=0, scale_max=1, step=0.1, order=1)
    text = ItemFactory(study=study, code="story", kind="text", scale_min=None, scale_max=None, step=None, order=3)
    wave, other = WaveFactory(study=study, number=1), WaveFactory(study=study, number=2)
    for i in range(15):
        person = ParticipantFactory(study=study, arm=arm, groups={"side": 1 + i % 2}, is_preview=(i == 12),
                                    withdrawn_at=timezone.now() if i == 13 else None)
        if i == 14:
            Exclusion.objects.create(participant=person, reason="speeder")
        for w in (wave, other):
            submission = SubmissionFactory(participant=person, wave=w)
            if i % 5 == 4:
                Response.objects.create(submission=submission, item=likert, missing="dont_know")
            else:
                Response.objects.create(submission=submission, item=likert, value=1 + i % 5)
            Response.objects.create(submission=submission, item=slider, value=round(0.1 * (i % 11), 1))
            Response.objects.create(submission=submission, item=text, text="words")
    return study, wave


def test_the_numeric_columns_read_what_the_orm_reads(wave_with_answers):
    # On PostgreSQL a binary COPY, elsewhere fetched in chunks.
    study, wave = wave_with_answers
    rows = selectors._wave_responses(study_id=study.pk, wave_id=wave.pk).order_by(
        "submission__participant_id", "item__order", "item_id").values_list(
        "submission__participant_id", "item_id", "value")
    copied = fastsql.numeric_columns(rows, "iif")
    orm = np.array([[p, i, np.nan if v is None else v] for p, i, v in rows])
    assert len(copied[0]) == 24  # 12 analysable participants x 2 numeric attitude items
    for ours, theirs in zip(copied, orm.T, strict=True):
        np.testing.assert_array_equal(ours, theirs)  # NaN where the ORM reads NULL
    assert np.isnan(copied[2]).sum() == 2  # the "don't know" answers of participants 4 and 9
    assert set(np.round(copied[2][~np.isnan(copied[2])], 1)) >= {0.1, 0.3, 0.7}


def test_the_wave_frame_holds_the_analysable_answers(wave_with_answers):
    study, wave = wave_with_answers
    frame = selectors.wave_answers_frame(study_id=study.pk, wave_id=wave.pk)
    assert list(frame.columns) == ["participant", "wave", "item", "value", "arm", "side"]
    assert len(frame) == 24 and frame["participant"].nunique() == 12
    assert (frame["wave"] == 1).all() and set(frame["item"]) == {"trust", "warmth"}
    # participants 0..11; 4 and 9 answered "don't know" (NaN), the others 1 + i % 5
    assert frame.groupby("item")["value"].count().to_dict() == {"trust": 10, "warmth": 12}
    assert frame.loc[frame["item"] == "trust", "value"].sum() == (1 + 2 + 3 + 4) * 2 + 1 + 2
    assert frame.loc[frame["item"] == "warmth", "value"].sum() == pytest.approx(0.1 * sum(range(11)))  # i = 0..10, then 11 -> 0.0


def test_intervals_do_not_depend_on_the_chunk_of_participant_weights():
    rng = np.random.default_rng(3)
    n = 400
    answers = pd.DataFrame({
        "participant": np.repeat([f"p{i:03d}" for i in range(n)], 3), "wave": 1,
        "item": np.tile(["a", "b", "c"], n), "value": rng.integers(1, 6, 3 * n).astype(float),
        "side": np.repeat(rng.choice(["l", "r"], n), 3),
    })
    answers.loc[rng.random(3 * n) < 0.05, "value"] = np.nan

    def table(max_elements):
        return compute_index_table(answers, scales=Scale(1, 5, 1), by=["side"], bootstrap=200, seed=7,
                                   max_elements=max_elements).frame

    small = table(2_000)    # every chunk at the floor of MIN_WEIGHT_ROWS resamples
    large = table(2**22)    # all 200 resamples in one chunk
    pd.testing.assert_frame_equal(small, large, check_exact=True)
    pooled = large[large["item"].isna() & (large["group"] == "all") & (large["index"] == "constraint")]
    assert len(pooled) == 1 and pooled["ci_low"].iloc[0] < pooled["value"].iloc[0] < pooled["ci_high"].iloc[0]


def test_participant_draws_are_one_stream_whatever_the_rows_drawn_per_call(monkeypatch):
    def weights(rows_per_call):
        monkeypatch.setattr(bootstrap, "_DRAW_ROWS", rows_per_call)
        return np.concatenate(list(bootstrap.resample_weights(1_000, 150, np.random.default_rng(5),
                                                              max_elements=50_000)))

    reference = weights(64)
    assert reference.shape == (150, 1_000) and (reference.sum(axis=1) == 1_000).all()
    np.testing.assert_array_equal(weights(16), reference)
    np.testing.assert_array_equal(weights(7), reference)
