"""Weighted indices: hand-set values, integer weights = repeated rows, statsmodels agreement,
bad weights refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analysis.stats.tables import AnswersError, Scale, compute_index_table
from analysis.stats.weighted import weighted_index_table

SHARE_ONLY = ("agreement_a", "leik_d", "tw_consensus", "entropy_norm", "esteban_ray", "mean",
              "group_gap", "wasserstein", "overlap", "alignment")


def _answers(values, weights, groups=None, item="q", wave=1):
    frame = pd.DataFrame({"participant": [f"p{i}" for i in range(len(values))], "wave": wave, "item": item,
                          "value": values, "weight": weights})
    if groups is not None:
        frame["side"] = groups
    return frame


def _value(table, index, group="all", item="q", wave=1):
    frame = table.frame
    if item is None:
        rows = frame[(frame["item"].isna()) & (frame["group"] == group) & (frame["index"] == index)]
    else:
        rows = frame[(frame["item"] == item) & (frame["group"] == group) & (frame["index"] == index)]
    rows = rows[rows["wave"] == wave]
    assert len(rows) == 1, rows
    return float(rows["value"].iloc[0])


def test_hand_set_values_frequency_and_sampling():
    # Answers 1, 2, 3 with weights 1, 2, 1 on 1..3: shares 1/4, 1/2, 1/4.
    answers = _answers([1, 2, 3], [1, 2, 1])
    freq = weighted_index_table(answers, scales=Scale(1, 3), kind="frequency", bootstrap=0)
    samp = weighted_index_table(answers, scales=Scale(1, 3), kind="sampling", bootstrap=0)
    for table in (freq, samp):
        assert _value(table, "mean") == pytest.approx(2.0)
        assert _value(table, "leik_d") == pytest.approx(0.5)  # 2 (1/4 + 1/4) / 2
        assert _value(table, "entropy_norm") == pytest.approx(1.5 * math.log(2) / math.log(3))
        assert _value(table, "tw_consensus") == pytest.approx(0.5)  # 1 + 2 * 1/4 * log2(1/2)
        # sum_i p_i^2.6 sum_j p_j |y_i - y_j|, y = 0, 1/2, 1: ends 0.25^2.6 * 0.5, middle 0.5^2.6 * 0.25.
        assert _value(table, "esteban_ray") == pytest.approx(2 * 0.25**2.6 * 0.5 + 0.5**2.6 * 0.25)
    # Frequency: n = 4, sd^2 = (1 + 0 + 0 + 1) / 3; sampling: n = 3, sd^2 = 1/2 * 3/2.
    assert _value(freq, "n") == 4
    assert _value(samp, "n") == 3
    assert _value(freq, "sd") == pytest.approx(math.sqrt(2 / 3))
    assert _value(samp, "sd") == pytest.approx(math.sqrt(0.75))
    # mad_pairwise: 2n/(n-1) * sum F(1-F) / (k-1), sum F(1-F) = 3/16 + 3/16.
    assert _value(freq, "mad_pairwise") == pytest.approx(0.5)
    assert _value(samp, "mad_pairwise") == pytest.approx(0.5625)
    # Agreement A: layers 3/4 uniform over {1, 2, 3} (A 0) and 1/4 in {2} (A 1).
    assert _value(freq, "agreement_a") == pytest.approx(0.25)
    assert _value(samp, "agreement_a") == pytest.approx(0.25)
    # Bimodality of the expanded 1, 2, 2, 3: g1 = 0, g2 = -1, G2 = 1.5, BC = 1 / (1.5 + 27/2);
    # sampling weights: n = 3 respondents < 4, undefined.
    assert _value(freq, "bimodality") == pytest.approx(1 / 15)
    assert math.isnan(_value(samp, "bimodality"))


def test_hand_set_between_groups():
    # Group a: answers 1 (weight 3) and 3 (weight 1): mean 1.5; group b: 3 (weight 2): mean 3.
    answers = _answers([1, 3, 3], [3, 1, 2], groups=["a", "a", "b"])
    table = weighted_index_table(answers, scales=Scale(1, 3), by=["side"], kind="sampling", bootstrap=0)
    pair = "side:a|side:b"
    assert _value(table, "group_gap", pair) == pytest.approx((1.5 - 3) / 2)
    assert _value(table, "wasserstein", pair) == pytest.approx((0.75 + 0.75) / 2)
    assert _value(table, "overlap", pair) == pytest.approx(0.25)
    assert _value(table, "mean", "side:a") == pytest.approx(1.5)
    # Cohen's d, sampling: n_a = 2 respondents with shares (3/4, 0, 1/4): n m2 = 2 * 3/4; b: 0.
    assert _value(table, "cohens_d", pair) == pytest.approx(-1.5 / math.sqrt(1.5 / 1))
    # eta of the split, groups weighed by their weights (a: 1,1,1,3; b: 3,3): sqrt(3 / 6).
    assert _value(table, "alignment", pair, item=None) == pytest.approx(math.sqrt(0.5))
    freq = weighted_index_table(answers, scales=Scale(1, 3), by=["side"], kind="frequency", bootstrap=0)
    # Frequency: the expanded 1, 1, 1, 3 | 3, 3: pooled SD sqrt(3 / 4), d = -1.5 / sqrt(0.75).
    assert _value(freq, "cohens_d", pair) == pytest.approx(-1.5 / math.sqrt(0.75))
    assert _value(freq, "alignment", pair, item=None) == pytest.approx(math.sqrt(0.5))
    gap = freq.frame[(freq.frame["item"] == "q") & (freq.frame["index"] == "group_gap")]
    assert gap["n"].tolist() == [6]  # n_A + n_B = sum of the weights


def _expand(answers: pd.DataFrame) -> pd.DataFrame:
    repeated = answers.loc[answers.index.repeat(answers["weight"].astype(int))].copy()
    copy = repeated.groupby(level=0).cumcount().astype(str)
    repeated["participant"] = repeated["participant"].astype(str) + "_" + copy.to_numpy()
    return repeated.drop(columns="weight").reset_index(drop=True)


def _panel(rng, people, items, waves=1, k=5, missing=0.1):
    rows = []
    for w in range(1, waves + 1):
        for p in range(people):
            side = rng.choice(["left", "right"])
            weight = int(rng.integers(0, 4)) if p > 1 else 1 + p
            for i in range(items):
                value = float(rng.integers(1, k + 1)) if rng.random() > missing else np.nan
                rows.append((f"w{w}p{p}", w, f"q{i}", value, side, weight))
    return pd.DataFrame(rows, columns=["participant", "wave", "item", "value", "side", "weight"])


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10**6), people=st.integers(5, 20), items=st.integers(1, 3))
def test_integer_frequency_weights_equal_repeated_rows(seed, people, items):
    rng = np.random.default_rng(seed)
    answers = _panel(rng, people, items, waves=2)
    weighted = weighted_index_table(answers, scales=Scale(1, 5), by=["side"], kind="frequency",
                                    reverse=["q0"], bootstrap=0).frame
    expanded = compute_index_table(_expand(answers), scales=Scale(1, 5), by=["side"], reverse=["q0"],
                                   bootstrap=0).frame
    keys = ["wave", "item", "group", "index"]
    merged = expanded.fillna({"item": "<pooled>"}).merge(weighted.fillna({"item": "<pooled>"}), on=keys,
                                                         how="outer", suffixes=("_x", "_w"), indicator=True)
    # Groups whose members all have weight 0 vanish from the expanded file only.
    both = merged[merged["_merge"] == "both"]
    assert (merged["_merge"] != "left_only").all()
    np.testing.assert_allclose(both["value_w"], both["value_x"], rtol=1e-9, atol=1e-12, equal_nan=True)
    assert (both["n_w"] == both["n_x"]).all()


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10**6))
@example(seed=74)  # 4 respondents whose rescaled weights sum to 3.9999999999999996 (bimodality needs n >= 4)
@example(seed=10**6)  # indices equal to 0 up to rounding noise
def test_sampling_weights_keep_share_indices_of_repeated_rows_and_ignore_scale(seed):
    rng = np.random.default_rng(seed)
    answers = _panel(rng, 25, 2, missing=0.0)
    answers["weight"] = answers["weight"] + 1
    sampling = weighted_index_table(answers, scales=Scale(1, 5), by=["side"], kind="sampling", bootstrap=0).frame
    scaled = answers.assign(weight=answers["weight"] * 7.5)
    rescaled = weighted_index_table(scaled, scales=Scale(1, 5), by=["side"], kind="sampling", bootstrap=0).frame
    # atol: values that are 0 come out as rounding noise of either sign (1e-16).
    np.testing.assert_allclose(sampling["value"], rescaled["value"], rtol=1e-12, atol=1e-12, equal_nan=True)
    expanded = compute_index_table(_expand(answers), scales=Scale(1, 5), by=["side"], bootstrap=0).frame
    keys = ["wave", "item", "group", "index"]
    merged = expanded.fillna({"item": "<pooled>"}).merge(sampling.fillna({"item": "<pooled>"}), on=keys)
    share = merged[merged["index"].isin(SHARE_ONLY)]
    assert len(share) > 10
    np.testing.assert_allclose(share["value_y"], share["value_x"], rtol=1e-9, atol=1e-12, equal_nan=True)


def test_mean_and_sd_equal_statsmodels_descrstatsw():
    from statsmodels.stats.weightstats import DescrStatsW

    rng = np.random.default_rng(3)
    values = rng.integers(1, 8, size=40).astype(float)
    freq_w = rng.integers(1, 6, size=40).astype(float)
    samp_w = rng.gamma(2.0, 800.0, size=40)
    freq = weighted_index_table(_answers(values, freq_w), scales=Scale(1, 7), kind="frequency", bootstrap=0)
    reference = DescrStatsW(values, weights=freq_w, ddof=1)
    assert _value(freq, "mean") == pytest.approx(reference.mean, rel=1e-12)
    assert _value(freq, "sd") == pytest.approx(reference.std, rel=1e-12)
    samp = weighted_index_table(_answers(values, samp_w), scales=Scale(1, 7), kind="sampling", bootstrap=0)
    reference = DescrStatsW(values, weights=samp_w * len(values) / samp_w.sum(), ddof=1)
    assert _value(samp, "mean") == pytest.approx(reference.mean, rel=1e-12)
    assert _value(samp, "sd") == pytest.approx(reference.std, rel=1e-12)


def test_constraint_is_the_weighted_correlation():
    # Two items; weighted Pearson r by hand through numpy's cov with aweights.
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 30).astype(float)
    y = np.clip(x + rng.integers(-1, 2, 30), 1, 5)
    w = rng.uniform(0.2, 3.0, 30)
    frame = pd.concat([
        pd.DataFrame({"participant": range(30), "wave": 1, "item": "a", "value": x, "weight": w}),
        pd.DataFrame({"participant": range(30), "wave": 1, "item": "b", "value": y, "weight": w}),
    ])
    table = weighted_index_table(frame, scales=Scale(1, 5), kind="sampling", bootstrap=0)
    r = np.cov(x, y, aweights=w)
    assert _value(table, "constraint", item=None) == pytest.approx(abs(r[0, 1]) / math.sqrt(r[0, 0] * r[1, 1]))


@pytest.mark.parametrize(("weights", "message"), [
    ([1, -2, 1], "row 1: column 'weight': negative weight -2"),
    ([1, None, 1], "row 1: column 'weight': missing weight"),
    ([0, 0, 0], "column 'weight': the weights of wave 1 sum to 0"),
    ([1, "x", 1], "row 1: column 'weight': 'x' is not a number"),
])
def test_bad_weights_are_refused_with_one_line(weights, message):
    answers = _answers([1, 2, 3], pd.Series(weights, dtype=object))
    with pytest.raises(AnswersError) as error:
        weighted_index_table(answers, scales=Scale(1, 3), kind="sampling", bootstrap=0)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_fractional_frequency_weight_refused():
    with pytest.raises(AnswersError, match="not a whole number"):
        weighted_index_table(_answers([1, 2, 3], [1, 1.5, 1]), scales=Scale(1, 3), kind="frequency", bootstrap=0)


def test_frequency_bootstrap_is_the_expanded_bootstrap_in_distribution():
    # The interval of the mean with weights is close to the expanded file's (both bootstrap the
    # same 200 people), and contains the value.
    rng = np.random.default_rng(8)
    answers = _answers(rng.integers(1, 6, 50).astype(float), rng.integers(1, 8, 50))
    weighted = weighted_index_table(answers, scales=Scale(1, 5), kind="frequency", bootstrap=2000, seed=1)
    expanded = compute_index_table(_expand(answers), scales=Scale(1, 5), bootstrap=2000, seed=1)
    pick = (weighted.frame["item"] == "q") & (weighted.frame["index"] == "mean")
    pick_x = (expanded.frame["item"] == "q") & (expanded.frame["index"] == "mean")
    low_w, high_w = weighted.frame.loc[pick, ["ci_low", "ci_high"]].iloc[0]
    low_x, high_x = expanded.frame.loc[pick_x, ["ci_low", "ci_high"]].iloc[0]
    assert high_w - low_w == pytest.approx(high_x - low_x, rel=0.1)
    assert low_w < _value(weighted, "mean") < high_w
