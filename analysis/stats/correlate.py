"""Relating two time series: rank and linear correlations, lags, first differences, and a
moving-block bootstrap interval.

Series are ``period -> value`` with periods labelled as a year (``2001``), a month
(``2001-03``) or an ISO date (``2001-03-05``). Dates that all fall on the first of a month form a
monthly series; dates that all fall on the same weekday, whole weeks apart, a weekly one;
otherwise a daily one. Two series are joined on their periods; lags count periods of that kind.

Conventions (docs/contracts.md):

* lag ``L`` pairs A(t) with B(t + L): a positive L asks whether A *leads* B;
* p-values are those of ``scipy.stats.spearmanr``, ``pearsonr`` and ``kendalltau`` (which assume
  independent pairs: with autocorrelated series they are too small);
* the interval is a percentile interval from a moving-block bootstrap (Kunsch 1989): the n
  aligned pairs are rebuilt from overlapping blocks of ``block_length`` consecutive pairs drawn
  with replacement, which keeps the short-range dependence within blocks;
* first differences (``differenced``): A(t) - A(t-1) against B(t+L) - B(t+L-1), only where
  both neighbouring periods exist. Two series that both trend correlate in levels whether or
  not they are related; their differences do not.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.bootstrap import as_generator, percentile_interval

METHODS = ("spearman", "pearson", "kendall")
KINDS = ("year", "month", "week", "day")
COLUMNS = ("method", "lag", "differenced", "n", "coefficient", "p_value", "ci_low", "ci_high")

_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


class SeriesError(ValueError):
    """Bad series input; ``position`` is the 0-based row of the offending period when known."""

    def __init__(self, message: str, *, position: int | None = None):
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Series:
    """Values at integer period ordinals of one kind (consecutive periods differ by 1), sorted."""

    kind: str
    ordinals: np.ndarray
    values: np.ndarray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ordinals)

    def starts(self) -> list[dt.date]:
        """The first day of each period (for plotting on one time axis)."""
        return [period_start(self.kind, int(o)) for o in self.ordinals]


def period_start(kind: str, ordinal: int) -> dt.date:
    if kind == "year":
        return dt.date(ordinal, 1, 1)
    if kind == "month":
        return dt.date(ordinal // 12, ordinal % 12 + 1, 1)
    if kind == "week":
        return dt.date.fromordinal(ordinal * 7 + 1)  # weeks counted from Monday 0001-01-01
    return dt.date.fromordinal(ordinal)


def parse_periods(labels) -> tuple[str, np.ndarray]:
    """Kind and ordinals of period labels (all of one format). Raises :class:`SeriesError`."""
    labels = [str(label).strip() for label in labels]
    if not labels:
        raise SeriesError("the series is empty")
    first = labels[0]
    if _YEAR.match(first):
        pattern, kind = _YEAR, "year"
    elif _MONTH.match(first):
        pattern, kind = _MONTH, "month"
    elif _DATE.match(first):
        pattern, kind = _DATE, "day"
    else:
        raise SeriesError(f"period {first!r} is not a year (2001), a month (2001-03) or an ISO date (2001-03-05)",
                          position=0)
    ordinals = np.empty(len(labels), dtype=np.int64)
    dates: list[dt.date] = []
    for position, label in enumerate(labels):
        match = pattern.match(label)
        if not match:
            raise SeriesError(f"period {label!r} is not in the format of the first period {first!r}",
                              position=position)
        try:
            if kind == "year":
                ordinals[position] = int(label)
            elif kind == "month":
                year, month = int(match[1]), int(match[2])
                dt.date(year, month, 1)
                ordinals[position] = year * 12 + month - 1
            else:
                dates.append(dt.date(int(match[1]), int(match[2]), int(match[3])))
        except ValueError:
            raise SeriesError(f"period {label!r} is not a valid date", position=position) from None
    if kind == "day":
        kind, ordinals = _date_kind(dates)
    return kind, ordinals


def _date_kind(dates: list[dt.date]) -> tuple[str, np.ndarray]:
    if all(d.day == 1 for d in dates):
        return "month", np.array([d.year * 12 + d.month - 1 for d in dates], dtype=np.int64)
    days = np.array([d.toordinal() for d in dates], dtype=np.int64)
    if len({d.weekday() for d in dates}) == 1 and len(dates) > 1:
        return "week", (days - 1) // 7
    return "day", days


def make_series(periods, values) -> Series:
    """A :class:`Series` from period labels and numbers; non-finite values are dropped; a period
    listed twice is an error."""
    kind, ordinals = parse_periods(periods)
    values = np.asarray(values, dtype=float)
    if len(values) != len(ordinals):
        raise SeriesError("periods and values differ in length")
    seen: dict[int, int] = {}
    for position, ordinal in enumerate(ordinals.tolist()):
        if ordinal in seen:
            raise SeriesError(f"period {list(periods)[position]!r} is listed twice (also row {seen[ordinal] + 1})",
                              position=position)
        seen[ordinal] = position
    keep = np.isfinite(values)
    order = np.argsort(ordinals[keep], kind="stable")
    labels = tuple(str(p).strip() for p, k in zip(periods, keep, strict=True) if k)
    return Series(kind, ordinals[keep][order], values[keep][order], tuple(labels[i] for i in order))


def period_bounds(label: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a period given as a year (``1950``), a month (``1950-03``) or
    an ISO date (``1950-03-05``, that day). Raises :class:`SeriesError`."""
    label = str(label).strip()
    try:
        if _YEAR.match(label):
            year = int(label)
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        match = _MONTH.match(label)
        if match:
            year, month = int(match[1]), int(match[2])
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            return first, following - dt.timedelta(days=1)
        match = _DATE.match(label)
        if match:
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
            return day, day
    except ValueError:
        raise SeriesError(f"period {label!r} is not a valid date") from None
    raise SeriesError(f"period {label!r} is not a year (1950), a month (1950-03) or an ISO date (1950-03-05)")


def restricted(series: Series, start: str | None = None, end: str | None = None) -> Series:
    """The periods of ``series`` from ``start`` to ``end`` (both inclusive, either may be None):
    a period is kept when it begins on or after the first day of ``start`` and on or before
    the last day of ``end``; ``--from 1950 --to 2007`` keeps the years 1950..2007 of a yearly
    series and the months 1950-01..2007-12 of a monthly one."""
    low = None if start is None else period_bounds(start)[0]
    high = None if end is None else period_bounds(end)[1]
    if low is not None and high is not None and low > high:
        raise SeriesError(f"the period range is empty: {start} is after {end}")
    starts = series.starts()
    keep = np.array([(low is None or d >= low) and (high is None or d <= high) for d in starts], dtype=bool)
    return Series(series.kind, series.ordinals[keep], series.values[keep],
                  tuple(label for label, k in zip(series.labels, keep, strict=True) if k))


def aligned(a: Series, b: Series, lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (A(t), B(t + lag)) for every t where both exist, in time order."""
    _check_kinds(a, b)
    position = pd.Index(b.ordinals).get_indexer(a.ordinals + lag)
    found = position >= 0
    return a.values[found], b.values[position[found]]


def differenced(series: Series) -> Series:
    """First differences x(t) - x(t-1), only where period t-1 is in the series."""
    consecutive = np.diff(series.ordinals) == 1
    return Series(series.kind, series.ordinals[1:][consecutive], np.diff(series.values)[consecutive],
                  tuple(label for label, c in zip(series.labels[1:], consecutive, strict=True) if c))


def _check_kinds(a: Series, b: Series) -> None:
    if a.kind != b.kind:
        raise SeriesError(f"the series have different periods ({a.kind} and {b.kind}); give both by "
                          f"the same kind of period")


def correlation(x, y, method: str = "spearman") -> tuple[float, float]:
    """Coefficient and two-sided p-value as ``scipy.stats`` computes them; NaN for fewer than
    three pairs or a constant series."""
    if method not in METHODS:
        raise SeriesError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        if method == "spearman":
            result = stats.spearmanr(x, y)
        elif method == "pearson":
            result = stats.pearsonr(x, y)
        else:
            result = stats.kendalltau(x, y)
    return float(result.statistic), float(result.pvalue)


def default_block_length(n: int) -> int:
    """n^(1/3), rounded (the order of the MSE-optimal block length for variance-type statistics)."""
    return max(1, round(n ** (1 / 3)))


def block_bootstrap_indices(n: int, block_length: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_resamples, n)`` row positions of moving-block resamples of a series of length n."""
    block_length = max(1, min(block_length, n))
    blocks = math.ceil(n / block_length)
    starts = rng.integers(0, n - block_length + 1, size=(n_resamples, blocks))
    positions = (starts[:, :, None] + np.arange(block_length)).reshape(n_resamples, -1)
    return positions[:, :n]


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))


def bootstrap_coefficients(x, y, method: str, positions: np.ndarray) -> np.ndarray:
    """The coefficient on each resample (rows of ``positions``); NaN where undefined."""
    x, y = np.asarray(x, dtype=float)[positions], np.asarray(y, dtype=float)[positions]
    if method == "pearson":
        return _pearson_rows(x, y)
    if method == "spearman":  # Pearson on average ranks, as scipy.stats.spearmanr
        return _pearson_rows(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))
    return _kendall_rows(x, y)


def _kendall_rows(x: np.ndarray, y: np.ndarray, max_elements: int = 2**22) -> np.ndarray:
    """Kendall's tau-b of each row pair, as ``scipy.stats.kendalltau`` (variant b): concordant minus
    discordant pairs over sqrt(pairs untied in x * pairs untied in y), from sign matrices."""
    n = x.shape[1]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    out = np.empty(len(x))
    step = max(1, max_elements // max(1, n * n))
    for start in range(0, len(x), step):
        sx = np.sign(x[start:start + step, :, None] - x[start:start + step, None, :])[:, upper]
        sy = np.sign(y[start:start + step, :, None] - y[start:start + step, None, :])[:, upper]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = (sx * sy).sum(axis=1) / np.sqrt((sx * sx).sum(axis=1) * (sy * sy).sum(axis=1))
    return out


def correlate_pairs(x, y, *, method: str = "spearman", bootstrap: int = 1000, block_length: int | None = None,
                    level: float = 0.95, seed=0) -> dict:
    """``{n, coefficient, p_value, ci_low, ci_high, block_length}`` of aligned pairs in time order."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    coefficient, p_value = correlation(x, y, method)
    low = high = math.nan
    length = block_length or default_block_length(n)
    if bootstrap and n >= 3 and math.isfinite(coefficient):
        positions = block_bootstrap_indices(n, length, bootstrap, as_generator(seed))
        interval = percentile_interval(bootstrap_coefficients(x, y, method, positions), level)
        low, high = float(interval.low), float(interval.high)
    return {"n": n, "coefficient": coefficient, "p_value": p_value, "ci_low": low, "ci_high": high,
            "block_length": length}


def lag_order(lags: int) -> list[int]:
    """0, then 1..K (A leads B), then -1..-K (B leads A)."""
    if lags < 0:
        raise SeriesError("--lags must be 0 or more")
    return [0, *range(1, lags + 1), *range(-1, -lags - 1, -1)]


def correlate_series(a: Series, b: Series, *, method: str = "spearman", lags: int = 0, bootstrap: int = 1000,
                     block_length: int | None = None, level: float = 0.95, seed: int = 0,
                     differences: bool = True) -> pd.DataFrame:
    """Records ``{method, lag, differenced, n, coefficient, p_value, ci_low, ci_high}``: lag 0
    first, then the other lags; then the same on first differences. Seeded: each row draws from
    its own generator derived from ``seed``, so a row does not depend on which others are asked."""
    _check_kinds(a, b)
    if method not in METHODS:
        raise SeriesError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    rows = []
    pairs = [(False, a, b)]
    if differences:
        pairs.append((True, differenced(a), differenced(b)))
    for is_differenced, left, right in pairs:
        for lag in lag_order(lags):
            x, y = aligned(left, right, lag)
            rng = np.random.default_rng([seed, lag + 10_000, int(is_differenced)])
            found = correlate_pairs(x, y, method=method, bootstrap=bootstrap, block_length=block_length,
                                    level=level, seed=rng)
            rows.append({"method": method, "lag": lag, "differenced": is_differenced,
                         **{k: found[k] for k in ("n", "coefficient", "p_value", "ci_low", "ci_high")}})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def trend(series: Series) -> tuple[float, float]:
    """Spearman correlation of a series with time, and its p-value."""
    return correlation(series.ordinals, series.values, "spearman")


def trend_warning(a: Series, b: Series, *, threshold: float = 0.5) -> str | None:
    """A warning when both series trend (|Spearman with time| >= threshold): their level
    correlation then says little; read the differenced rows."""
    rho_a, rho_b = trend(a)[0], trend(b)[0]
    if all(math.isfinite(r) and abs(r) >= threshold for r in (rho_a, rho_b)):
        return (f"both series trend (Spearman with time {rho_a:+.2f} and {rho_b:+.2f}): two trending series "
                f"correlate without any link between them; read the correlations of the first differences")
    return None
