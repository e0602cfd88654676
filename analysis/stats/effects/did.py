"""Difference-in-differences of indices (cell, pair, pooled, constraint, alignment) between arms,
with cluster-bootstrap intervals and randomization p-values from the panel's draws."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analysis.stats import glossary, units
from analysis.stats import indices as ix
from analysis.stats.effects.panel import POOLED, _bootstrap_summary, _ri_p
from analysis.stats.tables import Scale
from common import group_keys

# --------------------------------------------------------------------------- indices


def index_values(name: str, counts: np.ndarray, points: np.ndarray, other=None) -> np.ndarray:
    """One index over count tables ``(..., k)``; ``other`` is group B's counts for pair indices.

    ``points`` are the item's scale points (``mean`` and ``sd`` in the item's units). Large
    batches of ``agreement_a`` on scales with k > 12 are evaluated in chunks (its memory grows
    with k^2 per cell).
    """
    if glossary.entry(name).family == glossary.PAIR:
        if other is None:
            raise ValueError(f"{name} compares two groups")
        return getattr(ix, name)(counts, other)
    if glossary.entry(name).own_units:
        return getattr(ix, name)(counts, points)
    if name == "agreement_a" and counts.shape[-1] > 12:
        k = counts.shape[-1]
        flat = counts.reshape(-1, k)
        step = max(1, 2**23 // (k * k))  # ~64 MB of layer tables per chunk; fewer, larger chunks are 2.5x faster
        out = np.concatenate(
            [ix.agreement_a(flat[i : i + step]) for i in range(0, flat.shape[0], step)]
        )
        return out.reshape(counts.shape[:-1])
    if glossary.entry(name).family != glossary.CELL:
        raise ValueError(f"unknown index {name!r}")
    return getattr(ix, name)(counts)


def _did(values_t: np.ndarray, values_c: np.ndarray, pre: np.ndarray, post: np.ndarray):
    """Per-wave DiD (S, waves) against the pre-wave mean, and the pooled DiD (S,) over the post
    waves, from index values (S, waves). The pre-wave columns are the placebo checks (they sum
    to 0 over the pre waves; with one pre wave it is 0 by construction)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base_t = values_t[:, pre].mean(axis=1, keepdims=True)
        base_c = values_c[:, pre].mean(axis=1, keepdims=True)
        per_wave = (values_t - base_t) - (values_c - base_c)
        return per_wave, per_wave[:, post].mean(axis=1)


def _index_pairs(panel) -> list[tuple[int, int]]:
    if panel.group is None:
        return []
    count = len(panel.group_names)
    return [(a, b) for a in range(count) for b in range(a + 1, count)]


def _group_key(panel, target) -> str:
    """``all``, ``<by>:<g>`` (target ``("group", g)``) or ``<by>:<a>|<by>:<b>`` (target ``(a, b)``)."""
    if target is None:
        return group_keys.ALL
    names, by = panel.group_names, panel.by
    if target[0] == "group":
        return group_keys.single(by, names[target[1]])
    return group_keys.pair(group_keys.single(by, names[target[0]]), group_keys.single(by, names[target[1]]))


def _index_targets(panel, name) -> list:
    """Whose index: single-cell indices for everyone (None) and for each group, pair indices
    and alignment for each pair of groups."""
    if glossary.entry(name).pair_key:
        return _index_pairs(panel)
    groups = len(panel.group_names) if panel.group is not None else 0
    return [None] + ([("group", g) for g in range(groups)] if groups >= 2 else [])


def _evaluate(name, per_group, target, points) -> np.ndarray:
    """Index values (S, waves) from per-group count tables (S, waves, k)."""
    if target is None:
        return index_values(name, np.sum(per_group, axis=0), points)
    if target[0] == "group":
        return index_values(name, per_group[target[1]], points)
    a, b = target
    if name == "alignment":
        return ix.correlation_ratio(np.stack([per_group[a], per_group[b]], axis=-2), points)
    return index_values(name, per_group[a], points, per_group[b])


@dataclass
class _IndexSeries:
    """An index per wave for both arms: bootstrap (1 + B, waves), first row observed, and
    re-randomized (R, waves) or None."""

    treated: np.ndarray
    control: np.ndarray
    perm_treated: np.ndarray | None
    perm_control: np.ndarray | None


def _did_rows(panel, comparison, series: _IndexSeries, *, name, item, group, pre, post, level, n, n_obs):
    """``did_bootstrap`` rows of one index series: each post wave, pooled, and each pre wave as a
    placebo check when there are two or more (a single pre wave is the baseline itself)."""
    per_wave, pooled = _did(series.treated, series.control, pre, post)
    perm_wave = perm_pooled = None
    if series.perm_treated is not None:
        perm_wave, perm_pooled = _did(series.perm_treated, series.perm_control, pre, post)
    rows = []
    shown = post if pre.sum() < 2 else np.ones_like(post)
    for col, wave in [*((int(c), panel.waves[c]) for c in np.flatnonzero(shown)), (None, POOLED)]:
        estimates = pooled if col is None else per_wave[:, col]
        estimate = float(estimates[0])
        se, low, high, p = _bootstrap_summary(estimate, estimates[1:], level)
        p_ri = np.nan
        if perm_pooled is not None:
            p_ri = _ri_p(estimate, perm_pooled if col is None else perm_wave[:, col])
        rows.append({
            "arm": comparison.arm, "outcome": name, "item": item,
            "wave": wave if col is None else int(wave), "method": "did_bootstrap",
            "estimate": estimate, "se": se, "ci_low": low, "ci_high": high, "p_value": p,
            "n": n, "group": group, "p_ri": p_ri, "n_obs": n_obs,
        })
    return rows


def _reversed(name: str, values: np.ndarray, grid: Scale) -> np.ndarray:
    """An index of a reverse-coded item as the index of its flipped answers (value -> min +
    max - value): the mean mirrors, signed pair indices change sign, the rest are symmetric."""
    rule = glossary.entry(name).reverse
    if rule == glossary.MIRROR:
        return (grid.min + grid.max) - values
    if rule == glossary.NEGATE:
        return -values
    return values


def _unit_scale(name: str, values: np.ndarray, grid: Scale) -> np.ndarray:
    """``mean``/``sd`` of an item on its scale rescaled to [0, 1] (POMP / 100), the unit of the
    rows pooled over items (analysis/stats/units.py)."""
    return units.to_unit_interval(values, grid.min, grid.max, spread=name == "sd")


def _index_rows(panel, comparison, tables, j, columns, grid, index_names, pre, post, level, pooled, reverse):
    """``did_bootstrap`` rows of item j; its index series (reverse-coded items flipped) are
    added to ``pooled`` for the rows pooled over items."""
    values = panel.values[comparison.pool, :, j]
    observed = np.isfinite(values)
    n_answering = int(observed.any(axis=1).sum())
    if n_answering == 0:
        return []
    T, k = values.shape[1], grid.k

    def item_counts(per_group):
        return [table[:, columns].reshape(-1, T, k) for table in per_group]

    counts = {True: item_counts(tables.treated), False: item_counts(tables.control)}
    perm_counts = {True: item_counts(tables.perm_treated), False: item_counts(tables.perm_control)}
    has_perms = bool(tables.perm_treated)
    points = grid.points
    rows = []
    names = list(index_names)
    if "alignment" in pooled.wanted:
        names.append("alignment")
    for name in names:
        for target in _index_targets(panel, name):
            series = _IndexSeries(
                _evaluate(name, counts[True], target, points),
                _evaluate(name, counts[False], target, points),
                _evaluate(name, perm_counts[True], target, points) if has_perms else None,
                _evaluate(name, perm_counts[False], target, points) if has_perms else None,
            )
            group = _group_key(panel, target)
            if name in index_names:
                rows += _did_rows(panel, comparison, series, name=name, item=panel.items[j], group=group,
                                  pre=pre, post=post, level=level, n=n_answering, n_obs=int(observed.sum()))
            if name in pooled.wanted and j not in pooled.apart:
                if reverse[j]:
                    series = _IndexSeries(*(None if v is None else _reversed(name, v, grid) for v in (
                        series.treated, series.control, series.perm_treated, series.perm_control)))
                if glossary.entry(name).own_units:
                    series = _IndexSeries(*(None if v is None else _unit_scale(name, v, grid) for v in (
                        series.treated, series.control, series.perm_treated, series.perm_control)))
                pooled.add(name, group, series)
    return rows


class _PooledIndices:
    """Per-item index series of one comparison, averaged over items for the pooled rows
    (``item`` None): the pooled index of a wave is the mean of the per-item indices that are
    defined in it (docs/indices.md), ``mean`` and ``sd`` on each item's scale rescaled to
    [0, 1] (POMP / 100), and its DiD and intervals follow from the same draws."""

    def __init__(self, wanted: Iterable[str], apart: Iterable[int] = ()) -> None:
        self.wanted = set(wanted)
        #: Positions of items left out of the pooled rows (0/1 options; docs/indices.md).
        self.apart = set(apart)
        self.series: dict[tuple[str, str], list[_IndexSeries]] = {}

    def add(self, name: str, group: str, series: _IndexSeries) -> None:
        self.series.setdefault((name, group), []).append(series)

    def rows(self, panel, comparison, pre, post, level) -> list[dict]:
        values = panel.values[comparison.pool]
        answered = np.isfinite(values)
        n = int(answered.any(axis=(1, 2)).sum())
        n_obs = int(answered.sum())
        out = []
        for (name, group), parts in self.series.items():
            averaged = []
            for attribute in ("treated", "control", "perm_treated", "perm_control"):
                arrays = [getattr(part, attribute) for part in parts]
                averaged.append(None if arrays[0] is None else _nanmean_items(np.stack(arrays)))
            series = _IndexSeries(*averaged)
            out += _did_rows(panel, comparison, series, name=name, item=None, group=group, pre=pre,
                             post=post, level=level, n=n, n_obs=n_obs)
        return out


def _nanmean_items(stacked: np.ndarray) -> np.ndarray:
    """Mean over the first axis (items) of the defined values; NaN where none is defined."""
    defined = np.isfinite(stacked)
    count = defined.sum(axis=0)
    total = np.where(defined, stacked, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _constraint_rows(panel, comparison, grids, pre, post, level, apart: Iterable[int] = ()) -> list[dict]:
    """``constraint`` (mean |r| over pairs of items, per wave) for everyone and each group.

    Per participant and wave the pairwise-complete features (1, x, y, x^2, y^2, xy) of every
    pair of items (x, y the category codes; reverse coding only flips the sign of r, which |r|
    ignores) are summed with the bootstrap draw counts and the re-randomized labels, one wave
    at a time, in float64 (sums of squares of wide sliders exceed float32's exact range).
    """
    kept = [j for j in range(len(grids)) if j not in set(apart)]
    grids = [grids[j] for j in kept]
    J = len(grids)
    if J < 2:
        return []
    values = panel.values[comparison.pool][:, :, kept]
    m, T, _ = values.shape
    pairs = list(zip(*np.triu_indices(J, 1), strict=True))
    j_idx = np.array([p[0] for p in pairs])
    l_idx = np.array([p[1] for p in pairs])
    codes = np.stack([(values[:, :, j] - grid.min) / grid.step for j, grid in enumerate(grids)], axis=2)
    answered = np.isfinite(codes)
    codes = np.where(answered, codes, 0.0)
    P = len(pairs)
    targets = [None]
    if panel.group is not None and len(panel.group_names) >= 2:
        targets += [("group", g) for g in range(len(panel.group_names))]
    has_perms = comparison.permutations.shape[0] > 0
    # sums[target][arm or perm arm]: (S, T, 6, P)
    shape_boot = (comparison.blocks[0].weights_t.shape[0], T, 6, P)
    R = comparison.permutations.shape[0]
    # Whole-number codes (every scale with an integral (max - min) / step grid, as the
    # platform's) make every feature and product a whole number, so the float64 sums are exact
    # in any order: the float32 draws are then converted a few hundred rows at a time instead
    # of as a float64 copy of every draw (4 x 270 MB per arm at 100,000 participants).
    exact = bool(np.all(codes == np.round(codes)))
    per_block = []
    for block in comparison.blocks:
        sums = {"t": np.zeros(shape_boot), "c": np.zeros(shape_boot),
                "pt": np.zeros((R, T, 6, P)), "pc": np.zeros((R, T, 6, P))}
        weights_t, weights_c = _as_float64(block.weights_t, exact), _as_float64(block.weights_c, exact)
        labels = _as_float64(block.permutations(comparison), exact) if has_perms else None
        for t in range(T):
            mask = (answered[:, t, j_idx] & answered[:, t, l_idx]).astype(float)
            x, y = codes[:, t, j_idx] * mask, codes[:, t, l_idx] * mask
            features = np.concatenate([mask, x, y, x * x, y * y, x * y], axis=1)  # (m, 6P)
            sums["t"][:, t] = _product(weights_t, features[block.members_t]).reshape(-1, 6, P)
            sums["c"][:, t] = _product(weights_c, features[block.members_c]).reshape(-1, 6, P)
            if has_perms:
                group_features = features[block.members]
                perm_t = _product(labels, group_features)
                sums["pt"][:, t] = perm_t.reshape(-1, 6, P)
                sums["pc"][:, t] = (group_features.sum(axis=0)[None, :] - perm_t).reshape(-1, 6, P)
        per_block.append(sums)
        del weights_t, weights_c, labels

    def constraint(s):
        r = ix.pairwise_correlations(*(s[:, :, i, :] for i in range(6)))
        return ix.mean_abs_correlation(r)

    rows = []
    answering = answered.any(axis=2)
    for target in targets:
        chosen = per_block if target is None else [per_block[target[1]]]
        total = {key: sum(block[key] for block in chosen) for key in ("t", "c", "pt", "pc")}
        series = _IndexSeries(constraint(total["t"]), constraint(total["c"]),
                              constraint(total["pt"]) if has_perms else None,
                              constraint(total["pc"]) if has_perms else None)
        if target is None:
            members = np.arange(m)
        else:
            members = comparison.blocks[target[1]].members
        rows += _did_rows(panel, comparison, series, name="constraint", item=None,
                          group=_group_key(panel, target), pre=pre, post=post, level=level,
                          n=int(answering[members].any(axis=1).sum()),
                          n_obs=int(answered[members].sum()))
    return rows


_EXACT_ROWS = 256


def _as_float64(weights: np.ndarray, exact: bool) -> np.ndarray:
    """The draws as float64 for :func:`_product`: converted whole unless the sums are exact,
    when :func:`_product` converts them a few rows at a time."""
    return weights if exact else weights.astype(float)


def _product(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
    """weights @ features in float64; float32 weights (whole-number draws, exact sums) are
    converted ``_EXACT_ROWS`` rows at a time."""
    if weights.dtype == np.float64:
        return weights @ features
    out = np.empty((weights.shape[0], features.shape[1]))
    for start in range(0, weights.shape[0], _EXACT_ROWS):
        out[start:start + _EXACT_ROWS] = weights[start:start + _EXACT_ROWS].astype(float) @ features
    return out
