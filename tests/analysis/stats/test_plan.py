"""The analysis plan, pure: round trip, hash, problems, and Holm across the planned rows only."""

import math

import pandas as pd
import pytest

from analysis.stats.plan import Plan, PlannedOutcome, mark_planned


def plan() -> Plan:
    return Plan(outcomes=(PlannedOutcome("mad_pairwise"), PlannedOutcome("value", item="q1")), contrasts=("t1",),
                notes="expect less distance")


def test_a_plan_round_trips_through_its_dict_and_its_hash_is_stable():
    data = plan().to_dict()
    assert data == {"outcomes": [{"outcome": "mad_pairwise", "item": "pooled", "group": "all"},
                                 {"outcome": "value", "item": "q1", "group": "all"}],
                    "contrasts": ["t1"], "notes": "expect less distance"}
    assert Plan.from_dict(data) == plan()
    assert Plan.from_dict(data).fingerprint() == plan().fingerprint()
    assert len(plan().fingerprint()) == 64
    assert Plan(outcomes=plan().outcomes[:1]).fingerprint() != plan().fingerprint()


@pytest.mark.parametrize("data, message", [
    ({"outcomes": [{"item": "q1"}]}, "outcomes[0]"),
    ({"outcomes": [{"outcome": "mean", "colour": "red"}]}, "unknown field 'colour'"),
    ({"contrasts": "t1"}, "contrasts"),
    ({"extra": 1}, "unknown field 'extra'"),
])
def test_a_malformed_plan_names_the_field(data, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Plan.from_dict(data)


def test_problems_name_unknown_outcomes_items_arms_and_the_control_arm():
    bad = Plan(outcomes=(PlannedOutcome("loudness"), PlannedOutcome("value"), PlannedOutcome("mean", item="q9"),
                         PlannedOutcome("constraint", item="q1")), contrasts=("control", "t9"))
    found = bad.problems(items=["q1"], arms=["control", "t1"], control="control")
    assert len(found) == 6
    assert any("loudness" in p for p in found) and any("never pooled" in p for p in found)
    assert any("'q9'" in p for p in found) and any("across-item" in p for p in found)
    assert any("control arm" in p for p in found) and any("'t9'" in p for p in found)
    assert plan().problems(items=["q1"], arms=["control", "t1"], control="control") == []


def effects() -> pd.DataFrame:
    rows = [
        # arm, outcome, item, wave, method, sample, group, p_value
        ("t1", "mad_pairwise", None, "pooled", "did_bootstrap", "all", "all", 0.01),
        ("t1", "value", "q1", "pooled", "twfe", "all", "all", 0.04),
        ("t1", "value", "q1", 3, "event_study", "all", "all", 0.001),  # per wave: exploratory
        ("t1", "value", "q1", "pooled", "twfe_balanced", "balanced", "all", 0.02),  # balanced: exploratory
        ("t2", "mad_pairwise", None, "pooled", "did_bootstrap", "all", "all", 0.03),  # not a planned contrast
        ("t1", "mad_pairwise", "q1", "pooled", "did_bootstrap", "all", "all", 0.002),  # item, not pooled
        ("t1", "mad_pairwise", None, "pooled", "did_bootstrap", "all", "side:1", 0.005),  # other group
    ]
    return pd.DataFrame(rows, columns=["arm", "outcome", "item", "wave", "method", "sample", "group", "p_value"])


def test_planned_rows_are_the_declared_outcomes_and_contrasts_and_holm_runs_across_them_only():
    marked = mark_planned(effects(), plan(), control="control")
    assert marked["planned"].tolist() == [True, True, False, False, False, False, False]
    # Holm over the two planned p-values 0.01 and 0.04: 2 x 0.01 = 0.02, then max(0.02, 1 x 0.04) = 0.04
    assert marked["p_plan_holm"].tolist()[:2] == pytest.approx([0.02, 0.04])
    assert all(math.isnan(p) for p in marked["p_plan_holm"].tolist()[2:])


def test_without_declared_contrasts_every_intervention_arm_is_planned():
    marked = mark_planned(effects(), Plan(outcomes=(PlannedOutcome("mad_pairwise"),)), control="control")
    assert marked["planned"].tolist() == [True, False, False, False, True, False, False]
    # 0.01 and 0.03: 0.02, then max(0.02, 0.03) = 0.03
    assert marked.loc[marked["planned"], "p_plan_holm"].tolist() == pytest.approx([0.02, 0.03])


def test_an_empty_plan_plans_nothing():
    marked = mark_planned(effects(), Plan())
    assert not marked["planned"].any() and marked["p_plan_holm"].isna().all()
