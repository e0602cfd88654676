r"""Every index of the glossary for weighted respondents (survey weights, frequency weights).

:func:`weighted_index_table` takes the long answers of :func:`analysis.stats.tables.compute_index_table`
plus one weight per respondent (a column, constant within a respondent and wave) and returns the
same long table. Definitions:

* **Category shares** are weighted: p_c = (sum of the weights of the respondents answering c) /
  (sum of the weights of the respondents answering the item). Every count-based index
  (``agreement_a``, ``leik_d``, ``tw_consensus``, ``entropy_norm``, ``esteban_ray``), the
  ``mean`` and the between-group ``group_gap``, ``wasserstein``, ``overlap`` and ``alignment``
  depend on the shares only, so with integer weights they equal the values of the file with
  each row repeated w times.
* **Moments** (``mean``, ``sd``, ``bimodality``) are weighted moments; **pairwise differences**
  (``mad_pairwise``) the weighted mean over ordered pairs of distinct people; ``constraint`` the
  mean |r| of weighted Pearson correlations (pairwise complete).
* Where a small-sample correction in n enters (``sd``, ``mad_pairwise``, ``bimodality``,
  ``cohens_d``), the kind of weight decides what n is, as Stata's ``fweight`` and ``pweight``:

  - ``frequency``: a weight counts identical respondents; n = sum of the weights. Every index,
    corrections included, equals the expanded file's; ``sd`` equals statsmodels'
    ``DescrStatsW(x, weights=w, ddof=1).std``. Weights must be whole numbers.
  - ``sampling``: a weight is an inverse selection probability, known only up to a constant;
    n = the number of respondents, i.e. the weights are rescaled to sum to the number of
    respondents of the cell (Stata's normalization of ``aweight``; the point estimates of
    ``pweight``). ``sd`` equals ``DescrStatsW(x, weights=w * n / sum(w), ddof=1).std``. The
    values do not change when all weights are multiplied by a constant.

  In formulas: the cell's effective counts are ``W_c * n / sum(W)`` with W_c the weighted counts
  and n as above; the index functions of :mod:`analysis.stats.indices` run on these.
* ``n`` (the index and the column) is sum(w) for frequency weights and the number of
  respondents for sampling weights.

Intervals: percentile bootstrap over replicate weights (:mod:`analysis.stats.design_bootstrap`):
the expanded file's bootstrap for frequency weights; the Rao-Wu rescaling bootstrap for sampling
weights or when ``strata``/``cluster`` are given. Every row of one wave (per cell, pairs, pooled,
constraint, alignment) comes from the same replicates, one random stream per wave.

Weights are checked: a missing, non-numeric, negative or infinite weight, a frequency weight that
is not a whole number, a respondent with two weights in one wave, or weights of a wave summing to
0 raise :class:`~analysis.stats.tables.AnswersError` naming the row and column.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import combinations
from types import SimpleNamespace

import numpy as np
import pandas as pd

from analysis.stats import glossary, tables
from analysis.stats import indices as ix
from analysis.stats.bootstrap import check_bootstrap_options, percentile_interval
from analysis.stats.design_bootstrap import KINDS, DesignError, replicate_weights
from analysis.stats.tables import PARTICIPANT_PARTS, AnswersError, IndexTable, Scale

__all__ = ["KINDS", "WeightedWave", "count_statistics", "respondent_weights", "weighted_index_table"]

_CHUNK_ELEMENTS = 2**23


# --------------------------------------------------------------------------- weights


def respondent_weights(column: pd.Series, *, kind: str, name: str = "weight") -> np.ndarray:
    """The weights of a column as floats, refusing missing, non-numeric, negative, infinite and
    (for ``frequency``) fractional weights with an :class:`AnswersError` naming the row."""
    if kind not in KINDS:
        raise ValueError(f"weight kind must be one of {', '.join(KINDS)}, got {kind!r}")
    numbers = pd.to_numeric(column, errors="coerce")
    empty = column.isna() | column.astype(str).str.strip().isin(["", "NA", "nan", "None"])

    def refuse(mask, detail):
        if mask.any():
            first = int(np.flatnonzero(np.asarray(mask))[0])
            raise AnswersError(detail(column.iloc[first]), row=column.index[first], column=name)

    refuse(empty.to_numpy(), lambda v: "missing weight (every respondent needs one)")
    refuse((numbers.isna() & ~empty).to_numpy(), lambda v: f"{v!r} is not a number")
    values = numbers.to_numpy(dtype=float)
    refuse(~np.isfinite(values), lambda v: f"{v!r} is not a finite weight")
    refuse(values < 0, lambda v: f"negative weight {v}")
    if kind == "frequency":
        refuse(values != np.round(values), lambda v: f"frequency weight {v} is not a whole number "
                                                     f"(use --weight-kind sampling)")
    return values


# --------------------------------------------------------------------------- from counts


_UNIT = SimpleNamespace(min=0.0, max=1.0)  # an item's scale rescaled to [0, 1]


def _reversed(name: str, value: np.ndarray, scales, local_reverse: np.ndarray) -> np.ndarray:
    """A per-item index (items on axis -2) as if the reverse-coded items were flipped: what
    flipping their counts gives, without recomputing (``mean`` mirrors, gaps change sign)."""
    rule = glossary.entry(name).reverse
    if rule is None or not local_reverse.any():
        return value
    value = value.copy()
    if rule == glossary.MIRROR:
        centre = np.array([s.min + s.max for s in scales])[local_reverse][:, None]
        value[..., local_reverse, :] = centre - value[..., local_reverse, :]
    else:
        value[..., local_reverse, :] = -value[..., local_reverse, :]
    return value


def count_statistics(design, counts: np.ndarray, *, pooled: bool = True, alignment: bool = True,
                     shares: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Indices from effective counts ``(..., items, slots, kmax)`` (categories beyond an item's
    k are 0): ``{"cell": {name: (..., items, slots)}, "pair": {name: (..., items, pairs)},
    "pooled": {name: (..., slots or pairs)}}``, ``mean`` and ``sd`` on the items' own scales in
    the cell rows and on the 0-1 scale (percent of maximum possible / 100) in the pooled rows.

    Pooled values are the means over the items where the index is defined, reverse-coded items
    flipped; ``alignment`` the mean over items of eta between item and two-group split, from
    ``shares`` when given (the weighted counts before rescaling: eta weighs the groups by their
    weighted sizes, which the per-cell rescaling of sampling weights would change).
    """
    shares = counts if shares is None else shares
    lead = counts.shape[:-3]
    n_items, n_slots = counts.shape[-3], counts.shape[-2]
    pa = [p.a for p in design.pairs]
    pb = [p.b for p in design.pairs]
    cell: dict[str, np.ndarray] = {}
    pair: dict[str, np.ndarray] = {}
    per_item: dict[str, np.ndarray] = {}

    def put(target, name, index, value, width):
        if name not in target:
            target[name] = np.full((*lead, n_items, width), np.nan)
        target[name][..., index, :] = value

    for k, index in tables._by_k(design).items():
        scales = [design.scales[i] for i in index]
        c = counts[..., index, :, :k]
        flip = design.reverse[index]
        for name, codes in ix.cell_indices(c).items():
            put(cell, name, index, tables._on_item_scale(name, codes, scales, -2), n_slots)
            if pooled and name != "n":  # pooled over items on the 0-1 scale (POMP/100)
                unit = tables._on_unit_scale(name, codes, scales, -2)
                put(per_item, name, index, _reversed(name, unit, [_UNIT] * len(scales), flip), n_slots)
        if pa:
            for name, value in ix.pair_indices(c[..., pa, :], c[..., pb, :]).items():
                put(pair, name, index, value, len(pa))
                if pooled:
                    put(per_item, name, index, _reversed(name, value, scales, flip), len(pa))
        if alignment and pa:
            raw = shares[..., index, :, :k]
            both = np.stack([raw[..., pa, :], raw[..., pb, :]], axis=-2)
            put(per_item, "alignment", index, ix.correlation_ratio(both), len(pa))
    pooled_values = {name: tables._nanmean(value, axis=-2) for name, value in per_item.items()}
    return {"cell": cell, "pair": pair, "pooled": pooled_values}


def effective_counts(weighted: np.ndarray, respondents: np.ndarray | None) -> np.ndarray:
    """Weighted counts rescaled to sum to the number of respondents of each cell (sampling
    weights), or unchanged (``respondents`` None: frequency weights)."""
    if respondents is None:
        return weighted
    total = weighted.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = weighted * (respondents[..., None] / total)
    return np.where(total > 0, scaled, 0.0)


# --------------------------------------------------------------------------- one wave


class WeightedWave:
    """The respondents of one wave: codes ``(people, items)`` (0 = no answer), group index per
    ``by`` column (-1 = none), weights; every statistic for given (replicate) weights."""

    def __init__(self, design, codes: np.ndarray, groups: list[np.ndarray], weights: np.ndarray, kind: str,
                 parts: set[str], present_items: np.ndarray):
        self.design, self.kind, self.parts = design, kind, parts
        self.weights = weights
        n_people, n_items = codes.shape
        self.kmax = int(design.k.max())
        self.member = tables._slot_matrix(design, groups, n_people).astype(float)  # (people, slots)
        answered = codes > 0
        self.present_items = present_items
        self.onehot = np.zeros((n_people, n_items * self.kmax))
        rows, items = np.nonzero(answered)
        self.onehot[rows, items * self.kmax + codes[rows, items] - 1] = 1.0
        self.respondents = (self.member.T @ answered.astype(float)).T  # (items, slots)
        anyone = answered.any(axis=1).astype(float)
        self.anyone = anyone
        self.slot_people = self.member.T @ anyone  # (slots,)
        self.pairs = []
        if "constraint" in parts:
            self.pairs = list(combinations(range(n_items), 2))
        if self.pairs:
            x = np.where(answered, codes - 1, 0).astype(float)
            m = answered.astype(float)
            j, l_ = (np.array(v) for v in zip(*self.pairs, strict=True))
            self.features = np.concatenate([m[:, j] * m[:, l_], x[:, j] * m[:, l_], x[:, l_] * m[:, j],
                                            x[:, j] ** 2 * m[:, l_], x[:, l_] ** 2 * m[:, j], x[:, j] * x[:, l_]],
                                           axis=1)

    def width(self) -> int:
        return max(self.onehot.shape[1], 6 * len(self.pairs), 1) * self.member.shape[1]

    def weighted_counts(self, weights: np.ndarray) -> np.ndarray:
        """``(..., items, slots, kmax)`` sums of weights per category."""
        n_items = self.respondents.shape[0]
        per_slot = [(weights * self.member[:, s]) @ self.onehot for s in range(self.member.shape[1])]
        stacked = np.stack(per_slot, axis=-2)  # (..., slots, items * kmax)
        stacked = stacked.reshape(*stacked.shape[:-1], n_items, self.kmax)
        return np.swapaxes(stacked, -3, -2)

    def statistic(self, weights: np.ndarray | None = None) -> dict:
        weights = self.weights if weights is None else weights
        respondents = None if self.kind == "frequency" else self.respondents
        weighted = self.weighted_counts(weights)
        result = count_statistics(self.design, effective_counts(weighted, respondents), pooled="pooled" in self.parts,
                                  alignment="alignment" in self.parts, shares=weighted)
        if self.pairs and self.present_items.sum() >= 2:
            sums = np.stack([(weights * self.member[:, s]) @ self.features for s in range(self.member.shape[1])],
                            axis=-2)
            block = np.split(sums, 6, axis=-1)
            r = ix.pairwise_correlations(*block)
            result["pooled"]["constraint"] = ix.mean_abs_correlation(r)
        return result

    def pooled_n(self) -> np.ndarray:
        if self.kind == "frequency":
            return (self.weights * self.anyone) @ self.member
        return self.slot_people


# --------------------------------------------------------------------------- frames


def frames_of_wave(design, w: int, observed: dict, intervals: dict, *, present_items: np.ndarray,
                   present_slots: np.ndarray, cell_n: np.ndarray, pooled_n: np.ndarray | None) -> list[pd.DataFrame]:
    """Rows of one wave in the internal layout of :func:`analysis.stats.tables._assemble`.

    ``cell_n`` ``(items, slots)``, ``pooled_n`` ``(slots,)`` (None: no pooled rows)."""
    n_slots = len(design.slots)
    pa = np.array([p.a for p in design.pairs], dtype=np.int64)
    pb = np.array([p.b for p in design.pairs], dtype=np.int64)
    pair_present = present_slots[pa] & present_slots[pb] if len(pa) else np.zeros(0, bool)
    columns: dict[str, list] = {c: [] for c in ("_item", "_group", "_index", "value", "ci_low", "ci_high", "n")}

    def add(name, value, low, high, n, item, group, keep):
        if glossary.entry(name).count:
            low = high = np.full(value.shape, np.nan)
        undefined = ~np.isfinite(value)
        parts = {"_item": item[keep], "_group": group[keep],
                 "_index": np.full(int(np.count_nonzero(keep)), tables.INDEX_ORDER.index(name)),
                 "value": value[keep], "ci_low": np.where(undefined, np.nan, low)[keep],
                 "ci_high": np.where(undefined, np.nan, high)[keep], "n": np.round(n[keep]).astype(np.int64)}
        for column, part in parts.items():
            columns[column].append(np.asarray(part).reshape(-1))

    nan_pair = (np.full(0, np.nan),) * 2
    n_items = len(design.items)
    item_grid = np.broadcast_to(np.arange(n_items)[:, None], (n_items, n_slots))
    slot_grid = np.broadcast_to(np.arange(n_slots)[None, :], (n_items, n_slots))
    keep = present_items[:, None] & present_slots[None, :]
    for name, value in observed["cell"].items():
        low, high = intervals.get(("cell", name), nan_pair)
        low, high = (np.broadcast_to(b, value.shape) if b.size else np.full(value.shape, np.nan) for b in (low, high))
        add(name, value, low, high, cell_n, item_grid, slot_grid, keep)
    if len(pa):
        pair_n = cell_n[:, pa] + cell_n[:, pb]
        pitem = np.broadcast_to(np.arange(n_items)[:, None], pair_n.shape)
        pgroup = np.broadcast_to((n_slots + np.arange(len(pa)))[None, :], pair_n.shape)
        pkeep = present_items[:, None] & pair_present[None, :]
        for name, value in observed["pair"].items():
            low, high = intervals.get(("pair", name), nan_pair)
            low, high = (b if b.size else np.full(value.shape, np.nan) for b in (low, high))
            add(name, value, low, high, pair_n, pitem, pgroup, pkeep)
    if pooled_n is not None and observed["pooled"]:
        item = np.full(max(n_slots, len(pa)), n_items)
        add("n", pooled_n.astype(float), np.full(n_slots, np.nan), np.full(n_slots, np.nan), pooled_n,
            item[:n_slots], np.arange(n_slots), present_slots)
        for name, value in observed["pooled"].items():
            low, high = intervals.get(("pooled", name), nan_pair)
            low, high = (b if b.size else np.full(value.shape, np.nan) for b in (low, high))
            if glossary.entry(name).pair_key:
                n = pooled_n[pa] + pooled_n[pb]
                add(name, value, low, high, n, item[:len(pa)], n_slots + np.arange(len(pa)), pair_present)
            else:
                add(name, value, low, high, pooled_n, item[:n_slots], np.arange(n_slots), present_slots)
    if not columns["value"]:
        return []
    frame = pd.DataFrame({column: np.concatenate(parts) for column, parts in columns.items()})
    frame.insert(0, "_wave", w)
    return [frame]


def intervals_of(samples: dict, level: float) -> dict:
    return {key: percentile_interval(np.concatenate(parts), level) for key, parts in samples.items()}


def collect(samples: dict, stats: dict) -> None:
    for family, values in stats.items():
        for name, value in values.items():
            samples.setdefault((family, name), []).append(value)


# --------------------------------------------------------------------------- entry point


def _labels_per_person(values: np.ndarray, local: np.ndarray, n_people: int, what: str, wave_label, rows,
                       labels, column: str):
    first = np.full(n_people, -1, dtype=np.int64)
    order = np.arange(len(local))
    first[local[::-1]] = order[::-1]
    person = values[first]
    differ = values != person[local]
    if np.any(differ):
        at = int(np.flatnonzero(differ)[0])
        raise AnswersError(f"a respondent has two {what} in wave {wave_label!r}", row=labels[rows[at]], column=column)
    return person


def weighted_index_table(
    answers: pd.DataFrame,
    *,
    scales: Mapping[str, Scale] | Scale,
    weight: str = "weight",
    kind: str = "sampling",
    by: Sequence[str] = (),
    reverse: Collection[str] = (),
    strata: str | None = None,
    cluster: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    missing_codes: Iterable[float] = (),
    participant_indices: Collection[str] = PARTICIPANT_PARTS,
) -> IndexTable:
    """The index table of :func:`~analysis.stats.tables.compute_index_table` for weighted
    respondents (module docstring): ``weight`` names the weight column, ``kind`` is
    ``frequency`` or ``sampling``, ``strata`` and ``cluster`` name design columns for the
    Rao-Wu bootstrap. Returns the same columns; ``parameters`` record the weighting."""
    check_bootstrap_options(bootstrap, level)
    if kind not in KINDS:
        raise ValueError(f"weight kind must be one of {', '.join(KINDS)}, got {kind!r}")
    by = tuple(by)
    design_columns = [c for c in (weight, strata, cluster) if c]
    for column in design_columns:
        if column not in answers.columns:
            raise AnswersError(f"the answers have no column {column!r}")
    parts = set(participant_indices)
    design, rows = tables._design_and_rows(answers, scales, by, tuple(reverse), tuple(missing_codes))
    row_weights = respondent_weights(answers[weight], kind=kind, name=weight)
    design_labels = {}
    for name in (strata, cluster):
        if name:
            column = answers[name]
            empty = column.isna() | (column.astype(str).str.strip() == "")
            if empty.any():
                first = int(np.flatnonzero(empty.to_numpy())[0])
                raise AnswersError("empty design label", row=answers.index[first], column=name)
            design_labels[name] = column.astype(str).to_numpy()
    labels = rows["labels"]
    frames = []
    n_items = len(design.items)
    for w, r in enumerate(tables._split_waves(rows["wave"], len(design.waves))):
        wave_label = design.waves[w]
        people, local = np.unique(rows["participant"][r], return_inverse=True)
        n_people = len(people)
        item = rows["item"][r]
        flat = local * n_items + item
        if np.bincount(flat, minlength=n_people * n_items).max(initial=0) > 1:
            twice = np.flatnonzero(np.bincount(flat)[flat] > 1)[1]
            raise AnswersError(f"a respondent answers item {design.items[item[twice]]!r} of wave {wave_label!r} twice",
                               row=labels[r[twice]], column="item")
        codes = np.zeros((n_people, n_items), dtype=np.int64)
        codes[local, item] = rows["category"][r]
        # Items with rows in this wave (answers or missing) are present.
        present = np.bincount(item, minlength=n_items) > 0
        person_weights = _labels_per_person(row_weights[r], local, n_people, "weights", wave_label, r, labels, weight)
        if not person_weights.sum() > 0:
            raise AnswersError(f"the weights of wave {wave_label!r} sum to 0", row=labels[r[0]], column=weight)
        groups = []
        for c, column in enumerate(by):
            row_group = rows["groups"][c][r]
            group = np.full(n_people, -1, dtype=np.int64)
            has = row_group >= 0
            group[local[has]] = row_group[has]
            if np.any(has & (group[local] != row_group)):
                at = int(np.flatnonzero(has & (group[local] != row_group))[0])
                raise AnswersError(f"a respondent has several values of grouping column {column!r} in wave "
                                   f"{wave_label!r}", row=labels[r[at]], column=column)
            groups.append(group)
        design_of_person = {name: _labels_per_person(values[r], local, n_people, f"values of {name!r}", wave_label,
                                                     r, labels, name)
                            for name, values in design_labels.items()}
        wave = WeightedWave(design, codes, groups, person_weights, kind, parts, present)
        observed = wave.statistic()
        intervals = {}
        if bootstrap:
            rng = np.random.default_rng([seed, 2, w])
            chunk = max(8, min(bootstrap, _CHUNK_ELEMENTS // max(n_people, wave.width())))
            samples: dict = {}
            try:
                replicates = replicate_weights(person_weights, bootstrap, rng, kind=kind,
                                               strata=design_of_person.get(strata) if strata else None,
                                               clusters=design_of_person.get(cluster) if cluster else None,
                                               chunk=chunk)
                for replicate in replicates:
                    collect(samples, wave.statistic(replicate))
            except DesignError as error:
                raise AnswersError(f"wave {wave_label!r}: {error}", column=strata) from None
            intervals = intervals_of(samples, level)
        cell_n = np.round(wave.weighted_counts(person_weights).sum(axis=-1)) if kind == "frequency" \
            else wave.respondents
        has_pooled = bool(parts & {"pooled", "constraint", "alignment"})
        frames += frames_of_wave(design, w, observed, intervals, present_items=present,
                                 present_slots=wave.member.any(axis=0), cell_n=cell_n,
                                 pooled_n=wave.pooled_n() if has_pooled else None)
    frame = tables._assemble(design, frames)
    missing = tables._missing_frame(design, rows)
    parameters = tables._parameters(bootstrap, seed, level, by, reverse)
    parameters.update({"weight": weight, "weight_kind": kind, "strata": strata, "cluster": cluster})
    return IndexTable(frame, missing, parameters)
