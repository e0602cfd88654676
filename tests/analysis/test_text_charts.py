"""The figure of two series on one time axis, each rescaled to 0..1."""

import pandas as pd
import pytest

from analysis.charts import rescale_unit, text_series_figure


def test_rescaling_puts_the_lowest_value_at_0_and_the_highest_at_1():
    assert rescale_unit(pd.Series([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert rescale_unit(pd.Series([7.0, 7.0])).tolist() == [0.5, 0.5]  # constant: middle line


def test_one_trace_per_series_in_time_order_with_the_measured_value_in_the_hover():
    frame = pd.DataFrame({
        "series": ["letters", "letters", "letters", "posts", "posts"],
        "date": pd.to_datetime(["2021-03-01", "2021-01-01", "2021-02-01", "2021-01-01", "2021-02-01"]),
        "period": ["2021-03", "2021-01", "2021-02", "2021-01", "2021-02"],
        "value": [0.3, 0.1, 0.5, 100.0, 300.0],
    })
    figure = text_series_figure(frame, title="letters and posts")
    letters, posts = figure.data
    assert (letters.name, posts.name) == ("letters", "posts")
    assert [str(x)[:10] for x in letters.x] == ["2021-01-01", "2021-02-01", "2021-03-01"]
    assert list(letters.y) == pytest.approx([0.0, 1.0, 0.5])
    assert list(posts.y) == [0.0, 1.0]
    assert [tuple(c) for c in letters.customdata] == [("2021-01", 0.1), ("2021-02", 0.5), ("2021-03", 0.3)]
    assert figure.layout.yaxis.range == (-0.05, 1.05)
