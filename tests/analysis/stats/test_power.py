"""Power by simulation: the effect is calibrated in the outcome's units, the power curve is
sane against theory, and the smallest sample reaches the target."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats.effects import estimate_effects
from analysis.stats.power import (
    DEFAULT_ITEM,
    calibrate_latent_effect,
    estimate_power,
    population_effect,
)
from analysis.stats.simulate import PanelSpec, simulate_panel

SPEC = PanelSpec(n_participants=200, n_waves=5, items=(DEFAULT_ITEM,), intervention_wave=3, effect=0.0)


def test_population_effect_on_value_equals_the_simulators_expected_effect():
    spec = replace(SPEC, effect=-0.4)
    truth = simulate_panel(replace(spec, n_participants=10), seed=0).truth["expected_effects"]
    post = truth[truth["wave"] >= 3]["expected"].mean()
    assert population_effect(spec, DEFAULT_ITEM, "value") == pytest.approx(post, abs=1e-9)


@pytest.mark.parametrize(("outcome", "effect", "tolerance"), [("value", -0.3, 0.03), ("sd", -0.1, 0.02), ("mad_pairwise", -0.02, 0.004)])
def test_calibrated_shift_produces_the_effect_in_the_outcomes_units_in_a_large_simulation(outcome, effect, tolerance):
    shift = calibrate_latent_effect(effect, outcome, SPEC, DEFAULT_ITEM)
    assert population_effect(replace(SPEC, effect=shift), DEFAULT_ITEM, outcome) == pytest.approx(effect, abs=1e-8)
    answers = simulate_panel(replace(SPEC, n_participants=60_000, effect=shift), seed=3).long()
    is_index = outcome != "value"
    frame = estimate_effects(
        answers, control="control", intervention_wave=3, scales=(1, 7), by="group",
        indices=(outcome,) if is_index else (), outcomes=() if is_index else ("value",),
        bootstrap=0, permutations=0, balanced=False,
    ).frame
    estimate = frame.loc[(frame["wave"] == "pooled") & (frame["method"] != "event_study"), "estimate"]
    assert float(estimate.iloc[0]) == pytest.approx(effect, abs=tolerance)


def test_an_effect_no_latent_shift_can_produce_is_refused_with_the_reachable_range():
    with pytest.raises(ValueError, match="group_gap"):
        calibrate_latent_effect(0.05, "group_gap", SPEC, DEFAULT_ITEM)
    with pytest.raises(ValueError, match="reachable"):
        calibrate_latent_effect(5.0, "value", SPEC, DEFAULT_ITEM)

# --------------------------------------------------------------------------- one small run each
# Fast and exact: the power and the spread of the estimates are those of `estimate_effects` on the
# same simulated studies (the first participants_per_arm participants of each arm of each; study i
# simulated from seed i of numpy's SeedSequence(seed)). The Monte-Carlo calibration against theory
# below carries the `calibration` marker (.ci/run, `make test-calibration`).


def effects_of_the_simulated_studies(result, *, seed: int, waves: int, outcome: str) -> pd.DataFrame:
    per_arm = result.participants_per_arm
    spec = replace(SPEC, n_participants=2 * per_arm, n_waves=waves, effect=result.latent_effect,
                   attrition_per_wave=0.06)
    is_index = outcome not in ("value", "extremity", "distance_other_group")
    rows = []
    for study_seed in np.random.SeedSequence(seed).generate_state(result.simulations, dtype=np.uint32):
        panel = simulate_panel(spec, seed=int(study_seed))
        kept = panel.participants.groupby("arm", observed=True).head(per_arm)["participant"]
        answers = panel.long()
        frame = estimate_effects(
            answers[answers["participant"].isin(kept)], control="control", intervention_wave=3, scales=(1, 7),
            by="group", indices=(outcome,) if is_index else (), outcomes=() if is_index else (outcome,),
            bootstrap=0, permutations=0, balanced=False,
        ).frame
        method = "did_bootstrap" if is_index else "twfe"
        rows.append(frame[(frame["wave"] == "pooled") & (frame["method"] == method) & (frame["group"] == "all")])
    return pd.concat(rows)


def test_power_is_the_share_of_simulated_studies_whose_twfe_test_rejects():
    result = estimate_power(participants_per_arm=40, waves=4, intervention_wave=3, effect=-0.4,
                            outcome="value", simulations=20, seed=3, search=False)
    effects = effects_of_the_simulated_studies(result, seed=3, waves=4, outcome="value")
    row = result.curve.iloc[0]
    assert result.power == pytest.approx((effects["p_value"] < 0.05).mean(), abs=1e-12)
    assert 0 < result.power < 1
    assert row["mean_estimate"] == pytest.approx(effects["estimate"].mean(), rel=1e-9)
    assert row["sd_estimate"] == pytest.approx(effects["estimate"].std(ddof=1), rel=1e-9)


def test_index_power_estimates_are_the_index_did_of_each_simulated_study():
    result = estimate_power(participants_per_arm=40, waves=4, intervention_wave=3, effect=-0.3,
                            outcome="sd", simulations=12, seed=2, search=False)
    effects = effects_of_the_simulated_studies(result, seed=2, waves=4, outcome="sd")
    row = result.curve.iloc[0]
    assert row["mean_estimate"] == pytest.approx(effects["estimate"].mean(), rel=1e-9)
    assert row["sd_estimate"] == pytest.approx(effects["estimate"].std(ddof=1), rel=1e-9)


@pytest.mark.parametrize("index_test", ["jackknife", "randomization"])
def test_both_index_tests_reject_every_study_of_a_large_effect(index_test):
    result = estimate_power(participants_per_arm=150, waves=4, intervention_wave=3, effect=-0.8, outcome="sd",
                            simulations=10, permutations=39, seed=2, search=False, index_test=index_test)
    assert result.test == index_test
    assert result.power == 1.0


@pytest.mark.calibration
def test_power_at_zero_effect_is_the_false_positive_rate():
    result = estimate_power(participants_per_arm=150, waves=4, intervention_wave=3, effect=0.0,
                            outcome="value", simulations=400, seed=1)
    assert 0.02 <= result.power <= 0.085
    assert result.minimum_participants_per_arm is None
    assert result.latent_effect == 0.0


@pytest.mark.calibration
@pytest.mark.parametrize("index_test", ["jackknife", "randomization"])
def test_index_power_at_zero_effect_is_the_false_positive_rate(index_test):
    result = estimate_power(participants_per_arm=100, waves=4, intervention_wave=3, effect=0.0,
                            outcome="sd", simulations=300, permutations=99, seed=2, index_test=index_test)
    assert result.test == index_test
    assert 0.015 <= result.power <= 0.095


@pytest.fixture(scope="module")
def value_power():
    return estimate_power(participants_per_arm=100, waves=5, intervention_wave=3, effect=-0.3,
                          outcome="value", simulations=300, seed=4)


@pytest.mark.calibration
def test_power_matches_the_normal_approximation_from_the_simulated_spread(value_power):
    z = stats.norm.ppf(0.975)
    for row in value_power.curve.itertuples():
        if row.participants_per_arm < 30:
            continue
        expected = stats.norm.cdf(abs(row.mean_estimate) / row.sd_estimate - z)
        assert abs(row.power - expected) < 3 * math.sqrt(expected * (1 - expected) / 300) + 0.02


@pytest.mark.calibration
def test_smallest_participants_per_arm_reaches_the_target_and_a_smaller_one_does_not(value_power):
    curve = value_power.curve.set_index("participants_per_arm")
    minimum = value_power.minimum_participants_per_arm
    assert minimum is not None and curve.loc[minimum, "power"] >= 0.8
    below = curve[curve.index < minimum]
    assert below["power"].max() < 0.8
    assert curve.loc[100, "requested"] and value_power.power == curve.loc[100, "power"]
    # estimates are unbiased for the effect given in the outcome's units
    assert curve.loc[minimum, "mean_estimate"] == pytest.approx(-0.3, abs=0.03)


@pytest.mark.calibration
def test_halving_the_effect_about_quadruples_the_sample(value_power):
    half = estimate_power(participants_per_arm=100, waves=5, intervention_wave=3, effect=-0.15,
                          outcome="value", simulations=300, seed=4)
    ratio = half.minimum_participants_per_arm / value_power.minimum_participants_per_arm
    assert 3.2 <= ratio <= 5.0


@pytest.mark.calibration
def test_power_of_an_index_effect_matches_theory_with_the_jackknife_test():
    result = estimate_power(participants_per_arm=300, waves=5, intervention_wave=3, effect=-0.03,
                            outcome="mad_pairwise", simulations=300, seed=5, search=False)
    assert result.test == "jackknife"
    assert list(result.curve["participants_per_arm"]) == [300]
    row = result.curve.iloc[0]
    # t-test with the 20-group jackknife: noncentral t with 19 degrees of freedom
    critical = stats.t.ppf(0.975, 19)
    noncentrality = abs(row["mean_estimate"]) / row["sd_estimate"]
    expected = stats.nct.sf(critical, 19, noncentrality) + stats.nct.cdf(-critical, 19, noncentrality)
    assert abs(result.power - expected) < 3 * math.sqrt(expected * (1 - expected) / 300) + 0.03
    assert row["mean_estimate"] == pytest.approx(-0.03, abs=0.003)
    randomization = estimate_power(participants_per_arm=300, waves=5, intervention_wave=3, effect=-0.03,
                                   outcome="mad_pairwise", simulations=100, permutations=49, seed=5,
                                   search=False, index_test="randomization")
    assert randomization.test == "randomization"
    assert randomization.power <= result.power  # valid but conservative for a dispersion index


def test_same_seed_gives_the_same_power():
    first = estimate_power(participants_per_arm=50, waves=4, intervention_wave=3, effect=0.4,
                           outcome="extremity", simulations=50, seed=9)
    second = estimate_power(participants_per_arm=50, waves=4, intervention_wave=3, effect=0.4,
                            outcome="extremity", simulations=50, seed=9)
    assert first.power == second.power
    assert first.minimum_participants_per_arm == second.minimum_participants_per_arm
    assert np.array_equal(first.curve.to_numpy(), second.curve.to_numpy())


def test_it_rejects_an_unknown_outcome_and_an_intervention_at_wave_one():
    with pytest.raises(ValueError, match="unknown outcome"):
        estimate_power(participants_per_arm=50, waves=4, intervention_wave=3, effect=0.1, outcome="polarity")
    with pytest.raises(ValueError, match="baseline"):
        estimate_power(participants_per_arm=50, waves=4, intervention_wave=1, effect=0.1)
