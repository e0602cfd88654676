import math

import pandas as pd

from analysis.charts import trend_figure


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "wave": [1, 2, 3, 1, 2, 3],
        "group": ["arm:control"] * 3 + ["arm:intervention"] * 3,
        "value": [0.30, 0.32, 0.35, 0.31, 0.29, float("nan")],
        "ci_low": [0.28, 0.30, 0.33, 0.29, 0.27, float("nan")],
        "ci_high": [0.32, 0.34, 0.37, 0.33, 0.31, float("nan")],
    })


def test_trend_figure_draws_a_line_and_a_band_per_group():
    figure = trend_figure(frame(), title="mad_pairwise", intervention_wave=3)
    lines = [t for t in figure.data if t.mode == "lines+markers"]
    bands = [t for t in figure.data if t.fill == "toself"]
    assert [t.name for t in lines] == ["arm:control", "arm:intervention"]
    assert len(bands) == 2
    assert list(lines[0].y) == [0.30, 0.32, 0.35]
    # The band runs along the upper bounds, then back along the lower ones.
    assert list(bands[0].y) == [0.32, 0.34, 0.37, 0.33, 0.30, 0.28]
    assert math.isnan(lines[1].y[2])  # a missing value leaves a gap, never a zero
    assert figure.layout.shapes[0].x0 == 3  # the intervention wave is marked


def test_trend_figure_without_intervals_draws_no_band():
    data = frame().assign(ci_low=float("nan"), ci_high=float("nan"))
    figure = trend_figure(data)
    assert [t.fill for t in figure.data] == [None, None]
