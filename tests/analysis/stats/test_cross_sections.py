"""Period-to-period differences with intervals from independent samples."""

import math

import pandas as pd
import pytest

from analysis.stats.cross_sections import period_differences


def test_consecutive_and_baseline_differences():
    z = 1.959963984540054
    frame = pd.DataFrame({"period": ["1974", "1976", "2021"], "value": [0.30, 0.34, 0.40],
                          "ci_low": [0.30 - 0.02 * z, 0.34 - 0.03 * z, 0.40 - 0.04 * z],
                          "ci_high": [0.30 + 0.02 * z, 0.34 + 0.03 * z, 0.40 + 0.04 * z]})
    steps = period_differences(frame)
    assert list(steps["to_period"]) == ["1976", "2021"]
    assert steps["difference"].tolist() == pytest.approx([0.04, 0.06])
    assert steps["ci_high"].iloc[0] - 0.04 == pytest.approx(z * math.hypot(0.02, 0.03))
    since = period_differences(frame, baseline=True)
    assert list(since["from_period"]) == ["1974", "1974"]
    assert since["difference"].iloc[1] == pytest.approx(0.10)
    assert since["ci_low"].iloc[1] == pytest.approx(0.10 - z * math.hypot(0.02, 0.04))


def test_one_period_gives_no_difference():
    frame = pd.DataFrame({"period": ["1974"], "value": [0.3], "ci_low": [0.2], "ci_high": [0.4]})
    assert period_differences(frame).empty
