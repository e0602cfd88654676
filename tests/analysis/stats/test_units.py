"""Which unit an index row is in: pooled rows of scale-unit indices are on a 0-1 scale."""

import numpy as np
import pytest

from analysis.stats import units


def test_pooled_mean_and_sd_are_labelled_pomp_and_item_rows_keep_their_scale():
    assert units.unit_of("mean", pooled=True) == "0-1 scale (POMP/100)"
    assert units.unit_of("sd", pooled=True) == units.POOLED_UNIT
    assert units.unit_of("mean", pooled=False, scale="0..100") == "item's scale 0..100"
    assert units.unit_of("group_gap", pooled=True) == units.SHARE_OF_SCALE
    assert units.unit_of("wasserstein", pooled=False) == units.SHARE_OF_SCALE
    assert units.unit_of("agreement_a", pooled=True) is None
    assert units.in_scale_units("mean") and units.in_scale_units("group_gap")
    assert not units.in_scale_units("cohens_d")


def test_values_are_rescaled_by_their_scale():
    # 7-point item: 4 is the midpoint; thermometer: 35.3 of 100; an SD of 3 on 1..7 is half the width
    np.testing.assert_allclose(units.to_unit_interval([1, 4, 7], 1, 7), [0, 0.5, 1])
    assert units.to_unit_interval(35.3, 0, 100) == pytest.approx(0.353)
    assert units.to_unit_interval(3.0, 1, 7, spread=True) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        units.to_unit_interval(1, 5, 5)
