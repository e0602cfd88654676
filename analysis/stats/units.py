"""The unit each index row is in, for labels in tables, charts and exports.

Per-item rows of ``mean`` and ``sd`` are on the item's own scale (a 7-point item 1..7, a
thermometer 0..100). Rows pooled over items (``item`` null) never average those raw values:
each item's values are first rescaled to [0, 1] by its scale, (value - min) / (max - min),
the percent of maximum possible (POMP) divided by 100, and the pooled ``mean``/``sd`` are on
that 0-1 scale (:data:`POOLED_UNIT`). The same holds for pooled effects (differences in
differences) of ``mean`` and ``sd``. ``group_gap``, ``wasserstein`` and ``mad_pairwise`` are
already shares of the scale's width, per item and pooled. The other indices have no unit of
the scale (proportions, correlations, standardized differences, counts).
"""

from __future__ import annotations

import numpy as np

from analysis.stats import glossary

POOLED_UNIT = "0-1 scale (POMP/100)"
SHARE_OF_SCALE = "share of the scale's width (0-1)"
#: Indices whose values are distances on the scale divided by its width (k - 1).
SHARE_INDICES = frozenset({"mad_pairwise", "group_gap", "wasserstein"})


def in_scale_units(name: str) -> bool:
    """Whether an index is measured in units of the items' scale (so pooling needs the 0-1
    rescaling): ``mean``, ``sd`` and the shares of the scale."""
    entry = glossary.entry(name)
    return entry.own_units or name in SHARE_INDICES


def unit_of(name: str, *, pooled: bool, scale=None) -> str | None:
    """A short label of the unit of index ``name`` in a per-item row (``pooled`` False; with
    ``scale``, e.g. ``"1..7"``, it is named) or a row pooled over items; None for indices
    without a scale unit.

    >>> unit_of("mean", pooled=True)
    '0-1 scale (POMP/100)'
    >>> unit_of("mean", pooled=False, scale="0..100")
    "item's scale 0..100"
    """
    entry = glossary.entry(name)
    if entry.own_units:
        if pooled:
            return POOLED_UNIT
        return "item's scale" if scale is None else f"item's scale {scale}"
    if name in SHARE_INDICES:
        return SHARE_OF_SCALE
    return None


def to_unit_interval(values, scale_min, scale_max, *, spread: bool = False) -> np.ndarray:
    """Values on a scale min..max rescaled to [0, 1] (POMP / 100); ``spread=True`` for a
    standard deviation or a difference, which only divides by the width."""
    values = np.asarray(values, dtype=float)
    width = np.asarray(scale_max, dtype=float) - np.asarray(scale_min, dtype=float)
    if np.any(width <= 0):
        raise ValueError("a scale needs max > min")
    return values / width if spread else (values - scale_min) / width
