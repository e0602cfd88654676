"""The analysis plan: the primary outcomes and contrasts declared before a study launches, and
which stored estimates they select. Pure (no Django): the plan travels as a plain dict
(`to_dict` / `from_dict`), so the study specification can carry it and its hash.

A planned estimate is the row of the effects table with a declared outcome, item (an item code
or ``pooled``) and group, for a declared contrast (an intervention arm against control; none
declared = every intervention arm), pooled over the post-intervention waves, on everyone
(intention to treat), by the primary method of its outcome (``did_bootstrap`` for indices,
``twfe`` for answer-level outcomes). Holm's adjustment runs across the planned rows only
(``p_plan_holm``); every other estimate is exploratory and keeps its per-family ``p_holm``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.stats import glossary
from analysis.stats.effects.panel import holm

POOLED_ITEM = "pooled"
ALL_GROUPS = "all"
INDIVIDUAL_OUTCOMES = ("value", "extremity", "distance_other_group")
#: The outcomes a plan may declare: answer-level outcomes and every index an effect is estimated on.
PLANNABLE = (*INDIVIDUAL_OUTCOMES,
             *glossary.where(glossary.CELL, glossary.PAIR, glossary.ACROSS_ITEM, count=False))


@dataclass(frozen=True)
class PlannedOutcome:
    outcome: str
    item: str = POOLED_ITEM
    group: str = ALL_GROUPS

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "item": self.item, "group": self.group}

    @property
    def method(self) -> str:
        return "twfe" if self.outcome in INDIVIDUAL_OUTCOMES else "did_bootstrap"

    def describe(self) -> str:
        where = "all items pooled" if self.item == POOLED_ITEM else self.item
        within = "" if self.group == ALL_GROUPS else f", {self.group}"
        return f"{glossary.label(self.outcome)} of {where}{within}"


@dataclass(frozen=True)
class Plan:
    outcomes: tuple[PlannedOutcome, ...] = ()
    #: Intervention arms compared with control; empty = every intervention arm.
    contrasts: tuple[str, ...] = ()
    notes: str = ""

    def to_dict(self) -> dict:
        return {"outcomes": [o.to_dict() for o in self.outcomes], "contrasts": list(self.contrasts),
                "notes": self.notes}

    @classmethod
    def from_dict(cls, data: dict | None) -> Plan:
        """A plan from its dict; ValueError naming the first field that is not as `to_dict` writes it."""
        data = data or {}
        if not isinstance(data, dict):
            raise ValueError("an analysis plan is an object with outcomes, contrasts and notes")
        unknown = sorted(set(data) - {"outcomes", "contrasts", "notes"})
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} in the analysis plan")
        outcomes = []
        for position, row in enumerate(data.get("outcomes") or []):
            if not isinstance(row, dict) or not isinstance(row.get("outcome"), str):
                raise ValueError(f"outcomes[{position}]: give an object with an 'outcome' name")
            extra = sorted(set(row) - {"outcome", "item", "group"})
            if extra:
                raise ValueError(f"outcomes[{position}]: unknown field {extra[0]!r}")
            outcomes.append(PlannedOutcome(row["outcome"], str(row.get("item") or POOLED_ITEM),
                                           str(row.get("group") or ALL_GROUPS)))
        contrasts = data.get("contrasts") or []
        if not isinstance(contrasts, list) or not all(isinstance(c, str) for c in contrasts):
            raise ValueError("contrasts: give a list of arm names")
        notes = data.get("notes") or ""
        if not isinstance(notes, str):
            raise ValueError("notes: give a text")
        return cls(tuple(dict.fromkeys(outcomes)), tuple(dict.fromkeys(contrasts)), notes)

    def fingerprint(self) -> str:
        """SHA-256 of the plan's canonical JSON: the hash frozen at launch."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def problems(self, *, items: list[str], arms: list[str], control: str | None,
                 groups: list[str] | None = None) -> list[str]:
        """Every reason the plan does not fit the study (empty when it does): unknown outcomes,
        items, groups and arms, the control arm as a contrast, pooled answer-level outcomes."""
        found = []
        for o in self.outcomes:
            if o.outcome not in PLANNABLE:
                found.append(f"unknown outcome {o.outcome!r}; choose from {', '.join(PLANNABLE)}")
            if o.item != POOLED_ITEM and o.item not in items:
                found.append(f"{o.outcome}: unknown item {o.item!r}")
            if o.item == POOLED_ITEM and o.outcome in INDIVIDUAL_OUTCOMES:
                found.append(f"{o.outcome} is an answer-level outcome: name an item, it is never pooled")
            if o.item != POOLED_ITEM and o.outcome in glossary.names(glossary.ACROSS_ITEM):
                found.append(f"{o.outcome} is an across-item index: its item is 'pooled'")
            if groups is not None and o.group != ALL_GROUPS and o.group not in groups:
                found.append(f"{o.outcome}: unknown group {o.group!r}")
        for arm in self.contrasts:
            if arm not in arms:
                found.append(f"unknown arm {arm!r}")
            elif arm == control:
                found.append(f"{arm!r} is the control arm: a contrast is an intervention arm against it")
        return found


def mark_planned(frame: pd.DataFrame, plan: Plan, *, control: str | None = None) -> pd.DataFrame:
    """`frame` (effect rows: arm, outcome, item (code or None), group, wave, method, sample,
    p_value) with `planned` (bool) and `p_plan_holm` (Holm across the planned rows; NaN for
    exploratory rows)."""
    frame = frame.copy()
    planned = np.zeros(len(frame), dtype=bool)
    if plan.outcomes and len(frame):
        arms = set(plan.contrasts) if plan.contrasts else set(frame["arm"]) - {control}
        item = frame["item"].map(lambda v: POOLED_ITEM if v is None or (isinstance(v, float) and np.isnan(v)) else v)
        base = (frame["arm"].isin(arms) & (frame["wave"].astype(str) == "pooled")
                & (frame["sample"] == "all"))
        for o in plan.outcomes:
            planned |= (base & (frame["outcome"] == o.outcome) & (item == o.item) & (frame["group"] == o.group)
                        & (frame["method"] == o.method)).to_numpy()
    frame["planned"] = planned
    adjusted = np.full(len(frame), np.nan)
    if planned.any():
        adjusted[planned] = holm(frame.loc[planned, "p_value"].to_numpy(dtype=float))
    frame["p_plan_holm"] = adjusted
    return frame
