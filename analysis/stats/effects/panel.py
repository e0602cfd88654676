"""The panel of one effects estimation: participants x waves x items as arrays, attrition,
resampling (cluster bootstrap weights, re-randomizations) and the two-arm comparison they feed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.stats.bootstrap import percentile_interval, resample_weights
from analysis.stats.tables import AnswersError, Scale

POOLED = "pooled"
_MIN_VALID_RESAMPLES = 10
_MAX_ELEMENTS = 2**22


# --------------------------------------------------------------------------- Holm


def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    stepped = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(stepped), 1.0)
    return out


# --------------------------------------------------------------------------- panel


def _infer_scale(values: np.ndarray) -> Scale:
    """Observed minimum to maximum; step 1 for whole numbers, else the smallest gap."""
    finite = np.unique(values[np.isfinite(values)])
    if finite.size < 2:
        low = float(finite[0]) if finite.size else 1.0
        return Scale(low, low + 1.0, 1.0)
    if np.allclose(finite, np.round(finite)):
        return Scale(float(finite[0]), float(finite[-1]), 1.0)
    return Scale(float(finite[0]), float(finite[-1]), float(np.diff(finite).min()))


@dataclass
class _Panel:
    ids: np.ndarray
    waves: np.ndarray
    items: list
    values: np.ndarray  # (n, T, J), NaN = no value
    present: np.ndarray  # (n, T): any answer row in the wave
    arm: np.ndarray  # (n,) arm names
    group: np.ndarray | None  # (n,) codes into group_names
    group_names: list
    strata: np.ndarray  # (n,) codes
    item_codes: np.ndarray  # (rows,) item of each answer row
    by: str | None = None
    control: str = ""


def _per_participant(codes: np.ndarray, frame: pd.DataFrame, column: str, ids) -> np.ndarray:
    """The one value of ``column`` each participant has; an empty cell or a second value is an
    :class:`AnswersError` naming the row."""
    raw = frame[column]
    empty = raw.isna().to_numpy()
    if empty.any():
        first = int(np.flatnonzero(empty)[0])
        raise AnswersError("is empty", row=frame.index[first], column=column)
    names = None
    if isinstance(raw.dtype, pd.CategoricalDtype):
        # One label per category and an integer code per row (the compact frame of the
        # pipeline): compared as codes of the labels, never as one string per answer.
        label_codes, distinct = pd.factorize(np.asarray(raw.cat.categories.astype(str), dtype=object), sort=False)
        labels = label_codes[raw.cat.codes.to_numpy()]
        names = np.asarray(distinct, dtype=object)
    else:
        labels = raw.astype(str).to_numpy(dtype=object)
    first_row = np.full(len(ids), -1, dtype=np.intp)
    order = np.arange(codes.size)[::-1]
    first_row[codes[order]] = order  # the last write per participant is its first row
    del order
    out = labels[first_row]
    differs = labels != out[codes]
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        here, earlier = labels[row], out[codes[row]]
        if names is not None:
            here, earlier = names[here], names[earlier]
        raise AnswersError(
            f"participant {ids[codes[row]]!r} has {here!r} here but {earlier!r} in an earlier row",
            row=frame.index[row],
            column=column,
        )
    return out if names is None else names[out]


def _numeric_values(frame: pd.DataFrame) -> np.ndarray:
    """Values as floats; NaN and rows flagged ``missing`` ("don't know") become NaN."""
    column = frame["value"]
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnswersError(
            f"{column.iloc[first]!r} is not a number", row=frame.index[first], column="value"
        )
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    if "missing" in frame.columns and pd.api.types.is_bool_dtype(frame["missing"]):
        values = np.where(frame["missing"].fillna(False).to_numpy(dtype=bool), np.nan, values)
    return values


def _build_panel(answers: pd.DataFrame, arm_column: str, by: str | None, strata: str | None) -> _Panel:
    for column in ("participant", "wave", "item", "value", arm_column, *(c for c in (by, strata) if c)):
        if column not in answers.columns:
            raise AnswersError(f"the answers have no column {column!r}")
    frame = answers
    for column in ("participant", "wave", "item"):
        empty = frame[column].isna().to_numpy()
        if empty.any():
            first = int(np.flatnonzero(empty)[0])
            raise AnswersError("is empty", row=frame.index[first], column=column)
    p_codes, ids = pd.factorize(frame["participant"], sort=False)
    wave = pd.to_numeric(frame["wave"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(wave) | (wave != np.round(wave))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnswersError(
            f"{frame['wave'].iloc[first]!r} is not a whole wave number",
            row=frame.index[first],
            column="wave",
        )
    waves, t_codes = np.unique(wave.astype(np.int64), return_inverse=True)
    item_col = frame["item"]
    if isinstance(item_col.dtype, pd.CategoricalDtype):
        item_col = item_col.astype(str)
    j_codes, items = pd.factorize(item_col, sort=False)
    n, T, J = len(ids), len(waves), len(items)
    flat = (p_codes * T + t_codes) * J + j_codes
    # A count per cell finds a repeated answer without a hash table of every answer; the
    # first repeat is then looked up as before.
    repeated = np.bincount(flat, minlength=n * T * J).max(initial=0) > 1
    seen = pd.Series(flat).duplicated().to_numpy() if repeated else np.zeros(0, dtype=bool)
    if seen.any():
        row = int(np.flatnonzero(seen)[0])
        raise AnswersError(
            f"participant {ids[p_codes[row]]!r} answered item {items[j_codes[row]]!r} twice "
            f"in wave {waves[t_codes[row]]}",
            row=frame.index[row],
            column="item",
        )
    values = np.full(n * T * J, np.nan)
    values[flat] = _numeric_values(frame)
    present = np.zeros(n * T, dtype=bool)
    present[p_codes * T + t_codes] = True
    p_ids = np.asarray(ids, dtype=object)
    arm = _per_participant(p_codes, frame, arm_column, p_ids)
    group, group_names = None, []
    if by:
        raw = _per_participant(p_codes, frame, by, p_ids)
        group_names = sorted(set(raw))
        group = np.searchsorted(np.asarray(group_names, dtype=object), raw)
    if strata and strata != by:
        raw = _per_participant(p_codes, frame, strata, p_ids)
        strata_codes = np.unique(raw, return_inverse=True)[1]
    elif strata:
        strata_codes = group
    else:
        strata_codes = np.zeros(n, dtype=np.intp)
    return _Panel(
        item_codes=j_codes,
        by=by,
        ids=p_ids,
        waves=waves,
        items=[str(item) for item in items],
        values=values.reshape(n, T, J),
        present=present.reshape(n, T),
        arm=np.asarray(arm, dtype=object),
        group=group,
        group_names=group_names,
        strata=np.asarray(strata_codes, dtype=np.intp),
    )


# --------------------------------------------------------------------------- attrition


def attrition_table(
    present: pd.DataFrame | np.ndarray,
    arms: np.ndarray | None = None,
    waves: np.ndarray | None = None,
    *,
    control: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Completion per arm and wave, and a test that intervention arms differ from control.

    ``present`` is a boolean (participants x waves) array with ``arms`` (participants,) and
    ``waves``. Completion = participants with an answer row in the wave / participants of the
    arm. Each intervention arm against control per wave: Pearson chi-square on the 2x2 table
    (completed or not x arm), p = 1 when nobody (or everybody) is missing in both arms; p_holm
    adjusts over the waves of one arm; ``differential`` = p_holm < alpha.
    """
    present = np.asarray(present, dtype=bool)
    arms = np.asarray(arms, dtype=object)
    waves = np.arange(1, present.shape[1] + 1) if waves is None else np.asarray(waves)
    names = [control] + sorted(set(arms) - {control})
    rows = []
    ctrl = present[arms == control]
    for name in names:
        members = present[arms == name]
        completed = members.sum(axis=0)
        p = np.full(len(waves), np.nan)
        if name != control:
            for t in range(len(waves)):
                table = np.array(
                    [
                        [completed[t], members.shape[0] - completed[t]],
                        [ctrl[:, t].sum(), ctrl.shape[0] - ctrl[:, t].sum()],
                    ],
                    dtype=float,
                )
                if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
                    p[t] = 1.0
                else:
                    p[t] = sps.chi2_contingency(table, correction=False)[1]
        adjusted = holm(p)
        for t, wave in enumerate(waves):
            size = members.shape[0]
            rows.append(
                {
                    "arm": name,
                    "wave": int(wave),
                    "participants": int(size),
                    "completed": int(completed[t]),
                    "completion": completed[t] / size if size else np.nan,
                    "p_value": p[t],
                    "p_holm": adjusted[t],
                    "differential": bool(adjusted[t] < alpha) if name != control else False,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- resampling


def _stratified_weights(strata: np.ndarray, n_resamples: int, rng, out: np.ndarray | None = None) -> np.ndarray:
    """(B, m) bootstrap draw counts: participants resampled with replacement within stratum;
    written into ``out`` when given (each chunk of draws in place: no second copy)."""
    if out is None:
        out = np.zeros((n_resamples, strata.size), dtype=np.float32)
    if n_resamples == 0:
        return out
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        done = 0
        for chunk in resample_weights(members.size, n_resamples, rng, max_elements=_MAX_ELEMENTS, dtype=np.float32):
            out[done:done + chunk.shape[0], members] = chunk
            done += chunk.shape[0]
            del chunk
    return out


def _permuted_treatments(treated: np.ndarray, strata: np.ndarray, n_permutations: int, rng) -> np.ndarray:
    """(R, m) 0/1 treatment vectors, labels shuffled within each stratum."""
    out = np.empty((n_permutations, treated.size), dtype=np.float32)
    if n_permutations == 0:
        return out
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        labels = treated[members].astype(np.float32)
        step = max(1, _MAX_ELEMENTS // max(1, members.size))
        for start in range(0, n_permutations, step):
            stop = min(n_permutations, start + step)
            # A uniformly random relabelling = the members with the n_treated smallest of
            # independent uniform keys are treated (ties have probability 0).
            n_treated = int(labels.sum())
            if n_treated in (0, members.size):
                out[start:stop, members] = labels
                continue
            keys = rng.random((stop - start, members.size))
            cut = np.partition(keys, n_treated - 1, axis=1)[:, n_treated - 1 : n_treated]
            out[start:stop, members] = keys <= cut
    return out


# --------------------------------------------------------------------------- estimation


@dataclass
class _GroupBlock:
    """The participants of one group within a comparison (indices into the pool)."""

    members_t: np.ndarray
    weights_t: np.ndarray  # (1 + B, members_t) draw counts, first row = observed (ones)
    members_c: np.ndarray
    weights_c: np.ndarray
    members: np.ndarray

    def permutations(self, comparison: _Comparison) -> np.ndarray:
        """(R, members) 0/1: the group's columns of the comparison's re-randomized labels, a
        copy made when needed (not kept beside the comparison's own)."""
        return np.ascontiguousarray(comparison.permutations[:, self.members])


@dataclass
class _Comparison:
    """Participants of one intervention arm and the control arm in one sample."""

    arm: str
    sample: str
    pool: np.ndarray  # indices into the panel
    treated: np.ndarray  # (m,) bool within pool
    permutations: np.ndarray  # (R, m) 0/1
    blocks: list  # one _GroupBlock per group (one block without a grouping column)


def _comparison(panel, arm, sample, keep, bootstrap, permutations, streams) -> _Comparison | None:
    pool = np.flatnonzero(keep & ((panel.arm == arm) | (panel.arm == panel.control)))
    treated = panel.arm[pool] == arm
    if treated.sum() == 0 or (~treated).sum() == 0:
        return None
    boot_seq, perm_seq = streams
    boot_rng = np.random.default_rng(boot_seq)
    strata = panel.strata[pool]
    boot_t = np.ones((1 + bootstrap, int(treated.sum())), dtype=np.float32)
    boot_c = np.ones((1 + bootstrap, int((~treated).sum())), dtype=np.float32)
    _stratified_weights(strata[treated], bootstrap, boot_rng, out=boot_t[1:])
    _stratified_weights(strata[~treated], bootstrap, boot_rng, out=boot_c[1:])
    perms = _permuted_treatments(treated, strata, permutations, np.random.default_rng(perm_seq))
    groups = panel.group[pool] if panel.group is not None else np.zeros(pool.size, np.intp)
    index_t, index_c = np.flatnonzero(treated), np.flatnonzero(~treated)
    blocks = []
    for g in range(max(1, len(panel.group_names))):
        in_t = groups[index_t] == g
        in_c = groups[index_c] == g
        members = np.flatnonzero(groups == g)
        blocks.append(
            _GroupBlock(
                members_t=index_t[in_t],
                weights_t=np.ascontiguousarray(boot_t[:, in_t]),
                members_c=index_c[in_c],
                weights_c=np.ascontiguousarray(boot_c[:, in_c]),
                members=members,
            )
        )
    del boot_t, boot_c
    return _Comparison(
        arm=arm, sample=sample, pool=pool, treated=treated, permutations=perms, blocks=blocks
    )


def _item_slices(n_waves: int, grids: list) -> list[slice]:
    """The columns of each item of the count tables (waves * k_j each)."""
    bounds = np.concatenate([[0], np.cumsum([n_waves * grid.k for grid in grids])]).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _item_onehot(column: np.ndarray, grid) -> np.ndarray:
    """One-hot answers (m, waves * k) of one item's answers (m, waves)."""
    m, T = column.shape
    out = np.zeros((m, T * grid.k), dtype=np.float32)
    p_idx, t_idx = np.nonzero(np.isfinite(column))
    cats = np.rint((column[p_idx, t_idx] - grid.min) / grid.step).astype(np.intp)
    out[p_idx, t_idx * grid.k + cats] = 1.0
    return out


@dataclass
class _CountTables:
    """Resampled and re-randomized count tables of every group, all items side by side."""

    treated: list  # per group (1 + B, columns)
    control: list
    perm_treated: list  # per group (R, columns)
    perm_control: list


def _count_tables(comparison: _Comparison, values: np.ndarray, grids: list) -> tuple[_CountTables, list[slice]]:
    """Count tables of the comparison's participants' answers ``values`` (m, waves, items), all
    items side by side (columns of :func:`_item_slices`), built one item at a time: one item's
    one-hot answers are in memory at once, never all items' (m x 1,400 floats with 20 waves
    and 10 seven-point items). Every entry is a sum of whole-number products below 2**24, exact
    in float32 in any order, so the tables are those of the whole one-hot matrix."""
    m, T, _ = values.shape
    slices = _item_slices(T, grids)
    width = slices[-1].stop if slices else 0
    has_perms = comparison.permutations.shape[0] > 0
    tables = _CountTables([], [], [], [])
    for block in comparison.blocks:
        tables.treated.append(np.empty((block.weights_t.shape[0], width), dtype=np.float32))
        tables.control.append(np.empty((block.weights_c.shape[0], width), dtype=np.float32))
        if has_perms:
            tables.perm_treated.append(np.empty((comparison.permutations.shape[0], width), dtype=np.float32))
            tables.perm_control.append(np.empty((comparison.permutations.shape[0], width), dtype=np.float32))
    for j, grid in enumerate(grids):
        onehot = _item_onehot(values[:, :, j], grid)
        for b, block in enumerate(comparison.blocks):
            tables.treated[b][:, slices[j]] = block.weights_t @ onehot[block.members_t]
            tables.control[b][:, slices[j]] = block.weights_c @ onehot[block.members_c]
        del onehot
    if has_perms:
        for b, block in enumerate(comparison.blocks):
            permutations = block.permutations(comparison)
            for j, grid in enumerate(grids):
                group_onehot = _item_onehot(values[block.members, :, j], grid)
                perm_t = permutations @ group_onehot
                tables.perm_treated[b][:, slices[j]] = perm_t
                tables.perm_control[b][:, slices[j]] = group_onehot.sum(axis=0)[None, :] - perm_t
            del permutations
    return tables, slices


def _bootstrap_summary(estimate: float, replicates: np.ndarray, level: float):
    valid = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or valid.size < _MIN_VALID_RESAMPLES:
        return np.nan, np.nan, np.nan, np.nan
    se = float(valid.std(ddof=1))
    low, high = percentile_interval(valid, level)
    below = (1 + np.sum(valid <= 0)) / (valid.size + 1)
    above = (1 + np.sum(valid >= 0)) / (valid.size + 1)
    return se, float(low), float(high), float(min(1.0, 2 * min(below, above)))


def _ri_p(estimate: float, permuted: np.ndarray) -> float:
    valid = permuted[np.isfinite(permuted)]
    if not np.isfinite(estimate) or valid.size == 0:
        return np.nan
    tolerance = 1e-9 * max(1.0, abs(estimate))
    return float((1 + np.sum(np.abs(valid) >= abs(estimate) - tolerance)) / (valid.size + 1))
