"""Indices from frequency tables: counts per wave, item and answer category, never expanded.

Public tables (the GSS's counts by year, a report's percentages times n) give, per wave, item,
answer category and optionally groups, how many respondents chose it. :func:`count_index_table`
computes from such a table exactly the values that :func:`analysis.stats.tables.compute_index_table`
gives for the *expanded file*, one row per respondent and answer, each count a different person
(a frequency table does not say which answers of two items came from the same person):

* per cell and per pair of groups: every cell and pair index of the glossary;
* pooled rows (item null): the means over items of the per-item indices, reverse-coded items
  flipped, ``n`` = the sum of the counts over the items (the expanded file's people);
* ``alignment`` per pair of groups (eta needs only each item's counts per group);
* no ``constraint``: correlations between items need each person's answers to several items.

Memory and time depend on the number of table rows, never on the counts: a table of 50 waves x
20 items x 10^7 respondents is 50 x 20 count vectors.

Intervals: multinomial resamples of each (wave, item, combination of group values) count vector,
n kept; group rows, ``all`` and pairs are sums of the same resampled vectors, and pooled rows and
``alignment`` means over the resampled items (the items are independent samples in the expanded
file). Seeded, one stream for the table.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from analysis.stats import tables
from analysis.stats.bootstrap import check_bootstrap_options, percentile_interval, resample_counts
from analysis.stats.tables import AnswersError, IndexTable, Scale
from analysis.stats.weighted import collect, count_statistics, frames_of_wave
from common import group_keys

COUNT_COLUMNS = ("wave", "item", "category", "count")
__all__ = ["COUNT_COLUMNS", "count_index_table"]


def _whole_counts(table: pd.DataFrame) -> np.ndarray:
    column = table["count"]
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnswersError(f"{column.iloc[first]!r} is not a count (a whole number >= 0)",
                           row=table.index[first], column="count")
    return numbers.astype(np.int64)


def _layout(table: pd.DataFrame, scales, by: Sequence[str], reverse: Collection[str]):
    for column in (*COUNT_COLUMNS, *by):
        if column not in table.columns:
            raise AnswersError(f"the table has no column {column!r}")
    for column in ("wave", "item", "category"):
        if table[column].isna().any():
            first = int(np.flatnonzero(table[column].isna().to_numpy())[0])
            raise AnswersError("is empty", row=table.index[first], column=column)
    item_codes, items = tables._item_order(table, scales)
    item_scales = tables._scales_for(items, scales)
    wave_codes, waves = tables._factorize(table["wave"])
    values = pd.to_numeric(table["category"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any():
        first = int(np.flatnonzero(np.isnan(values))[0])
        raise AnswersError(f"{table['category'].iloc[first]!r} is not a scale value", row=table.index[first],
                           column="category")
    category = tables._category_codes(values, item_codes, item_scales, items, table.index)
    slots = [tables._Slot(tables.ALL, None, 0)]
    pairs = []
    group_codes = []
    for c, column in enumerate(by):
        codes, uniques = tables._factorize(table[column])
        group_codes.append(codes)
        first_slot = len(slots)
        slots.extend(tables._Slot(group_keys.single(column, v), c, g) for g, v in enumerate(uniques))
        for a, b in combinations(range(len(uniques)), 2):
            key = group_keys.pair(slots[first_slot + a].key, slots[first_slot + b].key)
            pairs.append(tables._Pair(key, c, first_slot + a, first_slot + b))
    reverse_mask = np.array([item in set(reverse) for item in items], dtype=bool)
    design = tables._Design(waves, items, item_scales, reverse_mask, tuple(by), slots, pairs)
    return design, wave_codes, item_codes, category, group_codes


def count_index_table(
    table: pd.DataFrame,
    *,
    scales: Mapping[str, Scale] | Scale,
    by: Sequence[str] = (),
    reverse: Collection[str] = (),
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    pooled: bool = True,
) -> IndexTable:
    """The index table of a frequency table (module docstring).

    ``table``: columns wave, item, category (a point of the item's scale), count (whole number
    >= 0) and the grouping columns ``by`` (empty = the row's people are in ``all`` only). Rows
    for the same wave, item, category and groups add up. Same output as
    :func:`~analysis.stats.tables.compute_index_table`, without ``constraint`` rows."""
    check_bootstrap_options(bootstrap, level)
    by = tuple(by)
    design, wave_codes, item_codes, category, group_codes = _layout(table, scales, by, reverse)
    counts = _whole_counts(table)
    n_waves, n_items, kmax = len(design.waves), len(design.items), int(design.k.max())
    if group_codes:
        combo_codes, combos = pd.factorize(pd.MultiIndex.from_arrays(group_codes))
        combos = np.array([list(c) for c in combos], dtype=np.int64).reshape(-1, len(by))
    else:
        combo_codes, combos = np.zeros(len(table), dtype=np.int64), np.zeros((1, 0), dtype=np.int64)
    n_combos = len(combos)
    base = np.zeros((n_waves, n_items, n_combos, kmax), dtype=np.int64)
    np.add.at(base, (wave_codes, item_codes, combo_codes, category - 1), counts)
    rows = np.zeros((n_waves, n_items), dtype=bool)
    rows[wave_codes, item_codes] = True
    member = np.zeros((n_combos, len(design.slots)))
    for s, slot in enumerate(design.slots):
        member[:, s] = 1.0 if slot.column is None else (combos[:, slot.column] == slot.group)

    def slot_counts(array):
        return np.einsum("...ick,cs->...isk", array.astype(float), member)

    def statistic(array):
        return count_statistics(design, slot_counts(array), pooled=pooled, alignment=pooled)

    observed = statistic(base)
    intervals: dict = {}
    if bootstrap:
        rng = np.random.default_rng([seed, 3])
        samples: dict = {}
        flat = base.reshape(-1, kmax)
        for chunk in resample_counts(flat, bootstrap, rng, elements_per_cell=12 * kmax * len(design.slots)):
            collect(samples, statistic(chunk.reshape(chunk.shape[0], *base.shape)))
        intervals = {key: percentile_interval(np.concatenate(parts), level) for key, parts in samples.items()}
    totals = slot_counts(base).sum(axis=-1)  # (waves, items, slots)
    frames = []
    for w in range(n_waves):
        of_wave = {family: {name: value[w] for name, value in values.items()} for family, values in observed.items()}
        wave_intervals = {key: tuple(b[w] for b in bounds) for key, bounds in intervals.items()}
        frames += frames_of_wave(design, w, of_wave, wave_intervals, present_items=rows[w],
                                 present_slots=totals[w].sum(axis=0) > 0, cell_n=totals[w],
                                 pooled_n=totals[w].sum(axis=0) if pooled else None)
    frame = tables._assemble(design, frames)
    missing = pd.DataFrame({"wave": [], "item": [], "missing": []})
    parameters = tables._parameters(bootstrap, seed, level, by, reverse)
    parameters["counts"] = True
    return IndexTable(frame, missing, parameters)
