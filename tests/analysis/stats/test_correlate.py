"""Relating two series: periods, lags, differences, scipy's p-values, the moving-block bootstrap,
and simulated series with a known correlation."""

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from analysis.stats.correlate import (
    SeriesError,
    aligned,
    block_bootstrap_indices,
    bootstrap_coefficients,
    correlate_pairs,
    correlate_series,
    correlation,
    differenced,
    lag_order,
    make_series,
    parse_periods,
    period_start,
    trend_warning,
)


def years(values, first=2000):
    return make_series([str(first + i) for i in range(len(values))], values)


# --------------------------------------------------------------------------- periods


def test_periods_of_each_format():
    assert parse_periods(["2001", "1999"])[0] == "year"
    kind, ordinals = parse_periods(["2001-03", "2001-12", "2002-01"])
    assert kind == "month" and np.diff(ordinals).tolist() == [9, 1]
    kind, ordinals = parse_periods(["2020-03-01", "2020-04-01 00:00:00"])  # first of a month: monthly
    assert kind == "month" and np.diff(ordinals).tolist() == [1]
    kind, ordinals = parse_periods(["2021-03-01", "2021-03-15", "2021-03-08"])  # Mondays: weekly
    assert kind == "week" and ordinals.tolist() == [ordinals[0], ordinals[0] + 2, ordinals[0] + 1]
    assert period_start("week", int(ordinals[0])) == dt.date(2021, 3, 1)
    assert parse_periods(["2021-03-02", "2021-03-03"])[0] == "day"


def test_bad_periods_name_their_row():
    with pytest.raises(SeriesError, match="not a year") as error:
        parse_periods(["March"])
    assert error.value.position == 0
    with pytest.raises(SeriesError, match="format of the first period") as error:
        parse_periods(["2001", "2002", "2003-01"])
    assert error.value.position == 2
    with pytest.raises(SeriesError, match="not a valid date"):
        parse_periods(["2001-13"])
    with pytest.raises(SeriesError, match="listed twice") as error:
        make_series(["2001", "2002", "2001"], [1, 2, 3])
    assert error.value.position == 2


def test_series_are_sorted_and_drop_missing_values():
    series = make_series(["2003", "2001", "2002"], [3.0, 1.0, float("nan")])
    assert series.ordinals.tolist() == [2001, 2003] and series.values.tolist() == [1.0, 3.0]
    assert series.labels == ("2001", "2003")


# --------------------------------------------------------------------------- lags and differences


def test_lag_pairs_a_at_t_with_b_at_t_plus_lag():
    a = make_series(["2000", "2001", "2002"], [1, 2, 3])
    b = make_series(["2001", "2002", "2003"], [10, 20, 30])
    assert [v.tolist() for v in aligned(a, b, 0)] == [[2, 3], [10, 20]]
    assert [v.tolist() for v in aligned(a, b, 1)] == [[1, 2, 3], [10, 20, 30]]
    assert [v.tolist() for v in aligned(a, b, -1)] == [[3], [10]]
    assert lag_order(2) == [0, 1, 2, -1, -2]


def test_differences_skip_gaps():
    series = make_series(["2000", "2001", "2002", "2005", "2006"], [1, 4, 9, 100, 90])
    diffs = differenced(series)
    assert diffs.ordinals.tolist() == [2001, 2002, 2006]
    assert diffs.values.tolist() == [3, 5, -10]


def test_series_of_different_periods_are_refused():
    with pytest.raises(SeriesError, match="different periods"):
        aligned(years([1, 2, 3]), make_series(["2000-01", "2000-02", "2000-03"], [1, 2, 3]))


# --------------------------------------------------------------------------- coefficients


@pytest.mark.parametrize("method, function", [("spearman", stats.spearmanr), ("pearson", stats.pearsonr),
                                              ("kendall", stats.kendalltau)])
def test_coefficients_and_p_values_are_scipys(method, function):
    rng = np.random.default_rng(5)
    x = rng.normal(size=25)
    y = 0.5 * x + rng.normal(size=25)
    y[3] = y[4]  # a tie
    expected = function(x, y)
    assert correlation(x, y, method) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


def test_hand_computed_spearman():
    # ranks of x: 1 2 3 4 5; of y: 2 1 4 3 5; d^2 = 1+1+1+1+0 = 4; rho = 1 - 6*4/(5*24) = 0.8
    assert correlation([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])[0] == pytest.approx(0.8)


def test_too_few_pairs_or_a_constant_series_give_nan():
    assert all(math.isnan(v) for v in correlation([1, 2], [3, 4]))
    assert all(math.isnan(v) for v in correlation([1, 2, 3], [5, 5, 5]))


# --------------------------------------------------------------------------- moving-block bootstrap


def test_blocks_are_runs_of_consecutive_positions():
    positions = block_bootstrap_indices(10, 3, 50, np.random.default_rng(0))
    assert positions.shape == (50, 10)
    assert positions.min() >= 0 and positions.max() <= 9
    for row in positions:
        for start in range(0, 10, 3):  # blocks of 3 (the last one cut to 1)
            block = row[start:start + 3]
            assert np.all(np.diff(block) == 1)


@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall"])
def test_resampled_coefficients_match_scipy_row_by_row(method):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=20), rng.normal(size=20)
    positions = block_bootstrap_indices(20, 4, 5, rng)
    got = bootstrap_coefficients(x, y, method, positions)
    function = {"spearman": stats.spearmanr, "pearson": stats.pearsonr, "kendall": stats.kendalltau}[method]
    for row, value in zip(positions, got, strict=True):
        assert value == pytest.approx(function(x[row], y[row]).statistic, rel=1e-10)


def test_the_interval_is_seeded_and_contains_the_estimate():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=60))
    y = x + rng.normal(size=60, scale=3)
    first = correlate_pairs(x, y, method="spearman", bootstrap=400, seed=7)
    assert first == correlate_pairs(x, y, method="spearman", bootstrap=400, seed=7)
    assert first["ci_low"] < first["coefficient"] < first["ci_high"]
    assert first["block_length"] == 4  # round(60 ** (1/3))
    none = correlate_pairs(x, y, bootstrap=0)
    assert math.isnan(none["ci_low"]) and none["coefficient"] == first["coefficient"]


def test_records_come_lag_zero_first_then_differences():
    a = years(np.arange(12.0) ** 1.5)
    b = years(np.arange(12.0) + np.sin(np.arange(12.0)))
    frame = correlate_series(a, b, method="pearson", lags=1, bootstrap=50)
    assert list(zip(frame["lag"], frame["differenced"], strict=True)) == [
        (0, False), (1, False), (-1, False), (0, True), (1, True), (-1, True)]
    assert frame["n"].tolist() == [12, 11, 11, 11, 10, 10]
    x, y = aligned(differenced(a), differenced(b), 1)
    assert frame.loc[4, "coefficient"] == pytest.approx(stats.pearsonr(x, y).statistic)


# --------------------------------------------------------------------------- simulated series


def simulated_pair(n, rho, phi, rng):
    """Two AR(1) series (coefficient phi) whose innovations correlate rho: corr(A(t), B(t)) = rho."""
    shocks = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n + 200)
    a, b = np.zeros(n + 200), np.zeros(n + 200)
    for t in range(1, n + 200):
        a[t] = phi * a[t - 1] + shocks[t, 0]
        b[t] = phi * b[t - 1] + shocks[t, 1]
    return a[200:], b[200:]


def test_a_simulated_pair_recovers_its_correlation():
    a, b = simulated_pair(600, 0.6, 0.5, np.random.default_rng(11))
    frame = correlate_series(years(a, 1400), years(b, 1400), method="pearson", bootstrap=300, seed=1)
    level = frame.iloc[0]
    assert level["coefficient"] == pytest.approx(0.6, abs=0.07)
    assert level["ci_low"] < 0.6 < level["ci_high"]
    # Spearman's rho of a bivariate normal is (6/pi) asin(r/2) = 0.582 for r = 0.6
    spearman = correlate_series(years(a, 1400), years(b, 1400), bootstrap=0).iloc[0]["coefficient"]
    assert spearman == pytest.approx(6 / math.pi * math.asin(0.3), abs=0.07)


def test_a_lead_of_two_periods_shows_at_lag_two():
    rng = np.random.default_rng(4)
    a = rng.normal(size=300)
    b = np.concatenate([rng.normal(size=2), a[:-2]]) + rng.normal(scale=0.5, size=300)  # B(t+2) = A(t) + noise
    frame = correlate_series(years(a, 1500), years(b, 1500), lags=3, bootstrap=0, differences=False)
    best = frame.loc[frame["coefficient"].idxmax()]
    assert best["lag"] == 2 and best["coefficient"] > 0.8
    assert frame.loc[frame["lag"] != 2, "coefficient"].abs().max() < 0.2


def test_independent_random_walks_correlate_in_levels_but_not_in_differences():
    rng = np.random.default_rng(8)
    a = years(np.cumsum(rng.normal(size=400) + 0.3), 1500)  # independent, both drifting upwards
    b = years(np.cumsum(rng.normal(size=400) + 0.3), 1500)
    frame = correlate_series(a, b, bootstrap=0)
    assert frame.iloc[0]["coefficient"] > 0.8  # spurious
    assert abs(frame.iloc[1]["coefficient"]) < 0.1  # differenced: nothing
    assert trend_warning(a, b) is not None
    assert trend_warning(years(rng.normal(size=50)), years(rng.normal(size=50))) is None


def test_moving_block_intervals_cover_better_than_iid_resampling():
    # strongly autocorrelated series (phi = 0.7): resampling single pairs understates the spread
    rng = np.random.default_rng(21)
    hits_block = hits_iid = 0
    for _ in range(150):
        a, b = simulated_pair(80, 0.4, 0.7, rng)
        block = correlate_pairs(a, b, method="pearson", bootstrap=400, block_length=6, seed=rng)
        hits_block += block["ci_low"] <= 0.4 <= block["ci_high"]
        iid = correlate_pairs(a, b, method="pearson", bootstrap=400, block_length=1, seed=rng)
        hits_iid += iid["ci_low"] <= 0.4 <= iid["ci_high"]
    assert hits_block / 150 > 0.82
    assert hits_block > hits_iid
