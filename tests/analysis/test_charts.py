import math

import pandas as pd
import pytest

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


# --- Dashboard builders ----------------------------------------------------------------------

def as_list(values) -> list:
    return [float(v) for v in values]


def test_distribution_figure_draws_shares_per_wave_and_group():
    from analysis.charts import distribution_figure

    counts = pd.DataFrame({
        "wave": [1, 1, 1, 2, 2],
        "group": ["side:1", "side:1", "side:2", "side:1", "side:2"],
        "value": [1.0, 3.0, 3.0, 2.0, 1.0],
        "count": [1, 3, 5, 2, 2],
    })
    figure = distribution_figure(counts, labels={"side:1": "left", "side:2": "right"}, scale=(1, 4, 1))
    assert len(figure.data) == 4  # 2 waves x 2 groups
    first = figure.data[0]
    assert first.name == "left" and list(first.x) == ["1", "2", "3", "4"]
    assert as_list(first.y) == [0.25, 0.0, 0.75, 0.0]  # 1 of 4 and 3 of 4; empty points are 0
    without_scale = distribution_figure(counts)
    assert list(without_scale.data[0].x) == ["1", "2", "3"]  # the answered values only
    assert as_list(figure.data[1].y) == [0.0, 0.0, 1.0, 0.0]
    assert [t.showlegend for t in figure.data] == [True, True, False, False]  # one legend entry per group
    assert figure.layout.annotations[1].text == "wave 2"


def test_distribution_figure_bins_a_slider_into_equal_widths():
    from analysis.charts import distribution_figure

    counts = pd.DataFrame({"wave": [1] * 4, "group": ["all"] * 4, "value": [0.0, 9.0, 10.0, 100.0],
                           "count": [1, 1, 1, 1]})
    figure = distribution_figure(counts, scale=(0, 100, 1), max_bars=10)
    assert distribution_figure(counts, scale=(0, 100, 1), max_bars=15).data[0].x[1] == "10"  # not 6.67
    bars = figure.data[0]
    # 101 points in at most 10 bars: bins of width 10 labelled by their lower edge, the top
    # value 100 in the last ([90, 100]).
    assert list(bars.x) == ["0", "10", "20", "30", "40", "50", "60", "70", "80", "90"]
    # 0 and 9 fall into the first bin, 10 into the second, 100 into the last.
    assert as_list(bars.y)[:2] == [0.5, 0.25] and as_list(bars.y)[-1] == 0.25


def test_funnel_forest_event_study_and_quality_figures():
    from analysis.charts import event_study_figure, forest_figure, funnel_figure, quality_figure

    funnel = pd.DataFrame({"arm": ["a", "a", "b", "b"], "stage": ["joined", "wave 1"] * 2, "step": [0, 1, 0, 1],
                           "count": [10, 8, 12, 6], "share": [1.0, 0.8, 1.0, 0.5]})
    figure = funnel_figure(funnel)
    assert [t.name for t in figure.data] == ["a", "b"] and list(figure.data[1].y) == [12, 6]

    effects = pd.DataFrame({"arm": ["t", "t"], "outcome": ["value", "extremity"], "estimate": [-0.4, 0.1],
                            "ci_low": [-0.6, -0.1], "ci_high": [-0.1, 0.2]})
    forest = forest_figure(effects)
    assert as_list(forest.data[0].error_x.array) == pytest.approx([0.3, 0.1])
    assert as_list(forest.data[0].error_x.arrayminus) == pytest.approx([0.2, 0.2])
    assert list(forest.layout.yaxis.categoryarray) == ["extremity", "value"]  # first outcome on top
    assert forest.layout.shapes[0].x0 == 0

    waves = pd.DataFrame({"arm": ["t", "t", "t"], "wave": [3, 1, 4], "estimate": [0.2, 0.0, 0.1],
                          "ci_low": [0.1, -0.1, 0.0], "ci_high": [0.3, 0.1, 0.2]})
    study = event_study_figure(waves, intervention_wave=3)
    assert list(study.data[0].x) == [1, 3, 4] and as_list(study.data[0].y) == [0.0, 0.2, 0.1]
    assert {shape.type for shape in study.layout.shapes} == {"line"} and len(study.layout.shapes) == 2

    summary = pd.DataFrame({"wave": [1, 2], "submissions": [10, 0], "attention": [1, 0], "speeder": [2, 0],
                            "straightlining": [0, 0]})
    quality = quality_figure(summary)
    assert [t.name for t in quality.data] == ["attention check failed", "speeder", "straight-lining"]
    assert as_list(quality.data[1].y)[0] == 0.2 and math.isnan(as_list(quality.data[1].y)[1])  # no submissions


def test_every_dashboard_figure_passes_plotly_validation():
    """The builders skip plotly's per-property validation for speed; validate their output here."""
    import plotly.graph_objects as go

    from analysis import charts

    counts = pd.DataFrame({"wave": [1, 2, 3, 4], "group": ["all"] * 4, "value": [1.0, 2.0, 3.0, 7.0],
                           "count": [1, 2, 3, 4]})
    effects = pd.DataFrame({"arm": ["t"], "outcome": ["value"], "wave": [3], "estimate": [0.1], "ci_low": [0.0],
                            "ci_high": [0.2]})
    figures = [
        charts.trend_figure(frame(), title="t", intervention_wave=2),
        charts.distribution_figure(counts, title="d", scale=(1, 7, 1), columns=2),
        charts.funnel_figure(pd.DataFrame({"arm": ["a"], "stage": ["joined"], "step": [0], "count": [3],
                                           "share": [1.0]})),
        charts.forest_figure(effects, title="f"),
        charts.event_study_figure(effects, title="e", intervention_wave=3),
        charts.quality_figure(pd.DataFrame({"wave": [1], "submissions": [4], "attention": [1], "speeder": [0],
                                            "straightlining": [0]})),
    ]
    for figure in figures:
        go.Figure(figure.to_dict())  # raises ValueError on any invalid property
    distribution = figures[1]
    # Four panels on two columns: two rows, the second panel's axes share the first's y range.
    assert distribution.layout.xaxis2.domain == (0.525, 1.0) and distribution.layout.yaxis2.matches == "y"
    assert distribution.layout.yaxis3.domain[1] < distribution.layout.yaxis.domain[0]


# --- Reading the charts: axis titles, direction of more disagreement, empty charts -------------


def test_trend_axes_are_titled_with_the_direction_of_more_disagreement():
    figure = trend_figure(frame(), y_title="Agreement A (van der Eijk)", more_disagreement="lower")
    assert figure.layout.yaxis.title.text == "Agreement A (van der Eijk) (↓ more disagreement)"
    assert figure.layout.xaxis.title.text == "wave"
    image = figure.to_dict()["layout"]  # what the PNG export draws from
    assert image["yaxis"]["title"]["text"].startswith("Agreement A")


def test_an_empty_chart_says_why():
    from analysis.charts import event_study_figure, forest_figure

    nothing = pd.DataFrame(columns=["arm", "wave", "outcome", "estimate", "ci_low", "ci_high"])
    figure = event_study_figure(nothing, intervention_wave=3, empty="Answer is estimated per item: choose an item.")
    assert [a.text for a in figure.layout.annotations] == ["Answer is estimated per item: choose an item."]
    assert figure.layout.shapes == ()  # no zero line or intervention mark on empty axes
    assert forest_figure(nothing).layout.annotations[0].text == "Nothing to show for this choice."
    assert trend_figure(frame().iloc[:0]).layout.annotations[-1].text == "Nothing to show for this choice."


def test_effects_as_shares_of_the_possible_range_keep_the_raw_value_beside_them():
    from analysis.charts import forest_figure, share_of_range

    effects = pd.DataFrame({"arm": ["t"] * 3, "outcome": ["agreement_a", "value", "cohens_d"],
                            "estimate": [-0.1, 0.5, 0.2], "ci_low": [-0.3, -1.0, 0.0], "ci_high": [0.1, 2.0, 0.4]})
    shares, left_out = share_of_range(effects, {"agreement_a": 2.0, "value": 100.0, "cohens_d": None},
                                      labels={"agreement_a": "Agreement A"}, marks={"agreement_a": "← more disagreement"})
    assert shares["estimate"].tolist() == pytest.approx([-0.05, 0.005])  # -0.1 of 2; 0.5 of a 0-100 scale
    assert shares["ci_low"].tolist() == pytest.approx([-0.15, -0.01])
    assert shares["raw"].tolist() == ["-0.1 [-0.3, 0.1]", "0.5 [-1, 2]"]
    assert shares["outcome"].tolist() == ["Agreement A ← more disagreement", "value"]
    assert left_out["outcome"].tolist() == ["cohens_d"]
    figure = forest_figure(shares, x_title="share of the possible range")
    assert list(figure.data[0].text) == ["-0.1 [-0.3, 0.1]", "0.5 [-1, 2]"]
    assert figure.layout.xaxis.tickformat == ".0%" and figure.layout.yaxis.title.text == "outcome"


def test_event_study_draws_placebo_points_hollow_and_the_reference_wave_at_zero():
    from analysis.charts import event_study_figure

    waves = pd.DataFrame({"arm": ["t"] * 3, "wave": [1, 3, 4], "estimate": [0.02, 0.2, 0.1],
                          "ci_low": [-0.1, 0.1, 0.0], "ci_high": [0.1, 0.3, 0.2]})
    figure = event_study_figure(waves, intervention_wave=3, reference_wave=2, y_title="effect on Answer")
    trace = figure.data[0]
    assert list(trace.x) == [1, 2, 3, 4] and as_list(trace.y) == [0.02, 0.0, 0.2, 0.1]
    assert list(trace.marker.symbol) == ["circle-open", "diamond-open", "circle", "circle"]
    assert as_list(trace.error_y.array) == pytest.approx([0.08, 0.0, 0.1, 0.1])
    assert figure.layout.yaxis.title.text == "effect on Answer"
    assert any("placebo" in a.text for a in figure.layout.annotations)


def test_every_chart_axis_has_a_title():
    from analysis import charts

    counts = pd.DataFrame({"wave": [1, 2], "group": ["all"] * 2, "value": [1.0, 2.0], "count": [1, 2]})
    distribution = charts.distribution_figure(counts, scale=(1, 7, 1), columns=2)
    assert distribution.layout.xaxis.title.text == "answer" and distribution.layout.yaxis.title.text == "share of answers"
    funnel = charts.funnel_figure(pd.DataFrame({"arm": ["a"], "stage": ["joined"], "step": [0], "count": [3],
                                                "share": [1.0]}))
    assert funnel.layout.xaxis.title.text == "stage" and funnel.layout.yaxis.title.text == "participants"


def test_points_whose_interval_may_under_cover_are_marked():
    from analysis.charts import UNDER_COVERAGE

    data = frame().assign(n=[50, 300, 2000, 50, 300, 2000], flag=[True, False, False, True, False, False])
    line = [t for t in trend_figure(data).data if t.mode == "lines+markers"][0]
    assert list(line.marker.symbol) == ["circle-x-open", "circle", "circle"]
    assert list(line.text) == [UNDER_COVERAGE, "", ""]
    unflagged = [t for t in trend_figure(frame()).data if t.mode == "lines+markers"][0]
    assert unflagged.marker.symbol is None
