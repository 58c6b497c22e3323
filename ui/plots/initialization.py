"""Figure builders for the weight-initialization page: data and translated labels in, Figure out.

No streamlit here. Layers are numbered from 1 (the first hidden layer) as a class counts them; a
setup is drawn in one colour everywhere, solid for setup A and dashed for setup B, so the two can be
told apart on a black-and-white projector too.
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.plots.lines import add_lines
from ui.theme import ChartText, Curves, PlotStyle, log_ticks

_DASHES = ("solid", "dash", "dot", "dashdot")


class SetupSeries(NamedTuple):
    """One setup's per-layer arrays, as ``core.deep_signals.measure`` returns them."""

    name: str
    activation_std: np.ndarray  # one per hidden layer
    weight_grad_norm: np.ndarray  # one per weight matrix (hidden layers, then the output layer)
    update_ratio: np.ndarray  # same length as weight_grad_norm


def _line(style: PlotStyle, i: int) -> dict:
    return {"color": style.color(i), "width": style.line_width, "dash": _DASHES[i % len(_DASHES)]}


def _positive(values: np.ndarray) -> np.ndarray:
    # A log axis cannot show 0 (zero init) or a non-finite value; a gap says "not drawable" honestly.
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def signals_vs_depth(
    setups: Sequence[SetupSeries],
    *,
    panel_titles: tuple[str, str, str],
    x_title: str,
    output_label: str,
    style: PlotStyle,
) -> go.Figure:
    """Three log-scale panels over depth: activation std, weight-gradient norm, update/weight ratio.

    The gradient and ratio panels have one more point than the first (the output layer), placed at
    ``depth + 1`` and named ``output_label`` on the axis. On a projector the panels are stacked, so
    that each keeps a readable width.
    """
    stacked = style.projector
    fig = make_subplots(
        rows=3 if stacked else 1,
        cols=1 if stacked else 3,
        subplot_titles=panel_titles,
        horizontal_spacing=0.08,
        vertical_spacing=0.12,
    )
    depth = max((len(s.activation_std) for s in setups), default=0)
    for i, s in enumerate(setups):
        for panel, values in enumerate((s.activation_std, s.weight_grad_norm, s.update_ratio), 1):
            layers = np.arange(1, len(values) + 1)
            fig.add_trace(
                go.Scatter(
                    x=layers,
                    y=_positive(values),
                    name=s.name,
                    legendgroup=s.name,
                    showlegend=panel == 1,
                    mode="lines+markers",
                    line=_line(style, i),
                    marker={"size": style.marker_size * 0.6},
                    hovertemplate=f"{x_title} %{{x}}: %{{y:.3g}}<extra>{s.name}</extra>",
                ),
                row=panel if stacked else 1,
                col=1 if stacked else panel,
            )
    for panel, field in enumerate(("activation_std", "weight_grad_norm", "update_ratio"), 1):
        every_setup = [np.asarray(getattr(s, field), dtype=float) for s in setups]
        fig.update_yaxes(
            type="log",
            **log_ticks(np.concatenate(every_setup or [[]])),
            row=panel if stacked else 1,
            col=1 if stacked else panel,
        )
    # Whole-numbered layers; the output layer (one past the last hidden layer) gets its own label.
    ticks = _layer_ticks(depth)
    # Upright labels: plotly turned "输出" (output) on its side when it judged the ticks crowded.
    fig.update_xaxes(
        tickmode="array", tickvals=ticks, ticktext=[str(k) for k in ticks], tickangle=0
    )
    for panel in (2, 3):
        fig.update_xaxes(
            tickvals=[*ticks, depth + 1],
            ticktext=[*(str(k) for k in ticks), output_label],
            row=panel if stacked else 1,
            col=1 if stacked else panel,
        )
    if stacked:
        fig.update_xaxes(title=x_title, row=3, col=1)
    else:
        fig.update_xaxes(title=x_title)
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.1 if stacked else -0.22, "x": 0}
    )
    fig = style.apply(fig, height=800 if stacked else 420)
    # Panel titles are annotations, which the shared style does not size.
    fig.update_annotations(font_size=style.font_size)
    return fig


def _layer_ticks(depth: int) -> list[int]:
    step = max(1, int(np.ceil(depth / 10)))
    return list(range(1, depth + 1, step)) if depth else []


def unit_shares(
    setups: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    panel_titles: tuple[str, str],
    x_title: str,
    y_title: str,
    empty_note: str,
    style: PlotStyle,
) -> go.Figure:
    """Dead units and saturated entries per layer, as percentages; ``(name, dead, saturated)``.

    A setup whose activation never saturates (ReLU-like) has all-NaN ``saturated`` and draws no
    line in that panel; if no setup draws one, ``empty_note`` says why in the panel.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=panel_titles, horizontal_spacing=0.1)
    for i, (name, dead, saturated) in enumerate(setups):
        for col, values in enumerate((dead, saturated), 1):
            values = np.asarray(values, dtype=float)
            if not np.isfinite(values).any():
                continue
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, len(values) + 1),
                    y=100 * values,
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1 or not np.isfinite(dead).any(),
                    mode="lines+markers",
                    line=_line(style, i),
                    marker={"size": style.marker_size * 0.6},
                    hovertemplate=f"{x_title} %{{x}}: %{{y:.1f}} %<extra>{name}</extra>",
                ),
                row=1,
                col=col,
            )
    if not any(np.isfinite(np.asarray(sat, dtype=float)).any() for _, _, sat in setups):
        # plotly.js draws no axes for a panel without traces, and then places an annotation meant
        # for it over the first panel: an invisible trace keeps the empty panel's axes.
        depth = max((len(dead) for _, dead, _ in setups), default=1)
        fig.add_trace(
            go.Scatter(
                x=[1, depth], y=[None, None], mode="markers", showlegend=False, hoverinfo="skip"
            ),
            row=1,
            col=2,
        )
        fig.add_annotation(
            text=empty_note, xref="x2 domain", yref="y2 domain", x=0.5, y=0.5, showarrow=False
        )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, range=[-3, 103], ticksuffix=" %")
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0})
    fig = style.apply(fig, height=340)
    fig.update_annotations(font_size=style.font_size)
    return fig


def distribution_over_depth(
    hist: np.ndarray,
    edges: np.ndarray,
    *,
    text: ChartText,
    colorbar_title: str,
    style: PlotStyle,
    zmax: float | None = None,
) -> go.Figure:
    """Heat map: one row per layer, the share of a layer's values in each bin (0-100 %).

    Each row is normalised on its own so a layer whose values all sit in one bin shows as one
    bright cell, whatever the batch size; the outermost bins also hold the values beyond the edges.
    Pass the same ``zmax`` (see ``largest_share``) to heat maps that are compared side by side.
    """
    share = _row_shares(hist)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(
        go.Heatmap(
            x=centres,
            y=np.arange(1, len(hist) + 1),
            z=share,
            colorscale="Viridis",
            zmin=0,
            zmax=zmax,
            colorbar={"title": {"text": colorbar_title}, "ticksuffix": " %"},
            hovertemplate=(
                f"{text.y} %{{y}}<br>{text.x} ≈ %{{x:.2f}}<br>%{{z:.1f}} %<extra></extra>"
            ),
        )
    )
    fig.update_layout(title=text.title)
    fig.update_xaxes(title=text.x)
    # Layer 1 at the top: the signal flows downwards through the network, as in a diagram.
    fig.update_yaxes(title=text.y, autorange="reversed")
    return style.apply(fig, height=380)


def _row_shares(hist: np.ndarray) -> np.ndarray:
    hist = np.asarray(hist, dtype=float)
    totals = hist.sum(axis=1, keepdims=True)
    return 100 * np.divide(hist, totals, out=np.zeros_like(hist), where=totals > 0)


def largest_share(hists: Sequence[np.ndarray]) -> float | None:
    """The largest per-layer share (%) over several histograms: one colour scale for all of them."""
    shares = [_row_shares(h).max() for h in hists if np.size(h)]
    return max(shares) if shares else None


def symmetry_spread(curves: Curves, *, text: ChartText, style: PlotStyle) -> go.Figure:
    """Largest difference between two hidden units' weights, per training step, one line per init.

    Linear axis on purpose: "exactly 0" is the point, and a log axis cannot draw it.
    """
    fig = go.Figure()
    add_lines(
        fig,
        curves,
        style,
        mode="lines+markers",
        dashes=_DASHES,
        marker={"size": style.marker_size * 0.6},
        hovertemplate=f"{text.x} %{{x}}: %{{y:.3g}}<extra>%{{fullData.name}}</extra>",
    )
    fig.update_layout(
        title=text.title, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0}
    )
    fig.update_xaxes(title=text.x)
    fig.update_yaxes(title=text.y, rangemode="tozero")
    return style.apply(fig, height=360)


def training_losses(curves: Curves, *, text: ChartText, style: PlotStyle) -> go.Figure:
    """Minibatch loss per step for each setup (a curve stops where training diverged)."""
    fig = go.Figure()
    # Solid: dashes break up a noisy minibatch curve; colour tells the setups apart.
    add_lines(
        fig,
        curves,
        style,
        first_step=1,
        hovertemplate=f"{text.x} %{{x}}: %{{y:.4g}}<extra>%{{fullData.name}}</extra>",
    )
    fig.update_layout(
        title=text.title,
        hovermode="x unified" if len(curves) > 1 else "closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0},
    )
    fig.update_xaxes(title=text.x)
    losses = np.concatenate([np.asarray(loss, dtype=float) for _, loss in curves] or [[]])
    fig.update_yaxes(title=text.y, type="log", **log_ticks(losses))
    return style.apply(fig, height=400)
