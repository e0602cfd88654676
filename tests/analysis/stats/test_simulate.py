"""The panel simulator: determinism, shapes, scale grids, attrition, and recovery of its truth.

Tolerances are four standard errors of the estimate on the sample drawn, so a correct model
fails a test with probability well below 1e-3 whatever the seed.
"""

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats.simulate import (
    DEMO_AGREE_LABELS,
    DEMO_FREQUENCY_LABELS,
    DEMO_ITEM_PROMPTS,
    DEMO_ITEMS,
    DEMO_SPEC,
    TEXT_NEGATIVE_WORDS,
    TEXT_NEUTRAL_WORDS,
    ItemSpec,
    PanelSpec,
    SimulatedPanel,
    simulate_panel,
)

Z = 4.0
ONE_ITEM = (ItemSpec("x", loading=0.8, intercept=0.2),)
TEXT_ITEM = ItemSpec("story", kind="text", loading=1.0, intercept=-0.5)


def negative_share(texts: pd.Series) -> np.ndarray:
    """Share of bank words in each text that come from the negative bank."""
    shares = []
    for text in texts:
        words = re.findall(r"[a-z]+", text.lower())
        negative = sum(word in TEXT_NEGATIVE_WORDS for word in words)
        neutral = sum(word in TEXT_NEUTRAL_WORDS for word in words)
        shares.append(negative / (negative + neutral))
    return np.array(shares)


def on_grid(values: np.ndarray, item: ItemSpec) -> bool:
    steps = (values - item.scale_min) / item.step
    return bool(
        np.all(np.abs(steps - np.round(steps)) < 1e-6)
        and np.all(values >= item.scale_min)
        and np.all(values <= item.scale_max)
    )


@pytest.fixture(scope="module")
def demo() -> SimulatedPanel:
    return simulate_panel(seed=7)


# Determinism and shapes


def test_same_seed_gives_identical_frames():
    first, second = simulate_panel(seed=3), simulate_panel(seed=3)
    pd.testing.assert_frame_equal(first.participants, second.participants)
    pd.testing.assert_frame_equal(first.answers, second.answers)
    pd.testing.assert_frame_equal(first.texts, second.texts)
    pd.testing.assert_frame_equal(first.latent, second.latent)
    pd.testing.assert_frame_equal(
        first.truth["expected_item_means"], second.truth["expected_item_means"]
    )


def test_different_seed_gives_different_frames():
    first, second = simulate_panel(seed=3), simulate_panel(seed=4)
    assert not np.array_equal(first.participants["latent0"], second.participants["latent0"])
    assert not first.answers["value"].equals(second.answers["value"])
    assert not first.texts["text"].equals(second.texts["text"])


def test_demo_defaults_give_600_participants_over_6_waves(demo):
    assert len(demo.participants) == 600
    assert demo.answers["wave"].between(1, 6).all()
    assert set(demo.participants["group"]) == {"left", "right"}
    assert set(demo.participants["arm"]) == {"control", "intervention"}
    assert demo.truth["spec"] == DEMO_SPEC


def test_row_counts_follow_last_wave_and_item_kinds(demo):
    answered_waves = int(demo.participants["last_wave"].sum())
    numeric = [item.code for item in DEMO_ITEMS if item.kind != "text"]
    assert len(demo.answers) == answered_waves * len(numeric)
    assert len(demo.texts) == answered_waves
    assert len(demo.latent) == answered_waves
    assert list(demo.answers["item"].cat.categories) == numeric
    assert set(demo.texts["item"]) == {"describe_disagreement"}
    assert list(demo.answers.columns) == ["participant", "wave", "item", "value", "missing"]
    assert list(demo.texts.columns) == ["participant", "wave", "item", "text"]
    assert list(demo.participants.columns) == [
        "participant",
        "group",
        "arm",
        "last_wave",
        "latent0",
    ]


def test_participant_ids_are_padded_unique_and_sorted(demo):
    ids = demo.participants["participant"]
    assert ids.iloc[0] == "S0001" and ids.iloc[-1] == "S0600"
    assert ids.is_unique
    assert simulate_panel(replace(DEMO_SPEC, n_participants=12_345), seed=0).participants[
        "participant"
    ].iloc[-1] == ("S12345")
    keys = demo.answers[["participant", "wave"]].astype({"participant": str})
    assert keys.equals(keys.sort_values(["participant", "wave"], kind="stable"))


def test_long_frame_adds_each_participants_group_and_arm(demo):
    long = demo.long()
    merged = demo.answers.astype({"participant": str}).merge(
        demo.participants[["participant", "group", "arm"]], on="participant", how="left"
    )
    assert long["group"].tolist() == merged["group"].tolist()
    assert long["arm"].tolist() == merged["arm"].tolist()


# Scales and missing answers


def test_every_demo_value_lies_on_its_item_grid(demo):
    for item in DEMO_ITEMS:
        if item.kind == "text":
            continue
        values = demo.answers.loc[demo.answers["item"] == item.code, "value"].dropna()
        assert on_grid(values.to_numpy(), item), item.code
        assert values.nunique() > 3


@settings(max_examples=25, deadline=None)
@given(
    scale_min=st.sampled_from([-10.0, -3.0, 0.0, 1.0]),
    n_steps=st.integers(min_value=1, max_value=40),
    step=st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
    loading=st.floats(min_value=-3, max_value=3),
    noise_sd=st.floats(min_value=0, max_value=3),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_values_lie_on_any_item_grid(scale_min, n_steps, step, loading, noise_sd, seed):
    item = ItemSpec(
        "x",
        scale_min=scale_min,
        scale_max=scale_min + n_steps * step,
        step=step,
        loading=loading,
        kind="slider",
    )
    spec = PanelSpec(n_participants=50, n_waves=3, items=(item,), noise_sd=noise_sd)
    values = simulate_panel(spec, seed=seed).answers["value"].to_numpy()
    assert on_grid(values, item)


def test_dont_know_answers_are_nan_flagged_and_at_the_given_rate():
    spec = PanelSpec(
        n_participants=20_000,
        n_waves=2,
        intervention_wave=None,
        items=(ItemSpec("dk", dont_know_rate=0.2), ItemSpec("never")),
        attrition_per_wave=0.0,
    )
    answers = simulate_panel(spec, seed=1).answers
    assert (answers["value"].isna() == answers["missing"]).all()
    dk = answers.loc[answers["item"] == "dk", "missing"]
    assert abs(dk.mean() - 0.2) < Z * np.sqrt(0.2 * 0.8 / len(dk))
    assert not answers.loc[answers["item"] == "never", "missing"].any()


def test_text_items_with_a_skip_rate_leave_rows_out():
    story = replace(TEXT_ITEM, dont_know_rate=0.25)
    spec = PanelSpec(
        n_participants=10_000,
        n_waves=2,
        intervention_wave=None,
        items=(story,),
        attrition_per_wave=0.0,
    )
    panel = simulate_panel(spec, seed=2)
    assert panel.answers.empty
    share_kept = len(panel.texts) / 20_000
    assert abs(share_kept - 0.75) < Z * np.sqrt(0.75 * 0.25 / 20_000)


# Attrition


def test_no_answers_after_last_wave_and_every_wave_up_to_it(demo):
    per_person = demo.answers.groupby("participant", observed=True)["wave"].agg(["max", "nunique"])
    last_wave = demo.participants.set_index("participant")["last_wave"]
    assert (per_person["max"] == last_wave.loc[per_person.index]).all()
    assert (per_person["nunique"] == per_person["max"]).all()
    assert demo.participants["last_wave"].between(1, 6).all()


def test_attrition_rate_matches_spec_on_a_large_sample():
    n, rate = 40_000, 0.1
    spec = PanelSpec(n_participants=n, n_waves=6, items=ONE_ITEM, attrition_per_wave=rate)
    panel = simulate_panel(spec, seed=5)
    last_wave = panel.participants["last_wave"].to_numpy()
    for wave in range(1, 7):
        expected = (1 - rate) ** (wave - 1)
        assert abs((last_wave >= wave).mean() - expected) < Z * np.sqrt(
            expected * (1 - expected) / n + 1e-12
        )
    retention = panel.truth["retention"].query("arm == 'control'")
    assert np.allclose(retention["share"], 0.9 ** np.arange(6))


def test_attrition_can_be_higher_in_one_arm():
    n = 30_000
    spec = PanelSpec(
        n_participants=n,
        n_waves=4,
        items=ONE_ITEM,
        attrition_per_wave=0.05,
        attrition_by_arm=(("intervention", 0.2),),
    )
    participants = simulate_panel(spec, seed=6).participants
    stayed = participants.assign(stayed=participants["last_wave"] == 4).groupby("arm")["stayed"]
    for arm, rate in (("control", 0.05), ("intervention", 0.2)):
        expected = (1 - rate) ** 3
        assert abs(stayed.mean()[arm] - expected) < Z * np.sqrt(expected * (1 - expected) / (n / 2))


def test_changing_attrition_only_removes_rows():
    base = replace(DEMO_SPEC, n_participants=300, attrition_per_wave=0.0)
    full = simulate_panel(base, seed=8).answers
    thinned = simulate_panel(replace(base, attrition_per_wave=0.3), seed=8).answers
    assert len(thinned) < len(full)
    merged = thinned.merge(full, on=["participant", "wave", "item"], suffixes=("", "_full"))
    assert len(merged) == len(thinned)
    assert merged["value"].equals(merged["value_full"])


# Latent trend and intervention


def test_latent_group_gap_grows_by_divergence_per_wave_without_noise():
    item = ItemSpec("fine", scale_min=-1000, scale_max=1000, step=0.001, loading=0.1, kind="slider")
    spec = PanelSpec(
        n_participants=2_000,
        n_waves=5,
        items=(item,),
        initial_group_gap=0.3,
        divergence_per_wave=0.07,
        trend_per_wave=0.1,
        effect=0.0,
        state_sd=0.0,
        noise_sd=0.0,
        attrition_per_wave=0.0,
    )
    panel = simulate_panel(spec, seed=9)
    means = panel.long().groupby(["wave", "group"])["value"].mean().unstack()
    gap = (means["left"] - means["right"]) / panel.truth["item_units_per_latent_sd"]["fine"]
    np.testing.assert_allclose(np.diff(gap.to_numpy()), 0.07, atol=1e-5)
    np.testing.assert_allclose(panel.truth["group_gap"].to_numpy(), 0.3 + 0.07 * np.arange(5))


def test_latent_group_means_match_truth():
    spec = PanelSpec(n_participants=20_000, n_waves=4, items=ONE_ITEM, intervention_wave=3)
    panel = simulate_panel(spec, seed=10)
    latent = panel.latent.astype({"participant": str}).merge(
        panel.participants[["participant", "group", "arm"]], on="participant"
    )
    observed = latent.groupby(["wave", "group", "arm"])["latent"].agg(["mean", "std", "count"])
    truth = panel.truth["latent_means"].set_index(["wave", "group", "arm"])["mean"]
    se = observed["std"] / np.sqrt(observed["count"])
    assert (np.abs(observed["mean"] - truth.loc[observed.index]) < Z * se).all()


def test_difference_in_differences_recovers_the_effect_in_item_units():
    items = (
        ItemSpec("agree", loading=0.9, intercept=0.3),
        ItemSpec("thermo", scale_min=0, scale_max=100, loading=-1.0, kind="slider"),
    )
    spec = PanelSpec(
        n_participants=20_000, n_waves=4, items=items, intervention_wave=3, effect=-0.4
    )
    panel = simulate_panel(spec, seed=11)
    long = panel.long()
    long["post"] = long["wave"] >= 3
    expected = panel.truth["expected_effects"].query("wave >= 3").groupby("item")["expected"]
    for code in ("agree", "thermo"):
        per_person = (
            long[long["item"] == code]
            .groupby(["participant", "arm", "post"], observed=True)["value"]
            .mean()
            .unstack("post")
            .dropna()
        )
        change = (per_person[True] - per_person[False]).groupby(level="arm")
        did = change.mean()["intervention"] - change.mean()["control"]
        se = np.sqrt((change.var() / change.count()).sum())
        assert abs(did - expected.mean()[code]) < Z * se, code
        linear = panel.truth["effect_in_item_units"][code]
        assert abs(did - linear) < Z * se + 0.1 * abs(linear), code
    assert panel.truth["effect_in_item_units"]["agree"] == pytest.approx(-0.36)
    assert panel.truth["effect_in_item_units"]["thermo"] == pytest.approx(100 / 6 * 0.4)


def test_expected_effect_equals_linear_effect_far_from_the_bounds():
    item = ItemSpec("wide", scale_min=-500, scale_max=500, step=0.5, loading=0.05, kind="slider")
    spec = PanelSpec(n_participants=10, items=(item,), effect=0.5, noise_sd=0.2)
    effects = simulate_panel(spec).truth["expected_effects"]
    np.testing.assert_allclose(effects["expected"], effects["linear"], atol=1e-6)
    assert effects.query("wave >= 3")["linear"].eq(0.05 * 1000 / 6 * 0.5).all()


def test_expected_item_means_match_observed_means():
    spec = replace(DEMO_SPEC, n_participants=20_000, attrition_per_wave=0.0)
    panel = simulate_panel(spec, seed=12)
    observed = (
        panel.long()
        .groupby(["wave", "group", "arm", "item"], observed=True)["value"]
        .agg(["mean", "std", "count"])
    )
    truth = panel.truth["expected_item_means"].set_index(["wave", "group", "arm", "item"])["mean"]
    se = observed["std"] / np.sqrt(observed["count"])
    z = (observed["mean"] - truth.loc[observed.index]) / se
    assert len(z) == 6 * 2 * 2 * 7
    assert (np.abs(z) < 4.5).all()  # 168 cells: a little above Z keeps the family-wise rate low


def test_effect_decays_geometrically_after_the_intervention_wave():
    spec = PanelSpec(n_participants=10, n_waves=6, items=ONE_ITEM, effect=-0.8, effect_decay=0.5)
    effects = simulate_panel(spec).truth["arm_effects"].set_index(["arm", "wave"])["effect"]
    np.testing.assert_allclose(effects["intervention"], [0, 0, -0.8, -0.4, -0.2, -0.1])
    assert (effects["control"] == 0).all()


def test_arm_effects_override_the_common_effect_and_none_means_no_intervention():
    arms = (("control", 1.0), ("a", 1.0), ("b", 1.0))
    spec = PanelSpec(n_participants=10, items=ONE_ITEM, arms=arms, arm_effects=(("b", 0.2),))
    effects = simulate_panel(spec).truth["arm_effects"].query("wave == 6").set_index("arm")
    assert effects["effect"].to_dict() == {"control": 0.0, "a": -0.3, "b": 0.2}
    none = simulate_panel(replace(spec, intervention_wave=None)).truth["arm_effects"]
    assert (none["effect"] == 0).all()


# Items


def test_reverse_coded_items_correlate_negatively_with_the_others():
    panel = simulate_panel(replace(DEMO_SPEC, n_participants=3_000), seed=13)
    wide = panel.answers.query("wave == 1").pivot(
        index="participant", columns="item", values="value"
    )
    corr = wide.corr()
    reverse = {item.code: item.loading < 0 for item in DEMO_ITEMS if item.kind != "text"}
    assert sorted(code for code, flag in reverse.items() if flag) == [
        "comfortable_talking",
        "good_reasons",
        "understand_other",
        "warmth",
    ]
    assert panel.truth["reverse_coded"] == reverse
    for a in reverse:
        for b in reverse:
            if a != b:
                assert np.sign(corr.loc[a, b]) == (-1 if reverse[a] != reverse[b] else 1), (a, b)
                assert abs(corr.loc[a, b]) > 0.15, (a, b)


def test_demo_items_are_six_7_point_items_a_thermometer_and_a_text():
    likert = [item for item in DEMO_ITEMS if item.kind == "likert"]
    assert len(likert) == 6
    assert all((item.scale_min, item.scale_max, item.step) == (1, 7, 1) for item in likert)
    (thermometer,) = [item for item in DEMO_ITEMS if item.kind == "slider"]
    assert (thermometer.code, thermometer.scale_min, thermometer.scale_max) == ("warmth", 0, 100)
    assert thermometer.step == 1 and thermometer.loading < 0 and thermometer.n_points == 101
    (text,) = [item for item in DEMO_ITEMS if item.kind == "text"]
    assert text.code == "describe_disagreement"
    threat = next(item for item in DEMO_ITEMS if item.code == "threat")
    assert threat.loading > 0


def test_demo_prompts_and_labels_exist_in_english_and_german():
    assert set(DEMO_ITEM_PROMPTS) == {item.code for item in DEMO_ITEMS}
    for prompts in DEMO_ITEM_PROMPTS.values():
        assert set(prompts) == {"en", "de"} and all(prompts.values())
    for labels in (DEMO_AGREE_LABELS, DEMO_FREQUENCY_LABELS):
        assert set(labels) == {"en", "de"}
        assert all(len(labels[lang]) == 7 and len(set(labels[lang])) == 7 for lang in labels)


# Free text


def test_text_negativity_rises_with_latent_hostility():
    spec = PanelSpec(
        n_participants=6_000,
        n_waves=2,
        intervention_wave=None,
        items=(TEXT_ITEM,),
        attrition_per_wave=0.0,
    )
    panel = simulate_panel(spec, seed=14)
    assert panel.texts["text"].str.len().between(30, 140).all()
    share = negative_share(panel.texts["text"])
    latent = panel.latent["latent"].to_numpy()
    assert np.corrcoef(share, latent)[0, 1] > 0.3
    by_tercile = pd.Series(share).groupby(pd.qcut(latent, 3, labels=False)).mean()
    assert by_tercile.is_monotonic_increasing and by_tercile.iloc[2] - by_tercile.iloc[0] > 0.2
    expected = 1 / (1 + np.exp(-(-0.5 + latent)))
    se = share.std() / np.sqrt(share.size)
    assert abs(share.mean() - expected.mean()) < Z * se


def test_text_negativity_tracks_the_latent_trend_over_waves():
    spec = PanelSpec(
        n_participants=4_000,
        n_waves=5,
        items=(TEXT_ITEM,),
        trend_per_wave=0.3,
        effect=0.0,
        attrition_per_wave=0.0,
    )
    panel = simulate_panel(spec, seed=15)
    by_wave = pd.Series(negative_share(panel.texts["text"])).groupby(panel.texts["wave"]).mean()
    assert by_wave.is_monotonic_increasing
    expected = panel.truth["expected_text_negativity"].groupby("wave")["negative_share"].mean()
    assert np.abs(by_wave.to_numpy() - expected.to_numpy()).max() < 0.02


# Arms


def test_arm_shares_follow_the_weights_with_simple_assignment():
    n = 30_000
    arms = (("control", 1.0), ("a", 2.0), ("b", 1.0))
    spec = PanelSpec(n_participants=n, items=ONE_ITEM, arms=arms, assignment="simple")
    shares = simulate_panel(spec, seed=16).participants["arm"].value_counts(normalize=True)
    for arm, share in {"control": 0.25, "a": 0.5, "b": 0.25}.items():
        assert abs(shares[arm] - share) < Z * np.sqrt(share * (1 - share) / n)


def test_stratified_assignment_follows_the_weights_within_each_group():
    arms = (("control", 1.0), ("a", 2.0), ("b", 1.0))
    spec = PanelSpec(n_participants=1_001, items=ONE_ITEM, arms=arms, group_share=0.3)
    participants = simulate_panel(spec, seed=17).participants
    counts = participants.groupby(["group", "arm"]).size().unstack()
    sizes = counts.sum(axis=1)
    for arm, share in {"control": 0.25, "a": 0.5, "b": 0.25}.items():
        assert (np.abs(counts[arm] - sizes * share) < 1).all()
    assert abs(sizes["left"] / 1_001 - 0.3) < Z * np.sqrt(0.3 * 0.7 / 1_001)


# Validation


@pytest.mark.parametrize(
    "changes",
    [
        {"control_arm": "placebo"},
        {"intervention_wave": 7},
        {"items": (ItemSpec("x"), ItemSpec("x"))},
        {"group_share": 1.0},
        {"arms": (("control", 1.0), ("b", 0.0))},
        {"attrition_by_arm": (("nobody", 0.1),)},
        {"assignment": "alternate"},
    ],
)
def test_invalid_panel_spec_is_rejected(changes):
    with pytest.raises(ValueError):
        replace(DEMO_SPEC, **changes)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "choice"},
        {"scale_min": 7, "scale_max": 1},
        {"step": 0},
        {"scale_min": 0, "scale_max": 10, "step": 3},
        {"dont_know_rate": 1.0},
    ],
)
def test_invalid_item_spec_is_rejected(fields):
    with pytest.raises(ValueError):
        ItemSpec("x", **fields)


@pytest.mark.slow
def test_a_panel_of_100000_participants_10_waves_and_10_items_simulates():
    items = tuple(ItemSpec(f"i{j}", loading=(-1) ** j) for j in range(9)) + (TEXT_ITEM,)
    spec = PanelSpec(n_participants=100_000, n_waves=10, items=items, intervention_wave=5)
    panel = simulate_panel(spec, seed=18)
    answered = int(panel.participants["last_wave"].sum())
    assert len(panel.answers) == 9 * answered
    assert len(panel.texts) == answered
