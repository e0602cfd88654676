r"""Disagreement indices of one cell (wave x item x group), computed from count vectors.

Every function here takes counts with categories on the last axis, shape ``(..., k)``, and
returns one value per leading position, shape ``(...)``. A count table of many cells is a
``(cells, k)`` matrix; a batch of bootstrap resamples is a ``(resamples, cells, k)`` array.
Nothing loops over cells or resamples in Python: each index is a handful of array operations
on the last axis (``agreement_a`` included, see its docstring). Category ``c`` (1..k) is the
c-th point of the item's scale; ``mean`` and ``sd`` take the scale points as ``values``.

Counts may be floats (weighted counts, percentages); ``n`` is their sum. Indices that depend
only on proportions (``agreement_a``, ``leik_d``, ``tw_consensus``, ``entropy_norm``,
``esteban_ray``, ``mean``, ``group_gap``, ``wasserstein``, ``overlap``) are unchanged when all
counts are multiplied by a constant; ``sd``, ``mad_pairwise``, ``bimodality`` and ``cohens_d``
carry small-sample corrections in n.

Edge cases (NaN is the "null" of the platform; values for a cell with n answers):

========================  =====  =====================  ====================  =========================
index                     n = 0  n = 1                  one category, n >= 2  half at each end
========================  =====  =====================  ====================  =========================
``n``                     0      1                      n                     n
``mean``                  NaN    the answer             the answer            midpoint
``sd``                    NaN    NaN (ddof=1)           0                     (max-min)/2 sqrt(n/(n-1))
``mad_pairwise``          NaN    NaN (no pair)          0                     n / (2(n-1))
``agreement_a``           NaN    1                      1                     -1 (0 if k = 2)
``leik_d``                NaN    0                      0                     1
``tw_consensus``          NaN    1                      1                     0
``entropy_norm``          NaN    0                      0                     ln 2 / ln k
``bimodality``            NaN    NaN (n < 4)            NaN (variance 0)      (n-2)(n-3) / (n^2-1)
``esteban_ray``           NaN    0                      0                     0.5 ** (1 + alpha)
========================  =====  =====================  ====================  =========================

For a uniform answer: A = 0, entropy 1, Leik (k+1)/(2k) for odd k and k/(2(k-1)) for even k.

Scales need k >= 2 categories. With k = 2 there are no category triples, so every layer of
``agreement_a`` is unimodal and A = |p_1 - p_2|.

Between two groups A and B of one cell (signed values are A minus B): ``group_gap``,
``cohens_d``, ``wasserstein``, ``overlap`` take two count arrays of the same shape. They are
NaN when either group is empty; ``cohens_d`` also when n_A + n_B < 3 or the pooled SD is 0.

Across items of one wave, ``constraint`` (mean absolute pairwise Pearson correlation) is
computed from weighted sums over participants (:func:`pairwise_correlations`), and
``alignment`` (mean over items of the correlation ratio eta) from per-group count vectors
(:func:`correlation_ratio`), so both can be bootstrapped by reweighting participants.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from analysis.stats import glossary

# The names and their order live in analysis/stats/glossary.py.
CELL_INDICES: tuple[str, ...] = glossary.names(glossary.CELL)
PAIR_INDICES: tuple[str, ...] = glossary.names(glossary.PAIR)
ACROSS_ITEM_INDICES: tuple[str, ...] = glossary.names(glossary.ACROSS_ITEM)
# Indices whose sign flips (or, for `mean`, which mirror) when an item is reverse coded.
DIRECTIONAL_INDICES: frozenset[str] = frozenset(e.name for e in glossary.INDICES if e.reverse)

ESTEBAN_RAY_ALPHA = 1.6
# Layer patterns of agreement A are looked up in a table of all 2**k patterns up to this k.
_LAYER_TABLE_MAX_K = 12
#: Counts may be real (weights rescaled to sum to the respondents: 3.9999999999999996 for 4
#: people); a minimum n is checked with this slack so that such a sum counts as its whole number.
N_SLACK = 1e-9


# --------------------------------------------------------------------------- helpers


def as_counts(counts) -> np.ndarray:
    """Counts as a float array with k >= 2 categories on the last axis; rejects negatives."""
    array = np.asarray(counts, dtype=float)
    if array.ndim == 0 or array.shape[-1] < 2:
        raise ValueError("counts need categories on the last axis, at least k = 2 of them")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError("counts must be finite and non-negative")
    return array


def _totals_and_proportions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / n[..., None]  # NaN rows where n = 0
    return n, p


def _categories(k: int) -> np.ndarray:
    return np.arange(1, k + 1, dtype=float)


def _check_values(values, k: int) -> np.ndarray:
    if values is None:
        return _categories(k)
    values = np.asarray(values, dtype=float)
    if values.shape != (k,):
        raise ValueError(f"values must hold the k = {k} scale points, got shape {values.shape}")
    return values


def _central_moments(p: np.ndarray, points: np.ndarray, orders: tuple[int, ...]):
    mu = p @ points
    deviation = points - mu[..., None]
    power = p * deviation  # p * d**order, built up by multiplication (faster than **)
    moments = {}
    for order in range(1, max(orders) + 1):
        if order > 1:
            power = power * deviation
        if order in orders:
            moments[order] = power.sum(axis=-1)
    return mu, [moments[order] for order in orders]


def _nan_where(condition, array) -> np.ndarray:
    return np.where(condition, np.nan, array)


# --------------------------------------------------------------------------- one cell


def n(counts) -> np.ndarray:
    """Number of answers: the sum of the counts."""
    return as_counts(counts).sum(axis=-1)


def mean(counts, values=None) -> np.ndarray:
    """Mean answer on the item's own scale (``values`` = its k points; default 1..k).

    NaN when n = 0.
    """
    counts = as_counts(counts)
    _, p = _totals_and_proportions(counts)
    return p @ _check_values(values, counts.shape[-1])


def sd(counts, values=None) -> np.ndarray:
    """Sample standard deviation (ddof=1) on the item's own scale. NaN when n < 2."""
    counts = as_counts(counts)
    total, p = _totals_and_proportions(counts)
    _, (m2,) = _central_moments(p, _check_values(values, counts.shape[-1]), (2,))
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = m2 * total / (total - 1)
    return _nan_where(total < 2 - N_SLACK, np.sqrt(np.maximum(variance, 0.0)))


def mad_pairwise(counts) -> np.ndarray:
    """Mean absolute difference between two distinct respondents, divided by k - 1.

    Each gap between adjacent categories c and c+1 is crossed by N_c (n - N_c) unordered
    pairs (N_c the cumulative count), so the mean over the n (n - 1) ordered pairs of distinct
    respondents is ``2 n / (n - 1) * sum_c F_c (1 - F_c) / (k - 1)``. Range 0..n / (2(n-1)),
    the maximum reached with half the answers at each end. NaN when n < 2 (no pair).
    """
    counts = as_counts(counts)
    total, p = _totals_and_proportions(counts)
    k = counts.shape[-1]
    cumulative = np.cumsum(p, axis=-1)[..., :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 2.0 * total / (total - 1) * (cumulative * (1 - cumulative)).sum(axis=-1) / (k - 1)
    return _nan_where(total < 2 - N_SLACK, value)


def leik_d(counts) -> np.ndarray:
    """Leik (1966) ordinal dispersion ``2 * sum_{i<k} min(F_i, 1 - F_i) / (k - 1)``.

    0 = all in one category, 1 = half at each end, (k + 1) / (2k) = uniform. NaN when n = 0.
    """
    counts = as_counts(counts)
    _, p = _totals_and_proportions(counts)
    cumulative = np.cumsum(p, axis=-1)[..., :-1]
    return 2.0 * np.minimum(cumulative, 1 - cumulative).sum(axis=-1) / (counts.shape[-1] - 1)


def tw_consensus(counts) -> np.ndarray:
    """Tastle & Wierman (2007) consensus ``1 + sum_i p_i log2(1 - |i - mu| / (k - 1))``.

    The divisor is the scale width k - 1, never the observed range; empty categories add
    nothing (0 log 0 = 0). 1 = all in one category, 0 = half at each end. NaN when n = 0.
    """
    counts = as_counts(counts)
    _, p = _totals_and_proportions(counts)
    k = counts.shape[-1]
    categories = _categories(k)
    mu = p @ categories
    distance = np.abs(categories - mu[..., None]) / (k - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(np.maximum(1 - distance, 0.0)), 0.0)
    return _nan_where(np.isnan(mu), 1 + terms.sum(axis=-1))


def entropy_norm(counts) -> np.ndarray:
    """Shannon entropy of the proportions divided by ln k: 0 = one category, 1 = uniform.

    NaN when n = 0.
    """
    counts = as_counts(counts)
    _, p = _totals_and_proportions(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return _nan_where(np.isnan(p[..., 0]), -terms.sum(axis=-1) / np.log(counts.shape[-1]))


def bimodality(counts) -> np.ndarray:
    """Bimodality coefficient ``(G1^2 + 1) / (G2 + 3 (n-1)^2 / ((n-2)(n-3)))``.

    G1 and G2 are the bias-corrected sample skewness and excess kurtosis (as
    ``scipy.stats.skew/kurtosis(bias=False)``): G1 = g1 sqrt(n(n-1)) / (n-2) and
    G2 = ((n+1) g2 + 6)(n-1) / ((n-2)(n-3)) from the moment ratios g1, g2. The denominator
    equals (n^2-1) b2 / ((n-2)(n-3)) with b2 = m4 / m2^2 >= g1^2 + 1, so the value lies in
    (0, 1). NaN when n < 4 or the variance is 0 (one category). Invariant to the scale's
    location, width and direction.
    """
    counts = as_counts(counts)
    total, p = _totals_and_proportions(counts)
    _, (m2, m3, m4) = _central_moments(p, _categories(counts.shape[-1]), (2, 3, 4))
    undefined = (total < 4 - N_SLACK) | ((counts > 0).sum(axis=-1) < 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        g1 = m3 / m2**1.5
        g2 = m4 / m2**2 - 3
        skew = g1 * np.sqrt(total * (total - 1)) / (total - 2)
        kurt = ((total + 1) * g2 + 6) * (total - 1) / ((total - 2) * (total - 3))
        value = (skew**2 + 1) / (kurt + 3 * (total - 1) ** 2 / ((total - 2) * (total - 3)))
    return _nan_where(undefined, value)


def esteban_ray(counts, alpha: float = ESTEBAN_RAY_ALPHA) -> np.ndarray:
    """Esteban & Ray polarization ``sum_i sum_j p_i^(1+alpha) p_j |y_i - y_j|`` with K = 1.

    y are the category positions rescaled to [0, 1]. Range 0..0.5^(1+alpha) (all answers in
    one category .. half at each end). alpha = 0 gives the Gini mean difference. NaN when n = 0.
    """
    counts = as_counts(counts)
    _, p = _totals_and_proportions(counts)
    k = counts.shape[-1]
    y = np.arange(k) / (k - 1)
    distance = np.abs(y[:, None] - y[None, :])
    return (p ** (1 + alpha) * (p @ distance)).sum(axis=-1)


# --------------------------------------------------------------------------- agreement A


def _layer_agreement(patterns: np.ndarray) -> np.ndarray:
    """Agreement A of layers given as 0/1 patterns over k categories (last axis).

    van der Eijk (2001): A = U (1 - (S - 1) / (K - 1)), S the number of non-empty
    categories, U = ((K-2) TU - (K-1) TDU) / ((K-2)(TU + TDU)) over the category triples
    i < j < l: TU counts the triples 110 and 011 (agree with unimodality), TDU the triples
    101 (deviate from it); U = 1 when there is no such triple (always when K = 2). Triples
    are counted through their middle category from prefix sums, O(k) per pattern.
    """
    x = patterns.astype(np.int64)
    k = x.shape[-1]
    position = np.arange(k)
    total = x.sum(axis=-1, keepdims=True)
    ones_left = np.cumsum(x, axis=-1) - x
    ones_right = total - ones_left - x
    zeros_left = position - ones_left
    zeros_right = (k - 1 - position) - ones_right
    tdu = ((1 - x) * ones_left * ones_right).sum(axis=-1)
    tu = (x * (ones_left * zeros_right + zeros_left * ones_right)).sum(axis=-1)
    s = total[..., 0]
    if k > 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            u = ((k - 2) * tu - (k - 1) * tdu) / ((k - 2) * (tu + tdu))
        u = np.where(tu + tdu > 0, u, 1.0)
    else:
        u = np.ones(s.shape)
    return u * (1 - (s - 1) / (k - 1))


@cache
def _layer_table(k: int) -> np.ndarray:
    """S * A of every layer pattern over k categories, indexed by the pattern's bit code."""
    codes = np.arange(2**k)
    patterns = (codes[:, None] >> np.arange(k)) & 1
    table = patterns.sum(axis=-1) * _layer_agreement(patterns)
    table.setflags(write=False)
    return table


def _layer_agreement_from_sums(s: int, k: int, position_sum, rank_weighted_sum) -> np.ndarray:
    """S * A of layers of S categories from two sums over their (0-based) positions q_1 < ...
    < q_S: A1 = sum q_r and A2 = sum r q_r. Counting the zeros between each pair of ones,
    TDU = 2 A2 - (S + 1) A1 - C(S, 2) - C(S, 3); every triple with exactly two ones is 110,
    011 or 101, so TU + TDU = C(S, 2)(K - S)."""
    pairs, triples = s * (s - 1) / 2, s * (s - 1) * (s - 2) / 6
    tdu = 2 * rank_weighted_sum - (s + 1) * position_sum - pairs - triples
    both = pairs * (k - s)
    if both > 0:
        u = ((k - 2) * (both - tdu) - (k - 1) * tdu) / ((k - 2) * both)
    else:
        u = np.ones(np.shape(tdu))
    return s * u * (1 - (s - 1) / (k - 1))


def _agreement_by_removal(order: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Agreement A for many cells ``(N, k)`` by removing categories in order of proportion.

    Layer t holds the categories from rank t of ``order`` upward; only the sums A1, A2 of
    :func:`_layer_agreement_from_sums` are needed, and removing the category at position e
    lowers A2 by e * (its rank) + the positions of the remaining categories above e. Those
    counts and sums come from two Fenwick trees over positions, kept for all cells at once:
    k steps of O(log k) vector operations, instead of the O(k^2) of explicit layer patterns.
    """
    n_cells, k = order.shape
    steps = int(k).bit_length() + 1
    sink = k + 1  # updates that run past position k land here; it is never read
    width = k + 2
    base = np.arange(n_cells, dtype=np.int64) * width  # trees of all cells side by side, flat
    index = np.arange(1, k + 1)
    low = index & -index
    count_tree = np.zeros((n_cells, width), dtype=np.int64)
    sum_tree = np.zeros((n_cells, width), dtype=np.int64)
    count_tree[:, 1:k + 1] = low  # every position present: a node covers `low` positions
    sum_tree[:, 1:k + 1] = low * (2 * index - low - 1) // 2  # sum of positions index-low..index-1
    count_tree, sum_tree = count_tree.ravel(), sum_tree.ravel()

    def prefix(tree, i):  # sum of the first i positions (tree column 0 is always 0)
        total = np.zeros(n_cells, dtype=np.int64)
        i = i.copy()
        for _ in range(steps):
            total += tree[base + i]
            i -= i & -i
        return total

    def remove(tree, i, amount):  # each cell once per call, so plain fancy indexing is safe
        i = i + 1
        for _ in range(steps):
            tree[base + np.minimum(i, sink)] -= amount
            i += i & -i

    position_sum = np.full(n_cells, k * (k - 1) // 2, dtype=np.int64)
    rank_weighted_sum = np.full(n_cells, (k - 1) * k * (k + 1) // 3, dtype=np.int64)  # sum q (q + 1)
    value = np.zeros(n_cells)
    for t in range(k):
        s = k - t
        value += heights[:, t] * _layer_agreement_from_sums(s, k, position_sum, rank_weighted_sum)
        if s == 1:
            break
        e = order[:, t].astype(np.int64)
        below = prefix(count_tree, e)
        above_sum = position_sum - prefix(sum_tree, e + 1)
        rank_weighted_sum = rank_weighted_sum - e * (below + 1) - above_sum
        position_sum = position_sum - e
        remove(count_tree, e, 1)
        remove(sum_tree, e, e)
    return value


def agreement_a(counts) -> np.ndarray:
    """van der Eijk (2001) agreement A, the layer algorithm of R agrmt >= 1.40 ``agreement``.

    Computed from proportions, so counts of any size give the same value as their ratios
    (agrmt's own implementation goes wrong once all non-zero counts exceed about 1e7).
    The distribution is cut into layers at its distinct non-zero proportions: sorting the
    proportions p_(1) <= ... <= p_(k), layer t holds the categories with p >= p_(t) and has
    weight (p_(t) - p_(t-1)) * S_t, the share of answers in it (zero for ties); A is the
    weighted sum of the layers' A (see :func:`_layer_agreement`). Range -1 (half at each
    end) .. 1 (one category); 0 for a uniform distribution. NaN when n = 0.

    Vectorized over cells: one sort along the last axis, then for k <= 12 each layer's S * A
    is read from a table of all 2**k patterns (built once per k), O(k) per cell; for larger k
    (sliders) the layers are peeled off one category at a time for all cells together
    (:func:`_agreement_by_removal`): a Python loop over the k layers, not over cells.
    """
    counts = as_counts(counts)
    _, p = _totals_and_proportions(counts)
    k = counts.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    heights = np.diff(ranked, axis=-1, prepend=0.0)
    if k <= _LAYER_TABLE_MAX_K:
        # Layer t = the categories from rank t upward; ties share the first tied layer.
        bits = np.left_shift(1, order)
        codes = np.cumsum(bits[..., ::-1], axis=-1)[..., ::-1]
        value = (heights * _layer_table(k)[codes]).sum(axis=-1)
    else:
        shape = p.shape[:-1]
        value = _agreement_by_removal(order.reshape(-1, k), heights.reshape(-1, k)).reshape(shape)
    return _nan_where(np.isnan(p[..., 0]), value)


# --------------------------------------------------------------------------- all of a cell


def cell_indices(counts, values=None, *, alpha: float = ESTEBAN_RAY_ALPHA) -> dict[str, np.ndarray]:
    """Every index of :data:`CELL_INDICES` for counts ``(..., k)``, sharing the proportions."""
    counts = as_counts(counts)
    values = _check_values(values, counts.shape[-1])
    return {
        "n": counts.sum(axis=-1),
        "mean": mean(counts, values),
        "sd": sd(counts, values),
        "mad_pairwise": mad_pairwise(counts),
        "agreement_a": agreement_a(counts),
        "leik_d": leik_d(counts),
        "tw_consensus": tw_consensus(counts),
        "entropy_norm": entropy_norm(counts),
        "bimodality": bimodality(counts),
        "esteban_ray": esteban_ray(counts, alpha),
    }


# --------------------------------------------------------------------------- two groups


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_counts(a), as_counts(b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError("both groups need the same number of categories")
    return np.broadcast_arrays(a, b)


def group_gap(a, b) -> np.ndarray:
    """(mean(A) - mean(B)) / (k - 1): the gap between the group means as a share of the scale
    width, in -1..1 (equal to the gap in the item's units divided by max - min). NaN when a
    group is empty."""
    a, b = _pair(a, b)
    return (mean(a) - mean(b)) / (a.shape[-1] - 1)


def cohens_d(a, b) -> np.ndarray:
    """Standardized mean difference (mean(A) - mean(B)) / pooled SD, with the pooled SD
    sqrt(((n_A - 1) s_A^2 + (n_B - 1) s_B^2) / (n_A + n_B - 2)). Invariant to the scale's
    location and width. NaN when a group is empty, n_A + n_B < 3 or the pooled SD is 0."""
    a, b = _pair(a, b)
    k = a.shape[-1]
    n_a, p_a = _totals_and_proportions(a)
    n_b, p_b = _totals_and_proportions(b)
    categories = _categories(k)
    mu_a, (m2_a,) = _central_moments(p_a, categories, (2,))
    mu_b, (m2_b,) = _central_moments(p_b, categories, (2,))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt((n_a * m2_a + n_b * m2_b) / (n_a + n_b - 2))
        value = (mu_a - mu_b) / pooled
    undefined = (n_a == 0) | (n_b == 0) | (n_a + n_b < 3 - N_SLACK) | ~(pooled > 1e-12 * k)
    return _nan_where(undefined, value)


def wasserstein(a, b) -> np.ndarray:
    """Earth mover's distance between the two answer distributions divided by k - 1:
    ``sum_c |F_A(c) - F_B(c)| / (k - 1)``, in 0..1. NaN when a group is empty."""
    a, b = _pair(a, b)
    _, p_a = _totals_and_proportions(a)
    _, p_b = _totals_and_proportions(b)
    difference = np.cumsum(p_a - p_b, axis=-1)[..., :-1]
    return np.abs(difference).sum(axis=-1) / (a.shape[-1] - 1)


def overlap(a, b) -> np.ndarray:
    """Overlap of the two distributions, ``sum_c min(p_A, p_B)``: 1 = identical, 0 = disjoint.
    NaN when a group is empty."""
    a, b = _pair(a, b)
    _, p_a = _totals_and_proportions(a)
    _, p_b = _totals_and_proportions(b)
    return np.minimum(p_a, p_b).sum(axis=-1)


def pair_indices(a, b) -> dict[str, np.ndarray]:
    """Every index of :data:`PAIR_INDICES` for groups A and B (signed: A minus B)."""
    return {
        "group_gap": group_gap(a, b),
        "cohens_d": cohens_d(a, b),
        "wasserstein": wasserstein(a, b),
        "overlap": overlap(a, b),
    }


# --------------------------------------------------------------------------- across items


def correlation_ratio(counts, values=None) -> np.ndarray:
    """Correlation ratio eta between an item and a grouping variable, from the item's counts
    per group, shape ``(..., groups, k)``: ``sqrt(SS_between / SS_total)``, in 0..1.

    For two groups eta = |Pearson r| between the item and the group indicator. Empty groups
    drop out; NaN when fewer than two groups have answers or the item has no variance.
    """
    counts = as_counts(counts)
    points = _check_values(values, counts.shape[-1])
    group_n = counts.sum(axis=-1)
    total = group_n.sum(axis=-1)
    sums = counts @ points
    grand = sums.sum(axis=-1) / np.where(total > 0, total, 1)
    ss_total = (counts * (points - grand[..., None, None]) ** 2).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        group_mean = np.where(group_n > 0, sums / np.where(group_n > 0, group_n, 1), 0.0)
        ss_between = (group_n * (group_mean - grand[..., None]) ** 2).sum(axis=-1)
        eta = np.sqrt(np.clip(ss_between / ss_total, 0.0, 1.0))
    spread = ss_total > 1e-12 * np.maximum(total, 1) * (points[-1] - points[0]) ** 2
    undefined = ((group_n > 0).sum(axis=-1) < 2) | ~spread
    return _nan_where(undefined, eta)


def pairwise_correlations(n, sx, sy, sxx, syy, sxy) -> np.ndarray:
    """Pearson r from (weighted) sums over the observations both variables have:
    r = (n Sxy - Sx Sy) / sqrt((n Sxx - Sx^2)(n Syy - Sy^2)). NaN when n < 2 or either
    variable has no variance among those observations."""
    n, sx, sy, sxx, syy, sxy = np.broadcast_arrays(*(np.asarray(a, float) for a in (n, sx, sy, sxx, syy, sxy)))
    var_x = n * sxx - sx**2
    var_y = n * syy - sy**2
    covariance = n * sxy - sx * sy
    # Sums of squares carry rounding error of order eps * n * Sxx; below that there is no spread.
    tolerance = 1e-10 * np.maximum(n * np.maximum(sxx, syy), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = covariance / np.sqrt(var_x * var_y)
    undefined = (n < 2 - N_SLACK) | (var_x <= tolerance) | (var_y <= tolerance)
    return _nan_where(undefined, np.clip(r, -1.0, 1.0))


def mean_abs_correlation(r, axis=-1) -> np.ndarray:
    """Constraint from pairwise correlations: the mean of |r| over the defined pairs (NaN
    when none is defined)."""
    r = np.abs(np.asarray(r, dtype=float))
    defined = ~np.isnan(r)
    count = defined.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(defined, r, 0.0).sum(axis=axis) / count, np.nan)
