"""Figure builders of the initialization page: traces, labels, log axes, gaps and shared scales."""

import numpy as np
import plotly.graph_objects as go
import pytest

import ui.plots.initialization as plots
from ui.theme import ChartText, plot_style

STYLE = plot_style()


def _series(name: str, depth: int, scale: float = 1.0) -> plots.SetupSeries:
    return plots.SetupSeries(
        name,
        scale * np.linspace(1.0, 0.1, depth),
        scale * np.linspace(2.0, 3.0, depth + 1),
        np.full(depth + 1, 1e-3),
    )


def test_signals_vs_depth_has_three_log_panels_per_setup():
    fig = plots.signals_vs_depth(
        [_series("A", 5), _series("B", 5, 2.0)],
        panel_titles=("std", "grad", "ratio"),
        x_title="Layer",
        output_label="out",
        style=STYLE,
    )
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 6
    assert [tr.name for tr in fig.data if tr.showlegend] == ["A", "B"]
    assert {fig.layout[f"yaxis{i}"].type for i in ("", "2", "3")} == {"log"}
    assert [a.text for a in fig.layout.annotations] == ["std", "grad", "ratio"]
    # Hidden layers 1..5 in the first panel; the output layer at 6, labelled, in the others.
    assert list(fig.data[0].x) == [1, 2, 3, 4, 5]
    assert list(fig.data[1].x) == [1, 2, 3, 4, 5, 6]
    assert fig.layout.xaxis2.ticktext[-1] == "out"
    assert {fig.layout[f"xaxis{i}"].tickangle for i in ("", "2", "3")} == {0}  # "输出" upright
    assert fig.layout.xaxis.title.text == "Layer"
    # Setups differ by dash as well as colour (black-and-white projectors).
    assert fig.data[0].line.dash != fig.data[3].line.dash


def test_zero_and_non_finite_values_leave_gaps_on_the_log_axis():
    s = plots.SetupSeries(
        "zeros", np.zeros(3), np.array([0.0, np.inf, 1.0, 2.0]), np.full(4, np.nan)
    )
    fig = plots.signals_vs_depth(
        [s], panel_titles=("a", "b", "c"), x_title="L", output_label="o", style=STYLE
    )
    assert np.isnan(np.asarray(fig.data[0].y, dtype=float)).all()
    assert list(np.isnan(np.asarray(fig.data[1].y, dtype=float))) == [True, True, False, False]


def test_unit_shares_in_percent_and_the_note_when_nothing_saturates():
    dead = np.array([0.0, 0.25, 0.5])
    fig = plots.unit_shares(
        [("A", dead, np.full(3, np.nan))],
        panel_titles=("dead", "saturated"),
        x_title="Layer",
        y_title="Share",
        empty_note="cannot saturate",
        style=STYLE,
    )
    np.testing.assert_allclose(fig.data[0].y, [0, 25, 50])
    assert "cannot saturate" in [a.text for a in fig.layout.annotations]
    # The empty panel keeps its axes (plotly.js draws none for a panel without traces, and the
    # note then lands on the first panel): one invisible trace spans the layers there.
    (placeholder,) = [trace for trace in fig.data if trace.xaxis == "x2"]
    assert list(placeholder.x) == [1, 3] and all(y is None for y in placeholder.y)
    assert not placeholder.showlegend
    assert len(fig.data) == 2
    fig = plots.unit_shares(
        [("A", dead, np.array([0.9, 0.8, 0.7]))],
        panel_titles=("dead", "saturated"),
        x_title="Layer",
        y_title="Share",
        empty_note="cannot saturate",
        style=STYLE,
    )
    assert len(fig.data) == 2
    assert "cannot saturate" not in [a.text for a in fig.layout.annotations]


def test_distribution_rows_are_shares_of_each_layer():
    hist = np.array([[1, 3, 0, 0], [0, 0, 0, 10], [0, 0, 0, 0]])
    edges = np.linspace(-2, 2, 5)
    fig = plots.distribution_over_depth(
        hist, edges, text=ChartText("A", "a", "Layer"), colorbar_title="Share", style=STYLE
    )
    z = np.asarray(fig.data[0].z, dtype=float)
    np.testing.assert_allclose(z, [[25, 75, 0, 0], [0, 0, 0, 100], [0, 0, 0, 0]])
    np.testing.assert_allclose(fig.data[0].x, [-1.5, -0.5, 0.5, 1.5])
    assert list(fig.data[0].y) == [1, 2, 3]
    assert fig.layout.yaxis.autorange == "reversed"


def test_largest_share_gives_side_by_side_maps_one_scale():
    a = np.array([[1, 1], [1, 3]])
    b = np.array([[5, 5]])
    assert plots.largest_share([a, b]) == pytest.approx(75.0)
    assert plots.largest_share([np.empty((0, 2))]) is None
    fig = plots.distribution_over_depth(
        b, np.array([0.0, 1.0, 2.0]), text=ChartText("B", "a", "L"),
        colorbar_title="S", style=STYLE, zmax=75.0,
    )  # fmt: skip
    assert fig.data[0].zmax == 75.0


def test_symmetry_spread_starts_at_step_zero_on_a_linear_axis():
    fig = plots.symmetry_spread(
        [("constant_", np.zeros(21)), ("kaiming_normal_", np.full(21, 0.3))],
        text=ChartText("t", "Step", "spread"),
        style=STYLE,
    )
    assert [tr.name for tr in fig.data] == ["constant_", "kaiming_normal_"]
    assert fig.data[0].x[0] == 0 and len(fig.data[0].x) == 21
    assert fig.layout.yaxis.type in (None, "linear")


def test_training_losses_label_log_ticks_at_one_two_five():
    fig = plots.training_losses(
        [("A", np.array([2.3, 1.0, 0.3])), ("B", np.array([35.0, 2.3]))],
        text=ChartText("t", "Step", "Loss"),
        style=STYLE,
    )
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.tickvals) == pytest.approx([0.2, 0.5, 1, 2, 5, 10, 20, 50])
    assert list(fig.layout.yaxis.ticktext)[:3] == ["0.2", "0.5", "1"]
    assert list(fig.data[0].x) == [1, 2, 3]


def test_projector_stacks_the_three_panels():
    fig = plots.signals_vs_depth(
        [_series("A", 5)],
        panel_titles=("std", "grad", "ratio"),
        x_title="Layer",
        output_label="out",
        style=plot_style(projector=True),
    )
    # Top to bottom, each panel the full width; only the bottom one carries the axis title.
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1] > fig.layout.yaxis3.domain[1]
    assert tuple(fig.layout.xaxis.domain) == tuple(fig.layout.xaxis3.domain) == (0.0, 1.0)
    assert fig.layout.xaxis3.title.text == "Layer" and fig.layout.xaxis.title.text is None
    assert fig.layout.xaxis2.ticktext[-1] == "out"


def test_log_axes_label_one_two_five_or_powers_of_ten_and_include_two_labels():
    narrow = _series("A", 4)._replace(activation_std=np.array([0.46, 0.47, 0.48, 0.485]))
    wide = narrow._replace(name="B", weight_grad_norm=np.array([1e10, 1e6, 1e2, 1.0, 0.5]))
    fig = plots.signals_vs_depth(
        [narrow, wide], panel_titles=("a", "b", "c"), x_title="L", output_label="o", style=STYLE
    )
    # 0.46-0.485 lies between the labels 0.2 and 0.5: both shown, so the flat line looks flat.
    assert list(fig.layout.yaxis.tickvals) == pytest.approx([0.2, 0.5])
    assert 10 ** fig.layout.yaxis.range[0] < 0.2 and 10 ** fig.layout.yaxis.range[1] > 0.5
    # Eleven decades: powers of ten only, at most nine labels, large ones as 10^k.
    ticks = list(fig.layout.yaxis2.tickvals)
    assert len(ticks) <= 9 and all(np.log10(v) == round(np.log10(v)) for v in ticks)
    assert ticks[0] <= 0.5 and ticks[-1] >= 1e9
    assert "10<sup>" in fig.layout.yaxis2.ticktext[-1]
