"""From a long frame of answers to the long table of indices with bootstrap intervals.

:func:`compute_index_table` is the entry point the platform calls (Celery pipeline, the
``indices`` command, ``seed_demo``). It turns answers (one row per participant, wave, item)
into count tables, one ``(cells, k)`` matrix per scale length k, and evaluates every index of
:mod:`analysis.stats.indices` on whole matrices at once:

* per cell (wave x item x group): the :data:`~analysis.stats.indices.CELL_INDICES`, with
  intervals from multinomial resamples of the cell's counts;
* per cell and pair of groups of one grouping column: the
  :data:`~analysis.stats.indices.PAIR_INDICES` (A minus B, groups in listed order), from the
  two groups' resampled counts;
* per wave (``item`` null): pooled rows (mean over items of each per-item index, reverse-coded
  items flipped; ``mean`` and ``sd`` on each item's scale rescaled to [0, 1], POMP / 100), ``constraint`` (per group) and ``alignment`` (per pair of groups), with
  intervals from resampling participants (:func:`analysis.stats.bootstrap.resample_weights`).

Group keys (formatted by :mod:`common.group_keys`): ``all``; ``<col>:<value>`` for each value
of each column in ``by`` (values sorted; integral floats shown without ".0");
``<col>:<a>|<col>:<b>`` for each pair of groups of one column. A participant's group is taken per wave; a participant without
a value for a column is in ``all`` only. Group rows appear for the waves in which the group has
participants.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.stats import glossary, units
from analysis.stats import indices as ix
from analysis.stats import intervals as iv
from analysis.stats.bootstrap import (
    DEFAULT_MAX_ELEMENTS,
    MIN_WEIGHT_ROWS,
    check_bootstrap_options,
    percentile_interval,
    resample_counts,
    resample_weights,
)
from analysis.stats.coverage import INTERVAL_METHOD
from common import group_keys

COLUMNS = ("wave", "item", "group", "index", "value", "ci_low", "ci_high", "n")
INTERVALS = ("auto", iv.PERCENTILE, iv.BCA)


def interval_method(name: str, interval: str = "auto") -> str:
    """The interval of a per-cell or pair index: ``interval`` unless it is "auto", else the
    choice of the coverage study (analysis/stats/coverage.py)."""
    if interval != "auto":
        return interval
    return INTERVAL_METHOD.get(name, iv.PERCENTILE)


# The unit of pooled rows of ``mean`` and ``sd`` (analysis/stats/units.py says which unit a row has).
POOLED_UNIT = units.POOLED_UNIT
REQUIRED_COLUMNS = ("participant", "wave", "item", "value")
PARTICIPANT_PARTS = ("pooled", "constraint", "alignment")
INDEX_ORDER = glossary.names(glossary.CELL, glossary.PAIR, glossary.ACROSS_ITEM)
ALL = group_keys.ALL
_GRID_TOLERANCE = 1e-6


# --------------------------------------------------------------------------- errors


class AnswersError(ValueError):
    """Bad answers: names the row (the frame's index label) and the column when known."""

    def __init__(self, detail: str, *, row=None, column: str | None = None):
        self.detail, self.row, self.column = detail, row, column
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(": ".join([*where, detail]))


class ScaleError(AnswersError):
    """A value off its item's declared scale (outside min..max or between two points)."""

    def __init__(self, detail: str, *, value: float, row=None, item=None, scale: Scale | None = None):
        self.value, self.item, self.scale = value, item, scale
        super().__init__(detail, row=row, column="value")


# --------------------------------------------------------------------------- scale


def _number(x: float) -> str:
    return f"{x:g}" if math.isfinite(x) else str(x)


@dataclass(frozen=True)
class Scale:
    """An item's answer scale: points min, min + step, ..., max, coded as categories 1..k."""

    min: float
    max: float
    step: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min", "max", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise ValueError(f"scale {name} must be a finite number, got {value!r}")
        if not self.step > 0:
            raise ValueError(f"scale step must be positive, got {self.step!r}")
        if not self.max > self.min:
            raise ValueError(f"scale max ({self.max!r}) must exceed min ({self.min!r}): k >= 2 points")
        steps = (self.max - self.min) / self.step
        if abs(steps - round(steps)) > _GRID_TOLERANCE * max(1.0, steps):
            raise ValueError(f"scale {self.min!r}..{self.max!r}: the width must be a multiple of step {self.step!r}")

    @classmethod
    def coerce(cls, scale) -> Scale:
        """A Scale from a Scale, a (min, max[, step]) tuple, or an object with ``min/max/step``
        or ``scale_min/scale_max/step`` attributes (e.g. an item of the survey model)."""
        if isinstance(scale, Scale):
            return scale
        if isinstance(scale, tuple | list):
            return cls(*scale)
        for low, high in (("min", "max"), ("scale_min", "scale_max")):
            if hasattr(scale, low) and hasattr(scale, high):
                return cls(getattr(scale, low), getattr(scale, high), getattr(scale, "step", 1.0))
        raise TypeError(f"cannot read a scale from {scale!r}")

    @classmethod
    def spanning(cls, values, step: float = 1.0) -> Scale:
        """The scale from the smallest to the largest observed value (NaN ignored)."""
        values = np.asarray(values, dtype=float)
        values = values[~np.isnan(values)]
        if values.size == 0:
            raise ValueError("no values to infer a scale from")
        return cls(float(values.min()), float(values.max()), step)

    @property
    def k(self) -> int:
        """Number of points, (max - min) / step + 1."""
        return int(round((self.max - self.min) / self.step)) + 1

    @property
    def points(self) -> np.ndarray:
        """The k scale values; category c is ``points[c - 1]``."""
        return self.min + self.step * np.arange(self.k)

    def __str__(self) -> str:
        text = f"{_number(self.min)}..{_number(self.max)}"
        return text if self.step == 1 else f"{text} (step {_number(self.step)})"

    def codes(self, values, *, item=None, rows: Sequence | None = None) -> np.ndarray:
        """Category codes 1..k of ``values``; NaN (missing) becomes 0.

        Raises :class:`ScaleError` naming the first value that is outside min..max or between
        two points, with its row label from ``rows`` (default: its position).
        """
        values = np.asarray(values, dtype=float)
        position = (values - self.min) / self.step
        nearest = np.round(position)
        present = ~np.isnan(values)
        bad = present & ((np.abs(position - nearest) > _GRID_TOLERANCE) | (nearest < 0) | (nearest > self.k - 1))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            _raise_scale_error(values[first], self, item, first if rows is None else rows[first])
        return np.where(present, nearest + 1, 0).astype(np.int32)


def _raise_scale_error(value: float, scale: Scale, item, row) -> None:
    inside = scale.min - _GRID_TOLERANCE * scale.step <= value <= scale.max + _GRID_TOLERANCE * scale.step
    what = f"is not a point of the scale {scale}" if inside else f"is outside the scale {scale}"
    of_item = "" if item is None else f" of item {item!r}"
    raise ScaleError(f"{_number(value)} {what}{of_item}", value=value, row=row, item=item, scale=scale)


# --------------------------------------------------------------------------- result


@dataclass
class IndexTable:
    """Indices in long form plus the missing answers that were left out.

    ``frame``: columns wave, item, group, index, value, ci_low, ci_high, n (item None for
    rows pooled over items). ``missing``: wave, item, missing (number of answers excluded as
    missing: NaN, a missing code or a ``missing`` flag), for each wave and item in the data.
    """

    frame: pd.DataFrame
    missing: pd.DataFrame
    parameters: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- preparation


@dataclass
class _Slot:
    key: str
    column: int | None  # index into `by`, None for "all"
    group: int


@dataclass
class _Pair:
    key: str
    column: int
    a: int  # slot indices
    b: int


@dataclass
class _Wave:
    counts: np.ndarray  # (items, slots, kmax) counts of answers, items as answered
    present_items: np.ndarray  # (items,) bool: the item has rows (answers or missing) in the wave
    present_slots: np.ndarray  # (slots,) bool: the group has participants in the wave
    participants: np.ndarray  # (slots,) participants with at least one answer
    codes: np.ndarray  # (participants, items) category codes with reverse-coded items flipped; 0 = none
    groups: list[np.ndarray]  # per `by` column: (participants,) group index, -1 = none
    n_complete: int  # the first n_complete participants answered every item of the wave


@dataclass
class _Design:
    waves: list
    items: list
    scales: list[Scale]
    reverse: np.ndarray  # (items,) bool
    by: tuple[str, ...]
    slots: list[_Slot]
    pairs: list[_Pair]

    @property
    def k(self) -> np.ndarray:
        return np.array([scale.k for scale in self.scales])


def _factorize(column: pd.Series, *, sort: bool = True) -> tuple[np.ndarray, list]:
    try:
        codes, uniques = pd.factorize(column, sort=sort)
    except TypeError:  # mixed types cannot be sorted: keep the order of appearance
        codes, uniques = pd.factorize(column, sort=False)
    return np.asarray(codes), list(uniques)


def _numeric_values(answers: pd.DataFrame) -> np.ndarray:
    column = answers["value"]
    if pd.api.types.is_bool_dtype(column) or not (
        pd.api.types.is_numeric_dtype(column) or column.dtype == object or pd.api.types.is_string_dtype(column)
    ):
        raise AnswersError(f"values must be numbers, got dtype {column.dtype}", column="value")
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan)
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnswersError(f"{column.iloc[first]!r} is not a number", row=answers.index[first], column="value")
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _scales_for(items: list, scales) -> list[Scale]:
    if isinstance(scales, Mapping):
        found = []
        for item in items:
            if item not in scales:
                raise ValueError(f"no scale given for item {item!r}")
            found.append(Scale.coerce(scales[item]))
        return found
    scale = Scale.coerce(scales)
    return [scale] * len(items)


def _item_order(answers: pd.DataFrame, scales) -> tuple[np.ndarray, list]:
    codes, uniques = _factorize(answers["item"])
    if not isinstance(scales, Mapping):
        return codes, uniques
    missing = [item for item in uniques if item not in scales]
    if missing:
        raise ValueError(f"no scale given for item {missing[0]!r}")
    ordered = [item for item in scales if item in set(uniques)]
    position = {item: i for i, item in enumerate(ordered)}
    remap = np.array([position[item] for item in uniques], dtype=np.int64)
    return remap[codes], ordered


def _design_and_rows(answers, scales, by, reverse, missing_codes):
    for column in (*REQUIRED_COLUMNS, *by):
        if column not in answers.columns:
            raise AnswersError(f"the answers have no column {column!r}")
    if len(set(by)) != len(by) or set(by) & set(REQUIRED_COLUMNS):
        raise ValueError(f"`by` must name distinct grouping columns other than {REQUIRED_COLUMNS}")
    if answers[["participant", "wave", "item"]].isna().any().any():
        column = next(c for c in ("participant", "wave", "item") if answers[c].isna().any())
        first = int(np.flatnonzero(answers[column].isna().to_numpy())[0])
        raise AnswersError("is empty", row=answers.index[first], column=column)

    item_codes, items = _item_order(answers, scales)
    item_scales = _scales_for(items, scales)
    wave_codes, waves = _factorize(answers["wave"])
    participant_codes, participants = _factorize(answers["participant"])

    values = _numeric_values(answers)
    missing = np.isnan(values)
    if len(missing_codes):
        missing |= np.isin(values, np.asarray(list(missing_codes), dtype=float))
    if "missing" in answers.columns and pd.api.types.is_bool_dtype(answers["missing"]):
        missing |= answers["missing"].fillna(False).to_numpy(dtype=bool)
    values = np.where(missing, np.nan, values)

    category = _category_codes(values, item_codes, item_scales, items, answers.index)
    reverse_mask = np.array([item in set(reverse) for item in items], dtype=bool)

    slots = [_Slot(ALL, None, 0)]
    pairs: list[_Pair] = []
    group_codes = []
    for c, column in enumerate(by):
        codes, values_c = _factorize(answers[column])
        group_codes.append(codes)
        first_slot = len(slots)
        slots.extend(_Slot(group_keys.single(column, v), c, g) for g, v in enumerate(values_c))
        for a, b in combinations(range(len(values_c)), 2):
            key = group_keys.pair(slots[first_slot + a].key, slots[first_slot + b].key)
            pairs.append(_Pair(key, c, first_slot + a, first_slot + b))
    design = _Design(waves, items, item_scales, reverse_mask, tuple(by), slots, pairs)
    rows = {
        "wave": wave_codes, "item": item_codes, "participant": participant_codes,
        "category": category, "missing": missing, "groups": group_codes, "labels": answers.index,
        "participants": participants,
    }
    return design, rows


def _category_codes(values, item_codes, scales: list[Scale], items, labels) -> np.ndarray:
    minimum = np.array([s.min for s in scales])[item_codes]
    step = np.array([s.step for s in scales])[item_codes]
    k = np.array([s.k for s in scales])[item_codes]
    position = (values - minimum) / step
    nearest = np.round(position)
    present = ~np.isnan(values)
    bad = present & ((np.abs(position - nearest) > _GRID_TOLERANCE) | (nearest < 0) | (nearest > k - 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        item = int(item_codes[first])
        _raise_scale_error(values[first], scales[item], items[item], labels[first])
    return np.where(present, nearest + 1, 0).astype(np.int32)


def _split_waves(wave_codes: np.ndarray, n_waves: int) -> list[np.ndarray]:
    small = wave_codes.astype(np.int16 if n_waves < 2**15 else np.int64)
    order = np.argsort(small, kind="stable")
    bounds = np.cumsum(np.bincount(wave_codes, minlength=n_waves))
    return np.split(order, bounds[:-1])


def _wave_arrays(design: _Design, rows: dict, wave: int, r: np.ndarray) -> _Wave:
    n_items, n_slots = len(design.items), len(design.slots)
    k = design.k
    kmax = int(k.max())
    labels = rows["labels"]
    item = rows["item"][r]
    category = rows["category"][r]
    people, local = np.unique(rows["participant"][r], return_inverse=True)
    n_people = len(people)

    flat = local.astype(np.int64) * n_items + item
    # Duplicates by sorting the answers (memory per answer, not participants x items).
    order = np.argsort(flat, kind="stable")
    repeated = np.flatnonzero(flat[order][1:] == flat[order][:-1])
    if repeated.size:
        twice = np.sort(order[[repeated[0], repeated[0] + 1]])
        who = rows["participants"][people[local[twice[0]]]]
        raise AnswersError(
            f"participant {who!r} answers item {design.items[item[twice[0]]]!r} of wave {design.waves[wave]!r} "
            f"twice (rows {labels[r[twice[0]]]} and {labels[r[twice[1]]]})", row=labels[r[twice[1]]],
            column="item")
    codes = np.zeros((n_people, n_items), dtype=np.int32)
    codes[local, item] = category
    present_items = np.bincount(item, minlength=n_items) > 0

    groups = []
    for c, column in enumerate(design.by):
        row_group = rows["groups"][c][r]
        group = np.full(n_people, -1, dtype=np.int64)
        has = row_group >= 0
        group[local[has]] = row_group[has]
        conflict = has & (group[local] != row_group)
        if conflict.any():
            at = int(np.flatnonzero(conflict)[0])
            who = rows["participants"][people[local[at]]]
            raise AnswersError(f"participant {who!r} has several values of grouping column {column!r} in wave "
                               f"{design.waves[wave]!r}", row=labels[r[at]], column=column)
        groups.append(group)

    answered = codes > 0
    anyone = answered.any(axis=1)
    slot_of = _slot_matrix(design, groups, n_people)  # (people, slots) membership
    participants = (slot_of & anyone[:, None]).sum(axis=0)
    present_slots = slot_of.any(axis=0)

    counts = np.zeros((n_items, n_slots, kmax + 1), dtype=np.int64)
    index = item.astype(np.int64) * (kmax + 1) + category  # per answer; category 0 = missing
    for s in range(n_slots):
        members = slot_of[:, s]
        if not members.any():
            continue
        mine = members[local]
        counts[:, s, :] = np.bincount(index[mine], minlength=n_items * (kmax + 1)).reshape(n_items, kmax + 1)
    counts = counts[:, :, 1:]
    del index

    flipped = codes  # reverse-coded items flipped column by column (no second people x items copy)
    for column in np.flatnonzero(design.reverse):
        if flipped is codes:
            flipped = codes.copy()
        value = codes[:, column]
        flipped[:, column] = np.where(value > 0, k[column] + 1 - value, 0)
    # Participants with an answer, those who answered every item of the wave first, each part
    # ordered by group in the first column: the blocks that the participant-level sums run
    # over are then contiguous (views of the resampling weights, no copies).
    complete = answered[:, present_items].all(axis=1)
    keep = np.flatnonzero(anyone)
    first_group = groups[0][keep] if groups else np.zeros(len(keep), dtype=np.int64)
    keep = keep[np.lexsort((first_group, ~complete[keep]))]
    return _Wave(counts, present_items, present_slots, participants, flipped[keep].astype(np.int32, copy=False),
                 [g[keep] for g in groups], int(complete[keep].sum()))


def _slot_matrix(design: _Design, groups: list[np.ndarray], n_people: int) -> np.ndarray:
    member = np.zeros((n_people, len(design.slots)), dtype=bool)
    for s, slot in enumerate(design.slots):
        member[:, s] = True if slot.column is None else groups[slot.column] == slot.group
    return member


# --------------------------------------------------------------------------- per-cell indices


def _by_k(design: _Design) -> dict[int, np.ndarray]:
    k = design.k
    return {int(value): np.flatnonzero(k == value) for value in np.unique(k)}


def _on_item_scale(name: str, values: np.ndarray, scales: list[Scale], item_axis: int) -> np.ndarray:
    """``mean`` and ``sd`` from category codes to the items' own scales (items on
    ``item_axis``), for the per-item rows; other indices do not depend on the scale's
    location and unit."""
    if not glossary.entry(name).own_units:
        return values
    shape = [1] * values.ndim
    shape[item_axis] = len(scales)
    step = np.array([s.step for s in scales]).reshape(shape)
    if name == "sd":
        return values * step
    minimum = np.array([s.min for s in scales]).reshape(shape)
    return minimum + (values - 1) * step


def _on_unit_scale(name: str, values: np.ndarray, scales: list[Scale], item_axis: int) -> np.ndarray:
    """``mean`` and ``sd`` from category codes to each item's scale rescaled to [0, 1] (the
    percent of maximum possible, POMP, divided by 100): code c is (c - 1) / (k - 1), so the
    mean becomes (mean - min) / (max - min) and the SD SD / (max - min). Pooled rows average
    these, never raw means of items on different scales (a 0-100 thermometer would swamp a
    7-point item). The other indices are already shares of the scale or free of its unit."""
    if not glossary.entry(name).own_units:
        return values
    shape = [1] * values.ndim
    shape[item_axis] = len(scales)
    width = np.array([s.k - 1 for s in scales], dtype=float).reshape(shape)
    return values / width if name == "sd" else (values - 1) / width


def _count_statistic(counts: np.ndarray, pair_slots: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    """Cell and pair indices of counts ``(..., slots, k)`` on category codes."""
    result = ix.cell_indices(counts)
    if pair_slots:
        a = counts[..., [p[0] for p in pair_slots], :]
        b = counts[..., [p[1] for p in pair_slots], :]
        result.update(ix.pair_indices(a, b))
    return result


def _elements_per_cell(k: int) -> int:
    # Temporaries of the index functions: a dozen (..., k) arrays per cell and resample.
    return 12 * k


def _jackknife(counts: np.ndarray, pair_slots: list[tuple[int, int]]) -> tuple[dict, dict]:
    """Jackknife values and weights of every cell and pair index (analysis/stats/intervals.py)
    of counts ``(..., slots, k)``: leaving one answer out touches only its own cell, so the
    cell indices of all slots are evaluated at once, the pair indices per group of the pair."""
    values, weights = iv.count_jackknife_values(counts, ix.cell_indices)
    found_weights = {name: weights for name in values}
    if pair_slots:
        a = counts[..., [p[0] for p in pair_slots], :]
        b = counts[..., [p[1] for p in pair_slots], :]
        pair_values, pair_weights = iv.pair_jackknife_values(a, b, ix.pair_indices)
        values.update(pair_values)
        found_weights.update({name: pair_weights for name in pair_values})
    return values, found_weights


def _cell_rows(design: _Design, waves: list[_Wave], bootstrap: int, level: float, rng,
               max_elements: int, interval: str = "auto") -> list[pd.DataFrame]:
    pair_slots = [(p.a, p.b) for p in design.pairs]
    counts_all = np.stack([w.counts for w in waves])  # (waves, items, slots, kmax)
    frames = []
    for k, item_index in _by_k(design).items():
        counts = counts_all[:, item_index, :, :k]  # (W, Ik, S, k)
        observed = _count_statistic(counts.astype(float), pair_slots)
        intervals = {}
        bca = [name for name in observed if interval_method(name, interval) == iv.BCA]
        if bootstrap:
            shape = counts.shape
            flat = counts.reshape(-1, k)
            samples: dict[str, list] = {}
            for chunk in resample_counts(flat, bootstrap, rng, max_elements=max_elements,
                                         elements_per_cell=_elements_per_cell(k)):
                stat = _count_statistic(chunk.reshape(chunk.shape[0], *shape).astype(float), pair_slots)
                for name, value in stat.items():
                    samples.setdefault(name, []).append(value)
            jack_values, jack_weights = _jackknife(counts.astype(float), pair_slots) if bca else ({}, {})
            for name, parts in samples.items():
                if name in bca:
                    intervals[name] = iv.bca_interval(np.concatenate(parts), observed[name], jack_values[name],
                                                      jack_weights[name], level)
                else:
                    intervals[name] = percentile_interval(np.concatenate(parts), level)
        scales = [design.scales[i] for i in item_index]
        for name, value in observed.items():
            low, high = intervals.get(name, (np.full(value.shape, np.nan),) * 2)
            undefined = ~np.isfinite(value)
            low, high = np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)
            if glossary.entry(name).count:
                low = high = np.full(value.shape, np.nan)
            value, low, high = (_on_item_scale(name, v, scales, 1) for v in (value, low, high))
            frames.append(_cell_frame(design, waves, item_index, name, value, low, high, observed["n"]))
    return frames


def _cell_frame(design, waves, item_index, name, value, low, high, n_cell) -> pd.DataFrame:
    n_waves = len(waves)
    is_pair = glossary.entry(name).pair_key
    groups = len(design.pairs) if is_pair else len(design.slots)
    if is_pair:
        n = n_cell[..., [p.a for p in design.pairs]] + n_cell[..., [p.b for p in design.pairs]]
        present_slot = np.array([[w.present_slots[p.a] and w.present_slots[p.b] for p in design.pairs]
                                 for w in waves]).reshape(n_waves, 1, groups)
        group_number = len(design.slots) + np.arange(groups)
    else:
        n = n_cell
        present_slot = np.array([w.present_slots for w in waves]).reshape(n_waves, 1, groups)
        group_number = np.arange(groups)
    present_item = np.array([w.present_items[item_index] for w in waves]).reshape(n_waves, -1, 1)
    keep = np.broadcast_to(present_slot & present_item, value.shape)
    wave_i, item_i, group_i = np.nonzero(keep)
    return pd.DataFrame({
        "_wave": wave_i, "_item": item_index[item_i], "_group": group_number[group_i],
        "_index": INDEX_ORDER.index(name), "value": value[keep], "ci_low": low[keep],
        "ci_high": high[keep], "n": n[keep].astype(np.int64),
    })


# --------------------------------------------------------------------------- participant level


# Integer-valued float32 sums are exact while every partial sum stays below 2**24.
_FLOAT32_EXACT = 2**24


# Rows of a group of a further grouping column copied at a time for its weighted sums.
_COPY_ROWS = 8192


class _SlotSums:
    """Sums of per-participant features over each slot's participants, ``(..., slots, f)``.

    ``matrix`` holds integer-valued features of the participants ``columns`` of the wave (a
    slice of its participant order), each at most ``largest``. Runs of equal group in the
    first column are contiguous blocks, summed over views of the resampling weights; "all" is
    the sum of the blocks, so "all" and the first column cost one pass over the participants
    and every further column one more pass over copies of its groups' rows. Weighted sums use
    float32 matrix products when they are exact (weights sum to the number of participants,
    so every partial sum is at most largest * participants < 2**24), float64 otherwise.
    """

    @staticmethod
    def dtype(largest: float, n_people: int) -> type:
        """float32 where weighted sums of features up to ``largest`` stay exact, else float64;
        build ``matrix`` in it, so that it is never copied to another type."""
        return np.float32 if largest * max(1, n_people) < _FLOAT32_EXACT else np.float64

    def __init__(self, design: _Design, wave: _Wave, matrix: np.ndarray, columns: slice, largest: float):
        self.columns = columns
        self.n_slots = len(design.slots)
        dtype = self.dtype(largest, wave.codes.shape[0])
        self.exact32 = dtype is np.float32
        # Views where possible: only the rows of groups beyond the first column are copied.
        matrix = matrix.astype(dtype, copy=False)
        groups = [g[columns] for g in wave.groups]
        self.blocks: list[tuple[int | None, np.ndarray, slice]] = []
        self.copies: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.width = matrix.shape[1]
        if not groups:
            self.blocks.append((None, matrix, slice(0, matrix.shape[0])))
            return
        slot_of_group = {slot.group: s for s, slot in enumerate(design.slots) if slot.column == 0}
        starts = np.flatnonzero(np.diff(groups[0], prepend=-2) != 0) if len(groups[0]) else np.array([], int)
        ends = np.append(starts[1:], len(groups[0]))[:len(starts)]
        for start, end in zip(starts, ends, strict=True):
            rows = slice(int(start), int(end))
            self.blocks.append((slot_of_group.get(int(groups[0][start])), matrix[rows], rows))
        for s, slot in enumerate(design.slots):
            if slot.column is not None and slot.column > 0:
                # Rows of the groups of further columns: summed from the shared matrix in runs
                # of _COPY_ROWS rows (copies of a run only), never a copy of all their features.
                rows = np.flatnonzero(groups[slot.column] == slot.group)
                self.copies.append((s, matrix, rows))

    def __call__(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Plain sums, or one weighted sum per resample for ``weights`` (chunk, participants)."""
        lead = () if weights is None else (weights.shape[0],)
        out = np.zeros((*lead, self.n_slots, self.width))
        if weights is not None:
            weights = weights[:, self.columns]
            weights = weights if self.exact32 else weights.astype(np.float64)

        def total(features, rows):
            # Integer features: the float64 sum is exact whatever the features' type.
            if sparse.issparse(features):
                if weights is None:
                    return np.asarray(features.sum(axis=0), dtype=np.float64).ravel()
                # (features^T @ weights^T)^T: one pass over the stored entries per resample
                return np.asarray((features.T @ np.ascontiguousarray(weights[:, rows]).T).T)
            return features.sum(axis=0, dtype=np.float64) if weights is None else weights[:, rows] @ features

        for slot, features, rows in self.blocks:
            block = total(features, rows)
            out[..., 0, :] += block
            if slot is not None:
                out[..., slot, :] += block
        for slot, features, rows in self.copies:
            # Integer features: the sum over runs of rows is the sum over all rows, exactly.
            part = np.zeros(out[..., slot, :].shape)
            for start in range(0, len(rows), _COPY_ROWS):
                run = rows[start:start + _COPY_ROWS]
                part += total(features[run], run)
            out[..., slot, :] = part
        return out


class _ParticipantSums:
    """Every sum over participants that the pooled rows, ``alignment`` and ``constraint`` of
    one wave need, observed or weighted by resampling weights.

    * one-hot answers (item, category) per participant: the per-item count vectors of each
      group, from which pooled indices and eta follow;
    * for ``constraint``, per pair of items (j, l) the pairwise-complete sums n, Sx, Sy, Sxx,
      Syy, Sxy of the codes. Participants who answered every item contribute the
      same x_j, x_j^2 and x_j x_l to every pair, so they get 1 + 2I + I(I-1)/2 features and only
      the others the full 6 per pair (with few missing answers this is ~2.5x less work).
    """

    def __init__(self, design: _Design, wave: _Wave, parts: set[str]):
        self.design, self.parts = design, parts
        codes = wave.codes
        n_people = codes.shape[0]
        k = design.k
        self.count_offsets = None
        self.count_sums = None
        if parts & {"pooled", "alignment"}:
            self.count_offsets = np.concatenate([[0], np.cumsum(k)[:-1]])
            rows, items = np.nonzero(codes > 0)
            columns = self.count_offsets[items] + codes[rows, items] - 1
            dtype = _SlotSums.dtype(1.0, n_people)
            if _use_sparse(n_people, int(k.sum()), len(rows)):
                onehot = sparse.csr_matrix((np.ones(len(rows), dtype=dtype), (rows, columns)),
                                           shape=(n_people, int(k.sum())))
            else:
                onehot = np.zeros((n_people, int(k.sum())), dtype=dtype)
                onehot[rows, columns] = 1.0
            del rows, items, columns
            self.count_sums = _SlotSums(design, wave, onehot, slice(None), 1.0)
            del onehot
        self.pairs: list[tuple[int, int]] = []
        if "constraint" in parts:
            present = np.flatnonzero(wave.present_items)
            self.pairs = list(combinations(present, 2))
        if self.pairs:
            j, l_ = (np.array(v) for v in zip(*self.pairs, strict=True))
            # Positions of each pair's items among the present items, and of the pair among
            # the upper-triangle products of the compact features.
            where = {item: i for i, item in enumerate(present)}
            self.j = np.array([where[i] for i in j])
            self.l = np.array([where[i] for i in l_])
            number = {pair: i for i, pair in enumerate(zip(*np.triu_indices(len(present), 1), strict=True))}
            self.jl = np.array([number[pair] for pair in zip(self.j, self.l, strict=True)])
            self.n_present = len(present)
            largest = float((k[present].max() - 1) ** 2)
            dtype = _SlotSums.dtype(largest, n_people)
            done = wave.n_complete
            xc = (codes[:done][:, present] - 1).astype(np.float64)
            first, second = np.triu_indices(len(present), 1)
            p = len(present)
            # Filled column block by column block in the sums' type (integers: exact), rather
            # than concatenated from float64 temporaries: this matrix is the largest of a wave.
            compact = np.empty((done, 1 + 2 * p + len(first)), dtype=dtype)
            compact[:, 0] = 1.0
            compact[:, 1:1 + p] = xc
            compact[:, 1 + p:1 + 2 * p] = xc**2
            for column, (a, b) in enumerate(zip(first, second, strict=True), start=1 + 2 * p):
                compact[:, column] = xc[:, a] * xc[:, b]
            del xc
            self.complete_sums = _SlotSums(design, wave, compact, slice(0, done), largest)
            del compact
            partial = codes[done:][:, present]
            n_partial, n_pairs = partial.shape[0], len(self.pairs)
            shared = int((np.count_nonzero(partial, axis=1) ** 2).sum())  # >= 2 x the pairs answered
            if _use_sparse(n_partial, 6 * n_pairs, 3 * shared):
                full = _sparse_pair_features(partial, n_pairs, dtype)
            else:
                x = np.where(partial > 0, partial - 1, 0).astype(np.float64)
                m = (partial > 0).astype(np.float64)
                a, b = self.j, self.l
                full = np.concatenate([
                    m[:, a] * m[:, b], x[:, a] * m[:, b], x[:, b] * m[:, a],
                    x[:, a] ** 2 * m[:, b], x[:, b] ** 2 * m[:, a], x[:, a] * x[:, b],
                ], axis=1).astype(dtype, copy=False)
                del x, m
            self.partial_sums = _SlotSums(design, wave, full, slice(done, n_people), largest)
            del full

    def statistic(self, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Pooled indices and constraint per slot ``(..., slots)``, pooled pair indices and
        alignment per pair ``(..., pairs)``."""
        result: dict[str, np.ndarray] = {}
        if self.count_sums is not None:
            result.update(self._pooled(self.count_sums(weights)))
        if self.pairs:
            result["constraint"] = self._constraint(weights)
        return result

    def _pooled(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        design, parts = self.design, self.parts
        pair_a = [p.a for p in design.pairs]
        pair_b = [p.b for p in design.pairs]
        per_item: dict[str, list] = {}
        positions = []
        for kk, item_index in _by_k(design).items():
            # (..., slots, items of this k, k): the count vectors of each group and item.
            counts = np.stack([sums[..., o:o + kk] for o in self.count_offsets[item_index]], axis=-2)
            positions.extend(item_index)
            stats: dict[str, np.ndarray] = {}
            if "pooled" in parts:
                stats.update(ix.cell_indices(counts))
                del stats["n"]
                if design.pairs:
                    stats.update(ix.pair_indices(counts[..., pair_a, :, :], counts[..., pair_b, :, :]))
            if "alignment" in parts and design.pairs:
                both = np.stack([counts[..., pair_a, :, :], counts[..., pair_b, :, :]], axis=-2)
                stats["alignment"] = ix.correlation_ratio(both)
            scales = [design.scales[i] for i in item_index]
            for name, value in stats.items():
                per_item.setdefault(name, []).append(_on_unit_scale(name, value, scales, -1))
        order = np.argsort(positions)
        return {name: _nanmean(np.concatenate(values, axis=-1)[..., order], axis=-1)
                for name, values in per_item.items()}

    def _constraint(self, weights: np.ndarray | None) -> np.ndarray:
        compact = self.complete_sums(weights)
        n_present, j, m, jl = self.n_present, self.j, self.l, self.jl
        ones = compact[..., [0]]
        x = compact[..., 1:1 + n_present]
        xx = compact[..., 1 + n_present:1 + 2 * n_present]
        xy = compact[..., 1 + 2 * n_present:]
        n_pairs = len(self.pairs)
        partial = self.partial_sums(weights)
        block = [partial[..., i * n_pairs:(i + 1) * n_pairs] for i in range(6)]
        n = block[0] + ones
        sx, sy = block[1] + x[..., j], block[2] + x[..., m]
        sxx, syy = block[3] + xx[..., j], block[4] + xx[..., m]
        sxy = block[5] + xy[..., jl]
        return ix.mean_abs_correlation(ix.pairwise_correlations(n, sx, sy, sxx, syy, sxy))


# Participant features are kept sparse when the dense matrix would hold more than this many
# elements and at most one in eight of them is not zero (sparse designs: items answered by
# different people); dense matrix products are faster otherwise.
_DENSE_LIMIT = 2**24


def _use_sparse(rows: int, columns: int, nonzero: int) -> bool:
    size = rows * columns
    return size > _DENSE_LIMIT and nonzero * 8 <= size


def _sparse_pair_features(codes: np.ndarray, n_pairs: int, dtype) -> sparse.csr_matrix:
    """The six pairwise-complete features (1, x, y, x^2, y^2, xy per pair of items both
    answered; x, y codes from 0) of participants with some answers missing, as a sparse
    ``(participants, 6 * pairs)`` matrix: entries only for the pairs each person answered, so
    memory grows with the answers (sum of a_i^2 for a_i answers of person i), never with
    items^2 x participants. Pairs are numbered as ``combinations(range(items), 2)``."""
    people, items = codes.shape
    row_parts, column_parts, value_parts = [], [], []
    answered = codes > 0
    counts = answered.sum(axis=1)
    triangles: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for size in np.unique(counts):
        if size < 2:
            continue
        who = np.flatnonzero(counts == size)
        # the answered items of these people, in item order: (people, size)
        which = np.nonzero(answered[who])[1].reshape(len(who), size)
        first, second = triangles.setdefault(int(size), np.triu_indices(int(size), 1))
        a, b = which[:, first], which[:, second]  # (people, size choose 2), a < b
        pair = a * (2 * items - a - 1) // 2 + (b - a - 1)
        x = (codes[who[:, None], a] - 1).astype(np.float64)
        y = (codes[who[:, None], b] - 1).astype(np.float64)
        rows = np.broadcast_to(who[:, None], pair.shape)
        for block, value in enumerate((np.ones_like(x), x, y, x * x, y * y, x * y)):
            keep = value != 0  # zeros need no entry
            row_parts.append(rows[keep])
            column_parts.append(block * n_pairs + pair[keep])
            value_parts.append(value[keep])
        del a, b, pair, x, y
    if not row_parts:
        return sparse.csr_matrix((people, 6 * n_pairs), dtype=dtype)
    return sparse.csr_matrix(
        (np.concatenate(value_parts).astype(dtype), (np.concatenate(row_parts), np.concatenate(column_parts))),
        shape=(people, 6 * n_pairs))


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    defined = np.isfinite(values)
    count = defined.sum(axis=axis)
    total = np.where(defined, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _pooled_rows(design: _Design, waves: list[_Wave], parts: set[str], bootstrap: int, level: float,
                 seed: int, max_elements: int) -> list[pd.DataFrame]:
    frames = []
    for w, wave in enumerate(waves):
        wave_parts = set(parts)
        if wave.present_items.sum() < 2:
            wave_parts.discard("constraint")
        if not wave_parts:
            continue
        sums = _ParticipantSums(design, wave, wave_parts)
        observed = sums.statistic()
        intervals = {}
        if bootstrap:
            # One stream per wave: a wave's intervals do not depend on the other waves.
            rng = np.random.default_rng([seed, 1, w])
            samples: dict[str, list] = {}
            n_people = wave.codes.shape[0]
            elements = max(2 * max_elements, MIN_WEIGHT_ROWS * n_people)
            # With many items the constraint sums are wide (6 per pair of items and group): fewer
            # resamples per chunk keep each (resamples, groups, 6 x pairs) array near max_elements.
            width = len(design.slots) * 7 * len(sums.pairs)
            if width:
                elements = min(elements, max(4, max_elements // width) * n_people)
            for weights in resample_weights(n_people, bootstrap, rng, max_elements=elements):
                for name, value in sums.statistic(weights).items():
                    samples.setdefault(name, []).append(value)
                del weights  # before the next chunk is drawn: one chunk of weights alive at a time
            intervals = {name: percentile_interval(np.concatenate(v), level) for name, v in samples.items()}
        frames.append(_pooled_frame(design, w, wave, observed, intervals))
    return frames


def _pooled_frame(design: _Design, w: int, wave: _Wave, observed: dict, intervals: dict) -> pd.DataFrame:
    records = []
    pair_n = np.array([wave.participants[p.a] + wave.participants[p.b] for p in design.pairs], dtype=np.int64)
    pair_present = np.array([wave.present_slots[p.a] and wave.present_slots[p.b] for p in design.pairs], bool)
    if "mean" in observed:
        records.append(("n", wave.participants.astype(float), None, None))
    for name, value in observed.items():
        low, high = intervals.get(name, (np.full(value.shape, np.nan),) * 2)
        undefined = ~np.isfinite(value)
        records.append((name, value, np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)))
    frames = []
    for name, value, low, high in records:
        is_pair = glossary.entry(name).pair_key
        if low is None:
            low = high = np.full(value.shape, np.nan)
        if is_pair:
            keep = pair_present
            group = len(design.slots) + np.arange(len(design.pairs))
            n = pair_n
        else:
            keep = wave.present_slots
            group = np.arange(len(design.slots))
            n = wave.participants
        frames.append(pd.DataFrame({
            "_wave": w, "_item": len(design.items), "_group": group[keep], "_index": INDEX_ORDER.index(name),
            "value": value[keep], "ci_low": low[keep], "ci_high": high[keep], "n": n[keep].astype(np.int64),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- entry point


def compute_index_table(
    answers: pd.DataFrame,
    *,
    scales: Mapping[str, Scale] | Scale,
    by: Sequence[str] = (),
    reverse: Collection[str] = (),
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    missing_codes: Iterable[float] = (),
    participant_indices: Collection[str] = PARTICIPANT_PARTS,
    per_cell: bool = True,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    interval: str = "auto",
) -> IndexTable:
    """Every index of every cell of ``answers``, with seeded percentile bootstrap intervals.

    ``answers`` has one row per participant, wave and item: columns participant, wave, item,
    value (on the item's scale; NaN, a value in ``missing_codes`` or a true boolean
    ``missing`` column = missing, excluded and counted) and the grouping columns named in
    ``by``. ``scales`` is one :class:`Scale` for all items or a mapping item -> Scale (or
    anything :meth:`Scale.coerce` reads); with a mapping, items come out in its order.
    ``reverse`` names reverse-coded items: flipped (value -> min + max - value) in the pooled
    rows and in ``constraint``, never in the per-item rows.

    ``bootstrap`` resamples (0 = no intervals, all ci_low/ci_high NaN) at confidence
    ``level``; ``interval`` "auto" (default) takes each per-cell and pair index's interval
    from :data:`analysis.stats.coverage.INTERVAL_METHOD` (BCa where the coverage study showed
    it covers better, else percentile), "percentile" or "bca" use one kind for all of them
    (participant-level rows are always percentile intervals); per-cell and per-pair indices use multinomial resamples of the cells' counts,
    pooled rows, ``constraint`` and ``alignment`` resample participants within each wave.
    ``participant_indices`` selects which of "pooled", "constraint", "alignment" to compute
    (the participant resampling is the costly part); ``per_cell=False`` leaves out the per-cell
    and per-pair rows. ``max_elements`` bounds the temporary arrays of one chunk of resamples
    (count resamples; participant weights take twice as many, in chunks of at least
    :data:`~analysis.stats.bootstrap.MIN_WEIGHT_ROWS` resamples).

    Rows (``frame``): per wave, item, group: ``n mean sd mad_pairwise agreement_a leik_d
    tw_consensus entropy_norm bimodality esteban_ray``; per wave, item, pair of groups:
    ``group_gap cohens_d wasserstein overlap``; per wave with item None: the same indices
    pooled (mean over the items where the index is defined, ``mean`` and ``sd`` on each item's
    scale rescaled to [0, 1] (POMP / 100; see :data:`POOLED_UNIT`), reverse-coded items
    flipped, which mirrors their mean to 1 - mean and flips the sign of ``group_gap`` and
    ``cohens_d``; ``n`` = participants with at least
    one answer, also the ``n`` of every pooled row; pairs: n_A + n_B), ``constraint`` per group
    (needs two items) and ``alignment`` per pair of groups (eta of the two-group split, the
    mean over items). The ``n`` index has no interval. Raises :class:`ScaleError` for values off
    their scale and :class:`AnswersError` for other bad rows (duplicate answers, a participant
    with two groups in one wave, missing columns).
    """
    check_bootstrap_options(bootstrap, level)
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; choose from {', '.join(INTERVALS)}")
    by = tuple(by)
    parts = set(participant_indices)
    unknown = parts - set(PARTICIPANT_PARTS)
    if unknown:
        raise ValueError(f"unknown participant_indices {sorted(unknown)}; choose from {PARTICIPANT_PARTS}")
    if answers.empty:
        for column in (*REQUIRED_COLUMNS, *by):
            if column not in answers.columns:
                raise AnswersError(f"the answers have no column {column!r}")
        return IndexTable(pd.DataFrame({c: [] for c in COLUMNS}),
                          pd.DataFrame({"wave": [], "item": [], "missing": []}),
                          _parameters(bootstrap, seed, level, by, reverse))
    design, rows = _design_and_rows(answers, scales, by, tuple(reverse), tuple(missing_codes))
    waves = [_wave_arrays(design, rows, w, r) for w, r in enumerate(_split_waves(rows["wave"], len(design.waves)))]
    missing = _missing_frame(design, rows)
    del rows  # one value per answer: let them go before the resampling needs the memory
    rng = np.random.default_rng([seed, 0])
    frames = _cell_rows(design, waves, bootstrap, level, rng, max_elements, interval) if per_cell else []
    frames += _pooled_rows(design, waves, parts, bootstrap, level, seed, max_elements)
    frame = _assemble(design, frames)
    return IndexTable(frame, missing, _parameters(bootstrap, seed, level, by, reverse))


def _parameters(bootstrap, seed, level, by, reverse) -> dict:
    return {"bootstrap": bootstrap, "seed": seed, "level": level, "by": list(by), "reverse": sorted(map(str, reverse))}


def _assemble(design: _Design, frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: [] for c in COLUMNS})
    frame = pd.concat(frames, ignore_index=True).sort_values(["_wave", "_item", "_group", "_index"],
                                                             kind="stable")
    groups = [s.key for s in design.slots] + [p.key for p in design.pairs]
    items = np.array([*design.items, None], dtype=object)
    out = pd.DataFrame({
        "wave": pd.Series(design.waves, dtype=_label_dtype(design.waves)).to_numpy()[frame["_wave"].to_numpy()],
        "item": pd.Series(items[frame["_item"].to_numpy()], dtype=object),
        "group": np.array(groups, dtype=object)[frame["_group"].to_numpy()],
        "index": np.array(INDEX_ORDER, dtype=object)[frame["_index"].to_numpy()],
        "value": frame["value"].to_numpy(dtype=float),
        "ci_low": frame["ci_low"].to_numpy(dtype=float),
        "ci_high": frame["ci_high"].to_numpy(dtype=float),
        "n": frame["n"].to_numpy(dtype=np.int64),
    })
    return out


def _label_dtype(labels: list):
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in labels):
        return np.int64
    return object


def _missing_frame(design: _Design, rows: dict) -> pd.DataFrame:
    n_items = len(design.items)
    flat = rows["wave"] * n_items + rows["item"]
    present = np.bincount(flat, minlength=len(design.waves) * n_items) > 0
    missing = np.bincount(flat, weights=rows["missing"].astype(float), minlength=len(design.waves) * n_items)
    wave_i, item_i = np.divmod(np.flatnonzero(present), n_items)
    return pd.DataFrame({
        "wave": pd.Series(design.waves, dtype=_label_dtype(design.waves)).to_numpy()[wave_i],
        "item": np.array(design.items, dtype=object)[item_i],
        "missing": missing[present].astype(np.int64),
    })


__all__ = [
    "ALL",
    "COLUMNS",
    "POOLED_UNIT",
    "AnswersError",
    "IndexTable",
    "Scale",
    "ScaleError",
    "compute_index_table",
]
