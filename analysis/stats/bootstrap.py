"""Percentile bootstrap for count-based and participant-level indices, vectorized and seeded.

Two resampling schemes (docs/indices.md):

* **Multinomial resamples of count vectors** (:func:`resample_counts`). For an index that is a
  function of one cell's counts, redrawing the cell's n answers with replacement is exactly a
  multinomial draw with the observed proportions. All cells are drawn at once as a
  ``(resamples, cells, k)`` array, in chunks of resamples so memory stays bounded, and the
  index functions of :mod:`analysis.stats.indices` evaluate whole chunks.
* **Participant (cluster) resamples** (:func:`resample_weights`). Whatever combines several
  answers of one person (pooled rows, ``constraint``, ``alignment``) resamples participants:
  resample b gives participant i the weight w_bi = number of times i was drawn (a multinomial
  vector summing to the number of participants). Our participant-level indices are functions
  of sums over participants of per-participant features (one-hot answers, products of
  answers), so a chunk of resamples is one matrix product ``weights @ features``
  (:func:`bootstrap_participants`).

Intervals are percentile intervals (:func:`percentile_interval`) over the resamples where the
statistic is defined; a statistic that is undefined (NaN) on the observed data gets a NaN
interval. Draws come from one ``numpy.random.Generator`` in a fixed order, so a seed gives the
same intervals whatever the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
# Elements of the largest temporary array a chunk of resamples may create.
DEFAULT_MAX_ELEMENTS = 2**22
# Participant weights per chunk: matrix products need a few hundred rows to run at full speed.
DEFAULT_WEIGHT_ELEMENTS = 2**24
# The pooled wave indices (tables.py) take float32 weights in chunks of 2 * max_elements (32 MB
# by default, the largest array of a worker's computation), but never fewer rows than this:
# below about 80 resamples a chunk, OpenBLAS's products get several times slower.
MIN_WEIGHT_ROWS = 80
# Resamples of participant draws generated per call (the stream is the same for any value; 16
# rows of 100,000 participants are 6 MB of draws, and no slower than 64).
_DRAW_ROWS = 16


class Interval(NamedTuple):
    low: np.ndarray
    high: np.ndarray


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def check_bootstrap_options(n_resamples: int, level: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0:
        raise ValueError(f"the number of bootstrap resamples must be an integer >= 0, got {n_resamples!r}")
    if not 0 < level < 1:
        raise ValueError(f"the interval level must lie strictly between 0 and 1, got {level!r}")


def chunk_size(n_resamples: int, elements_per_resample: int, max_elements: int = DEFAULT_MAX_ELEMENTS) -> int:
    """How many resamples fit in one chunk of at most ``max_elements`` elements."""
    return int(max(1, min(n_resamples, max_elements // max(1, elements_per_resample))))


def percentile_interval(samples, level: float = DEFAULT_LEVEL, axis: int = 0) -> Interval:
    """Percentile interval: the (1 - level)/2 and (1 + level)/2 quantiles along ``axis``
    (linear interpolation, as ``numpy.quantile``) of the finite resamples; NaN where none is.

    Vectorized over the other axes (``numpy.nanquantile`` falls back to a Python loop over
    slices as soon as one NaN is present).
    """
    samples = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    finite = np.isfinite(samples)
    ordered = np.sort(np.where(finite, samples, np.nan), axis=0)  # NaN sort last
    count = finite.sum(axis=0)
    tail = (1 - level) / 2
    bounds = []
    for q in (tail, 1 - tail):
        position = q * np.maximum(count - 1, 0)
        below = np.floor(position).astype(np.int64)[None]
        above = np.ceil(position).astype(np.int64)[None]
        low = np.take_along_axis(ordered, below, axis=0)[0] if len(ordered) else np.zeros(count.shape)
        high = np.take_along_axis(ordered, above, axis=0)[0] if len(ordered) else np.zeros(count.shape)
        value = low + (position - below[0]) * (high - low)
        bounds.append(np.where(count > 0, value, np.nan))
    return Interval(*bounds)


# --------------------------------------------------------------------------- count vectors


def _multinomial_parameters(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    totals = counts.sum(axis=-1)
    safe = np.where(totals > 0, totals, 1)[..., None]
    p = np.where(totals[..., None] > 0, counts / safe, 1.0 / counts.shape[-1])
    # numpy takes the last category as the remainder; keep the others' sum <= 1 after rounding.
    p[..., -1] = np.clip(1.0 - p[..., :-1].sum(axis=-1), 0.0, 1.0)
    return totals, p


def resample_counts(
    counts,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    elements_per_cell: int | None = None,
) -> Iterator[np.ndarray]:
    """Multinomial resamples of every cell's count vector, ``(chunk, cells, k)`` int64 arrays.

    ``counts`` is ``(cells, k)`` of non-negative integers; each resample keeps each cell's n.
    Chunks hold at most ``max_elements // elements_per_cell // cells`` resamples (default
    ``elements_per_cell`` = k). Concatenating the chunks gives the same array for any chunk
    size, because the draws are taken resample by resample from ``rng``.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError("counts must be a (cells, k) matrix")
    if not np.all(counts == np.round(counts)) or np.any(counts < 0):
        raise ValueError("multinomial resampling needs non-negative integer counts")
    counts = counts.astype(np.int64)
    _, p = _multinomial_parameters(counts.astype(float))
    totals = counts.sum(axis=-1)
    cells, k = counts.shape
    per_resample = cells * (elements_per_cell or k)
    step = chunk_size(n_resamples, per_resample, max_elements)
    done = 0
    while done < n_resamples:
        size = min(step, n_resamples - done)
        if cells == 0:
            yield np.zeros((size, 0, k), dtype=np.int64)
        else:
            yield rng.multinomial(totals, p, size=(size, cells))
        done += size


def bootstrap_distribution(chunks, statistic: Callable):
    """Apply ``statistic`` to each chunk and stack the results along a new first axis.

    ``statistic`` returns an array or a mapping of arrays (one entry per index); the result
    has the same structure with the resamples on axis 0.
    """
    parts = [statistic(chunk) for chunk in chunks]
    if not parts:
        return None
    if isinstance(parts[0], Mapping):
        return {key: np.concatenate([np.asarray(part[key], float) for part in parts]) for key in parts[0]}
    return np.concatenate([np.asarray(part, float) for part in parts])


def _intervals(distribution, observed, level: float):
    if isinstance(distribution, Mapping):
        return {
            key: _masked_interval(distribution[key], None if observed is None else observed[key], level)
            for key in distribution
        }
    return _masked_interval(distribution, observed, level)


def _masked_interval(samples, observed, level: float) -> Interval:
    interval = percentile_interval(samples, level, axis=0)
    if observed is None:
        return interval
    undefined = ~np.isfinite(np.asarray(observed, dtype=float))
    return Interval(np.where(undefined, np.nan, interval.low), np.where(undefined, np.nan, interval.high))


def bootstrap_counts(
    counts,
    statistic: Callable,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int | np.random.Generator | None = 0,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    elements_per_cell: int | None = None,
):
    """Percentile intervals of ``statistic(counts)`` from multinomial resamples of each cell.

    ``counts`` is ``(cells, k)``; ``statistic`` maps ``(..., cells, k)`` counts to
    ``(..., cells)`` values or to a mapping of them (see :func:`analysis.stats.indices.cell_indices`).
    Returns an :class:`Interval` of ``(cells,)`` arrays, or a mapping of them; NaN where the
    observed statistic is undefined, and everywhere when ``n_resamples`` is 0.
    """
    check_bootstrap_options(n_resamples, level)
    counts = np.asarray(counts)
    observed = statistic(counts.astype(float))
    rng = as_generator(seed)
    chunks = resample_counts(counts, n_resamples, rng, max_elements=max_elements,
                             elements_per_cell=elements_per_cell)
    distribution = bootstrap_distribution(chunks, statistic)
    if distribution is None:
        return _nan_intervals(observed)
    return _intervals(distribution, observed, level)


def _nan_intervals(observed):
    if isinstance(observed, Mapping):
        return {key: _nan_intervals(value) for key, value in observed.items()}
    shape = np.shape(observed)
    return Interval(np.full(shape, np.nan), np.full(shape, np.nan))


# --------------------------------------------------------------------------- participants


def resample_weights(
    n_units: int,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    max_elements: int = DEFAULT_WEIGHT_ELEMENTS,
    dtype=np.float32,
) -> Iterator[np.ndarray]:
    """Nonparametric bootstrap of ``n_units`` participants as weights, ``(chunk, n_units)``.

    Row b counts how often each participant was drawn in n_units draws with replacement
    (a multinomial vector with equal probabilities): ``rng.integers(0, n_units, n_units,
    dtype=np.uint32)`` per resample, counted with ``np.bincount``. The counts are small integers, exact in
    float32 (the default: float32 matrix products are twice as fast and exact on integer
    features while sums stay below 2**24).
    """
    step = chunk_size(n_resamples, max(1, n_units), max_elements)
    done = 0
    while done < n_resamples:
        size = min(step, n_resamples - done)
        weights = np.empty((size, n_units), dtype=dtype)
        for first in range(0, size, _DRAW_ROWS):
            rows = min(_DRAW_ROWS, size - first)
            drawn = rng.integers(0, max(n_units, 1), size=(rows, n_units), dtype=np.uint32)
            for row in range(rows):  # row by row: the counts stay in cache, 2x faster than one bincount
                weights[first + row] = np.bincount(drawn[row], minlength=n_units)
            del drawn
        yield weights
        # Let the chunk go before drawing the next one, so at most one chunk is alive (when the
        # caller drops it too: a `for` loop holds the previous chunk until it gets the next).
        del weights
        done += size


def bootstrap_participants(
    features,
    statistic: Callable,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int | np.random.Generator | None = 0,
    max_elements: int = DEFAULT_WEIGHT_ELEMENTS,
):
    """Percentile intervals of a statistic of sums over participants, resampling participants.

    ``features`` is ``(participants, f)``; ``statistic`` maps summed features ``(..., f)`` to
    values (or a mapping of them). The observed value is ``statistic(features.sum(0))``; resample
    b uses ``weights_b @ features``. Returns an :class:`Interval` (or a mapping of them).
    """
    check_bootstrap_options(n_resamples, level)
    features = np.asarray(features, dtype=float)
    observed = statistic(features.sum(axis=0))
    rng = as_generator(seed)
    chunks = (
        weights @ features
        for weights in resample_weights(features.shape[0], n_resamples, rng, max_elements=max_elements,
                                        dtype=np.float64)
    )
    distribution = bootstrap_distribution(chunks, statistic)
    if distribution is None:
        return _nan_intervals(observed)
    return _intervals(distribution, observed, level)
