"""Figure builders for the learning-rate schedules page: data and translated labels in, Figure out.

No streamlit here. ``x`` is whatever unit the page shows (steps or epochs); the builders only draw.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.theme import ChartText, Curves, PlotStyle, log_ticks

# Translucent fills for phase bands, cycled like the palette (alpha keeps the curve readable).
_BAND_ALPHA = 0.12


def _hover(text: ChartText) -> str:
    # Exact lr on hover: 6 significant digits is more than any torch printout shows.
    return f"{text.x}: %{{x:.4g}}<br>{text.y}: %{{y:.6g}}<extra>%{{fullData.name}}</extra>"


def _lr_curve(x, lrs, name: str, color: str, text: ChartText, style) -> go.Scatter:
    """A schedule's lr over ``x`` as a solid line, exact on hover."""
    return go.Scatter(
        x=x,
        y=lrs,
        name=name,
        mode="lines",
        line={"color": color, "width": style.line_width},
        hovertemplate=_hover(text),
    )


def schedule_curves(
    x: np.ndarray,
    curves: Curves,
    *,
    text: ChartText,
    log_y: bool,
    style: PlotStyle,
    color_indices: Sequence[int] | None = None,
) -> go.Figure:
    """One line per ``(name, lrs)`` over ``x``; log or linear lr axis, exact lr on hover."""
    fig = go.Figure()
    for i, (name, lrs) in enumerate(curves):
        color = style.color(color_indices[i] if color_indices is not None else i)
        fig.add_trace(_lr_curve(x, lrs, name, color, text, style))
    fig.update_layout(
        title=text.title,
        hovermode="x unified" if len(curves) > 1 else "closest",
        # Below the plot: a side legend takes half the width of a column on a projector.
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
    )
    fig.update_xaxes(title=text.x)
    fig.update_yaxes(title=text.y, type="log" if log_y else "linear")
    return style.apply(fig, height=480)


MIN_LABELLED_BAND = 0.03  # of the x axis: a narrower phase band gets no label


def _hex_to_rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def chained_schedule(
    x: np.ndarray,
    lrs: np.ndarray,
    phases: Sequence[tuple[float, float, str]],
    *,
    name: str,
    text: ChartText,
    log_y: bool,
    style: PlotStyle,
) -> go.Figure:
    """The chained curve with each phase ``(start, end, label)`` shaded, labelled and bounded.

    Labels sit at the top of their band, in two alternating rows, and a band narrower than
    ``MIN_LABELLED_BAND`` of the axis has none: side by side in one row, the labels of short
    phases ran into each other ("warm-u|main").
    """
    fig = go.Figure()
    span = (
        max((end for _, end, _ in phases), default=1.0)
        - min((s for s, _, _ in phases), default=0.0)
    ) or 1.0
    for i, (start, end, label) in enumerate(phases):
        fig.add_vrect(
            x0=start,
            x1=end,
            fillcolor=_hex_to_rgba(style.color(i + 1), _BAND_ALPHA),
            line_width=0,
            layer="below",
        )
        if (end - start) / span >= MIN_LABELLED_BAND:
            fig.add_annotation(
                x=(start + end) / 2,
                y=1,
                yref="paper",
                yanchor="top",
                yshift=-round(1.5 * style.font_size) * (i % 2),
                text=label,
                showarrow=False,
                font={"size": style.font_size},
            )
        if i > 0:
            fig.add_vline(x=start, line_dash="dash", line_color=style.text_color, line_width=1)
    fig.add_trace(_lr_curve(x, lrs, name, style.color(0), text, style))
    fig.update_layout(title=text.title, showlegend=False)
    fig.update_xaxes(title=text.x)
    fig.update_yaxes(title=text.y, type="log" if log_y else "linear")
    return style.apply(fig, height=400)


def smoothed(values: np.ndarray, weight: float) -> np.ndarray:
    """Bias-corrected exponential moving average (TensorBoard's smoothing) for noisy loss curves."""
    out = np.empty(len(values))
    avg, norm = 0.0, 0.0
    for i, v in enumerate(np.asarray(values, dtype=float)):
        avg = weight * avg + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out[i] = avg / norm
    return out


def round_ticks(values, count: int = 4) -> dict:
    """``update_yaxes`` settings for a linear axis from 0 over ``values``: about ``count`` ticks a
    round step apart (1, 2 or 5 × 10ⁿ), the range from 0 to just above the largest value."""
    v = np.asarray(values, dtype=float)
    top = float(np.max(v[np.isfinite(v)], initial=0.0))
    if top <= 0:
        return {"range": [0, 1]}
    unit = 10.0 ** np.floor(np.log10(top / count))
    step = min(m * unit for m in (1, 2, 5, 10) if m * unit >= top / count)
    ticks = np.arange(0, top + step / 2, step)
    return {
        "tickvals": [float(tick) for tick in ticks],
        "ticktext": [f"{tick:.6g}" for tick in ticks],
        "range": [0, float(max(top, ticks[-1])) * 1.04],
    }


def loss_with_lr(
    steps: np.ndarray,
    runs: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    text: ChartText,
    lr_title: str,
    lr_suffix: str,
    log_lr: bool,
    style: PlotStyle,
    smoothing: float = 0.9,
) -> go.Figure:
    """Smoothed training loss per ``(name, losses, lrs)`` run on a log axis, its lr dotted on a
    second y axis.

    ``text.y`` titles the loss axis, ``lr_title`` the lr axis on the right. The loss axis is
    logarithmic: on a linear one the first steps' loss (about 2.3) squeezed the rest into a strip
    at the bottom, where a restart's bump or the gap between two schedules could not be seen.
    """
    lr_text = text._replace(y=lr_title)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    shown = [smoothed(losses, smoothing) if len(losses) else losses for _, losses, _ in runs]
    for i, ((name, _, lrs), loss) in enumerate(zip(runs, shown, strict=True)):
        color = style.color(i)
        n = len(loss)
        fig.add_trace(
            go.Scatter(
                x=steps[:n],
                y=loss,
                name=name,
                legendgroup=name,
                mode="lines",
                line={"color": color, "width": style.line_width},
                hovertemplate=_hover(text),
            ),
            secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(
                x=steps[: len(lrs)],
                y=lrs,
                name=f"{name} {lr_suffix}",
                legendgroup=name,
                mode="lines",
                line={"color": color, "width": max(style.line_width / 2, 1), "dash": "dot"},
                hovertemplate=_hover(lr_text),
            ),
            secondary_y=True,
        )
    fig.update_layout(
        title=text.title,
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
    )
    fig.update_xaxes(title=text.x)
    every_loss = np.concatenate([np.asarray(v, dtype=float) for v in shown] or [[]])
    fig.update_yaxes(title=text.y, type="log", secondary_y=False, **log_ticks(every_loss))
    # An lr is never negative, and its ticks are round numbers given as values: plotly.js puts the
    # ticks of an overlaying axis at the heights of the first axis' ticks, which labelled the lr
    # 0.0526316, 0.0786852 (and 0.0163, −0.0018 before its range started at 0). Its grid lines
    # would not meet the loss axis' ones, so it has none.
    every_lr = np.concatenate([np.asarray(lrs, dtype=float) for _, _, lrs in runs] or [[]])
    ticks = log_ticks(every_lr) if log_lr else round_ticks(every_lr)
    fig.update_yaxes(
        title=lr_title, type="log" if log_lr else "linear", showgrid=False, secondary_y=True,
        **ticks,
    )  # fmt: skip
    return style.apply(fig, height=460)
