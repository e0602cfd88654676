"""Resampling schemes, percentile intervals and their empirical coverage."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats import indices as ix
from analysis.stats.bootstrap import (
    bootstrap_counts,
    bootstrap_participants,
    percentile_interval,
    resample_counts,
    resample_weights,
)
from analysis.stats.tables import Scale, compute_index_table


def test_percentile_interval_is_the_pair_of_tail_quantiles():
    samples = np.arange(1001, dtype=float)
    low, high = percentile_interval(samples, 0.95)
    assert (low, high) == pytest.approx((25.0, 975.0))
    low, high = percentile_interval(samples, 0.5)
    assert (low, high) == pytest.approx((250.0, 750.0))


def test_percentile_interval_ignores_undefined_resamples_and_is_nan_when_all_are():
    samples = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, np.inf], [2.0, np.nan]])
    low, high = percentile_interval(samples, 0.5)
    assert low[0] == pytest.approx(1.5) and high[0] == pytest.approx(2.5)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_count_resamples_keep_each_cells_n_and_centre_on_the_observed_counts():
    counts = np.array([[10, 0, 30], [1, 1, 1], [0, 0, 0]])
    draws = np.concatenate(list(resample_counts(counts, 4000, np.random.default_rng(1))))
    assert draws.shape == (4000, 3, 3)
    np.testing.assert_array_equal(draws.sum(axis=-1), np.broadcast_to(counts.sum(axis=-1), (4000, 3)))
    assert (draws[:, 0, 1] == 0).all()  # an empty category stays empty
    np.testing.assert_allclose(draws.mean(axis=0), counts, atol=0.35)


def test_count_resamples_do_not_depend_on_the_chunk_size():
    counts = np.array([[5, 3, 2, 0], [1, 0, 0, 9]])
    whole = np.concatenate(list(resample_counts(counts, 50, np.random.default_rng(7))))
    chunked = list(resample_counts(counts, 50, np.random.default_rng(7), max_elements=24))
    assert len(chunked) == 17  # 3 resamples of 2 cells x 4 categories per chunk
    np.testing.assert_array_equal(np.concatenate(chunked), whole)


def test_participant_weights_are_the_counts_of_ordinary_resampling_draws():
    x = np.random.default_rng(0).normal(size=37)
    low, high = bootstrap_participants(np.column_stack([np.ones_like(x), x]),
                                       lambda sums: sums[..., 1] / sums[..., 0], n_resamples=500, seed=11)
    # The same draws done the obvious way: indices with replacement, resample by resample.
    rng = np.random.default_rng(11)
    means = [x[rng.integers(0, len(x), size=len(x), dtype=np.uint32)].mean() for _ in range(500)]
    assert (low, high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))


def test_participant_weights_sum_to_the_number_of_participants():
    chunks = list(resample_weights(23, 100, np.random.default_rng(2), max_elements=23 * 30))
    assert [len(c) for c in chunks] == [30, 30, 30, 10]
    weights = np.concatenate(chunks)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights.sum(axis=1), 23)


def test_bootstrap_counts_is_seeded_and_zero_resamples_give_no_interval():
    counts = np.array([[3, 5, 9, 2], [0, 4, 4, 0]])
    first = bootstrap_counts(counts, ix.cell_indices, n_resamples=200, seed=4)
    again = bootstrap_counts(counts, ix.cell_indices, n_resamples=200, seed=4)
    other = bootstrap_counts(counts, ix.cell_indices, n_resamples=200, seed=5)
    np.testing.assert_array_equal(first["agreement_a"].low, again["agreement_a"].low)
    assert not np.array_equal(first["mean"].low, other["mean"].low)
    assert (first["mean"].low < ix.mean(counts)).all() and (ix.mean(counts) < first["mean"].high).all()
    none = bootstrap_counts(counts, ix.cell_indices, n_resamples=0)
    assert np.isnan(none["mean"].low).all() and np.isnan(none["mean"].high).all()


def test_it_rejects_negative_resamples_and_levels_outside_zero_one():
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_counts([[1, 2]], ix.mean, n_resamples=-1)
    with pytest.raises(ValueError, match="level"):
        bootstrap_counts([[1, 2]], ix.mean, level=1.0)


# --------------------------------------------------------------------------- coverage

POPULATION = np.array([0.08, 0.17, 0.33, 0.27, 0.15])  # distinct proportions: A is smooth here


def population_values(p: np.ndarray) -> dict[str, float]:
    """The indices of the population itself (n -> infinity), written out from the definitions."""
    k = len(p)
    categories = np.arange(1, k + 1)
    mu = p @ categories
    cumulative = np.cumsum(p)[:-1]
    return {
        "mean": mu,
        "sd": np.sqrt(p @ (categories - mu) ** 2),
        "mad_pairwise": 2 * (cumulative * (1 - cumulative)).sum() / (k - 1),
        "agreement_a": float(ix.agreement_a(p)),
        "leik_d": 2 * np.minimum(cumulative, 1 - cumulative).sum() / (k - 1),
        "tw_consensus": float(ix.tw_consensus(p)),
    }


def coverage_of_count_intervals(repetitions: int, n: int, resamples: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    samples = rng.multinomial(n, POPULATION, size=repetitions)  # one cell per repetition
    intervals = bootstrap_counts(samples, ix.cell_indices, n_resamples=resamples, seed=seed + 1)
    truth = population_values(POPULATION)
    return {name: float(np.mean((intervals[name].low <= value) & (value <= intervals[name].high)))
            for name, value in truth.items()}


def test_count_intervals_cover_the_population_value_at_about_the_nominal_rate():
    coverage = coverage_of_count_intervals(repetitions=200, n=400, resamples=300, seed=20)
    # 200 repetitions: a 95% interval covers 190 +- 3 times; allow ~4 standard errors below.
    for name, rate in coverage.items():
        assert 0.88 <= rate <= 1.0, (name, rate)


@pytest.mark.slow
@pytest.mark.calibration
def test_count_intervals_cover_at_the_nominal_rate_over_many_repetitions():
    coverage = coverage_of_count_intervals(repetitions=2000, n=400, resamples=1000, seed=30)
    for name, rate in coverage.items():
        assert 0.925 <= rate <= 0.97, (name, rate)


def panel_with_known_truth(waves: int, participants: int, seed: int) -> pd.DataFrame:
    """Each wave an independent sample: group A or B (1/2 each); three 3-point items, independent
    given the group, with answers (.6, .3, .1) in A and (.1, .3, .6) in B."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, size=(waves, participants))
    u = rng.random((waves, participants, 3))
    first = np.where(group[..., None] == 0, 0.6, 0.1)
    answer = 1 + (u >= first) + (u >= first + 0.3)
    w, p, i = np.meshgrid(np.arange(waves), np.arange(participants), np.arange(3), indexing="ij")
    return pd.DataFrame({
        "participant": p.ravel(), "wave": w.ravel() + 1, "item": np.array(["a", "b", "c"])[i.ravel()],
        "value": answer.ravel().astype(float), "side": np.array(["A", "B"])[np.repeat(group.ravel(), 3)],
    })


@pytest.mark.slow
@pytest.mark.calibration
def test_participant_intervals_cover_pooled_constraint_and_alignment_truths():
    # Per item: mean 2, within-group variance .45, between-group variance .25, so
    # r(item, item) = .25 / .7, eta(item, group) = sqrt(.25 / .7), pooled mean 2, i.e. 0.5 on
    # the 0-1 scale of 1..3 that pooled rows use.
    table = compute_index_table(panel_with_known_truth(300, 300, seed=40), scales=Scale(1, 3), by=["side"],
                                bootstrap=400, seed=41).frame
    pooled = table[table["item"].isna()]
    truths = {("all", "constraint"): 0.25 / 0.7, ("side:A|side:B", "alignment"): np.sqrt(0.25 / 0.7),
              ("all", "mean"): 0.5}
    for (group, index), truth in truths.items():
        rows = pooled[(pooled["group"] == group) & (pooled["index"] == index)]
        assert len(rows) == 300
        rate = ((rows["ci_low"] <= truth) & (truth <= rows["ci_high"])).mean()
        assert 0.91 <= rate <= 0.98, (index, rate)
