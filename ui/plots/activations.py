"""Figures for the activations & losses page: pure plotly builders, no streamlit.

Every builder takes data, already-translated labels and a ``PlotStyle``, and ends with
``style.apply``. Non-finite numbers (the naive softmax's NaN and inf) are drawn as readable text on
an empty bar, never as a broken chart.
"""

import math
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from ui.theme import ChartText, Curves, PlotStyle


class Series(NamedTuple):
    """One function on a shared x grid: its values, derivative and low-gradient intervals."""

    name: str  # translated legend name
    y: np.ndarray
    dy: np.ndarray
    intervals: list[tuple[float, float]]  # where |dy| is below the saturation threshold
    at: tuple[float, float] | None = None  # (f, f′) at the traced x, computed exactly by the caller


def format_number(value: float) -> str:
    """A short readable number; NaN and ±inf spelled out instead of drawn."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def curves_with_derivatives(
    x: np.ndarray,
    series: list[Series],
    trace_x: float | None,
    *,
    text: ChartText,
    derivative_name: str,
    saturation_name: str,
    style: PlotStyle,
) -> go.Figure:
    """Each function solid and its derivative dashed in the same colour, with shaded flat zones.

    ``derivative_name`` is a format string with ``{name}``; a vertical line and markers show the
    traced point ``trace_x`` (None for no trace).
    """
    fig = go.Figure()
    any_saturation = False
    for i, s in enumerate(series):
        color = style.color(i)
        fig.add_scatter(
            x=x, y=s.y, name=s.name, mode="lines", line={"color": color, "width": style.line_width}
        )
        fig.add_scatter(
            x=x,
            y=s.dy,
            name=derivative_name.format(name=s.name),
            mode="lines",
            line={"color": color, "width": style.line_width, "dash": "dash"},
        )
        for a, b in s.intervals:
            any_saturation = True
            fig.add_vrect(x0=a, x1=b, fillcolor=color, opacity=0.08, line_width=0, layer="below")
        if trace_x is not None and s.at is not None:
            fig.add_scatter(
                x=[trace_x, trace_x],
                y=list(s.at),
                mode="markers",
                marker={
                    "color": color,
                    "size": style.marker_size * 1.4,
                    "symbol": ["circle", "diamond"],
                },
                showlegend=False,
                hoverinfo="skip",
            )
    if any_saturation:
        # vrects have no legend entry; a legend-only square explains the shading.
        fig.add_scatter(
            x=[None],
            y=[None],
            name=saturation_name,
            mode="markers",
            marker={
                "symbol": "square",
                "size": style.marker_size * 2,
                "color": "rgba(120,120,120,0.35)",
            },
        )
    if trace_x is not None:
        fig.add_vline(x=trace_x, line={"color": style.text_color, "width": 1.5, "dash": "dot"})
    fig.update_layout(
        title=text.title,
        xaxis_title=text.x,
        yaxis_title=text.y,
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0},
    )
    return style.apply(fig, height=520)


def outlier_strip(
    data: np.ndarray,
    is_outlier: np.ndarray,
    fits: list[tuple[str, float]],
    *,
    text: ChartText,
    inlier_name: str,
    outlier_name: str,
    style: PlotStyle,
) -> go.Figure:
    """Data as a strip of points and one vertical line per fitted constant (mean, median, …)."""
    # A fixed golden-ratio jitter spreads the points vertically the same way on every rerun.
    jitter = (np.arange(data.size) * 0.6180339887) % 1.0 - 0.5
    fig = go.Figure()
    for mask, name, color in (
        (~is_outlier, inlier_name, style.grid_color if style.dark else "#666666"),
        (is_outlier, outlier_name, style.color(3)),
    ):
        fig.add_scatter(
            x=data[mask],
            y=jitter[mask],
            name=name,
            mode="markers",
            marker={"color": color, "size": style.marker_size * 1.3, "opacity": 0.8},
        )
    dashes = ("solid", "dash", "dot", "dashdot")
    for i, (name, value) in enumerate(fits):
        fig.add_scatter(
            x=[value, value],
            y=[-0.75, 0.75],
            name=f"{name} = {format_number(value)}",
            mode="lines",
            line={"color": style.color(i), "width": style.line_width * 1.3, "dash": dashes[i % 4]},
        )
    fig.update_layout(
        title=text.title,
        xaxis_title=text.x,
        yaxis={"visible": False, "range": [-0.9, 0.9]},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "xanchor": "left", "x": 0},
    )
    return style.apply(fig, height=360)


def probability_bars(
    classes: list[str], series: Curves, *, text: ChartText, style: PlotStyle
) -> go.Figure:
    """Grouped bars of probabilities per class; a NaN or inf gets an empty bar labelled in text."""
    fig = go.Figure()
    for i, (name, values) in enumerate(series):
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        fig.add_bar(
            x=classes,
            y=np.where(finite, values, 0.0),
            name=name,
            marker_color=style.color(i),
            text=[format_number(v) for v in values],
            textposition="outside",
            textfont={"size": style.font_size, "color": style.text_color},
            cliponaxis=False,
        )
    fig.update_layout(
        title=text.title,
        xaxis_title=text.x,
        yaxis={"title": text.y, "range": [0, 1.18]},
        barmode="group",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0},
    )
    return style.apply(fig, height=400)
