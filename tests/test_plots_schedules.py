"""Figure builders of the schedules page: traces, names, axes; no browser."""

import numpy as np
import plotly.graph_objects as go
import pytest

from ui.plots.schedules import chained_schedule, loss_with_lr, schedule_curves, smoothed
from ui.theme import ChartText, plot_style


@pytest.fixture(params=[False, True], ids=["screen", "projector"])
def style(request):
    return plot_style(projector=request.param)


def test_schedule_curves_one_trace_per_schedule(style):
    x = np.arange(11)
    curves = [("1 · StepLR", np.full(11, 0.1)), ("2 · ExponentialLR", 0.1 * 0.9**x)]
    fig = schedule_curves(x, curves, text=ChartText("T", "Steps", "lr"), log_y=True, style=style)
    assert isinstance(fig, go.Figure)
    assert [tr.name for tr in fig.data] == ["1 · StepLR", "2 · ExponentialLR"]
    assert fig.layout.xaxis.title.text == "Steps"
    assert fig.layout.yaxis.title.text == "lr"
    assert fig.layout.yaxis.type == "log"
    np.testing.assert_allclose(fig.data[1].y, 0.1 * 0.9**x)
    assert "%{y:.6g}" in fig.data[0].hovertemplate  # exact lr on hover
    assert fig.data[0].line.width == style.line_width


def test_schedule_curves_keep_colour_per_schedule_index(style):
    fig = schedule_curves(
        np.arange(3),
        [("3 · X", np.ones(3))],
        text=ChartText("T", "x", "y"),
        log_y=False,
        style=style,
        color_indices=[2],
    )
    assert fig.data[0].line.color == style.color(2)
    assert fig.layout.yaxis.type == "linear"


def test_chained_schedule_marks_phases(style):
    x = np.arange(101)
    phases = [(0, 10, "warm-up"), (10, 50, "main"), (50, 100, "restart 1")]
    fig = chained_schedule(
        x,
        np.linspace(0.1, 0.0, 101),
        phases,
        name="chain",
        text=ChartText("T", "Steps", "lr"),
        log_y=False,
        style=style,
    )
    assert len(fig.data) == 1
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [(r.x0, r.x1) for r in rects] == [(0, 10), (10, 50), (50, 100)]
    assert [ln.x0 for ln in lines] == [10, 50]  # a boundary between consecutive phases
    assert [a.text for a in fig.layout.annotations] == ["warm-up", "main", "restart 1"]


def test_chained_schedule_labels_short_phases_in_two_rows_and_skips_slivers(style):
    # 400 steps: a 20-step warm-up and restarts every 95 steps, a 5-step sliver at the end.
    phases = [(0, 20, "warm-up"), (20, 115, "main"), (115, 210, "restart 1"),
              (210, 305, "restart 2"), (305, 395, "restart 3"), (395, 400, "restart 4")]  # fmt: skip
    fig = chained_schedule(
        np.arange(401), np.full(401, 0.1), phases, name="chain",
        text=ChartText("T", "Steps", "lr"), log_y=False, style=style,
    )  # fmt: skip
    labels = {a.text: a for a in fig.layout.annotations}
    assert list(labels) == ["warm-up", "main", "restart 1", "restart 2", "restart 3"]
    # Neighbours alternate rows, each label centred on its band.
    assert labels["warm-up"].yshift == 0 and labels["main"].yshift < 0
    assert labels["restart 1"].yshift == 0 and labels["restart 1"].x == (115 + 210) / 2


def test_the_lr_axis_starts_at_zero_with_round_ticks(style):
    runs = [("A", np.ones(4), np.array([0.02, 0.015, 0.01, 0.005]))]
    fig = loss_with_lr(
        np.arange(4), runs, text=ChartText("T", "Steps", "loss"), lr_title="lr",
        lr_suffix="(lr)", log_lr=False, style=style,
    )  # fmt: skip
    # Ticks given as values: plotly.js otherwise puts them at the heights of the loss axis' ticks
    # (labels such as 0.0526316, seen in chromium).
    assert list(fig.layout.yaxis2.ticktext) == ["0", "0.005", "0.01", "0.015", "0.02"]
    assert fig.layout.yaxis2.range[0] == 0 and fig.layout.yaxis2.showgrid is False
    log = loss_with_lr(
        np.arange(4), runs, text=ChartText("T", "Steps", "loss"), lr_title="lr",
        lr_suffix="(lr)", log_lr=True, style=style,
    )  # fmt: skip
    assert list(log.layout.yaxis2.ticktext) == ["0.005", "0.01", "0.02"]


def test_loss_with_lr_has_a_secondary_axis(style):
    steps = np.arange(5)
    runs = [
        ("A", np.array([2.0, 1.5, 1.0, 0.8, 0.7]), np.full(5, 0.1)),
        ("B", np.ones(3), np.ones(3)),
    ]
    fig = loss_with_lr(
        steps,
        runs,
        text=ChartText("T", "Steps", "loss"),
        lr_title="lr",
        lr_suffix="(lr)",
        log_lr=True,
        style=style,
    )
    assert [tr.name for tr in fig.data] == ["A", "A (lr)", "B", "B (lr)"]
    assert fig.data[1].yaxis == "y2" and fig.data[0].yaxis == "y"
    assert fig.layout.yaxis.title.text == "loss"
    # The loss on a log axis, labelled at 1-2-5 steps: on a linear one a bump at 0.05 was flat.
    assert fig.layout.yaxis.type == "log" and list(fig.layout.yaxis.ticktext) == ["1", "2"]
    assert fig.layout.yaxis2.title.text == "lr"
    assert fig.layout.yaxis2.type == "log"
    assert len(fig.data[2].x) == 3


def test_smoothing_is_a_bias_corrected_ema():
    values = np.array([4.0, 2.0, 0.0])
    w = 0.5
    # By hand: averages 2, 2, 1 over norms 0.5, 0.75, 0.875.
    np.testing.assert_allclose(smoothed(values, w), [4.0, 2 / 0.75 * 1.0, 1 / 0.875])
    np.testing.assert_allclose(smoothed(np.full(4, 3.0), 0.9), 3.0)
