"""Data-quality flags per submission (participant x wave). Pure pandas; no Django.

Three common screens for careless answering in web panels:

* **attention check failed**: an attention item was answered with something other than its
  expected answer (a "don't know" or a skipped attention item counts as failed; an attention
  item the participant never reached is not counted);
* **speeder**: a completed wave taken in less than `speeder_share` (default 1/3) of the median
  completion time of that wave's completed submissions;
* **straight-lining**: the same value given to every Likert attitude item of the wave, with at
  least `straightline_min_items` (default 4) of them answered. Items on other scales (sliders)
  are left out, since the same number means different things on different scales.

Input is one row per submission with the aggregates a database can compute cheaply
(see `analysis.dashboards.reads.quality_submissions_frame`):

    participant, wave, duration_seconds (NaN unless completed),
    likert_answered, likert_min, likert_max, attention_answered, attention_failed
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

SUBMISSION_COLUMNS = ("participant", "wave", "duration_seconds", "likert_answered", "likert_min", "likert_max",
                      "attention_answered", "attention_failed")
FLAGS = ("attention", "speeder", "straightlining")


@dataclass(frozen=True)
class QualityRules:
    speeder_share: float = 1 / 3
    straightline_min_items: int = 4

    def __post_init__(self):
        if not 0 < self.speeder_share < 1:
            raise ValueError(f"speeder_share must lie between 0 and 1, not {self.speeder_share}")
        if self.straightline_min_items < 2:
            raise ValueError(f"straightline_min_items must be at least 2, not {self.straightline_min_items}")


def flag_submissions(frame: pd.DataFrame, rules: QualityRules = QualityRules()) -> pd.DataFrame:
    """The input with `median_duration`, the three flags and `flagged` (any of them) added."""
    missing = [c for c in SUBMISSION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"quality frame lacks column(s) {', '.join(missing)}")
    out = frame.loc[:, list(SUBMISSION_COLUMNS)].copy()
    duration = pd.to_numeric(out["duration_seconds"], errors="coerce").astype(float)
    median = duration.groupby(out["wave"]).transform("median")
    out["median_duration"] = median
    out["attention"] = pd.to_numeric(out["attention_failed"]).fillna(0).to_numpy() > 0
    # NaN comparisons are False: incomplete submissions are never speeders.
    out["speeder"] = (duration < rules.speeder_share * median).to_numpy()
    answered = pd.to_numeric(out["likert_answered"]).fillna(0).to_numpy()
    same = np.isclose(pd.to_numeric(out["likert_min"]).astype(float).to_numpy(),
                      pd.to_numeric(out["likert_max"]).astype(float).to_numpy())
    out["straightlining"] = (answered >= rules.straightline_min_items) & same
    out["flagged"] = out[list(FLAGS)].any(axis=1)
    return out


def summarize_flags(flags: pd.DataFrame) -> pd.DataFrame:
    """Per wave: submissions, completed, the count of each flag and of submissions with any flag,
    and the median completion time."""
    columns = ["wave", "submissions", "completed", "median_duration", *FLAGS, "flagged"]
    if flags.empty:
        return pd.DataFrame(columns=columns)
    grouped = flags.groupby("wave", sort=True)
    summary = pd.DataFrame({
        "submissions": grouped.size(),
        "completed": grouped["duration_seconds"].count(),
        "median_duration": grouped["median_duration"].first(),
        **{flag: grouped[flag].sum().astype(int) for flag in (*FLAGS, "flagged")},
    }).reset_index()
    return summary[columns]


def flagged_participants(flags: pd.DataFrame) -> pd.DataFrame:
    """One row per participant with any flag: the waves of each flag (sorted) and how many
    flagged submissions they have, most flagged first."""
    columns = ["participant", "flagged_waves", *FLAGS]
    hits = flags.loc[flags["flagged"], ["participant", "wave", *FLAGS]]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    # Few rows (the flagged submissions) but many small groups: one pass in plain Python is
    # faster than a pandas aggregation per group.
    hits = hits.sort_values(["participant", "wave"], kind="stable")
    found: dict = {}
    waves = hits["wave"].astype(int).tolist()
    marks = {flag: hits[flag].astype(bool).tolist() for flag in FLAGS}
    for row, participant in enumerate(hits["participant"].tolist()):
        entry = found.setdefault(participant, {"participant": participant, "flagged_waves": 0,
                                               **{flag: [] for flag in FLAGS}})
        entry["flagged_waves"] += 1
        for flag in FLAGS:
            if marks[flag][row]:
                entry[flag].append(waves[row])
    result = pd.DataFrame.from_records(list(found.values()), columns=columns).astype({"flagged_waves": int})
    return result.sort_values(["flagged_waves", "participant"], ascending=[False, True], kind="stable",
                              ignore_index=True)
