"""Bias-corrected and accelerated (BCa) bootstrap intervals for count-based indices.

Percentile intervals under-cover for indices whose estimate is biased in small samples
(``entropy_norm`` is biased downwards: a sample shows fewer categories than the population)
or skewed (``bimodality``). BCa (Efron 1987; Efron & Tibshirani 1993, ch. 14) moves the
percentile points by

* the bias correction z0 = Phi^-1(share of resamples below the estimate, ties counted half),
* the acceleration a = sum w (J - J_i)^3 / (6 (sum w (J - J_i)^2)^1.5) from the jackknife
  values J_i (weights w, J their weighted mean),

to alpha_1,2 = Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q))) for z_q = Phi^-1((1 -+ level) / 2), and
takes those quantiles of the same resamples (no extra draws: a seed gives the same resamples
as the percentile interval).

For one cell of counts the jackknife is exact and cheap: leaving out one answer of category
c gives the counts minus one in c, the same for each of its n_c answers, so k evaluations
with weights n_c replace n (:func:`count_jackknife`). For a pair index (groups A and B) the
answers of both groups are left out in turn (2k evaluations, :func:`pair_jackknife`).

Where z0 is infinite (every resample on one side of the estimate) the percentile interval is
kept; where the jackknife has no spread a = 0 (plain bias correction).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from analysis.stats.bootstrap import DEFAULT_LEVEL, Interval, percentile_interval

PERCENTILE = "percentile"
BCA = "bca"
METHODS = (PERCENTILE, BCA)


def quantiles_at(samples, q, axis: int = 0) -> np.ndarray:
    """Quantile ``q`` (an array broadcast against the other axes) of the finite values along
    ``axis``, by linear interpolation as :func:`numpy.quantile`; NaN where no value is finite."""
    samples = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    finite = np.isfinite(samples)
    ordered = np.sort(np.where(finite, samples, np.nan), axis=0)
    count = finite.sum(axis=0)
    q = np.broadcast_to(np.asarray(q, dtype=float), count.shape)
    position = np.clip(q, 0.0, 1.0) * np.maximum(count - 1, 0)
    position = np.where(np.isfinite(position), position, 0.0)
    below = np.floor(position).astype(np.int64)
    above = np.ceil(position).astype(np.int64)
    if len(ordered) == 0:
        return np.full(count.shape, np.nan)
    low = np.take_along_axis(ordered, below[None], axis=0)[0]
    high = np.take_along_axis(ordered, above[None], axis=0)[0]
    value = low + (position - below) * (high - low)
    return np.where((count > 0) & np.isfinite(q), value, np.nan)


def acceleration(jack_values, jack_weights) -> np.ndarray:
    """Acceleration of BCa from jackknife values ``(J, ...)`` with weights ``(J, ...)``
    (answers each leave-one-out stands for); 0 where the jackknife has no spread."""
    values = np.asarray(jack_values, dtype=float)
    weights = np.where(np.isfinite(values), np.asarray(jack_weights, dtype=float), 0.0)
    values = np.where(np.isfinite(values), values, 0.0)
    total = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (weights * values).sum(axis=0) / total
        d = centre - values
        numerator = (weights * d**3).sum(axis=0)
        spread = (weights * d**2).sum(axis=0)
        a = numerator / (6.0 * spread**1.5)
    return np.where((total > 0) & (spread > 1e-300) & np.isfinite(a), a, 0.0)


def bca_interval(samples, observed, jack_values, jack_weights, level: float = DEFAULT_LEVEL) -> Interval:
    """BCa interval from resamples ``(B, ...)``, the estimate ``(...)`` and its jackknife values
    and weights ``(J, ...)``. NaN where the estimate is undefined; the percentile interval where
    the bias correction is infinite."""
    samples = np.asarray(samples, dtype=float)
    observed = np.asarray(observed, dtype=float)
    finite = np.isfinite(samples)
    count = finite.sum(axis=0)
    below = (finite & (samples < observed)).sum(axis=0)
    equal = (finite & (samples == observed)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (below + 0.5 * equal) / count
        z0 = ndtri(share)
    a = acceleration(jack_values, jack_weights)
    tail = (1 - level) / 2
    bounds = []
    for z in (ndtri(tail), ndtri(1 - tail)):
        with np.errstate(invalid="ignore", divide="ignore"):
            shifted = z0 + z
            q = ndtr(z0 + shifted / (1 - a * shifted))
        bounds.append(quantiles_at(samples, q))
    fallback = percentile_interval(samples, level)
    usable = np.isfinite(z0) & np.isfinite(bounds[0]) & np.isfinite(bounds[1])
    undefined = ~np.isfinite(observed)
    low = np.where(undefined, np.nan, np.where(usable, bounds[0], fallback.low))
    high = np.where(undefined, np.nan, np.where(usable, bounds[1], fallback.high))
    return Interval(low, high)


def count_jackknife(counts) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out count vectors ``(k, ..., k)`` (entry c: one answer of category c removed,
    clipped at 0) and their weights ``(k, ...)`` = n_c, the answers each stands for."""
    counts = np.asarray(counts, dtype=float)
    k = counts.shape[-1]
    eye = np.eye(k).reshape((k,) + (1,) * (counts.ndim - 1) + (k,))
    left_out = np.maximum(counts[None] - eye, 0.0)
    weights = np.moveaxis(counts, -1, 0)
    return left_out, weights


def count_jackknife_values(counts, statistic) -> tuple[np.ndarray, np.ndarray]:
    """``statistic`` (counts ``(..., k)`` -> values ``(...)`` or a mapping of them) of every
    leave-one-out count vector: values ``(k, ...)`` (or a mapping) and weights ``(k, ...)``."""
    left_out, weights = count_jackknife(counts)
    return statistic(left_out), weights


def pair_jackknife_values(a, b, statistic) -> tuple:
    """Jackknife of a two-group statistic ``statistic(a, b)``: one answer of A or of B left out in
    turn; values ``(2k, ...)`` (or a mapping of them) and weights ``(2k, ...)``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out_a, weights_a = count_jackknife(a)
    out_b, weights_b = count_jackknife(b)
    first = statistic(out_a, np.broadcast_to(b, out_a.shape))
    second = statistic(np.broadcast_to(a, out_b.shape), out_b)
    weights = np.concatenate([weights_a, weights_b])
    if isinstance(first, dict):
        return {key: np.concatenate([first[key], second[key]]) for key in first}, weights
    return np.concatenate([first, second]), weights
