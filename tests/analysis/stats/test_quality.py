"""Data-quality flags: hand-computed cases and a simulation with planted careless answerers."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats.quality import (
    QualityRules,
    flag_submissions,
    flagged_participants,
    summarize_flags,
)


def submissions(rows) -> pd.DataFrame:
    columns = ["participant", "wave", "duration_seconds", "likert_answered", "likert_min", "likert_max",
               "attention_answered", "attention_failed"]
    return pd.DataFrame(rows, columns=columns)


def test_it_flags_speeders_against_the_median_of_their_own_wave():
    # Wave 1 durations 30, 100, 110, 120, 400: median 110, a third is 36.7 -> only 30 is a speeder.
    # Wave 2 is slower (median 300, a third is 100): 90 is a speeder there, 110 is not.
    frame = submissions([
        ("a", 1, 30, 5, 1, 7, 1, 0), ("b", 1, 100, 5, 1, 7, 1, 0), ("c", 1, 110, 5, 1, 7, 1, 0),
        ("d", 1, 120, 5, 1, 7, 1, 0), ("e", 1, 400, 5, 1, 7, 1, 0),
        ("a", 2, 90, 5, 1, 7, 1, 0), ("b", 2, 110, 5, 1, 7, 1, 0), ("c", 2, 300, 5, 1, 7, 1, 0),
        ("d", 2, 310, 5, 1, 7, 1, 0), ("e", 2, 320, 5, 1, 7, 1, 0),
    ])
    flags = flag_submissions(frame)
    assert list(flags.loc[flags["wave"] == 1, "median_duration"].unique()) == [110.0]
    assert list(flags.loc[flags["wave"] == 2, "median_duration"].unique()) == [300.0]
    assert flags.loc[flags["speeder"], ["participant", "wave"]].values.tolist() == [["a", 1], ["a", 2]]
    # With half the median as the rule, wave 1's 30 (< 55) and wave 2's 90 and 110 (< 150) are.
    half = flag_submissions(frame, QualityRules(speeder_share=0.5))
    assert half["speeder"].sum() == 3


def test_an_unfinished_submission_is_never_a_speeder_and_not_in_the_median():
    frame = submissions([
        ("a", 1, float("nan"), 2, 4, 4, 0, 0), ("b", 1, 100, 5, 1, 7, 1, 0), ("c", 1, 200, 5, 2, 6, 1, 0),
        ("d", 1, 300, 5, 2, 6, 1, 0),
    ])
    flags = flag_submissions(frame)
    assert flags["median_duration"].iloc[0] == 200.0
    assert not flags["speeder"].any()


def test_it_flags_straightlining_only_with_enough_identical_answers():
    frame = submissions([
        ("same", 1, 100, 5, 4, 4, 1, 0),     # five identical answers: flagged
        ("three", 1, 100, 3, 4, 4, 1, 0),    # only three answered: too few to tell
        ("varied", 1, 100, 5, 3, 4, 1, 0),   # two different answers
        ("none", 1, 100, 0, None, None, 1, 0),
    ])
    flags = flag_submissions(frame).set_index("participant")
    assert flags["straightlining"].to_dict() == {"same": True, "three": False, "varied": False, "none": False}
    assert flag_submissions(frame, QualityRules(straightline_min_items=3)).set_index("participant")[
        "straightlining"]["three"]


def test_it_flags_failed_attention_checks_and_summarises_per_wave():
    frame = submissions([
        ("a", 1, 100, 5, 1, 7, 1, 1), ("b", 1, 110, 5, 1, 7, 1, 0), ("c", 1, 120, 5, 4, 4, 1, 1),
        ("a", 2, 100, 5, 1, 7, 1, 0), ("b", 2, 20, 5, 1, 7, 1, 0), ("c", 2, 120, 5, 1, 7, 0, 0),
    ])
    flags = flag_submissions(frame)
    summary = summarize_flags(flags)
    assert summary.to_dict("records") == [
        {"wave": 1, "submissions": 3, "completed": 3, "median_duration": 110.0, "attention": 2, "speeder": 0,
         "straightlining": 1, "flagged": 2},
        {"wave": 2, "submissions": 3, "completed": 3, "median_duration": 100.0, "attention": 0, "speeder": 1,
         "straightlining": 0, "flagged": 1},
    ]
    people = flagged_participants(flags)
    assert people.to_dict("records") == [
        {"participant": "a", "flagged_waves": 1, "attention": [1], "speeder": [], "straightlining": []},
        {"participant": "b", "flagged_waves": 1, "attention": [], "speeder": [2], "straightlining": []},
        {"participant": "c", "flagged_waves": 1, "attention": [1], "speeder": [], "straightlining": [1]},
    ]


def test_it_finds_the_planted_careless_answerers_in_a_simulated_panel():
    rng = np.random.default_rng(7)
    n, waves = 400, 3
    careless = set(rng.choice(n, size=20, replace=False).tolist())
    rows = []
    for wave in range(1, waves + 1):
        for person in range(n):
            duration = float(rng.lognormal(np.log(180), 0.2))
            answers = rng.integers(1, 8, size=6)
            attention_failed = 0
            if person in careless:
                duration = float(rng.uniform(15, 40))   # far under the median of ~180 s
                answers = np.full(6, rng.integers(1, 8))  # the same box every time
                attention_failed = 1
            rows.append((f"p{person}", wave, duration, 6, answers.min(), answers.max(), 1, attention_failed))
    flags = flag_submissions(submissions(rows))
    found = set(flagged_participants(flags)["participant"])
    # Every planted participant is caught by all three screens in every wave ...
    planted = {f"p{i}" for i in careless}
    assert planted <= found
    people = flagged_participants(flags).set_index("participant")
    for pid in planted:
        assert people.loc[pid, "attention"] == [1, 2, 3] == people.loc[pid, "speeder"]
    # ... and honest ones are almost never flagged: with sd 0.2 on the log scale a third of the
    # median is 5.5 sd away; uniform answers on 6 items of 7 points happen with p = 7 / 7**6.
    assert len(found - planted) <= 1


def test_it_rejects_bad_rules_and_frames():
    with pytest.raises(ValueError, match="speeder_share"):
        QualityRules(speeder_share=1.5)
    with pytest.raises(ValueError, match="straightline_min_items"):
        QualityRules(straightline_min_items=1)
    with pytest.raises(ValueError, match="lacks column"):
        flag_submissions(pd.DataFrame({"participant": ["a"]}))


def test_empty_input_gives_empty_tables():
    flags = flag_submissions(submissions([]))
    assert summarize_flags(flags).empty and flagged_participants(flags).empty
