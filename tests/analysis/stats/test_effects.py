"""Effect estimators against independent routes and simulated panels with a known truth.

The truth of an index effect is the difference in differences of the index of the
simulator's *population* answer distributions, derived here from the model documented in
`analysis.stats.simulate` (normal y* per wave, group and arm, cut at the midpoints between
scale points); the truth of an individual-outcome effect is the same DiD of population
expectations. Neither uses the estimator's code.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from analysis.stats import indices as ix
from analysis.stats.effects import (
    DEFAULT_INDICES,
    EXTRA_FIELDS,
    RECORD_FIELDS,
    attrition_table,
    did_design,
    estimate_effects,
    event_study_design,
    fit_twfe,
    holm,
    twfe_permutation_coefficients,
)
from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel
from analysis.stats.tables import AnswersError, ScaleError

ITEM = ItemSpec("hostile", loading=1.0, intercept=1.2)
STUDY_INDICES = ("mean", "sd", "mad_pairwise", "agreement_a", "entropy_norm", "group_gap")
STUDY_OUTCOMES = ("value", "extremity", "distance_other_group")


def study_spec(*, effect: float, n: int = 600, waves: int = 4, **overrides) -> PanelSpec:
    options = dict(
        n_participants=n,
        n_waves=waves,
        items=(ITEM,),
        intervention_wave=3,
        effect=effect,
        trend_per_wave=0.0,
        divergence_per_wave=0.0,
        initial_group_gap=0.6,
        attrition_per_wave=0.05,
    )
    options.update(overrides)
    return PanelSpec(**options)


# --------------------------------------------------------------------------- truth


def population_probabilities(spec: PanelSpec, item: ItemSpec) -> np.ndarray:
    """P(answer = scale point c) per (group, arm, wave, c) from the documented model."""
    lo, hi, step = item.scale_min, item.scale_max, item.step
    k = item.n_points
    r = (hi - lo) / 6.0
    sd = r * math.sqrt(item.loading**2 * (1 + spec.state_sd**2) + spec.noise_sd**2)
    latent = spec.group_means()[:, None, :] + spec.arm_effect_path()[None, :, :]
    mean = (lo + hi) / 2 + r * (item.intercept + item.loading * latent)
    cuts = lo + (np.arange(1, k) - 0.5) * step
    cdf = sps.norm.cdf((cuts - mean[..., None]) / sd)
    zeros = np.zeros(cdf.shape[:-1] + (1,))
    return np.diff(np.concatenate([zeros, cdf, zeros + 1], axis=-1), axis=-1)


def true_index_did(spec: PanelSpec, item: ItemSpec, name: str) -> np.ndarray:
    """DiD of the population index, per post wave (intervention arm 1 vs control arm 0)."""
    probs = population_probabilities(spec, item) * 1e9  # counts of a huge population
    points = item.scale_min + item.step * np.arange(item.n_points)
    share = spec.group_share
    if name in ix.PAIR_INDICES:
        values = getattr(ix, name)(probs[0], probs[1])  # (arm, wave)
    else:
        mixture = share * probs[0] + (1 - share) * probs[1]
        values = getattr(ix, name)(mixture, points) if name in ("mean", "sd") else getattr(ix, name)(mixture)
    return _did_of(values, spec)


def true_outcome_did(spec: PanelSpec, item: ItemSpec, outcome: str) -> np.ndarray:
    probs = population_probabilities(spec, item)  # (group, arm, wave, k)
    points = item.scale_min + item.step * np.arange(item.n_points)
    share = np.array([spec.group_share, 1 - spec.group_share])
    if outcome == "value":
        per_group = probs @ points
    elif outcome == "extremity":
        per_group = probs @ np.abs(points - (item.scale_min + item.scale_max) / 2)
    else:  # distance from the other group's control-arm mean
        control_mean = probs[:, 0] @ points  # (group, wave)
        other = control_mean[::-1]
        per_group = (probs * np.abs(points - other[:, None, :, None])).sum(axis=-1)
    values = np.tensordot(share, per_group, axes=1)  # (arm, wave)
    return _did_of(values, spec)


def _did_of(values: np.ndarray, spec: PanelSpec) -> np.ndarray:
    pre = np.arange(1, spec.n_waves + 1) < spec.intervention_wave
    diff = values[1] - values[0]
    return diff[~pre] - diff[pre].mean()


def run_study(spec: PanelSpec, seed: int, *, bootstrap=199, permutations=0, **options) -> pd.DataFrame:
    answers = simulate_panel(spec, seed=seed).long()
    table = estimate_effects(
        answers,
        control="control",
        intervention_wave=spec.intervention_wave,
        by="group",
        scales={ITEM.code: (1, 7)},
        indices=options.pop("indices", STUDY_INDICES),
        outcomes=options.pop("outcomes", STUDY_OUTCOMES),
        bootstrap=bootstrap,
        permutations=permutations,
        seed=seed,
        balanced=options.pop("balanced", False),
        **options,
    )
    return whole_arms(table.frame)


def whole_arms(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows about whole arms (group ``all``) and pairs of groups, without the single-cell
    indices within one group."""
    within_one_group = frame["group"].str.startswith("group:") & ~frame["group"].str.contains("|", regex=False)
    return frame[~within_one_group]


def pooled(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[(frame["wave"] == "pooled") & (frame["sample"] == "all")]
    return rows.set_index("outcome")


def truths(spec: PanelSpec) -> dict[str, float]:
    out = {name: float(true_index_did(spec, ITEM, name).mean()) for name in STUDY_INDICES}
    out.update({name: float(true_outcome_did(spec, ITEM, name).mean()) for name in STUDY_OUTCOMES})
    return out


def simulation_study(spec: PanelSpec, seeds, **options) -> dict[str, pd.DataFrame]:
    """Pooled estimates of every outcome over many simulated studies."""
    rows = []
    for seed in seeds:
        frame = pooled(run_study(spec, seed, **options))
        frame = frame.assign(seed=seed)
        rows.append(frame.reset_index())
    stacked = pd.concat(rows, ignore_index=True)
    return {name: rows for name, rows in stacked.groupby("outcome")}


# --------------------------------------------------------------------------- truth sanity


def test_population_truth_matches_the_simulators_expected_effect_on_the_mean():
    spec = study_spec(effect=-0.8)
    expected = simulate_panel(study_spec(effect=-0.8, n=10), seed=0).truth["expected_effects"]
    post = expected[expected["wave"] >= spec.intervention_wave]["expected"].to_numpy()
    np.testing.assert_allclose(true_index_did(spec, ITEM, "mean"), post, atol=1e-9)
    np.testing.assert_allclose(true_outcome_did(spec, ITEM, "value"), post, atol=1e-9)


def test_bootstrap_interval_and_randomization_p_agree_with_an_independent_resampling():
    """One study's did_bootstrap row against a plain re-implementation of the documented
    resampling (participants drawn with replacement within arm and group; arm labels shuffled
    within group): the same estimate, and se, interval and p-values within Monte Carlo error.
    Fast; the calibration tests hold the same numbers against the truth over many studies."""
    spec = study_spec(effect=-0.4, n=300)
    answers = simulate_panel(spec, seed=21).long()
    frame = estimate_effects(
        answers, control="control", intervention_wave=3, by="group", scales=(1, 7), indices=("mean",),
        outcomes=(), bootstrap=999, permutations=999, seed=5, balanced=False,
    ).frame
    row = frame[(frame["outcome"] == "mean") & (frame["wave"] == "pooled") & (frame["group"] == "all")].iloc[0]

    answered = answers.dropna(subset=["value"])
    people = answers.drop_duplicates("participant").set_index("participant")
    sums = answered.pivot_table(index="participant", columns="wave", values="value", aggfunc="sum")
    sums = sums.reindex(index=people.index, columns=[1, 2, 3, 4]).fillna(0).to_numpy()
    counts = answered.pivot_table(index="participant", columns="wave", values="value", aggfunc="count")
    counts = counts.reindex(index=people.index, columns=[1, 2, 3, 4]).fillna(0).to_numpy()
    treated = (people["arm"] == "intervention").to_numpy()
    group = people["group"].to_numpy()

    def did(weights_t, weights_c):  # (S, N) weights of each participant in each arm's means
        mean_t = (weights_t @ sums) / (weights_t @ counts)
        mean_c = (weights_c @ sums) / (weights_c @ counts)
        diff = mean_t - mean_c
        return diff[:, 2:].mean(axis=1) - diff[:, :2].mean(axis=1)

    estimate = float(did(treated[None].astype(float), (~treated)[None].astype(float))[0])
    assert row["estimate"] == pytest.approx(estimate, rel=1e-9)

    rng = np.random.default_rng(99)
    draws = np.zeros((4000, treated.size))
    for cell in {(t, g) for t, g in zip(treated, group, strict=True)}:
        members = np.flatnonzero((treated == cell[0]) & (group == cell[1]))
        picks = rng.integers(0, members.size, size=(4000, members.size))
        np.add.at(draws, (np.arange(4000)[:, None], members[picks]), 1)
    boot = did(draws * treated, draws * ~treated)
    assert row["se"] == pytest.approx(boot.std(ddof=1), rel=0.1)
    low, high = np.percentile(boot, [2.5, 97.5])
    assert abs(row["ci_low"] - low) < 0.4 * row["se"] and abs(row["ci_high"] - high) < 0.4 * row["se"]
    p_boot = min(1.0, 2 * min(np.mean(boot <= 0), np.mean(boot >= 0)))
    assert 0.02 < p_boot < 0.5 and abs(row["p_value"] - p_boot) < 0.05

    labels = np.zeros((4000, treated.size), dtype=bool)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        for r in range(4000):
            labels[r, members] = rng.permutation(treated[members])
    permuted = did(labels.astype(float), (~labels).astype(float))
    p_ri = (1 + np.sum(np.abs(permuted) >= abs(estimate))) / (permuted.size + 1)
    assert 0.02 < p_ri < 0.5 and abs(row["p_ri"] - p_ri) < 0.05


# --------------------------------------------------------------------------- unbiased, coverage
# Monte-Carlo calibration over hundreds of simulated studies (`calibration`: .ci/run and
# `make test-calibration`; `make test` keeps the fast check of one study above).


@pytest.fixture(scope="module")
def effect_study():
    spec = study_spec(effect=-0.8)
    return spec, simulation_study(spec, range(200))


@pytest.mark.calibration
def test_index_and_outcome_effects_are_unbiased_within_monte_carlo_error(effect_study):
    spec, study = effect_study
    truth = truths(spec)
    for name, rows in study.items():
        estimates = rows["estimate"].to_numpy(dtype=float)
        mc_error = estimates.std(ddof=1) / math.sqrt(estimates.size)
        assert abs(estimates.mean() - truth[name]) < 3.5 * mc_error + 1e-3, (name, estimates.mean(), truth[name])
    # the effect is not trivially zero on the outcomes under test
    assert truth["mean"] < -0.5 and abs(truth["sd"]) > 0.05 and abs(truth["extremity"]) > 0.2


@pytest.mark.calibration
def test_bootstrap_standard_errors_match_the_spread_across_studies(effect_study):
    _, study = effect_study
    for name, rows in study.items():
        spread = rows["estimate"].std(ddof=1)
        assert rows["se"].mean() == pytest.approx(spread, rel=0.15), name


@pytest.mark.calibration
def test_95_percent_intervals_cover_the_truth_in_90_5_to_98_5_percent_of_200_studies(effect_study):
    spec, study = effect_study
    truth = truths(spec)
    coverage = {}
    for name, rows in study.items():
        covered = (rows["ci_low"] <= truth[name]) & (truth[name] <= rows["ci_high"])
        coverage[name] = covered.mean()
    print("coverage over 200 studies:", coverage)
    for name, share in coverage.items():
        assert 0.905 <= share <= 0.985, (name, share)


@pytest.fixture(scope="module")
def null_study():
    spec = study_spec(effect=0.0)
    return simulation_study(spec, range(1000, 1200), permutations=199)


@pytest.mark.calibration
def test_false_positive_rate_at_zero_effect_is_within_1_5_to_9_5_percent(null_study):
    rates = {name: (rows["p_value"] < 0.05).mean() for name, rows in null_study.items()}
    ri_rates = {name: (rows["p_ri"] < 0.05).mean() for name, rows in null_study.items()}
    print("false-positive rates over 200 null studies:", rates, "randomization:", ri_rates)
    for name in rates:
        assert 0.015 <= rates[name] <= 0.095, (name, rates[name])
        assert 0.015 <= ri_rates[name] <= 0.095, (name, ri_rates[name])


@pytest.mark.calibration
def test_randomization_p_values_are_roughly_uniform_under_the_null(null_study):
    for name, rows in null_study.items():
        p = rows["p_ri"].to_numpy(dtype=float)
        assert 0.40 <= (p < 0.5).mean() <= 0.60, name
        assert sps.kstest(p, "uniform").pvalue > 0.001, name


@pytest.mark.slow
@pytest.mark.calibration
def test_95_percent_intervals_cover_the_truth_in_93_5_to_96_5_percent_of_1000_studies():
    spec = study_spec(effect=-0.8, n=800)
    study = simulation_study(spec, range(5000, 6000), bootstrap=499)
    truth = truths(spec)
    coverage = {
        name: ((rows["ci_low"] <= truth[name]) & (truth[name] <= rows["ci_high"])).mean()
        for name, rows in study.items()
    }
    print("coverage over 1000 studies:", coverage)
    for name, share in coverage.items():
        assert 0.935 <= share <= 0.965, (name, share)


def test_per_wave_estimates_follow_a_decaying_effect():
    spec = study_spec(effect=-1.0, n=4000, waves=6, effect_decay=0.5)
    frame = run_study(spec, 7, bootstrap=99, indices=("mean", "sd"), outcomes=("value",))
    for outcome, method, truth in (
        ("mean", "did_bootstrap", true_index_did(spec, ITEM, "mean")),
        ("sd", "did_bootstrap", true_index_did(spec, ITEM, "sd")),
        ("value", "event_study", true_outcome_did(spec, ITEM, "value")),
    ):
        rows = frame[(frame["outcome"] == outcome) & (frame["method"] == method)]
        rows = rows[rows["wave"] != "pooled"]
        rows = rows[rows["wave"].astype(int) >= spec.intervention_wave]
        estimate = rows["estimate"].to_numpy(dtype=float)
        se = rows["se"].to_numpy(dtype=float)
        # (the event study is relative to the last pre wave, the index DiD to the mean of the
        # pre waves; without trends both baselines have the same expectation)
        assert np.all(np.abs(estimate - truth) < 4 * se), (outcome, estimate, truth)
        assert abs(estimate[0]) > abs(estimate[-1])


# --------------------------------------------------------------------------- independent routes


def small_panel(seed=3, n=40, waves=4, drop=0.25):
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 8, size=(n, waves)).astype(float)
    values[rng.random((n, waves)) < drop] = np.nan
    treated = rng.random(n) < 0.5
    return values, treated


def long_frame(values, treated):
    n, waves = values.shape
    p, t = np.nonzero(np.isfinite(values))
    return pd.DataFrame(
        {"participant": p, "wave": t + 1, "y": values[p, t], "treated": treated[p].astype(float)}
    )


def statsmodels_dummies(frame, regressors):
    X = pd.get_dummies(frame["participant"], prefix="p", dtype=float)
    X = X.join(pd.get_dummies(frame["wave"], prefix="w", drop_first=True, dtype=float))
    X = X.join(frame[regressors])
    fit = sm.OLS(frame["y"], X).fit(
        cov_type="cluster", cov_kwds={"groups": frame["participant"].to_numpy()}
    )
    return fit, X.shape[1]


def test_twfe_coefficient_equals_plain_ols_with_dummies_on_an_unbalanced_panel():
    values, treated = small_panel()
    frame = long_frame(values, treated)
    frame["d"] = frame["treated"] * (frame["wave"] >= 3)
    reference, k_dummies = statsmodels_dummies(frame, ["d"])
    fit = fit_twfe(values, treated, did_design([1, 2, 3, 4], 3))
    assert fit.coef[0] == pytest.approx(reference.params["d"], abs=1e-10)
    # statsmodels counts every participant dummy in the small-sample factor; ours does not
    # (participant effects are nested in the clusters), otherwise the sandwich is identical.
    n_obs = len(frame)
    ratio = math.sqrt((n_obs - k_dummies) / (n_obs - (1 + 4)))
    assert fit.se[0] == pytest.approx(reference.bse["d"] * ratio, rel=1e-9)
    assert fit.n_obs == n_obs and fit.n_clusters == frame["participant"].nunique()


def test_event_study_coefficients_equal_plain_ols_with_dummies():
    values, treated = small_panel(seed=5, n=60, waves=5)
    frame = long_frame(values, treated)
    design, kept = event_study_design([1, 2, 3, 4, 5], 3)
    assert kept.tolist() == [1, 3, 4, 5]  # reference = wave 2, the last pre wave
    names = []
    for wave in kept:
        frame[f"e{wave}"] = frame["treated"] * (frame["wave"] == wave)
        names.append(f"e{wave}")
    reference, _ = statsmodels_dummies(frame, names)
    fit = fit_twfe(values, treated, design)
    np.testing.assert_allclose(fit.coef, reference.params[names].to_numpy(), atol=1e-10)


def test_permutation_coefficients_equal_refitting_each_permutation():
    values, treated = small_panel(seed=11, n=50, waves=5, drop=0.3)
    rng = np.random.default_rng(0)
    permutations = np.array([rng.permutation(treated) for _ in range(6)], dtype=float)
    fast = twfe_permutation_coefficients(values, permutations, did_design([1, 2, 3, 4, 5], 3)[:, 0])
    slow = [fit_twfe(values, d, did_design([1, 2, 3, 4, 5], 3)).coef[0] for d in permutations]
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)


def test_event_study_permutation_coefficients_equal_refitting_each_permutation():
    values, treated = small_panel(seed=12, n=50, waves=5, drop=0.3)
    rng = np.random.default_rng(1)
    permutations = np.array([rng.permutation(treated) for _ in range(6)], dtype=float)
    design, _ = event_study_design([1, 2, 3, 4, 5], 3)
    fast = twfe_permutation_coefficients(values, permutations, design)
    slow = np.array([fit_twfe(values, d, design).coef for d in permutations])
    assert fast.shape == (6, 4)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)


def test_index_did_equals_the_did_of_indices_computed_directly_from_answers():
    spec = study_spec(effect=-0.5, n=300)
    answers = simulate_panel(spec, seed=4).long()
    frame = estimate_effects(
        answers, control="control", intervention_wave=3, by="group", scales=(1, 7),
        indices=("sd", "agreement_a", "wasserstein"), outcomes=(), bootstrap=0, permutations=0,
        balanced=False,
    ).frame
    answered = answers.dropna(subset=["value"])

    def counts(rows):
        return np.bincount(rows["value"].astype(int) - 1, minlength=7)

    def index(arm, wave, name):
        rows = answered[(answered["arm"] == arm) & (answered["wave"] == wave)]
        if name == "wasserstein":
            return ix.wasserstein(counts(rows[rows["group"] == "left"]), counts(rows[rows["group"] == "right"]))
        return ix.sd(counts(rows), np.arange(1, 8)) if name == "sd" else ix.agreement_a(counts(rows))

    for name in ("sd", "agreement_a", "wasserstein"):
        series = {arm: np.array([index(arm, w, name) for w in (1, 2, 3, 4)]) for arm in ("control", "intervention")}
        diff = series["intervention"] - series["control"]
        # every wave against the pre-wave mean: waves 1 and 2 are the placebo checks (they
        # cancel), waves 3 and 4 the effects, pooled over the post waves
        expected = diff - diff[:2].mean()
        whole = whole_arms(frame)
        rows = whole[(whole["outcome"] == name) & (whole["wave"] != "pooled")]
        assert rows["wave"].tolist() == [1, 2, 3, 4]
        np.testing.assert_allclose(rows["estimate"].to_numpy(dtype=float), expected, atol=1e-12)
        assert expected[0] == pytest.approx(-expected[1], abs=1e-12)
        pooled_row = whole[(whole["outcome"] == name) & (whole["wave"] == "pooled")]
        assert float(pooled_row["estimate"].iloc[0]) == pytest.approx(expected[2:].mean(), abs=1e-12)
        assert pooled_row["group"].iloc[0] == ("group:left|group:right" if name == "wasserstein" else "all")


@pytest.fixture
def quick_multipletests(monkeypatch):
    """statsmodels' Holm runs a full garbage collection on every call (0.1-0.2 s in a test
    process this size); the reference values are the same without it."""
    monkeypatch.setattr(gc, "collect", lambda generation=2: 0)


def test_holm_matches_statsmodels_multipletests(quick_multipletests):
    rng = np.random.default_rng(2)
    for size in (1, 2, 5, 12):
        p = rng.random(size) ** 3
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], atol=1e-12)
    with_nan = np.array([0.01, np.nan, 0.04, 0.03])
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    np.testing.assert_allclose(holm(with_nan)[[0, 2, 3]], expected)
    assert np.isnan(holm(with_nan)[1])


# --------------------------------------------------------------------------- several arms, labels


def three_arm_answers(seed=8):
    spec = study_spec(
        effect=-0.6, n=900,
        arms=(("control", 1.0), ("nudge", 1.0), ("video", 1.0)),
        arm_effects=(("nudge", 0.0),),
    )
    return simulate_panel(spec, seed=seed).long()


def test_each_arm_is_compared_with_control_and_holm_adjusts_within_outcome_item_and_wave(quick_multipletests):
    frame = estimate_effects(
        three_arm_answers(), control="control", intervention_wave=3, by="group", scales=(1, 7),
        indices=("mean", "sd"), bootstrap=99, permutations=0, primary_outcome="value",
    ).frame
    assert set(frame["arm"]) == {"nudge", "video"}
    family = ["outcome", "item", "wave", "method", "sample", "group"]
    for _, rows in frame.groupby(family):
        assert len(rows) == 2
        expected = multipletests(rows["p_value"].to_numpy(dtype=float), method="holm")[1]
        np.testing.assert_allclose(rows["p_holm"].to_numpy(dtype=float), expected)
    twfe = frame[(frame["method"] == "twfe") & (frame["outcome"] == "value")].set_index("arm")
    assert twfe.loc["video", "p_holm"] < 0.001 and twfe.loc["nudge", "p_holm"] > 0.01
    assert frame.loc[frame["outcome"] == "value", "primary"].all()
    assert not frame.loc[frame["outcome"] != "value", "primary"].any()


def test_records_have_the_design_fields_then_the_extras():
    frame = run_study(study_spec(effect=-0.5, n=200), 1, bootstrap=20, permutations=20, balanced=True)
    assert list(frame.columns) == list(RECORD_FIELDS) + list(EXTRA_FIELDS)
    assert set(frame["method"]) == {
        "did_bootstrap", "twfe", "event_study",
        "did_bootstrap_balanced", "twfe_balanced", "event_study_balanced",
    }
    waves = set(frame["wave"])
    assert waves == {1, 2, 3, 4, "pooled"}  # pre waves: placebo checks (event study: 2 is the reference)
    assert set(frame.loc[frame["method"] == "event_study", "wave"]) == {1, 3, 4}
    assert frame.loc[frame["method"] == "event_study", "p_ri"].notna().all()
    assert frame.loc[frame["method"] == "twfe", "p_ri"].notna().all()
    assert frame.loc[frame["method"] == "did_bootstrap", "p_ri"].notna().all()


def test_balanced_rows_use_only_participants_who_answered_every_wave():
    spec = study_spec(effect=-0.5, n=400, attrition_per_wave=0.2)
    sim = simulate_panel(spec, seed=2)
    frame = run_study(spec, 2, bootstrap=20, balanced=True)
    complete = int((sim.participants["last_wave"] == spec.n_waves).sum())
    balanced = frame[frame["sample"] == "balanced"]
    assert (balanced["n"] == complete).all()
    assert (frame.loc[frame["sample"] == "all", "n"] == spec.n_participants).all()


def test_defaults_cover_every_index_but_n():
    assert "n" not in DEFAULT_INDICES
    assert set(DEFAULT_INDICES) == (set(ix.CELL_INDICES) - {"n"}) | set(ix.PAIR_INDICES) | set(
        ix.ACROSS_ITEM_INDICES)


def test_without_a_grouping_column_pair_indices_and_distance_are_left_out():
    spec = study_spec(effect=-0.5, n=200)
    answers = simulate_panel(spec, seed=0).long().drop(columns=["group"])
    frame = estimate_effects(answers, control="control", intervention_wave=3, bootstrap=10, permutations=0).frame
    assert not set(frame["outcome"]) & (set(ix.PAIR_INDICES) | {"distance_other_group"})
    assert {"value", "extremity", "sd"} <= set(frame["outcome"])


def test_same_seed_gives_identical_estimates():
    spec = study_spec(effect=-0.5, n=200)
    first = run_study(spec, 3, bootstrap=50, permutations=50)
    second = run_study(spec, 3, bootstrap=50, permutations=50)
    pd.testing.assert_frame_equal(first, second)


# --------------------------------------------------------------------------- attrition


def test_attrition_test_flags_simulated_differential_attrition():
    spec = study_spec(effect=-0.5, n=1000, waves=5, attrition_by_arm=(("intervention", 0.15), ("control", 0.03)))
    answers = simulate_panel(spec, seed=6).long()
    table = estimate_effects(
        answers, control="control", intervention_wave=3, by="group", scales=(1, 7),
        indices=("mean",), outcomes=("value",), bootstrap=20, permutations=0,
    )
    attrition = table.attrition.set_index(["arm", "wave"])
    assert attrition.loc[("intervention", 5), "differential"]
    assert attrition.loc[("intervention", 5), "completion"] < attrition.loc[("control", 5), "completion"]
    assert table.frame["attrition_warning"].any()
    pooled_rows = table.frame[table.frame["wave"] == "pooled"]
    assert pooled_rows["attrition_warning"].all()
    assert any("differential attrition" in note for note in table.warnings)


def test_equal_attrition_raises_no_warning():
    spec = study_spec(effect=-0.5, n=1000, waves=5, attrition_per_wave=0.08)
    answers = simulate_panel(spec, seed=6).long()
    table = estimate_effects(
        answers, control="control", intervention_wave=3, by="group", scales=(1, 7),
        indices=("mean",), outcomes=("value",), bootstrap=20, permutations=0,
    )
    assert not table.attrition["differential"].any()
    assert not table.frame["attrition_warning"].any()


def test_attrition_table_uses_pearson_chi_square_per_wave():
    present = np.ones((200, 3), dtype=bool)
    present[:30, 2] = False  # 30 of the 100 treated missing at wave 3
    present[100:110, 2] = False  # 10 of the 100 controls
    arms = np.array(["t"] * 100 + ["c"] * 100, dtype=object)
    table = attrition_table(present, arms, np.array([1, 2, 3]), control="c").set_index(["arm", "wave"])
    chi2 = sps.chi2_contingency([[70, 30], [90, 10]], correction=False)[1]
    assert table.loc[("t", 3), "p_value"] == pytest.approx(chi2)
    assert table.loc[("t", 1), "p_value"] == 1.0
    assert table.loc[("t", 3), "completion"] == pytest.approx(0.7)


# --------------------------------------------------------------------------- errors


def base_answers():
    return simulate_panel(study_spec(effect=0.0, n=40), seed=0).long()


def test_it_rejects_a_control_arm_that_is_not_in_the_data():
    with pytest.raises(ValueError, match="control arm 'placebo'"):
        estimate_effects(base_answers(), control="placebo", intervention_wave=3, bootstrap=0)


def test_it_rejects_an_intervention_wave_without_pre_waves():
    with pytest.raises(ValueError, match="waves before"):
        estimate_effects(base_answers(), control="control", intervention_wave=1, bootstrap=0)


def test_it_rejects_a_value_off_the_scale_naming_the_row():
    answers = base_answers()
    answers.loc[5, "value"] = 9
    with pytest.raises(ScaleError) as error:
        estimate_effects(answers, control="control", intervention_wave=3, scales=(1, 7), bootstrap=0)
    assert error.value.row == 5


def test_it_rejects_a_participant_in_two_arms_naming_the_row():
    answers = base_answers()
    answers["arm"] = answers["arm"].astype(object)
    first = answers.index[answers["participant"] == answers.loc[10, "participant"]]
    answers.loc[first[-1], "arm"] = "video" if answers.loc[10, "arm"] == "control" else "control"
    with pytest.raises(AnswersError) as error:
        estimate_effects(answers, control="control", intervention_wave=3, bootstrap=0)
    assert error.value.row == first[-1] and error.value.column == "arm"


def test_it_rejects_unknown_index_names():
    with pytest.raises(ValueError, match="unknown index 'polarisation'"):
        estimate_effects(base_answers(), control="control", intervention_wave=3, indices=("polarisation",))


def test_randomization_products_in_blocks_give_the_same_p_values(monkeypatch):
    """The TWFE randomization products are taken per block of summaries when they would not fit
    in one: p_ri moves by at most one re-randomization (a permuted coefficient within float32
    rounding of the estimate), the rest of every row is unchanged."""
    from analysis.stats.effects import twfe
    from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel

    items = tuple(ItemSpec(f"item{j + 1}") for j in range(3))
    answers = simulate_panel(PanelSpec(n_participants=300, n_waves=4, items=items, intervention_wave=3),
                             seed=2).long()
    options = dict(control="control", intervention_wave=3, by="group", scales=(1, 7, 1), bootstrap=20,
                   permutations=50, seed=1, indices=())
    whole = estimate_effects(answers, **options).frame
    monkeypatch.setattr(twfe, "_RI_BLOCK_BYTES", 1)
    blocks = estimate_effects(answers, **options).frame
    pd.testing.assert_frame_equal(whole.drop(columns="p_ri"), blocks.drop(columns="p_ri"), check_exact=True)
    assert np.nanmax(np.abs(whole["p_ri"] - blocks["p_ri"])) <= 1 / 51 + 1e-12
    assert whole["p_ri"].notna().sum() == blocks["p_ri"].notna().sum() > 0
