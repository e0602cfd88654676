"""From long answers to the index table: scales, group keys, pooled rows, errors."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats import indices as ix
from analysis.stats.tables import (
    COLUMNS,
    AnswersError,
    Scale,
    ScaleError,
    compute_index_table,
)

LIKERT = Scale(1, 7)


def answers(participants=40, waves=(1, 2), items=("q1", "q2", "q3"), seed=0, missing=0.05) -> pd.DataFrame:
    """A small panel: sides left/right, right answering higher on q1 and q3, lower on q2."""
    rng = np.random.default_rng(seed)
    side = np.where(np.arange(participants) % 2 == 0, "left", "right")
    frames = []
    for wave in waves:
        for j, item in enumerate(items):
            shift = np.where(side == "right", 1.0, -1.0) * (1 if j != 1 else -1)
            value = np.clip(np.round(4 + shift + rng.normal(0, 1.3, participants)), 1, 7)
            value[rng.random(participants) < missing] = np.nan
            frames.append(pd.DataFrame({"participant": [f"p{i:03d}" for i in range(participants)], "wave": wave,
                                        "item": item, "value": value, "side": side}))
    return pd.concat(frames, ignore_index=True)


def cell(frame, wave, item, group, index):
    rows = frame[(frame["wave"] == wave) & (frame["group"] == group) & (frame["index"] == index)]
    rows = rows[rows["item"].isna()] if item is None else rows[rows["item"] == item]
    assert len(rows) == 1, (wave, item, group, index, len(rows))
    return rows.iloc[0]


def counts_of(values, k) -> np.ndarray:
    values = pd.Series(values).dropna().astype(int)
    return np.bincount(values - 1, minlength=k)


# --------------------------------------------------------------------------- scale


def test_scale_k_counts_the_points_of_likert_items_and_sliders():
    assert LIKERT.k == 7
    assert Scale(0, 100, 5).k == 21
    assert Scale(1, 2).k == 2
    np.testing.assert_array_equal(Scale(0, 1, 0.25).points, [0, 0.25, 0.5, 0.75, 1])


def test_scale_codes_map_values_to_categories_and_missing_to_zero():
    np.testing.assert_array_equal(Scale(0, 100, 5).codes([0, 5, 100, np.nan, 55]), [1, 2, 21, 0, 12])


def test_it_rejects_value_outside_scale():
    with pytest.raises(ScaleError, match=r"row 17: column 'value': 9 is outside the scale 1\.\.7") as caught:
        LIKERT.codes([1, 9], rows=[16, 17])
    assert isinstance(caught.value, ValueError)
    assert (caught.value.value, caught.value.row) == (9, 17)


def test_it_rejects_value_between_two_scale_points():
    with pytest.raises(ScaleError, match=r"2\.5 is not a point of the scale 1\.\.7"):
        LIKERT.codes([2.5])
    with pytest.raises(ScaleError, match=r"7 is not a point of the scale 0\.\.100 \(step 5\)"):
        Scale(0, 100, 5).codes([7])


@pytest.mark.parametrize(("low", "high", "step"), [(3, 3, 1), (5, 1, 1), (1, 7, 0), (1, 7, 4), (1, math.inf, 1)])
def test_it_rejects_malformed_scales(low, high, step):
    with pytest.raises(ValueError):
        Scale(low, high, step)


def test_scale_is_read_from_tuples_and_item_like_objects():
    class Item:
        scale_min, scale_max, step = 0, 10, 1

    assert Scale.coerce((1, 5)) == Scale(1, 5, 1)
    assert Scale.coerce(Item()) == Scale(0, 10, 1)
    assert str(Scale(0, 10, 0.5)) == "0..10 (step 0.5)"


# --------------------------------------------------------------------------- table shape


def test_frame_has_exactly_the_contract_columns_and_group_keys():
    table = compute_index_table(answers(), scales=LIKERT, by=["side"], bootstrap=0)
    assert tuple(table.frame.columns) == COLUMNS
    assert list(dict.fromkeys(table.frame["group"])) == ["all", "side:left", "side:right", "side:left|side:right"]
    per_item = table.frame[table.frame["item"] == "q1"]
    assert set(per_item.loc[per_item["group"] == "all", "index"]) == set(ix.CELL_INDICES)
    assert set(per_item.loc[per_item["group"].str.contains("|", regex=False), "index"]) == set(ix.PAIR_INDICES)
    pooled = table.frame[table.frame["item"].isna()]
    assert set(pooled.loc[pooled["group"] == "all", "index"]) == {*ix.CELL_INDICES, "constraint"}
    assert set(pooled.loc[pooled["group"] == "side:left|side:right", "index"]) == {*ix.PAIR_INDICES, "alignment"}
    assert pooled["item"].map(lambda v: v is None).all()
    assert table.frame["wave"].dtype == np.int64
    # per wave: 3 items x (3 groups x 10 + 1 pair x 4), pooled 3 groups x 11 + 1 pair x 5
    assert len(table.frame) == 2 * (3 * (3 * 10 + 4)) + 2 * (3 * 11 + 5)


def test_integral_float_group_values_are_shown_without_decimals():
    frame = answers()
    frame["side"] = frame["side"].map({"left": 1.0, "right": 2.0})
    groups = set(compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=0).frame["group"])
    assert groups == {"all", "side:1", "side:2", "side:1|side:2"}


def test_every_column_of_by_gets_its_groups_and_pairs_within_the_column_only():
    frame = answers()
    frame["arm"] = np.where(frame["participant"].str[-1].astype(int) % 3 == 0, "control", "nudge")
    groups = list(dict.fromkeys(compute_index_table(frame, scales=LIKERT, by=["side", "arm"], bootstrap=0)
                                .frame["group"]))
    assert groups == ["all", "side:left", "side:right", "arm:control", "arm:nudge",
                      "side:left|side:right", "arm:control|arm:nudge"]


def test_empty_answers_give_an_empty_table():
    empty = pd.DataFrame({"participant": [], "wave": [], "item": [], "value": []})
    table = compute_index_table(empty, scales=LIKERT)
    assert tuple(table.frame.columns) == COLUMNS and table.frame.empty


# --------------------------------------------------------------------------- values


def test_cell_values_equal_the_index_functions_on_the_cells_counts():
    frame = answers()
    table = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=0).frame
    for group, rows in [("all", frame), ("side:right", frame[frame["side"] == "right"])]:
        counts = counts_of(rows.loc[(rows["wave"] == 2) & (rows["item"] == "q3"), "value"], 7)
        expected = ix.cell_indices(counts)
        for name in ix.CELL_INDICES:
            got = cell(table, 2, "q3", group, name)
            np.testing.assert_allclose(got["value"], expected[name], rtol=1e-12, equal_nan=True)
            assert got["n"] == counts.sum()


def test_pair_rows_are_group_a_minus_group_b_with_n_of_both():
    frame = answers()
    table = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=0).frame
    wave1 = frame[(frame["wave"] == 1) & (frame["item"] == "q1")]
    left = counts_of(wave1.loc[wave1["side"] == "left", "value"], 7)
    right = counts_of(wave1.loc[wave1["side"] == "right", "value"], 7)
    gap = cell(table, 1, "q1", "side:left|side:right", "group_gap")
    assert gap["value"] == pytest.approx(float(ix.group_gap(left, right)))
    assert gap["value"] < 0  # right answers q1 higher
    assert gap["n"] == left.sum() + right.sum()
    assert cell(table, 1, "q1", "side:left|side:right", "cohens_d")["value"] == pytest.approx(
        float(ix.cohens_d(left, right)))


def test_mean_and_sd_are_on_the_items_own_scale():
    frame = answers(items=("q1",))
    frame["value"] = (frame["value"] - 1) * 10  # a 0..60 slider with step 10
    table = compute_index_table(frame, scales=Scale(0, 60, 10), bootstrap=0).frame
    values = frame.loc[frame["wave"] == 1, "value"].dropna()
    assert cell(table, 1, "q1", "all", "mean")["value"] == pytest.approx(values.mean())
    assert cell(table, 1, "q1", "all", "sd")["value"] == pytest.approx(values.std(ddof=1))


def test_missing_values_are_excluded_and_counted():
    frame = answers(missing=0.0)
    frame.loc[[0, 1], "value"] = np.nan
    frame.loc[2, "value"] = -99
    frame["missing"] = False
    frame.loc[3, "missing"] = True
    table = compute_index_table(frame, scales=LIKERT, missing_codes=[-99], bootstrap=0)
    assert table.missing.iloc[0].to_dict() == {"wave": 1, "item": "q1", "missing": 4}
    assert table.missing["missing"].sum() == 4
    assert cell(table.frame, 1, "q1", "all", "n")["value"] == 40 - 4


def test_scale_bounds_fix_k_even_when_a_category_is_empty():
    frame = pd.DataFrame({"participant": range(6), "wave": 1, "item": "q", "value": [2, 3, 3, 4, 4, 4]})
    five = compute_index_table(frame, scales=Scale(1, 5), bootstrap=0).frame
    seven = compute_index_table(frame, scales=Scale(1, 7), bootstrap=0).frame
    h = -(1 / 6 * math.log(1 / 6) + 2 / 6 * math.log(2 / 6) + 3 / 6 * math.log(3 / 6))
    assert cell(five, 1, "q", "all", "entropy_norm")["value"] == pytest.approx(h / math.log(5))
    assert cell(seven, 1, "q", "all", "entropy_norm")["value"] == pytest.approx(h / math.log(7))
    assert cell(seven, 1, "q", "all", "leik_d")["value"] == pytest.approx(
        float(ix.leik_d([0, 1, 2, 3, 0, 0, 0])))


def test_pooled_rows_average_the_items_after_reverse_coding():
    frame = answers()
    table = compute_index_table(frame, scales=LIKERT, by=["side"], reverse=["q2"], bootstrap=0).frame
    means = [cell(table, 1, item, "side:left", "mean")["value"] for item in ("q1", "q2", "q3")]
    # pooled on each item's scale rescaled to [0, 1]: (mean - 1) / 6, reversed 1 - that
    assert cell(table, 1, None, "side:left", "mean")["value"] == pytest.approx(
        ((means[0] - 1) + (7 - means[1]) + (means[2] - 1)) / 6 / 3)
    gaps = [cell(table, 1, item, "side:left|side:right", "group_gap")["value"] for item in ("q1", "q2", "q3")]
    assert cell(table, 1, None, "side:left|side:right", "group_gap")["value"] == pytest.approx(
        (gaps[0] - gaps[1] + gaps[2]) / 3)
    agreement = [cell(table, 1, item, "all", "agreement_a")["value"] for item in ("q1", "q2", "q3")]
    assert cell(table, 1, None, "all", "agreement_a")["value"] == pytest.approx(np.mean(agreement))
    # per-item rows are never reversed
    assert cell(table, 1, "q2", "all", "mean")["value"] == pytest.approx(
        frame.loc[(frame["wave"] == 1) & (frame["item"] == "q2"), "value"].mean())


def test_pooled_mean_and_sd_are_on_each_items_scale_rescaled_to_0_1():
    # a 7-point item (answers 1 and 4) and a 0-100 thermometer (answers 20 and 40)
    frame = pd.DataFrame({
        "participant": ["a", "b", "a", "b"], "wave": 1, "item": ["likert", "likert", "thermo", "thermo"],
        "value": [1.0, 4.0, 20.0, 40.0],
    })
    scales = {"likert": Scale(1, 7), "thermo": Scale(0, 100)}
    table = compute_index_table(frame, scales=scales, bootstrap=0).frame
    # per item: own units
    assert cell(table, 1, "likert", "all", "mean")["value"] == pytest.approx(2.5)
    assert cell(table, 1, "thermo", "all", "mean")["value"] == pytest.approx(30.0)
    assert cell(table, 1, "thermo", "all", "sd")["value"] == pytest.approx(14.142135623730951)
    # pooled: likert (2.5 - 1) / 6 = 0.25, thermo 30 / 100 = 0.3; SDs 2.1213 / 6 and 14.142 / 100
    assert cell(table, 1, None, "all", "mean")["value"] == pytest.approx(0.275)
    assert cell(table, 1, None, "all", "sd")["value"] == pytest.approx((0.3535533905932738 + 0.1414213562373095) / 2)
    reversed_ = compute_index_table(frame, scales=scales, reverse=["likert"], bootstrap=0).frame
    assert cell(reversed_, 1, None, "all", "mean")["value"] == pytest.approx((0.75 + 0.3) / 2)
    # the pooled mean lies within the items' range on the 0-1 scale
    assert 0.25 <= cell(table, 1, None, "all", "mean")["value"] <= 0.3


def test_pooled_n_counts_participants_with_at_least_one_answer():
    frame = answers(missing=0.0)
    frame.loc[(frame["participant"] == "p000") & (frame["wave"] == 1), "value"] = np.nan
    table = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=0).frame
    assert cell(table, 1, None, "all", "n")["value"] == 39
    assert cell(table, 1, None, "side:left", "constraint")["n"] == 19
    assert cell(table, 1, None, "side:left|side:right", "alignment")["n"] == 39


def test_constraint_is_the_mean_absolute_pairwise_correlation_of_the_items():
    frame = answers(participants=60)
    table = compute_index_table(frame, scales=LIKERT, by=["side"], reverse=["q2"], bootstrap=0).frame
    wide = frame[frame["wave"] == 2].pivot(index="participant", columns="item", values="value")
    side = frame[frame["wave"] == 2].groupby("participant")["side"].first()
    for group, rows in [("all", wide), ("side:left", wide[side[wide.index] == "left"])]:
        r = rows.corr().to_numpy()  # pandas: pairwise-complete Pearson correlations
        expected = np.abs(r[np.triu_indices(3, 1)]).mean()
        assert cell(table, 2, None, group, "constraint")["value"] == pytest.approx(expected, rel=1e-10)


def test_constraint_of_complete_answers_matches_numpy_corrcoef():
    frame = answers(participants=50, missing=0.0)
    table = compute_index_table(frame, scales=LIKERT, bootstrap=0).frame
    wide = frame[frame["wave"] == 1].pivot(index="participant", columns="item", values="value").to_numpy()
    r = np.corrcoef(wide, rowvar=False)
    assert cell(table, 1, None, "all", "constraint")["value"] == pytest.approx(np.abs(r[np.triu_indices(3, 1)]).mean())


def test_alignment_is_the_mean_absolute_point_biserial_correlation_for_two_groups():
    frame = answers(participants=60)
    table = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=0).frame
    wave = frame[(frame["wave"] == 1)].dropna(subset=["value"])
    r = [abs(np.corrcoef(rows["value"], rows["side"] == "left")[0, 1]) for _, rows in wave.groupby("item")]
    assert cell(table, 1, None, "side:left|side:right", "alignment")["value"] == pytest.approx(np.mean(r))


def test_items_on_different_scales_keep_their_own_k():
    frame = answers(items=("q1", "slider"))
    slider = frame["item"] == "slider"
    frame.loc[slider, "value"] = (frame.loc[slider, "value"] - 1) * 10
    scales = {"slider": Scale(0, 100, 10), "q1": LIKERT}
    table = compute_index_table(frame, scales=scales, bootstrap=0).frame
    assert list(dict.fromkeys(table["item"].dropna())) == ["slider", "q1"]  # the mapping's order
    sub = frame[(frame["wave"] == 1) & slider]
    counts = counts_of(sub["value"] / 10 + 1, 11)
    assert cell(table, 1, "slider", "all", "entropy_norm")["value"] == pytest.approx(float(ix.entropy_norm(counts)))
    # pooled on each item's scale rescaled to [0, 1]: slider 0..100, q1 1..7
    assert cell(table, 1, None, "all", "mean")["value"] == pytest.approx(
        np.mean([sub["value"].mean() / 100, (frame.loc[(frame["wave"] == 1) & ~slider, "value"].mean() - 1) / 6]))


def test_a_participant_without_a_group_is_in_all_only():
    frame = answers(missing=0.0)
    frame.loc[frame["participant"] == "p000", "side"] = None
    table = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=0).frame
    assert cell(table, 1, "q1", "all", "n")["value"] == 40
    assert cell(table, 1, "q1", "side:left", "n")["value"] == 19
    assert cell(table, 1, "q1", "side:right", "n")["value"] == 20


def test_a_group_without_answers_on_an_item_gets_n_zero_and_null_values():
    frame = answers(missing=0.0)
    frame.loc[(frame["item"] == "q2") & (frame["side"] == "left") & (frame["wave"] == 1), "value"] = np.nan
    table = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=50).frame
    rows = table[(table["wave"] == 1) & (table["item"] == "q2") & (table["group"] == "side:left")]
    assert (rows["n"] == 0).all()
    assert rows.loc[rows["index"] == "n", "value"].item() == 0
    assert rows.loc[rows["index"] != "n", ["value", "ci_low", "ci_high"]].isna().all().all()
    assert cell(table, 1, "q2", "side:left|side:right", "group_gap")[["value", "ci_low"]].isna().all()


def test_a_wave_with_one_item_has_no_constraint():
    frame = answers(items=("q1",))
    table = compute_index_table(frame, scales=LIKERT, bootstrap=0).frame
    assert "constraint" not in set(table["index"])
    assert cell(table, 1, None, "all", "mean")["value"] == pytest.approx(
        (cell(table, 1, "q1", "all", "mean")["value"] - 1) / 6)


def test_participant_indices_selects_the_participant_level_parts():
    table = compute_index_table(answers(), scales=LIKERT, by=["side"], bootstrap=0,
                                participant_indices=("alignment",)).frame
    assert set(table.loc[table["item"].isna(), "index"]) == {"alignment"}
    assert len(table[table["item"].isna()]) == 2  # one per wave, for the one pair


# --------------------------------------------------------------------------- intervals


def test_bootstrap_zero_gives_null_intervals():
    frame = compute_index_table(answers(), scales=LIKERT, by=["side"], bootstrap=0).frame
    assert frame[["ci_low", "ci_high"]].isna().all().all()
    assert frame["value"].notna().any()


def test_intervals_are_seeded_and_bracket_the_estimate():
    first = compute_index_table(answers(), scales=LIKERT, by=["side"], bootstrap=200, seed=3).frame
    again = compute_index_table(answers(), scales=LIKERT, by=["side"], bootstrap=200, seed=3).frame
    other = compute_index_table(answers(), scales=LIKERT, by=["side"], bootstrap=200, seed=4).frame
    pd.testing.assert_frame_equal(first, again)
    assert not first["ci_low"].equals(other["ci_low"])
    has_interval = first["ci_low"].notna()
    assert (first.loc[first["index"] == "n", ["ci_low", "ci_high"]].isna()).all().all()
    means = first[(first["index"] == "mean") & has_interval]
    assert ((means["ci_low"] <= means["value"]) & (means["value"] <= means["ci_high"])).all()
    assert (first.loc[has_interval, "ci_low"] <= first.loc[has_interval, "ci_high"]).all()


def test_the_order_of_rows_does_not_change_the_table():
    frame = answers()
    reference = compute_index_table(frame, scales=LIKERT, by=["side"], bootstrap=100, seed=1).frame
    for seed in range(3):
        shuffled = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
        table = compute_index_table(shuffled, scales=LIKERT, by=["side"], bootstrap=100, seed=1).frame
        pd.testing.assert_frame_equal(table, reference)


def test_wider_level_gives_wider_intervals():
    narrow = compute_index_table(answers(), scales=LIKERT, bootstrap=300, level=0.5).frame
    wide = compute_index_table(answers(), scales=LIKERT, bootstrap=300, level=0.99).frame
    both = narrow["ci_low"].notna()
    assert ((wide["ci_high"] - wide["ci_low"])[both] >= (narrow["ci_high"] - narrow["ci_low"])[both] - 1e-12).all()


# --------------------------------------------------------------------------- errors


def test_it_rejects_values_off_the_scale_naming_the_row():
    frame = answers()
    frame.loc[17, "value"] = 9
    with pytest.raises(ScaleError, match=r"row 17: column 'value': 9 is outside the scale 1\.\.7 of item 'q1'"):
        compute_index_table(frame, scales=LIKERT)


def test_it_rejects_text_values_naming_the_row():
    frame = answers().astype({"value": object})
    frame.loc[5, "value"] = "abc"
    with pytest.raises(AnswersError, match=r"row 5: column 'value': 'abc' is not a number"):
        compute_index_table(frame, scales=LIKERT)


def test_it_rejects_a_second_answer_to_the_same_item_in_a_wave():
    frame = answers()
    frame = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    with pytest.raises(AnswersError, match=r"participant 'p003' answers item 'q1' of wave 1 twice \(rows 3 and 240\)"):
        compute_index_table(frame, scales=LIKERT)


def test_it_rejects_two_groups_for_one_participant_in_one_wave():
    frame = answers()
    frame.loc[(frame["participant"] == "p004") & (frame["item"] == "q2"), "side"] = "right"
    with pytest.raises(AnswersError, match=r"participant 'p004' has several values of grouping column 'side'"):
        compute_index_table(frame, scales=LIKERT, by=["side"])


def test_it_rejects_missing_columns_and_items_without_a_scale():
    with pytest.raises(AnswersError, match="no column 'party'"):
        compute_index_table(answers(), scales=LIKERT, by=["party"])
    with pytest.raises(AnswersError, match="no column 'wave'"):
        compute_index_table(answers().drop(columns="wave"), scales=LIKERT)
    with pytest.raises(ValueError, match="no scale given for item 'q3'"):
        compute_index_table(answers(), scales={"q1": LIKERT, "q2": LIKERT})


# --------------------------------------------------------------------------- properties

panels = st.integers(4, 25).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=3, max_size=3), min_size=n, max_size=n),
    st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n),
))


def panel_frame(answers_and_sides) -> pd.DataFrame:
    rows, sides = answers_and_sides
    return pd.DataFrame([
        {"participant": i, "wave": 1, "item": f"q{j}", "value": np.nan if v is None else float(v), "side": sides[i]}
        for i, row in enumerate(rows) for j, v in enumerate(row)
    ])


@settings(max_examples=12, deadline=None)
@given(panels)
def test_group_cells_add_up_and_across_item_indices_stay_in_range(panel):
    frame = panel_frame(panel)
    table = compute_index_table(frame, scales=Scale(1, 5), by=["side"], bootstrap=0).frame
    reversed_ = compute_index_table(frame, scales=Scale(1, 5), by=["side"], reverse=["q0"], bootstrap=0).frame
    rows = table[table["index"] == "n"]
    n = {(item, group): value for item, group, value in zip(rows["item"], rows["group"], rows["value"], strict=True)}
    for item in [None, "q0", "q1", "q2"]:
        groups = [g for g in ("side:a", "side:b") if (item, g) in n]
        assert n[(item, "all")] == sum(n[(item, g)] for g in groups)
    across = table[table["index"].isin(["constraint", "alignment"])]
    assert across["value"].dropna().between(0, 1 + 1e-12).all()
    # |r| and eta do not change when an item is reverse coded; the pooled mean mirrors it.
    again = reversed_[reversed_["index"].isin(["constraint", "alignment"])]
    np.testing.assert_allclose(again["value"].to_numpy(), across["value"].to_numpy(), atol=1e-9)
    mean_q0 = table[(table["item"] == "q0") & (table["group"] == "all") & (table["index"] == "mean")]["value"].item()
    pooled = [cell(t, 1, None, "all", "mean")["value"] for t in (table, reversed_)]
    if not np.isnan(mean_q0):
        defined = table[(table["item"].notna()) & (table["group"] == "all") & (table["index"] == "mean")]["value"]
        # on the 0-1 scale of 1..5: (m - 1) / 4 becomes 1 - (m - 1) / 4
        assert pooled[1] - pooled[0] == pytest.approx((6 - 2 * mean_q0) / 4 / defined.notna().sum())


def sparse_design(seed: int = 3) -> pd.DataFrame:
    """12 items, 120 people answering 4 random items each (planned missingness), two sides."""
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(120):
        for item in rng.choice(12, size=4, replace=False):
            rows.append({"participant": person, "wave": 1, "item": f"q{item:02d}", "value": float(rng.integers(1, 6)),
                         "side": "left" if person % 2 else "right"})
    return pd.DataFrame(rows)


def test_sparse_participant_features_give_the_dense_numbers(monkeypatch):
    import analysis.stats.tables as tables

    frame = sparse_design()
    dense = compute_index_table(frame, scales=Scale(1, 5), by=["side"], reverse=["q03"], bootstrap=30, seed=4).frame
    monkeypatch.setattr(tables, "_DENSE_LIMIT", 0)  # every participant feature matrix sparse
    monkeypatch.setattr(tables, "_use_sparse", lambda rows, columns, nonzero: True)
    again = compute_index_table(frame, scales=Scale(1, 5), by=["side"], reverse=["q03"], bootstrap=30, seed=4).frame
    pd.testing.assert_frame_equal(dense, again, rtol=1e-9, atol=1e-12)
    # constraint is the mean |r| over the pairs with shared answers, pairwise-complete (pandas)
    wide = frame.pivot(index="participant", columns="item", values="value")
    r = wide.corr(min_periods=2).to_numpy()
    expected = np.nanmean(np.abs(r[np.triu_indices(12, 1)]))
    assert cell(again, 1, None, "all", "constraint")["value"] == pytest.approx(expected)
