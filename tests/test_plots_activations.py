"""Figure builders of the activations & losses page: traces, names, axis titles, NaN as text."""

import numpy as np
import plotly.graph_objects as go

from ui.plots.activations import (
    Series,
    curves_with_derivatives,
    format_number,
    outlier_strip,
    probability_bars,
)
from ui.theme import ChartText, plot_style

STYLE = plot_style()
X = np.linspace(-3, 3, 7)


def _curves(trace_x, intervals):
    series = [
        Series("A", X, np.ones_like(X), intervals, (0.0, 1.0)),
        Series("B", X**2, 2 * X, [], (0.0, 0.0)),
    ]
    return curves_with_derivatives(
        X, series, trace_x, text=ChartText("T", "z", "f"),
        derivative_name="{name}′", saturation_name="flat", style=STYLE,
    )  # fmt: skip


def test_curves_with_derivatives_traces_and_titles():
    fig = _curves(0.5, [(-3.0, -2.0)])
    assert isinstance(fig, go.Figure)
    names = [trace.name for trace in fig.data]
    # Per series: curve, dashed derivative, trace markers; then the legend-only shading entry.
    assert names == ["A", "A′", None, "B", "B′", None, "flat"]
    assert fig.data[1].line.dash == "dash"
    assert fig.layout.xaxis.title.text == "z" and fig.layout.yaxis.title.text == "f"
    assert fig.layout.title.text == "T"
    assert len(fig.layout.shapes) == 2  # one shaded interval and the trace line


def test_curves_without_trace_or_shading():
    fig = _curves(None, [])
    assert [trace.name for trace in fig.data] == ["A", "A′", "B", "B′"]
    assert len(fig.layout.shapes) == 0


def test_outlier_strip_has_points_and_one_line_per_fit():
    data = np.array([0.0, 1.0, 10.0])
    fig = outlier_strip(
        data, np.array([False, False, True]), [("mean", 11 / 3), ("median", 1.0)],
        text=ChartText("T", "value"), inlier_name="data", outlier_name="out", style=STYLE,
    )  # fmt: skip
    assert [trace.name for trace in fig.data] == ["data", "out", "mean = 3.667", "median = 1"]
    assert list(fig.data[1].x) == [10.0]
    assert fig.layout.xaxis.title.text == "value"


def test_probability_bars_write_nan_and_inf_as_text_on_empty_bars():
    fig = probability_bars(
        ["a", "b"], [("naive", np.array([np.nan, np.inf])), ("stable", np.array([0.25, 0.75]))],
        text=ChartText("T", "class", "p"), style=STYLE,
    )  # fmt: skip
    assert [trace.name for trace in fig.data] == ["naive", "stable"]
    assert list(fig.data[0].y) == [0.0, 0.0]
    assert list(fig.data[0].text) == ["NaN", "inf"]
    assert list(fig.data[1].text) == ["0.25", "0.75"]
    assert fig.layout.yaxis.title.text == "p"


def test_format_number():
    assert format_number(float("nan")) == "NaN"
    assert format_number(float("-inf")) == "-inf"
    assert format_number(0.0) == "0"
    assert format_number(1900.0) == "1900"
    assert format_number(1e-10) == "1.000e-10"
