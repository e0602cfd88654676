"""`estimate_effects`: every effect of a study from its answers, and the table it returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.stats import glossary
from analysis.stats.effects.did import _constraint_rows, _index_rows, _PooledIndices
from analysis.stats.effects.panel import (
    POOLED,
    _build_panel,
    _comparison,
    _count_tables,
    _infer_scale,
    _numeric_values,
    _Panel,
    attrition_table,
    holm,
)
from analysis.stats.effects.twfe import _twfe_rows, _TwfeRandomization
from analysis.stats.tables import Scale

RECORD_FIELDS: tuple[str, ...] = (
    "arm",
    "outcome",
    "item",
    "wave",
    "method",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "n",
)
EXTRA_FIELDS: tuple[str, ...] = (
    "group",
    "sample",
    "p_ri",
    "n_obs",
    "attrition_warning",
    "primary",
)
INDIVIDUAL_OUTCOMES: tuple[str, ...] = ("value", "extremity", "distance_other_group")
DEFAULT_INDICES: tuple[str, ...] = glossary.where(glossary.CELL, glossary.PAIR, glossary.ACROSS_ITEM, count=False)
SUPPORTED_INDICES: frozenset[str] = frozenset(DEFAULT_INDICES)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EffectTable:
    """Result of :func:`estimate_effects`.

    ``frame``: one row per estimate with the columns :data:`RECORD_FIELDS` then
    :data:`EXTRA_FIELDS`; ``wave`` is an int or ``"pooled"``; ``item`` is the item code.
    ``attrition``: arm, wave, participants, completed, completion, p_value, p_holm,
    differential (intervention arms against control; NaN for the control rows).
    ``warnings``: human-readable notes (differential attrition, skipped outcomes).
    """

    frame: pd.DataFrame
    attrition: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())


def _check_options(bootstrap, permutations, level):
    for name, number in (("bootstrap", bootstrap), ("permutations", permutations)):
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {number!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")


def estimate_effects(
    answers: pd.DataFrame,
    *,
    arm_column: str = "arm",
    control: str,
    intervention_wave: int,
    scales=None,
    by: str | None = None,
    strata: str | None = "by",
    indices: Iterable[str] = DEFAULT_INDICES,
    outcomes: Iterable[str] = INDIVIDUAL_OUTCOMES,
    bootstrap: int = 1000,
    permutations: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    primary_outcome: str | None = None,
    primary_item: str | None = None,
    balanced: bool = True,
    attrition_alpha: float = 0.05,
    reverse: Iterable[str] = (),
    pooled_items: bool = True,
    apart: Iterable[str] = (),
) -> EffectTable:
    """Every effect of every intervention arm against ``control`` (see the module docstring).

    ``answers``: long frame with participant, wave, item, value (NaN = "don't know", left
    out), ``arm_column`` and, when given, the grouping column ``by``. ``scales``: one scale for
    every item, a mapping item -> scale, or None to infer each item's from its answers; a
    scale is an object with ``min``, ``max``, ``step`` (``tables.Scale``) or a tuple
    ``(min, max[, step])``. ``strata``: the column randomization was stratified on, used by
    the bootstrap (resample within arm and stratum) and the permutations; the default
    ``"by"`` means the ``by`` column, None means no strata. ``indices``: index outcomes (pair
    indices need ``by``); ``outcomes``: individual outcomes (``distance_other_group`` needs
    ``by``). ``bootstrap`` = B resamples, ``permutations`` = R re-randomizations (0 turns
    either off: NaN intervals and p-values, or NaN p_ri). ``reverse``: reverse-coded items,
    flipped in the rows pooled over items (``item`` None), which ``pooled_items`` turns on for
    every cell and pair index; ``constraint`` and ``alignment`` are pooled rows by definition.
    ``apart``: items with rows of their own only, left out of every row across items (the 0/1
    options of a multiple-choice question).
    """
    _check_options(bootstrap, permutations, level)
    index_names = list(dict.fromkeys(indices))
    unknown = [name for name in index_names if name not in SUPPORTED_INDICES]
    if unknown:
        raise ValueError(f"unknown index {unknown[0]!r}; choose from {sorted(SUPPORTED_INDICES)}")
    outcome_names = list(dict.fromkeys(outcomes))
    unknown = [name for name in outcome_names if name not in INDIVIDUAL_OUTCOMES]
    if unknown:
        raise ValueError(f"unknown outcome {unknown[0]!r}; choose from {list(INDIVIDUAL_OUTCOMES)}")
    strata_column = by if strata == "by" else strata
    panel = _build_panel(answers, arm_column, by, strata_column)
    panel.control = str(control)
    notes: list[str] = []

    if panel.control not in set(panel.arm):
        raise ValueError(f"control arm {control!r} is not among the arms in {arm_column!r}")
    arms = sorted(set(panel.arm) - {panel.control})
    if not arms:
        raise ValueError("there is no intervention arm besides the control arm")
    pre = panel.waves < intervention_wave
    post = ~pre
    if not pre.any() or not post.any():
        raise ValueError(
            f"intervention wave {intervention_wave} needs waves before and from it; "
            f"the data have waves {panel.waves.tolist()}"
        )
    if by is None:
        dropped = [name for name in index_names if glossary.entry(name).pair_key]
        if "distance_other_group" in outcome_names:
            dropped.append("distance_other_group")
        if dropped and (index_names != list(DEFAULT_INDICES) or outcome_names != list(INDIVIDUAL_OUTCOMES)):
            notes.append(f"without a grouping column (by) there is no {', '.join(dropped)}")
        index_names = [name for name in index_names if not glossary.entry(name).pair_key]
        outcome_names = [name for name in outcome_names if name != "distance_other_group"]
    elif len(panel.group_names) < 2:
        notes.append(f"{by!r} has a single group: no pair indices, alignment or distance_other_group")
        index_names = [name for name in index_names if not glossary.entry(name).pair_key]
        outcome_names = [name for name in outcome_names if name != "distance_other_group"]

    grids = _item_scales(panel, scales, answers, panel.item_codes)
    unknown = sorted(set(map(str, reverse)) - set(panel.items))
    if unknown:
        raise ValueError(f"reverse-coded item {unknown[0]!r} is not among the items")
    reverse_mask = np.array([item in set(map(str, reverse)) for item in panel.items], dtype=bool)
    apart_positions = [j for j, item in enumerate(panel.items) if item in set(map(str, apart))]
    cell_names = [name for name in index_names if glossary.entry(name).family != glossary.ACROSS_ITEM]
    pooled_names = set(cell_names) if pooled_items and len(panel.items) - len(apart_positions) > 1 else set()
    if "alignment" in index_names:
        pooled_names.add("alignment")

    attrition = attrition_table(
        panel.present, panel.arm, panel.waves, control=panel.control, alpha=attrition_alpha
    )
    for row in attrition[attrition["differential"]].itertuples():
        ctrl = attrition[(attrition["arm"] == panel.control) & (attrition["wave"] == row.wave)]
        notes.append(
            f"differential attrition: arm {row.arm} wave {row.wave} completion "
            f"{row.completion:.1%} vs control {float(ctrl['completion'].iloc[0]):.1%} "
            f"(Holm-adjusted p = {row.p_holm:.3g})"
        )

    samples = [("all", np.ones(len(panel.ids), dtype=bool))]
    if balanced:
        samples.append(("balanced", panel.present.all(axis=1)))

    root = np.random.SeedSequence(seed)
    rows: list[dict] = []
    for a, arm in enumerate(arms):
        for s, (sample, keep) in enumerate(samples):
            comparison = _comparison(
                panel, arm, sample, keep, bootstrap, permutations, _streams(root, a, s)
            )
            if comparison is None:
                notes.append(f"arm {arm}: no participants of both arms in the {sample} sample")
                continue
            new_rows = []
            if cell_names or pooled_names:
                tables, slices = _count_tables(comparison, panel.values[comparison.pool], grids)
                pooled = _PooledIndices(pooled_names, apart_positions)
                for j in range(len(panel.items)):
                    new_rows += _index_rows(
                        panel, comparison, tables, j, slices[j], grids[j], cell_names, pre,
                        post, level, pooled, reverse_mask,
                    )
                del tables
                new_rows += pooled.rows(panel, comparison, pre, post, level)
            if "constraint" in index_names:
                new_rows += _constraint_rows(panel, comparison, grids, pre, post, level, apart_positions)
            randomization = _TwfeRandomization(new_rows, comparison.permutations)
            for j in range(len(panel.items)):
                for outcome in outcome_names:
                    start = len(new_rows)
                    item_pending: list = []
                    new_rows += _twfe_rows(
                        panel, comparison, j, outcome, grids[j], level,
                        intervention_wave, item_pending,
                    )
                    for targets, summary, gram in item_pending:
                        randomization.add([start + r for r in targets], summary, gram)
            randomization.finish()
            for row in new_rows:
                row["sample"] = sample
                if sample != "all":
                    row["method"] = f"{row['method']}_{sample}"
            rows += new_rows

    frame = _finish(rows, attrition, panel, primary_outcome, primary_item)
    return EffectTable(frame=frame, attrition=attrition, warnings=tuple(notes))


def _streams(root: np.random.SeedSequence, arm_index: int, sample_index: int):
    """Independent bootstrap and permutation streams per (arm, sample), fixed by the seed."""
    child = np.random.SeedSequence(root.entropy, spawn_key=(arm_index, sample_index))
    return child.spawn(2)


def _item_scales(panel: _Panel, scales, answers: pd.DataFrame, item_codes: np.ndarray) -> list[Scale]:
    """Each item's scale (given, or inferred from its answers); values off it raise
    :class:`~analysis.stats.tables.ScaleError` naming the row."""
    found = []
    values = _numeric_values(answers)
    for j, item in enumerate(panel.items):
        if scales is None:
            scale = _infer_scale(panel.values[:, :, j])
        elif isinstance(scales, Mapping):
            if item not in scales:
                raise ValueError(f"no scale given for item {item!r}")
            scale = Scale.coerce(scales[item])
        else:
            scale = Scale.coerce(scales)
        rows = np.flatnonzero(item_codes == j)
        scale.codes(values[rows], item=item, rows=answers.index[rows])
        found.append(scale)
    return found


def _warned(first_differential_wave, wave) -> bool:
    if first_differential_wave is None:
        return False
    return wave == POOLED or int(wave) >= first_differential_wave


def _finish(rows, attrition, panel, primary_outcome, primary_item) -> pd.DataFrame:
    columns = list(RECORD_FIELDS) + list(EXTRA_FIELDS)
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    family = ["outcome", "item", "wave", "method", "sample", "group"]
    keys = frame[family].map(str).agg("\x1f".join, axis=1)
    frame["p_holm"] = frame.groupby(keys, sort=False)["p_value"].transform(
        lambda p: holm(p.to_numpy(dtype=float))
    )

    differential = attrition[attrition["differential"]]
    first_bad = differential.groupby("arm")["wave"].min().to_dict()

    frame["attrition_warning"] = [
        _warned(first_bad.get(arm), wave) for arm, wave in zip(frame["arm"], frame["wave"], strict=True)
    ]
    is_primary = frame["outcome"] == primary_outcome if primary_outcome else False
    if primary_outcome and primary_item:
        is_primary = is_primary & (frame["item"] == primary_item)
    frame["primary"] = np.asarray(is_primary, dtype=bool) if primary_outcome else False
    frame["n"] = frame["n"].astype(np.int64)
    frame["n_obs"] = frame["n_obs"].astype(np.int64)
    frame["wave"] = frame["wave"].astype(object)
    return frame[columns]
