"""The MNIST page's figure builders: traces, names, axis titles; Vega specs for the live charts."""

import re

import numpy as np
import plotly.graph_objects as go
import pytest

from core.network import cnn, input_window
from ui.plots.mnist import (
    MAP_COLUMNS,
    MAX_DECADES,
    MAX_POINTS,
    STEP_LABEL,
    TITLE_WIDTH,
    MapSection,
    RunCurves,
    class_probabilities,
    compare_runs,
    confusion_matrix_figure,
    feature_maps,
    layer_signals,
    live_accuracy_chart,
    live_loss_chart,
    live_lr_chart,
    log_decades,
    model_input,
    prediction_grid,
    thin,
    weight_images,
    window_times_kernel,
)
from ui.theme import BAD_COLOR, GOOD_COLOR, ChartText, plot_style, text_width

STYLE = plot_style()
DIGITS = [str(i) for i in range(10)]


def test_thin_keeps_ends_and_bounds_the_count():
    x = np.arange(10_000)
    xs, ys = thin(x, x * 2.0)
    assert len(xs) <= MAX_POINTS + 1
    assert xs[0] == 0 and xs[-1] == 9_999
    np.testing.assert_array_equal(ys, xs * 2.0)
    short = np.arange(5)
    assert thin(short)[0] is short


def test_live_loss_chart_spec_and_data():
    steps = np.arange(100)
    chart = live_loss_chart(
        steps,
        np.linspace(2.3, 0.2, 100),
        np.array([49.0, 99.0]),
        np.array([0.5, np.nan]),  # a NaN validation loss is dropped, not drawn
        names=("train", "val"),
        text=ChartText("Loss", "Step", "CE"),
        style=STYLE,
    )
    assert chart.spec["title"]["text"] == ["Loss"]
    enc = chart.spec["layer"][0]["encoding"]
    assert enc["x"]["axis"]["title"] == "Step" and enc["y"]["axis"]["title"] == "CE"
    assert enc["y"]["scale"] == {"type": "log", "domain": [0.1, 10.0], "nice": False}
    assert enc["color"]["scale"]["domain"] == ["train", "val"]
    assert enc["color"]["scale"]["range"] == [STYLE.color(0), STYLE.color(1)]
    assert list(chart.data["series"].value_counts().sort_index()) == [100, 1]


def test_live_curves_drop_what_a_log_axis_cannot_draw_and_keep_each_point_with_its_series():
    chart = live_loss_chart(
        np.arange(5.0),
        np.array([1.0, 0.0, np.inf, -2.0, 0.5]),  # zero and negative have no log; inf no place
        np.array([2.0, 4.0]),
        np.array([0.7, 0.6]),
        names=("train", "val"),
        text=ChartText("t", "x", "y"),
        style=STYLE,
    )
    rows = chart.data.astype({"series": str}).to_dict("records")
    assert rows == [
        {"x": 0.0, "value": 1.0, "series": "train", "dots": 0},
        {"x": 4.0, "value": 0.5, "series": "train", "dots": 0},
        {"x": 2.0, "value": 0.7, "series": "val", "dots": 1},
        {"x": 4.0, "value": 0.6, "series": "val", "dots": 1},
    ]


def test_live_charts_keep_their_spec_when_only_data_changes():
    kwargs = {"names": ("a", "b"), "text": ChartText("t", "x", "y"), "style": STYLE}
    one = live_accuracy_chart(np.array([1.0]), np.array([0.8]), np.array([0.7]), **kwargs)
    two = live_accuracy_chart(
        np.array([1.0, 2.0]), np.array([0.8, 0.9]), np.array([0.7, 0.85]), **kwargs
    )
    assert one.spec == two.spec  # the browser then updates the chart in place
    assert len(two.data) == 4


def test_live_lr_chart_has_one_series_and_no_legend():
    chart = live_lr_chart(
        np.arange(10),
        np.full(10, 1e-3),
        name="lr",
        text=ChartText("t", "x", "y"),
        style=STYLE,
    )
    assert chart.spec["layer"][0]["encoding"]["color"]["legend"] is None
    assert set(chart.data["series"]) == {"lr"}


def test_projector_style_reaches_the_vega_charts():
    big = plot_style(projector=True)
    kwargs = {"names": ("a", "b"), "text": ChartText("t", "x", "y")}
    small = live_accuracy_chart(np.ones(1), np.ones(1), np.ones(1), style=STYLE, **kwargs)
    large = live_accuracy_chart(np.ones(1), np.ones(1), np.ones(1), style=big, **kwargs)
    assert (
        large.spec["config"]["axis"]["labelFontSize"]
        > small.spec["config"]["axis"]["labelFontSize"]
    )
    assert large.spec["height"] > small.spec["height"]


def loss_chart(loss, *, style=STYLE, title="Loss (log scale)"):
    steps = np.arange(len(loss), dtype=float)
    return live_loss_chart(
        steps, loss, steps[-1:], loss[-1:], names=("train", "val"),
        text=ChartText(title, "Step", "Cross-entropy"), style=style,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("values", "domain"),
    [
        ([2.3, 0.08], (0.01, 10.0)),
        ([1e-3], (1e-4, 1e-2)),  # a constant lr sits mid-axis
        ([1.0, 2.0], (0.1, 10.0)),  # at least two decades
        ([2.3, 1e-6], (10.0 ** (1 - MAX_DECADES), 10.0)),  # six decades of overfitting: four
        ([np.nan, 0.0, -1.0], (1e-3, 10.0)),  # nothing a log axis can draw
    ],
)
def test_log_decades_are_whole_powers_of_ten_and_few(values, domain):
    lo, hi = log_decades(np.array(values))
    assert lo == pytest.approx(domain[0]) and hi == pytest.approx(domain[1])


def test_live_loss_axis_labels_each_decade_once_and_no_more_than_its_domain():
    # An overfitting run: 2.3 down to 1e-6 had six decades squeezed into ~100 px.
    chart = loss_chart(np.geomspace(2.3, 1e-6, 5000))
    enc = chart.spec["layer"][0]["encoding"]
    lo, hi = enc["y"]["scale"]["domain"]
    assert hi / lo == pytest.approx(10.0**MAX_DECADES)
    values = enc["y"]["axis"]["values"]
    assert len(values) == MAX_DECADES + 1 and values[0] == pytest.approx(lo)
    assert all(layer["mark"]["clip"] for layer in chart.spec["layer"])  # not drawn below the axis
    # Only whole decades change the spec: the browser keeps updating in place within one.
    assert (
        loss_chart(np.geomspace(2.3, 0.05, 100)).spec
        == loss_chart(np.geomspace(2.0, 0.02, 90)).spec
    )


@pytest.mark.parametrize("projector", [False, True])
def test_live_charts_are_tall_enough_and_their_ticks_cannot_run_together(projector):
    style = plot_style(projector=projector)
    chart = loss_chart(np.geomspace(2.3, 0.01, 3000), style=style)
    assert chart.spec["height"] >= (375 if projector else 300)
    enc = chart.spec["layer"][0]["encoding"]
    x_axis, y_axis = enc["x"]["axis"], enc["y"]["axis"]
    # "1,0001,200": steps as 1.2k, at most ~5 ticks, overlapping labels dropped.
    assert x_axis["labelExpr"] == STEP_LABEL and x_axis["tickCount"] <= 5
    assert x_axis["labelOverlap"] and y_axis["labelOverlap"]
    # The y title ("lr") kept clear of the tick labels.
    assert y_axis["titlePadding"] >= style.font_size / 2
    acc = live_accuracy_chart(np.arange(1.0, 200), np.ones(199), np.ones(199),
                              names=("a", "b"), text=ChartText("t", "Epoch", "y"), style=style)  # fmt: skip
    acc_x = acc.spec["layer"][0]["encoding"]["x"]["axis"]
    assert acc_x["format"] == "d" and acc_x["tickCount"] <= 5 and acc_x["labelOverlap"]


@pytest.mark.parametrize(
    "title",
    [
        "Loss (log scale)",
        "Learning rate (log scale) of the optimizer's steps",
        "学习率（对数刻度）每一步的学习率",
    ],
)
def test_live_chart_titles_wrap_rather_than_run_past_a_narrow_column(title):
    lines = loss_chart(np.array([2.3, 0.5]), title=title).spec["title"]["text"]
    assert "".join(lines).replace(" ", "") == title.replace(" ", "")
    assert all(text_width(line) <= TITLE_WIDTH for line in lines)


def grid(labels, top_classes, style=STYLE):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    probs = np.tile([0.7, 0.2, 0.1], (len(labels), 1))
    return prediction_grid(
        images,
        np.asarray(labels),
        np.asarray(top_classes),
        probs,
        class_names=DIGITS,
        names=("right", "wrong", "other"),
        hover="{label}: {prob}%",
        title="Grid",
        style=style,
    )


def test_prediction_grid_frames_and_bars():
    # Digit 0 right (7 predicted 7), digit 1 wrong (3 predicted 5).
    fig = grid([7, 3], [[7, 1, 2], [5, 3, 8]])
    assert isinstance(fig, go.Figure)
    kinds = [type(trace).__name__ for trace in fig.data]
    assert kinds == ["Heatmap", "Scatter", "Scatter", "Scatter", "Scatter", "Scatter", "Scatter"]
    green_frame, red_frame = fig.data[1], fig.data[2]
    assert green_frame.line.color == GOOD_COLOR and red_frame.line.color == BAD_COLOR
    assert np.isnan(green_frame.x).sum() == 1 and np.isnan(red_frame.x).sum() == 1
    assert [fig.data[i].name for i in (3, 4, 5)] == ["right", "wrong", "other"]
    assert list(fig.data[6].text) == ["7 70%", "1 20%", "2 10%", "5 70%", "3 20%", "8 10%"]
    assert fig.data[6].hovertext[0] == "7: 70.0%"
    assert fig.layout.title.text == "Grid"
    assert fig.layout.yaxis.autorange == "reversed"


@pytest.mark.parametrize("projector", [False, True])
def test_prediction_grid_labels_each_bar_at_the_style_font_size_in_a_row_that_holds_it(projector):
    style = plot_style(projector=projector)
    fig = grid([7] * 24, [[7, 1, 2]] * 24, style=style)
    labels, bars = fig.data[6], fig.data[3]
    # ~9 px before; every bar now says its class and probability.
    assert labels.textfont.size >= style.font_size
    assert all(re.fullmatch(r"\d \d+%", t) for t in labels.text)
    # A bar's row on screen (image px × screen px per image px) holds one line of its label.
    z = np.asarray(fig.data[0].z)
    plot_height = fig.layout.height - fig.layout.margin.t - 2 * style.font_size * 1.25 - 110
    px = plot_height / z.shape[0]
    row = np.diff(np.unique(labels.y))[:2].min() * px
    assert row >= 1.3 * style.font_size
    assert bars.line.width >= style.font_size
    # The legend sits under the digits, not on the title.
    assert fig.layout.legend.yanchor == "top" and fig.layout.legend.y < 0


def test_prediction_grid_scales_uint8_to_unit_range():
    fig = grid([1], [[1, 2, 3]])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.nanmax(z) <= 1.0


def confusion(matrix, *, normalised):
    return confusion_matrix_figure(
        matrix,
        normalised=normalised,
        class_names=DIGITS,
        text=ChartText("CM", "Predicted", "True"),
        hover="h",
        style=STYLE,
    )


def test_confusion_matrix_figure():
    fig = confusion(np.arange(100).reshape(10, 10), normalised=False)
    assert len(fig.data) == 1
    assert fig.data[0].text[2][3] == "23"
    assert fig.layout.xaxis.title.text == "Predicted" and fig.layout.yaxis.title.text == "True"
    shares = confusion(np.eye(10) * 0.5, normalised=True)
    assert shares.data[0].text[0][0] == "50%"


@pytest.mark.parametrize("shape", [(28, 28), (8, 8)])
def test_weight_images(shape):
    w = np.random.default_rng(1).normal(size=(shape[0] * shape[1], 32))
    fig = weight_images(w, shape, title="W", style=STYLE, n=16)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert len(fig.data) == 1 and fig.layout.title.text == "W"
    assert np.nanmax(np.abs(z)) == pytest.approx(1.0)  # each unit scaled to its own max |w|
    assert z.shape == (2 * (shape[0] + 2), 8 * (shape[1] + 2))


def test_layer_signals_two_panels_per_layer():
    steps = np.arange(5.0)
    fig = layer_signals(
        steps,
        np.ones((5, 3)),
        np.full((5, 3), 1e-3),
        layer_names=["L1", "L2", "L3"],
        titles=("g", "r"),
        x_title="Step",
        y_titles=("norm", "ratio"),
        reference="1e-3",
        style=STYLE,
    )
    assert [tr.name for tr in fig.data] == ["L1", "L2", "L3"] * 2
    assert [tr.showlegend for tr in fig.data] == [True] * 3 + [False] * 3
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis2.title.text == "ratio"
    # Each panel's data on its own axes, and the rule of thumb's line and label on the ratio panel.
    assert [(tr.xaxis, tr.yaxis) for tr in fig.data] == [("x", "y")] * 3 + [("x2", "y2")] * 3
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    (line,) = fig.layout.shapes
    assert (line.yref, line.y0, line.y1) == ("y2", 1e-3, 1e-3)
    (label,) = [a for a in fig.layout.annotations if a.text == "1e-3"]
    # A log axis places annotations at log10 of the value, shapes at the value itself.
    assert label.yref == "y2" and label.y == pytest.approx(np.log10(line.y0))
    assert {a.text for a in fig.layout.annotations} == {"g", "r", "1e-3"}


def test_compare_runs():
    runs = [RunCurves("a", np.arange(3), np.ones(3)), RunCurves("b", np.arange(5), np.ones(5))]
    names = ("Training", "Validation")
    fig = compare_runs(runs, names=names, text=ChartText("C", "Step", "Loss"), style=STYLE)
    assert [tr.name for tr in fig.data] == ["a", "b"]  # no validation points: no legend keys
    assert fig.data[0].line.color != fig.data[1].line.color
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "Step"


def test_compare_runs_draws_each_runs_validation_loss_dashed_in_its_colour():
    # The dropout experiment's gap between training and validation loss, for each run.
    runs = [
        RunCurves("a", np.arange(40), np.full(40, 0.01), np.array([19, 39]), np.array([0.3, 0.4])),
        RunCurves("b", np.arange(40), np.full(40, 0.05)),
    ]
    names = ("Training", "Validation")
    fig = compare_runs(runs, names=names, text=ChartText("C", "Step", "Loss"), style=STYLE)
    a, a_val, b, key_train, key_val = fig.data
    assert a_val.name == "a · Validation" and a_val.line.color == a.line.color
    assert a_val.line.dash == "dash" and a_val.mode == "lines+markers"
    assert list(a_val.x) == [19, 39] and list(a_val.y) == [0.3, 0.4]
    assert a_val.legendgroup == a.legendgroup == "a" and a_val.showlegend is False
    assert b.name == "b" and b.line.color != a.line.color
    # Grey keys say which line is which; they have no data of their own.
    assert (key_train.name, key_val.name) == names and key_val.line.dash == "dash"
    assert list(key_train.y) == [None] and key_train.line.color == key_val.line.color


def test_model_input_and_class_probabilities():
    image = np.zeros((28, 28))
    image[10:18, 12:16] = 1.0
    fig = model_input(image, title="Input", style=STYLE)
    assert len(fig.data) == 1 and fig.layout.title.text == "Input"
    np.testing.assert_array_equal(np.asarray(fig.data[0].z, dtype=float), image)
    probs = np.full(10, 0.02)
    probs[7] = 0.82
    bars = class_probabilities(probs, class_names=DIGITS, text=ChartText("P", "prob"), style=STYLE)
    assert list(bars.data[0].y) == DIGITS
    colors = bars.data[0].marker.color
    assert colors[7] == STYLE.color(0) and len(set(colors)) == 2
    assert bars.data[0].text[7] == "82%"
    assert bars.layout.xaxis.title.text == "prob"
    # The 28×28 field is framed; classes with (almost) no probability carry no "0%" label.
    (frame,) = fig.layout.shapes
    assert (frame.x0, frame.y0, frame.x1, frame.y1) == (-0.5, -0.5, 27.5, 27.5)
    probs[0], probs[7] = 0.001, 0.801
    bars = class_probabilities(probs, class_names=DIGITS, text=ChartText("P", "prob"), style=STYLE)
    assert bars.data[0].text[0] == "" and bars.data[0].text[1] == "2%"


# ---------------------------------------------------------------- inside a CNN


@pytest.mark.parametrize(
    ("layer", "pixel", "rect"),
    [
        # conv 2 of the preset, pixel (3, 9): conv 1 rows 0–13, columns 12–25 (see input_window).
        (3, (3, 9), (11.5, -0.5, 25.5, 13.5)),
        # conv 1, pixel (0, 0): rows and columns −2 to 2, of which 0 to 2 are on the image.
        (0, (0, 0), (-0.5, -0.5, 2.5, 2.5)),
        # max-pool 3 of the preset, pixel (3, 3): an 18×18 square, rows and columns 12 to 29,
        # cut at the image's last row and column 27.
        (5, (3, 3), (11.5, 11.5, 27.5, 27.5)),
    ],
)
def test_model_input_draws_the_receptive_field_clipped_to_the_image(layer, pixel, rect):
    window = input_window(cnn((28, 28)), layer, *pixel)
    fig = model_input(np.zeros((28, 28)), title="Field", style=STYLE, window=window)
    frame, field = fig.layout.shapes
    assert (frame.x0, frame.x1) == (-0.5, 27.5)
    assert (field.x0, field.y0, field.x1, field.y1) == rect
    assert field.line.color == STYLE.color(1)


def _sections(rng):
    return [
        MapSection("Input", rng.random((1, 28, 28)), -1, image=True),
        MapSection("conv 1", rng.standard_normal((8, 28, 28)), 0, clickable=True),
        MapSection("ReLU", rng.random((8, 28, 28)), 1),
        MapSection("conv 2", rng.standard_normal((16, 14, 14)), 3, clickable=True),
        MapSection("pool", rng.random((16, 4, 4)), 5),
    ]


def test_feature_maps_one_section_per_layer_each_as_wide(rng):
    sections = _sections(rng)
    fig = feature_maps(sections, style=STYLE, hover="%{customdata[1]}")
    *heatmaps, marks = fig.data
    assert [tr.type for tr in heatmaps] == ["heatmap"] * 5 and marks.type == "scatter"
    assert [a.text for a in fig.layout.annotations] == [s.title for s in sections]
    width = fig.layout.xaxis.range[1] + 0.5
    for heatmap, section in zip(heatmaps, sections, strict=True):
        z = np.asarray(heatmap.z)
        left = heatmap.x0 - heatmap.dx / 2
        right = heatmap.x0 + (z.shape[1] - 0.5) * heatmap.dx
        assert left == pytest.approx(-0.5) and right == pytest.approx(width - 0.5)
        assert heatmap.dx == heatmap.dy  # square pixels
        n, h, w = section.maps.shape
        assert np.count_nonzero(np.isfinite(z)) == n * h * w
        # Titles above their maps, sections one under another.
        assert fig.layout.annotations[heatmaps.index(heatmap)].y < heatmap.y0
    assert heatmaps[0].colorscale[0][1] == "rgb(255,255,255)"  # Greys: the input as a digit
    lim = np.abs(sections[1].maps).max()
    assert (heatmaps[1].zmid, heatmaps[1].zmin, heatmaps[1].zmax) == pytest.approx((0, -lim, lim))
    assert fig.layout.clickmode == "event+select" and fig.layout.dragmode is False


def test_feature_maps_pixels_of_clickable_layers_are_points_over_their_cells(rng):
    sections = _sections(rng)
    fig = feature_maps(sections, style=STYLE, hover="h", selected=(3, 5, 3, 9))
    heatmaps, marks = fig.data[:-1], fig.data[-1]
    data = np.asarray(marks.customdata)
    assert len(data) == 8 * 28 * 28 + 16 * 14 * 14  # conv 1 and conv 2 only
    assert set(data[:, 0]) == {0, 3}
    np.testing.assert_array_equal(data[0], [0, 0, 0, 0])
    values = np.asarray(marks.marker.color)
    (i,) = np.flatnonzero((data == [3, 5, 3, 9]).all(axis=1))
    assert values[i] == pytest.approx(sections[3].maps[5, 3, 9])
    # The point lies on the centre of its heatmap cell: map 5 is in the first row of 8, column 5.
    conv2 = heatmaps[3]
    cell = 14 + 2
    column, row = 5 % MAP_COLUMNS * cell + 9, 5 // MAP_COLUMNS * cell + 3
    assert np.asarray(conv2.z)[row, column] == pytest.approx(sections[3].maps[5, 3, 9])
    assert marks.x[i] == pytest.approx(conv2.x0 + column * conv2.dx)
    assert marks.y[i] == pytest.approx(conv2.y0 + row * conv2.dy)
    (frame,) = fig.layout.shapes
    assert (frame.x0 + frame.x1) / 2 == pytest.approx(marks.x[i])
    assert (frame.y0 + frame.y1) / 2 == pytest.approx(marks.y[i])
    assert frame.x1 - frame.x0 == pytest.approx(conv2.dx)
    assert marks.marker.opacity == 0 and marks.hovertemplate == "h<extra></extra>"


def test_window_times_kernel_one_channel_side_by_side_with_numbers(rng):
    window, kernel = rng.random((1, 5, 5)), rng.standard_normal((1, 5, 5))
    fig = window_times_kernel(
        window, kernel, window * kernel, names=("x", "W", "x·W"), title="T", style=STYLE
    )
    *grids, frames = fig.data
    assert [tr.type for tr in grids] == ["heatmap"] * 3 and frames.mode == "lines"
    assert [tr.x0 for tr in grids] == [0, 7, 14]  # three 5×5 grids, 2 cells apart
    assert all(tr.texttemplate == "%{z:.2f}" for tr in grids)
    assert np.nanmin(frames.x) == -0.5 and np.nanmax(frames.x) == 18.5  # round each grid
    np.testing.assert_allclose(np.asarray(fig.data[2].z), (window * kernel)[0])
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["x", "W", "×", "x·W", "="]
    assert fig.data[0].colorscale[0][1] == "rgb(255,255,255)"  # an image patch in grey
    assert fig.layout.title.text == "T"


def test_window_times_kernel_many_channels_in_three_rows(rng):
    window, kernel = rng.standard_normal((8, 5, 5)), rng.standard_normal((8, 5, 5))
    fig = window_times_kernel(
        window, kernel, window * kernel, names=("x", "W", "x·W"), title="T", style=STYLE
    )
    *grids, frames = fig.data
    assert [np.asarray(tr.z).shape for tr in grids] == [(5, 47)] * 3  # 8 maps a row
    assert fig.data[0].y0 < fig.data[1].y0 < fig.data[2].y0 and fig.data[0].x0 == 0
    notes = [a.text for a in fig.layout.annotations]
    shares = [f"Σ {share:.2f}" for share in (window * kernel).sum(axis=(1, 2))]
    assert notes == ["x", "× W", "= x·W", *shares]  # each channel's part of the sum
    assert all(tr.texttemplate is None for tr in grids)  # too small for numbers: on hover
    assert np.count_nonzero(np.isnan(frames.x)) == 3 * 8  # a frame round every map
    assert fig.data[0].zmid == 0  # a window with negative values: the signed scale
