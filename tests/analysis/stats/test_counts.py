"""Frequency tables: the values of the expanded file, multinomial intervals, bad counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.counts import count_index_table
from analysis.stats.tables import AnswersError, Scale, compute_index_table


def _table(rng, waves=3, items=3, k=5, groups=("a", "b")):
    rows = []
    for w in (1972, 1974, 1980)[:waves]:
        for i in range(items):
            for g in groups:
                for c in range(1, k + 1):
                    rows.append((w, f"q{i}", c, int(rng.integers(0, 12)), g))
    return pd.DataFrame(rows, columns=["wave", "item", "category", "count", "side"])


def _expand(table: pd.DataFrame) -> pd.DataFrame:
    repeated = table.loc[table.index.repeat(table["count"])].reset_index(drop=True)
    return pd.DataFrame({"participant": np.arange(len(repeated)), "wave": repeated["wave"],
                         "item": repeated["item"], "value": repeated["category"].astype(float),
                         "side": repeated["side"]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_equal_the_expanded_file(seed):
    table = _table(np.random.default_rng(seed))
    from_counts = count_index_table(table, scales=Scale(1, 5), by=["side"], reverse=["q1"], bootstrap=0).frame
    expanded = compute_index_table(_expand(table), scales=Scale(1, 5), by=["side"], reverse=["q1"],
                                   bootstrap=0).frame
    expanded = expanded[expanded["index"] != "constraint"]  # needs a person's answers to two items
    assert "constraint" not in set(from_counts["index"])
    keys = ["wave", "item", "group", "index"]
    merged = expanded.fillna({"item": "<pooled>"}).merge(from_counts.fillna({"item": "<pooled>"}), on=keys,
                                                         how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    np.testing.assert_allclose(merged["value_y"], merged["value_x"], rtol=0, atol=1e-12, equal_nan=True)
    assert (merged["n_x"] == merged["n_y"]).all()


def test_hand_set_values_of_one_table():
    # polviews-like: 10 at 1, 20 at 2, 10 at 3 on 1..3 (shares 1/4, 1/2, 1/4), n = 40.
    table = pd.DataFrame({"wave": 1974, "item": "x", "category": [1, 2, 3], "count": [10, 20, 10]})
    frame = count_index_table(table, scales=Scale(1, 3), bootstrap=0).frame
    value = frame.set_index(["item", "index"])["value"]
    assert value[("x", "n")] == 40
    assert value[("x", "mean")] == pytest.approx(2.0)
    assert value[("x", "sd")] == pytest.approx(np.sqrt(20 / 39))
    assert value[("x", "leik_d")] == pytest.approx(0.5)
    # Layers: share 3/4 in {1, 2, 3} (uniform, A 0) and 1/4 in {2} (A 1): A = 1/4.
    assert value[("x", "agreement_a")] == pytest.approx(0.25)


def test_multinomial_intervals_contain_the_value_and_shrink_with_n():
    small = pd.DataFrame({"wave": 1, "item": "x", "category": [1, 2, 3], "count": [10, 20, 10]})
    large = small.assign(count=small["count"] * 100)
    widths = []
    for table in (small, large):
        frame = count_index_table(table, scales=Scale(1, 3), bootstrap=500, seed=4).frame
        row = frame[(frame["item"] == "x") & (frame["index"] == "mean")].iloc[0]
        assert row["ci_low"] < row["value"] < row["ci_high"]
        widths.append(row["ci_high"] - row["ci_low"])
    assert widths[1] == pytest.approx(widths[0] / 10, rel=0.25)


def test_huge_counts_are_never_expanded():
    table = pd.DataFrame({"wave": 1, "item": "x", "category": [1, 2, 3, 4], "count": [4 * 10**9, 10**9, 10**9, 4 * 10**9]})
    frame = count_index_table(table, scales=Scale(1, 4), bootstrap=50).frame
    value = frame.set_index(["item", "index"])["value"]
    assert value[("x", "n")] == 10**10
    assert value[("x", "leik_d")] == pytest.approx(2 * (0.4 + 0.5 + 0.4) / 3)


@pytest.mark.parametrize(("counts", "message"), [
    ([1, -2, 1], "row 1: column 'count': '-2' is not a count"),
    ([1, 1.5, 1], "row 1: column 'count': '1.5' is not a count"),
])
def test_bad_counts_refused(counts, message):
    table = pd.DataFrame({"wave": 1, "item": "x", "category": [1, 2, 3], "count": [str(c) for c in counts]})
    with pytest.raises(AnswersError) as error:
        count_index_table(table, scales=Scale(1, 3), bootstrap=0)
    assert message in str(error.value)


def test_category_off_the_scale_refused():
    table = pd.DataFrame({"wave": 1, "item": "x", "category": [1, 2, 9], "count": [1, 1, 1]})
    with pytest.raises(AnswersError, match="9 is outside the scale 1..3"):
        count_index_table(table, scales=Scale(1, 3), bootstrap=0)
