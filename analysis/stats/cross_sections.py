"""Period-to-period differences of an index in repeated cross-sections.

Each period of a repeated cross-section asks new people, so two periods are independent samples:
the difference of an index between them has variance se_1^2 + se_2^2. Each period's standard
error is read from its stored percentile bootstrap interval as (ci_high - ci_low) / (2 z), z the
normal quantile of the level; the difference's interval is ``d +- z sqrt(se_1^2 + se_2^2)``.
This replaces the panel estimators (fixed effects, difference in differences), which need the
same people in several waves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

DIFFERENCE_COLUMNS = ["from_period", "to_period", "difference", "ci_low", "ci_high"]


def period_differences(frame: pd.DataFrame, *, level: float = 0.95, baseline: bool = False) -> pd.DataFrame:
    """Differences between consecutive periods (``baseline=True``: each period minus the first).

    ``frame``: columns period, value, ci_low, ci_high, one row per period in time order. Rows
    with a missing value are left out; a missing interval gives a missing interval."""
    z = norm.ppf(0.5 + level / 2)
    rows = frame.dropna(subset=["value"]).reset_index(drop=True)
    if len(rows) < 2:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    se = (rows["ci_high"].to_numpy(float) - rows["ci_low"].to_numpy(float)) / (2 * z)
    value = rows["value"].to_numpy(float)
    later = np.arange(1, len(rows))
    earlier = np.zeros_like(later) if baseline else later - 1
    difference = value[later] - value[earlier]
    half = z * np.sqrt(se[later] ** 2 + se[earlier] ** 2)
    return pd.DataFrame({"from_period": rows["period"].to_numpy()[earlier], "to_period": rows["period"].to_numpy()[later],
                         "difference": difference, "ci_low": difference - half, "ci_high": difference + half})
