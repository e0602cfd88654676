"""BCa intervals and the under-coverage rule, with hand-set numbers."""

import numpy as np
import pytest
from scipy.stats import norm

from analysis.stats import coverage, intervals
from analysis.stats import indices as ix
from analysis.stats.bootstrap import percentile_interval


def test_acceleration_of_a_skewed_jackknife_by_hand():
    # values 0, 0, 3: mean 1, deviations 1, 1, -2: sum d^3 = -6, sum d^2 = 6, a = -6 / (6 * 6^1.5)
    assert float(intervals.acceleration([0.0, 0.0, 3.0], [1, 1, 1])) == pytest.approx(-1 / 6**1.5)
    # weights count answers: values 0 (twice) and 3 once is the same as weights 2 and 1
    assert float(intervals.acceleration([0.0, 3.0], [2, 1])) == pytest.approx(-1 / 6**1.5)
    assert float(intervals.acceleration([2.0, 2.0], [1, 1])) == 0.0  # no spread: no acceleration


def test_bca_moves_the_percentile_points_by_the_bias_correction():
    samples = np.arange(1000, dtype=float)  # resamples 0..999
    # 300 resamples lie below the estimate: z0 = Phi^-1(0.3); with a = 0 the points are
    # Phi(2 z0 -+ 1.96) of the resamples
    interval = intervals.bca_interval(samples, 299.5, np.array([1.0, 1.0]), np.array([1, 1]))
    z0 = norm.ppf(0.3)
    low_q, high_q = norm.cdf(2 * z0 + norm.ppf(0.025)), norm.cdf(2 * z0 + norm.ppf(0.975))
    assert float(interval.low) == pytest.approx(low_q * 999)
    assert float(interval.high) == pytest.approx(high_q * 999)
    # an estimate in the middle of symmetric resamples and no acceleration: the percentile interval
    centred = intervals.bca_interval(samples, 499.5, np.array([1.0, 1.0]), np.array([1, 1]))
    plain = percentile_interval(samples)
    assert (float(centred.low), float(centred.high)) == pytest.approx((float(plain.low), float(plain.high)))


def test_an_undefined_estimate_or_one_sided_resamples_fall_back():
    samples = np.arange(10, dtype=float)
    assert np.isnan(intervals.bca_interval(samples, np.nan, [1.0, 2.0], [1, 1]).low)
    # every resample above the estimate: z0 = -inf, the percentile interval is kept
    below_all = intervals.bca_interval(samples, -1.0, [1.0, 2.0], [1, 1])
    assert float(below_all.low) == pytest.approx(float(percentile_interval(samples).low))


def test_the_count_jackknife_leaves_one_answer_of_each_category_out():
    left_out, weights = intervals.count_jackknife([2.0, 0.0, 1.0])
    np.testing.assert_array_equal(left_out, [[1, 0, 1], [2, 0, 1], [2, 0, 0]])
    np.testing.assert_array_equal(weights, [2, 0, 1])
    # the jackknife of the mean of answers 1, 1, 3: leaving out a 1 gives 2, leaving out the 3 gives 1
    values, _ = intervals.count_jackknife_values([2.0, 0.0, 1.0], ix.mean)
    assert values[0] == pytest.approx(2.0) and values[2] == pytest.approx(1.0)
    pair, pair_weights = intervals.pair_jackknife_values([1.0, 1.0], [0.0, 2.0], ix.group_gap)
    # A = {1, 2}, B = {2, 2}: leaving a 1 out of A gives gap 0, a 2 out of A gives -1
    assert pair[:2].tolist() == pytest.approx([0.0, -1.0])
    assert pair_weights.tolist() == [1, 1, 0, 2]


def test_the_under_coverage_rule_marks_the_cells_the_table_flags():
    assert coverage.under_covered("agreement_a", 5000)  # 0.86 at 2,000 answers
    assert coverage.under_covered("entropy_norm", 120)  # 0.88 at 50
    assert not coverage.under_covered("entropy_norm", 300)
    assert not coverage.under_covered("leik_d", 300)
    assert coverage.under_covered("leik_d", 49)  # below the smallest studied size
    assert coverage.under_covered("mean", 60) and not coverage.under_covered("mean", 2000)
    assert not coverage.under_covered("n", 10)
    assert not coverage.under_covered("text_negativity", 10)
    assert coverage.coverage_of("wasserstein", 400) == 0.838
    assert coverage.coverage_of("wasserstein", 10) is None
    # pair rows count both groups: 80 answers are 40 per group, below the studied 50
    assert coverage.under_covered("group_gap", 80) and not coverage.under_covered("group_gap", 100)


def test_the_rule_marks_rows_of_an_index_table():
    import pandas as pd

    frame = pd.DataFrame({"item": ["q1", "q1", None, "q1"], "index": ["leik_d", "agreement_a", "constraint", "n"],
                          "n": [300, 300, 2000, 3]})
    assert coverage.under_covered_mask(frame).tolist() == [False, True, coverage.under_covered(
        "constraint", 2000, pooled=True), False]


def test_every_count_index_has_an_interval_method_and_a_coverage_row():
    studied = set(ix.CELL_INDICES) - {"n"} | set(ix.PAIR_INDICES)
    assert set(coverage.INTERVAL_METHOD) == studied
    assert set(coverage.COVERAGE) == studied
    assert all(set(sizes) == set(coverage.SIZES) for sizes in coverage.COVERAGE.values())
