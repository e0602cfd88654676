"""Index effects beyond one cell: within each group, pooled over items, constraint and
alignment. Each is checked against the DiD of indices computed directly from the answers with
pandas (an independent route), and constraint also against a simulated panel whose true
effect is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import indices as ix
from analysis.stats.effects import estimate_effects
from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel

ITEMS = (ItemSpec("threat", loading=1.0, intercept=0.8), ItemSpec("trust", loading=-0.8, intercept=-0.3))
WAVES = (1, 2, 3, 4)
V = 3


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    spec = PanelSpec(n_participants=500, n_waves=4, items=ITEMS, intervention_wave=V, effect=-0.6,
                     initial_group_gap=0.8, divergence_per_wave=0.1, attrition_per_wave=0.08)
    frame = simulate_panel(spec, seed=21).long()
    return frame.assign(arm=frame["arm"].astype(str), group=frame["group"].astype(str))


@pytest.fixture(scope="module")
def table(answers) -> pd.DataFrame:
    return estimate_effects(
        answers, control="control", intervention_wave=V, by="group", scales=(1, 7),
        indices=("mean", "sd", "agreement_a", "group_gap", "constraint", "alignment"), outcomes=(),
        bootstrap=0, permutations=0, balanced=False, reverse=("trust",),
    ).frame


def did(series: dict[str, np.ndarray]) -> np.ndarray:
    """Per wave DiD against the pre-wave mean (the pre waves are placebo checks when there are
    two or more), then pooled over the post waves, from {arm: index per wave}."""
    diff = series["intervention"] - series["control"]
    pre = np.array(WAVES) < V
    per_wave = diff - diff[pre].mean()
    shown = per_wave if pre.sum() >= 2 else per_wave[~pre]
    return np.append(shown, per_wave[~pre].mean())


def rows_of(table, outcome, item, group) -> np.ndarray:
    chosen = table[(table["outcome"] == outcome) & (table["group"] == group)]
    chosen = chosen[chosen["item"].isna()] if item is None else chosen[chosen["item"] == item]
    order = chosen["wave"].map(lambda w: 99 if w == "pooled" else w)
    return chosen.assign(order=order).sort_values("order")["estimate"].to_numpy(dtype=float)


def counts(values) -> np.ndarray:
    return np.bincount(np.asarray(values, dtype=int) - 1, minlength=7)


def cell_index(name, values, other=None) -> float:
    if name == "mean":
        return float(np.mean(values))
    if name == "sd":
        return float(np.std(values, ddof=1))
    if name == "agreement_a":
        return float(ix.agreement_a(counts(values)))
    if name == "group_gap":
        return float((np.mean(values) - np.mean(other)) / 6)
    raise AssertionError(name)


def test_single_cell_index_effects_within_each_group(answers, table):
    answered = answers.dropna(subset=["value"])
    for group in ("left", "right"):
        for name in ("sd", "agreement_a"):
            series = {
                arm: np.array([cell_index(name, answered[(answered["arm"] == arm) & (answered["wave"] == w)
                                                         & (answered["group"] == group)
                                                         & (answered["item"] == "threat")]["value"])
                               for w in WAVES])
                for arm in ("control", "intervention")
            }
            np.testing.assert_allclose(rows_of(table, name, "threat", f"group:{group}"), did(series), atol=1e-10)


def test_pooled_over_items_is_the_did_of_the_mean_of_item_indices_with_reverse_coding(answers, table):
    answered = answers.dropna(subset=["value"])

    def item_index(name, arm, wave, item):
        cell = answered[(answered["arm"] == arm) & (answered["wave"] == wave) & (answered["item"] == item)]
        if name == "group_gap":
            left, right = (cell[cell["group"] == g]["value"].to_numpy() for g in ("left", "right"))
            if item == "trust":
                left, right = 8 - left, 8 - right
            return cell_index(name, left, right)
        values = cell["value"].to_numpy()
        return cell_index(name, 8 - values if item == "trust" else values)

    for name, group in (("mean", "all"), ("sd", "all"), ("agreement_a", "all"), ("mean", "group:left"),
                        ("group_gap", "group:left|group:right")):
        def value(arm, wave, name=name, group=group):
            if group == "group:left":
                cell = answered[(answered["arm"] == arm) & (answered["wave"] == wave) & (answered["group"] == "left")]
                per_item = [cell_index(name, np.where(item == "trust", 8 - cell[cell["item"] == item]["value"],
                                                      cell[cell["item"] == item]["value"]))
                            for item in ("threat", "trust")]
            else:
                per_item = [item_index(name, arm, wave, item) for item in ("threat", "trust")]
            return float(np.mean(per_item))

        series = {arm: np.array([value(arm, w) for w in WAVES]) for arm in ("control", "intervention")}
        # pooled mean and sd are on each item's scale rescaled to [0, 1]: 1..7 has width 6
        expected = did(series) / (6 if name in ("mean", "sd") else 1)
        np.testing.assert_allclose(rows_of(table, name, None, group), expected, atol=1e-10, err_msg=name)
    # the reverse-coded item pulls the pooled mean's effect the other way than the raw mean's
    raw_threat = rows_of(table, "mean", "threat", "all")[-1]
    raw_trust = rows_of(table, "mean", "trust", "all")[-1]
    assert rows_of(table, "mean", None, "all")[-1] == pytest.approx((raw_threat - raw_trust) / 2 / 6, abs=1e-12)


def direct_constraint(frame: pd.DataFrame) -> float:
    wide = frame.pivot(index="participant", columns="item", values="value")
    r = wide.corr().to_numpy()  # pairwise-complete Pearson
    upper = r[np.triu_indices_from(r, 1)]
    return float(np.nanmean(np.abs(upper)))


def direct_eta(values: pd.Series, groups: pd.Series) -> float:
    grand = values.mean()
    between = sum(len(v) * (v.mean() - grand) ** 2 for _, v in values.groupby(groups))
    return float(np.sqrt(between / ((values - grand) ** 2).sum()))


def test_constraint_and_alignment_effects_equal_direct_computation(answers, table):
    answered = answers.dropna(subset=["value"])
    for group in ("all", "group:left", "group:right"):
        subset = answered if group == "all" else answered[answered["group"] == group.split(":")[1]]
        series = {arm: np.array([direct_constraint(subset[(subset["arm"] == arm) & (subset["wave"] == w)])
                                 for w in WAVES]) for arm in ("control", "intervention")}
        np.testing.assert_allclose(rows_of(table, "constraint", None, group), did(series), atol=1e-10)

    def alignment(arm, wave):
        cell = answered[(answered["arm"] == arm) & (answered["wave"] == wave)]
        return np.mean([direct_eta(part["value"], part["group"]) for _, part in cell.groupby("item")])

    series = {arm: np.array([alignment(arm, w) for w in WAVES]) for arm in ("control", "intervention")}
    np.testing.assert_allclose(rows_of(table, "alignment", None, "group:left|group:right"), did(series), atol=1e-10)
    assert not ((table["outcome"] == "alignment") & table["item"].notna()).any()
    assert not ((table["outcome"] == "constraint") & table["item"].notna()).any()


def correlated_panel(n: int, rho: float, seed: int) -> pd.DataFrame:
    """Two slider items (0..100) whose answers correlate rho in every wave, except in the
    intervention arm from wave 3 on, where the second item becomes independent noise: the true
    DiD of constraint (= |r| for two items) is -rho in each post wave, the truth by construction."""
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "control", "intervention")
    rows = []
    for wave in WAVES:
        z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
        x = z1
        y = rho * z1 + np.sqrt(1 - rho**2) * z2
        broken = (arm == "intervention") & (wave >= V)
        y = np.where(broken, z2, y)
        for item, latent in (("a", x), ("b", y)):
            values = np.clip(np.rint(50 + 12 * latent), 0, 100)
            rows.append(pd.DataFrame({"participant": np.arange(n), "wave": wave, "item": item,
                                      "value": values, "arm": arm}))
    return pd.concat(rows, ignore_index=True)


def test_constraint_effect_recovers_a_known_truth_with_honest_intervals():
    rho = 0.6
    covered, estimates = [], []
    for seed in range(12):
        frame = estimate_effects(
            correlated_panel(4000, rho, seed), control="control", intervention_wave=V, scales=(0, 100, 1),
            indices=("constraint",), outcomes=(), bootstrap=199, permutations=99, seed=seed, balanced=False,
        ).frame
        pooled = frame[frame["wave"] == "pooled"].iloc[0]
        estimates.append(pooled["estimate"])
        covered.append(pooled["ci_low"] <= -rho <= pooled["ci_high"])
        assert pooled["p_ri"] < 0.02 and pooled["p_value"] < 0.02
    # mean |r| is biased upwards near r = 0 by about sqrt(2 / (pi n)) = 0.018 with 2,000 per arm;
    # 12 estimates with sd ~ 0.02: their mean lies within 0.03 of the truth
    assert np.mean(estimates) == pytest.approx(-rho, abs=0.03)
    assert sum(covered) >= 9


def test_constraint_effect_under_the_null_is_not_significant_too_often():
    rejections = []
    for seed in range(40):
        panel = correlated_panel(300, 0.5, 100 + seed)
        panel = panel.assign(arm=np.where(panel["participant"] % 2 == 0, "control", "intervention"))
        # no breaking: regenerate b for the intervention arm from the same model
        rng = np.random.default_rng(seed)
        a = panel[panel["item"] == "a"]["value"].to_numpy()
        noise = rng.standard_normal(a.size)
        panel.loc[panel["item"] == "b", "value"] = np.clip(np.rint(50 + 12 * (0.5 * (a - 50) / 12 + np.sqrt(0.75) * noise)), 0, 100)
        frame = estimate_effects(panel, control="control", intervention_wave=V, scales=(0, 100, 1),
                                 indices=("constraint",), outcomes=(), bootstrap=99, permutations=0,
                                 seed=seed, balanced=False).frame
        rejections.append(float(frame[frame["wave"] == "pooled"]["p_value"].iloc[0]) < 0.05)
    assert np.mean(rejections) <= 0.15


def test_event_study_rows_carry_randomization_p_values_that_find_a_strong_effect():
    spec = PanelSpec(n_participants=400, n_waves=4, items=ITEMS[:1], intervention_wave=V, effect=-1.0,
                     attrition_per_wave=0.0)
    frame = estimate_effects(simulate_panel(spec, seed=3).long(), control="control", intervention_wave=V,
                             scales=(1, 7), indices=(), outcomes=("value",), bootstrap=0, permutations=199,
                             balanced=False).frame
    events = frame[frame["method"] == "event_study"].set_index("wave")
    assert events.loc[3, "p_ri"] == pytest.approx(1 / 200) and events.loc[4, "p_ri"] == pytest.approx(1 / 200)
    assert events.loc[1, "p_ri"] > 0.01  # the placebo wave: no effect before the intervention


def test_agreement_on_wide_scales_is_evaluated_in_chunks_with_the_same_values():
    from analysis.stats.effects import index_values

    rng = np.random.default_rng(5)
    counts = rng.multinomial(40, np.ones(101) / 101, size=(1700,)).astype(float)  # > one chunk of cells
    chunked = index_values("agreement_a", counts, np.arange(101.0))
    direct = np.array([float(ix.agreement_a(row)) for row in counts[:: 97]])
    np.testing.assert_allclose(chunked[:: 97], direct, atol=1e-12)
    assert chunked.shape == (1700,) and np.isfinite(chunked).all()


def test_items_apart_have_rows_of_their_own_and_leave_the_pooled_rows_unchanged(answers, table):
    """A 0/1 option (a multiple-choice question's) is `apart`: its own rows, none across items."""
    rng = np.random.default_rng(5)
    base = answers[answers["item"] == "threat"]
    option = base.assign(item="uses_tv", value=np.where(base["value"].isna(), np.nan,
                                                        rng.integers(0, 2, len(base)).astype(float)))
    with_option = pd.concat([answers, option], ignore_index=True)
    scales = {"threat": (1, 7), "trust": (1, 7), "uses_tv": (0, 1)}
    frame = estimate_effects(
        with_option, control="control", intervention_wave=V, by="group", scales=scales,
        indices=("mean", "sd", "agreement_a", "group_gap", "constraint", "alignment"), outcomes=(),
        bootstrap=0, permutations=0, balanced=False, reverse=("trust",), apart=("uses_tv",),
    ).frame
    across = ["mean", "sd", "agreement_a", "group_gap", "constraint", "alignment"]
    for outcome in across:
        for group in table.loc[table["outcome"] == outcome, "group"].unique():
            np.testing.assert_allclose(rows_of(frame, outcome, None, group), rows_of(table, outcome, None, group),
                                       err_msg=f"{outcome} {group}")
    own = rows_of(frame, "mean", "uses_tv", "all")
    assert len(own) and np.isfinite(own).all()
