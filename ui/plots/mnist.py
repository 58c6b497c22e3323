"""Figure builders for the live MNIST page: Vega-Lite specs for the live curves, which the
browser updates in place, and plotly figures for the static panels. No streamlit import.

Every builder takes already-translated labels and a ``PlotStyle``; Vega charts get the same
Okabe–Ito colours and font sizes through ``_vega_config``. Images are uint8 or float arrays of
shape ``(n, rows, cols)`` with ink = high values; they are drawn as one mosaic heatmap (NaN gaps)
rather than one subplot each, which keeps a 24-digit grid at a handful of traces.
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.theme import BAD_COLOR, FONT_FAMILY, GOOD_COLOR, ChartText, PlotStyle, wrapped

MAX_POINTS = 1500  # per live curve: enough for a smooth line, small enough to resend every tick
GREY = "#999999"


def thin(x: np.ndarray, *arrays: np.ndarray, max_points: int = MAX_POINTS):
    """Every k-th point (and always the last) so at most ~``max_points`` remain, same k for all."""
    n = len(x)
    if n <= max_points:
        return (x, *arrays)
    idx = np.unique(np.r_[np.arange(0, n, -(-n // max_points)), n - 1])
    return (x[idx], *(a[idx] for a in arrays))


# ---------------------------------------------------------------- live curves (Vega-Lite)


class VegaChart(NamedTuple):
    """Data and a Vega-Lite spec for ``st.vega_lite_chart(chart.data, chart.spec)``.

    Plain dicts, not altair objects: altair's validation costs ~0.1 s a chart, too much for a
    chart redrawn several times a second. The spec depends only on labels and style, so between
    ticks only the data changes and the browser updates the chart in place.
    """

    data: pd.DataFrame
    spec: dict


def _vega_config(style: PlotStyle) -> dict:
    size = style.font_size
    axis = {
        "labelFontSize": size,
        "titleFontSize": size,
        "labelColor": style.text_color,
        "titleColor": style.text_color,
        "gridColor": style.grid_color,
        "titleFontWeight": "normal",
    }
    return {
        "font": FONT_FAMILY,
        "background": style.background,
        "axis": axis,
        "legend": {
            "labelFontSize": size,
            "labelColor": style.text_color,
            "orient": "bottom",
            "labelLimit": 0,
            "symbolStrokeWidth": style.line_width,
        },
        "title": {
            "fontSize": round(size * 1.15),
            "color": style.text_color,
            "anchor": "start",
            "fontWeight": "normal",
        },
        "view": {"stroke": None},
    }


LIVE_HEIGHT = 300  # px of a live chart (×1.25 on a projector): its plot area, not the legend's
MAX_DECADES = 4  # a live log axis spans at most this many powers of ten, each one labelled
STEP_LABEL = "datum.value >= 1000 ? format(datum.value / 1000, '~g') + 'k' : datum.label"
TITLE_WIDTH = 26  # a live chart's title wraps beyond this many Latin characters (a CJK one is 2)


def log_decades(values: np.ndarray) -> tuple[float, float]:
    """A log axis's domain: whole powers of ten around the finite positive ``values``, at least
    two decades (a constant sits mid-axis) and at most ``MAX_DECADES`` below the top one.

    Vega's own log domain spans every decade of the data: six decades of an overfitting loss
    then shared ~100 px. Whole decades keep the spec the same tick after tick, so the browser
    still updates the chart in place; the lowest points of a very long run fall below the axis.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 1e-3, 10.0
    lo = int(np.floor(np.log10(v.min()) + 1e-9))
    hi = int(np.ceil(np.log10(v.max()) - 1e-9))
    while hi - lo < 2:
        lo, hi = (lo - 1, hi) if hi - lo == 1 else (lo - 1, hi + 1)
    return 10.0 ** max(lo, hi - MAX_DECADES), 10.0**hi


def _log_axis(domain: tuple[float, float]) -> tuple[dict, dict]:
    """(scale, axis) of a log y axis over ``domain``: a label at each power of ten, no others."""
    lo, hi = (round(np.log10(d)) for d in domain)
    scale = {"type": "log", "domain": [10.0**lo, 10.0**hi], "nice": False}
    return scale, {"values": [10.0**e for e in range(lo, hi + 1)]}


def _lines(
    frame: pd.DataFrame,
    names: Sequence[str],
    text: ChartText,
    style: PlotStyle,
    *,
    log_domain: tuple[float, float] | None = None,
    y_format: str | None = None,
    integer_x: bool = False,
    height: int = LIVE_HEIGHT,
) -> VegaChart:
    if log_domain is not None:
        y_scale, y_ticks = _log_axis(log_domain)
    else:
        y_scale, y_ticks = {"zero": False}, {"tickCount": 5}
    y_axis = {
        "title": text.y,
        **y_ticks,
        "labelOverlap": "greedy",
        "titlePadding": round(style.font_size * 0.6),  # the title kept off the tick labels
        **({"format": y_format} if y_format else {}),
    }
    # A step axis says 1.2k rather than 1,200: five-digit labels at 20 px ran together in a third
    # of a projector's page ("1,0001,200"). Labels that would still touch are dropped. Each label
    # on its own (Vega's "~s" gives every tick the prefix of the largest: 0k, 0.2k, …).
    x_axis = {
        "title": text.x,
        "tickCount": 5,
        "labelOverlap": "greedy",
        "labelFlush": True,
        "format": "d",
        **({"tickMinStep": 1} if integer_x else {"labelExpr": STEP_LABEL}),
    }
    encoding = {
        "x": {"field": "x", "type": "quantitative", "axis": x_axis, "scale": {"zero": False}},
        "y": {"field": "value", "type": "quantitative", "axis": y_axis, "scale": y_scale},
        "color": {
            "field": "series",
            "type": "nominal",
            "scale": {"domain": list(names), "range": [style.color(i) for i in range(len(names))]},
            # One name per row: side by side they get cut off in a narrow column.
            "legend": {"title": None, "columns": 1} if len(names) > 1 else None,
        },
        "tooltip": [
            {"field": "series", "type": "nominal", "title": " "},
            {"field": "x", "type": "quantitative", "title": text.x},
            {"field": "value", "type": "quantitative", "title": text.y, "format": ".4g"},
        ],
    }
    # Points below a log domain are clipped rather than drawn over the axis.
    clip = {"clip": True} if log_domain is not None else {}
    spec = {
        # Wrapped into lines, not cut: a narrow column cut "Loss (log scale)".
        "title": {"text": wrapped(text.title, TITLE_WIDTH).split("<br>")},
        "autosize": {"type": "fit", "contains": "padding"},
        "height": round(height * (1.25 if style.projector else 1.0)),
        "layer": [
            {
                "mark": {"type": "line", "strokeWidth": style.line_width, **clip},
                "encoding": encoding,
            },
            # Per-epoch series have few points: show them as dots too.
            {
                "mark": {"type": "point", "filled": True, "size": style.marker_size**2, **clip},
                "transform": [{"filter": "datum.dots > 0"}],
                "encoding": encoding,
            },
        ],
        "config": _vega_config(style),
    }
    return VegaChart(frame, spec)


def _frame(
    series: Sequence[tuple[str, np.ndarray, np.ndarray, bool]], *, positive: bool = False
) -> pd.DataFrame:
    """One long table (x, value, series, dots) of every finite (and, if asked, positive) point,
    built in one piece.

    ``series`` is categorical: Streamlit sends it as integer codes plus the few names instead of
    a string per row, and one frame from whole columns skips pandas' concat and re-index (half
    of a tick's chart cost, redone for every trainer on every tick).
    """
    x = np.concatenate([np.asarray(xs, dtype=float).ravel() for _, xs, _, _ in series])
    value = np.concatenate([np.asarray(v, dtype=float).ravel() for _, _, v, _ in series])
    sizes = [np.size(v) for _, _, v, _ in series]
    names = list(dict.fromkeys(name for name, *_ in series))  # categories are unique
    codes = np.repeat([names.index(name) for name, *_ in series], sizes)
    dots = np.repeat([int(d) for *_, d in series], sizes)
    # Vega cannot draw inf/NaN (nor a log of 0); drop them rather than break the chart.
    keep = np.isfinite(value) & (value > 0) if positive else np.isfinite(value)
    return pd.DataFrame(
        {
            "x": x[keep],
            "value": value[keep],
            "series": pd.Categorical.from_codes(codes[keep], categories=names),
            "dots": dots[keep],
        }
    )


def live_loss_chart(
    steps: np.ndarray,
    train_loss: np.ndarray,
    epoch_steps: np.ndarray,
    val_loss: np.ndarray,
    *,
    names: tuple[str, str],
    text: ChartText,
    style: PlotStyle,
) -> VegaChart:
    """Smoothed training loss per step and validation loss at each epoch's last step."""
    steps, train_loss = thin(np.asarray(steps), np.asarray(train_loss))
    frame = _frame(
        [(names[0], steps, train_loss, False), (names[1], epoch_steps, val_loss, True)],
        positive=True,  # a log axis
    )
    return _lines(frame, names, text, style, log_domain=log_decades(frame["value"].to_numpy()))


def live_accuracy_chart(
    epochs: np.ndarray,
    train_accuracy: np.ndarray,
    val_accuracy: np.ndarray,
    *,
    names: tuple[str, str],
    text: ChartText,
    style: PlotStyle,
) -> VegaChart:
    """Training (during the epoch) and validation accuracy per epoch."""
    frame = _frame(
        [(names[0], epochs, train_accuracy, True), (names[1], epochs, val_accuracy, True)]
    )
    return _lines(frame, names, text, style, y_format=".0%", integer_x=True)


def live_lr_chart(
    steps: np.ndarray, lr: np.ndarray, *, name: str, text: ChartText, style: PlotStyle
) -> VegaChart:
    """The learning rate each step used."""
    steps, lr = thin(np.asarray(steps), np.asarray(lr))
    frame = _frame([(name, steps, lr, False)], positive=True)  # a log axis
    domain = log_decades(frame["value"].to_numpy())
    return _lines(frame, [name], text, style, log_domain=domain, y_format=".0e")


# ---------------------------------------------------------------- digits (plotly)


def _mosaic(images: np.ndarray, columns: int, cell: tuple[int, int]) -> np.ndarray:
    """Images placed top-left in cells of ``cell`` = (height, width) pixels; NaN elsewhere."""
    n, h, w = images.shape
    rows = -(-n // columns)
    out = np.full((rows * cell[0], columns * cell[1]), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * cell[0] : r * cell[0] + h, c * cell[1] : c * cell[1] + w] = img
    return out


def _image_layout(title: str, **layout) -> dict:
    """Layout of a figure that shows an image: hidden axes, row 0 on top, square pixels.

    Builders pass their layout to ``go.Figure`` rather than calling ``update_layout`` and
    ``update_xaxes`` afterwards: plotly's update path costs 5–10 ms a figure, construction ~1 ms,
    and these figures are rebuilt every few seconds for every visitor who trains.
    """
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    return {
        "title": title,
        "xaxis": hidden,
        "yaxis": {**hidden, "autorange": "reversed", "scaleanchor": "x"},
        **layout,
    }


def _page_width(style: PlotStyle) -> int:
    """The width in px a full-width image figure is laid out for (``_image_height``)."""
    return 760 if style.projector else 900


def _image_height(rows_px: int, cols_px: int, extra: int, style: PlotStyle) -> int:
    """Figure height that fits a ``rows_px`` × ``cols_px`` mosaic at the page's usual width, plus
    ``extra`` for title and legend: square pixels leave no empty band above or below. Projector
    mode has a wider sidebar (narrower page) and ``style.apply`` scales heights by 1.25."""
    scale = 1.25 if style.projector else 1.0
    return round(extra + rows_px * _page_width(style) / cols_px / scale)


def _tint(color: str, alpha: float) -> str:
    """``#rrggbb`` as a translucent ``rgba``: a bar the text on it can be read over."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def prediction_grid(
    images: np.ndarray,
    labels: np.ndarray,
    top_classes: np.ndarray,
    top_probs: np.ndarray,
    *,
    class_names: Sequence[str],
    names: tuple[str, str, str],
    hover: str,
    title: str,
    style: PlotStyle,
    columns: int = 8,
) -> go.Figure:
    """Digits with their top-3 guesses under them, each a bar as long as its probability and
    labelled with the class and the probability ("7 95%"); a green frame when the top class is
    right, red when wrong. ``top_classes``/``top_probs``: shape (n, k), best first. ``names``:
    right, wrong, other classes (legend). ``hover`` is formatted with ``label`` and ``prob``."""
    images = np.asarray(images, dtype=float)
    images = images / 255.0 if images.max(initial=0) > 1.0 else images
    n, h, w = images.shape
    k_top = top_classes.shape[1]
    gap = max(w // 4, 3)
    # Screen px per image px at the page's usual width, so that a bar's row holds its label at
    # the style's font size (the labels were 9 px on a projector, the bars unlabelled).
    px = _page_width(style) / (columns * (w + gap))
    bar_h = int(np.ceil(1.4 * style.font_size / px))
    cell = (h + k_top * bar_h + gap, w + gap)
    # Frames and bars are line segments joined by NaN gaps: a few traces instead of 100 shapes,
    # which plotly builds ~20× faster. As float arrays, not lists, plotly neither checks nor
    # deep-copies them point by point (the grid redraws every few seconds while training).
    frames = {True: ([], []), False: ([], [])}
    bars = ([], []), ([], []), ([], [])  # right, wrong, other: xs, ys
    text_x, text_y, text, hovers = [], [], [], []
    for i in range(n):
        r, c = divmod(i, columns)
        x0, y0 = c * cell[1] - 0.5, r * cell[0] - 0.5
        right = bool(top_classes[i, 0] == labels[i])
        fx, fy = frames[right]
        fx += [x0, x0 + w, x0 + w, x0, x0, np.nan]
        fy += [y0, y0, y0 + h, y0 + h, y0, np.nan]
        for k in range(k_top):
            xs, ys = bars[(0 if right else 1) if k == 0 else 2]
            y = y0 + h + 2 + (k + 0.5) * bar_h
            prob = float(top_probs[i, k])
            xs += [x0, x0 + max(prob, 0.01) * (w + gap * 0.6), np.nan]
            ys += [y, y, np.nan]
            label = class_names[int(top_classes[i, k])]
            text_x.append(x0 + 0.5)
            text_y.append(y)
            text.append(f"{label} {prob:.0%}")
            hovers.append(hover.format(label=label, prob=f"{100 * prob:.1f}"))
    traces = [
        go.Heatmap(
            z=_mosaic(images, columns, cell),
            colorscale="Greys",
            zmin=0,
            zmax=1,
            showscale=False,
            hoverinfo="skip",
        )
    ]
    for right, color in ((True, GOOD_COLOR), (False, BAD_COLOR)):
        traces.append(
            go.Scatter(
                x=np.array(frames[right][0]),
                y=np.array(frames[right][1]),
                mode="lines",
                line={"color": color, "width": style.line_width},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    # Light bars under dark labels: the label stays readable wherever the bar ends.
    for (xs, ys), name, color in zip(bars, names, (GOOD_COLOR, BAD_COLOR, GREY), strict=True):
        traces.append(
            go.Scatter(
                x=np.array(xs, dtype=float),
                y=np.array(ys, dtype=float),
                mode="lines",
                line={"color": _tint(color, 0.45), "width": 0.85 * bar_h * px},
                name=name,
                hoverinfo="skip",
            )
        )
    traces.append(
        go.Scatter(
            x=np.array(text_x),
            y=np.array(text_y),
            mode="text",
            text=np.array(text),
            textposition="middle right",
            hovertext=np.array(hovers),
            hoverinfo="text",
            textfont={"size": style.font_size, "color": style.text_color},
            showlegend=False,
        )
    )
    # The legend under the digits: above them it ran into a two-line title.
    legend = {"orientation": "h", "yanchor": "top", "y": -0.01, "x": 0.0}
    fig = go.Figure(data=traces, layout=_image_layout(title, legend=legend))
    rows = -(-n // columns)
    extra = 110 + 2 * style.font_size
    return style.apply(fig, height=_image_height(rows * cell[0], columns * cell[1], extra, style))


def confusion_matrix_figure(
    matrix: np.ndarray,
    *,
    normalised: bool,
    class_names: Sequence[str],
    text: ChartText,
    hover: str,
    style: PlotStyle,
) -> go.Figure:
    """Rows = true class, columns = predicted; counts, or shares of each true class."""
    values = np.asarray(matrix, dtype=float)
    cells = [[f"{v:.0%}" if normalised else f"{int(v)}" for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(class_names),
            y=list(class_names),
            text=cells,
            texttemplate="%{text}",
            textfont={"size": max(style.font_size - 2, 9)},
            colorscale="Blues",
            zmin=0,
            hovertemplate=hover + "<extra></extra>",
            showscale=False,
        ),
        layout={
            "title": text.title,
            "xaxis": {"title": text.x, "type": "category", "side": "bottom"},
            "yaxis": {
                "title": text.y,
                "type": "category",
                "autorange": "reversed",
                "scaleanchor": "x",
            },
        },
    )
    return style.apply(fig, height=520)


def weight_images(
    weights: np.ndarray, image_shape: tuple[int, int], *, title: str, style: PlotStyle, n: int = 16
) -> go.Figure:
    """The first ``n`` hidden units' input weights as images (blue +, red −, each unit scaled to
    its own largest |w|, so the pattern shows however large the weights are)."""
    w = np.asarray(weights, dtype=float)[:, :n].T.reshape(-1, *image_shape)
    scale = np.abs(w).reshape(len(w), -1).max(axis=1)
    w = w / np.where(scale > 0, scale, 1.0)[:, None, None]
    h, wd = image_shape
    columns = min(8, len(w))
    fig = go.Figure(
        go.Heatmap(
            z=_mosaic(w, columns, (h + 2, wd + 2)),
            colorscale="RdBu",
            zmid=0,
            zmin=-1,
            zmax=1,
            showscale=False,
            hoverinfo="skip",
        ),
        layout=_image_layout(title),
    )
    rows = -(-len(w) // columns)
    return style.apply(fig, height=_image_height(rows * (h + 2), columns * (wd + 2), 70, style))


def layer_signals(
    steps: np.ndarray,
    grad_norms: np.ndarray,
    update_ratios: np.ndarray,
    *,
    layer_names: Sequence[str],
    titles: tuple[str, str],
    x_title: str,
    y_titles: tuple[str, str],
    reference: str,
    style: PlotStyle,
) -> go.Figure:
    """Per-layer ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ over the steps (log scale), with the 1e-3 rule of thumb."""
    traces = []
    for panel, values in enumerate((grad_norms, update_ratios), start=1):
        values = np.asarray(values, dtype=float).reshape(len(steps), -1)
        for j, name in enumerate(layer_names):
            traces.append(
                go.Scatter(
                    x=steps,
                    y=values[:, j],
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=panel == 1,
                    line={"color": style.color(j), "width": style.line_width},
                    xaxis=f"x{panel if panel > 1 else ''}",
                    yaxis=f"y{panel if panel > 1 else ''}",
                )
            )
    # The layout make_subplots(rows=1, cols=2, horizontal_spacing=0.12) and add_hline(row=1,
    # col=2) would give, written out: they cost ~40 ms of plotly's update path per figure, and
    # this one is rebuilt every few seconds for every visitor who trains.
    layout = {"legend": {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0}}
    annotations = []
    for panel, (domain, title, y_title) in enumerate(
        zip(([0.0, 0.44], [0.56, 1.0]), titles, y_titles, strict=True), start=1
    ):
        suffix = str(panel) if panel > 1 else ""
        layout[f"xaxis{suffix}"] = {
            "anchor": f"y{suffix}", "domain": domain, "title": x_title, "tickformat": "d",
        }  # fmt: skip
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}", "domain": [0.0, 1.0], "type": "log", "title": y_title,
        }  # fmt: skip
        annotations.append(
            {
                "text": title,
                "font": {"size": 16},
                "showarrow": False,
                "x": sum(domain) / 2,
                "xref": "paper",
                "xanchor": "center",
                "y": 1.0,
                "yref": "paper",
                "yanchor": "bottom",
            }
        )
    # The 1e-3 rule of thumb across the update-ratio panel. On a log axis an annotation's y is
    # log10 of the value (a shape's is the value itself): y=1e-3 put the label at 10^0.001 ≈ 1.
    annotations.append(
        {
            "text": reference,
            "showarrow": False,
            "x": 1,
            "xref": "x2 domain",
            "xanchor": "right",
            "y": -3,
            "yref": "y2",
            "yanchor": "top",
        }
    )
    layout["shapes"] = [
        {
            "type": "line",
            "x0": 0,
            "x1": 1,
            "xref": "x2 domain",
            "y0": 1e-3,
            "y1": 1e-3,
            "yref": "y2",
            "line": {"dash": "dash", "color": GREY, "width": 1.5},
        }
    ]
    fig = go.Figure(traces, layout={**layout, "annotations": annotations})
    return style.apply(fig, height=380)


class RunCurves(NamedTuple):
    """One run in "compare runs": smoothed training loss per step, validation loss per epoch."""

    name: str
    step: np.ndarray
    loss: np.ndarray
    val_step: np.ndarray = np.zeros(0)
    val_loss: np.ndarray = np.zeros(0)


def compare_runs(
    runs: Sequence[RunCurves], *, names: tuple[str, str], text: ChartText, style: PlotStyle
) -> go.Figure:
    """Several runs on one log axis, a colour each: training loss solid, validation loss dashed
    with a dot per epoch. ``names`` (training, validation) label two grey legend keys, shown when
    some run has validation points; a run's legend entry shows and hides both its lines."""
    traces = []
    for i, run in enumerate(runs):
        steps, loss = thin(np.asarray(run.step), np.asarray(run.loss, dtype=float))
        color = style.color(i)
        traces.append(
            go.Scatter(
                x=steps, y=loss, mode="lines", name=run.name, legendgroup=run.name,
                line={"color": color, "width": style.line_width},
            )
        )  # fmt: skip
        if len(run.val_step):
            traces.append(
                go.Scatter(
                    x=np.asarray(run.val_step), y=np.asarray(run.val_loss, dtype=float),
                    mode="lines+markers", name=f"{run.name} · {names[1]}",
                    legendgroup=run.name, showlegend=False,
                    line={"color": color, "width": style.line_width, "dash": "dash"},
                )
            )  # fmt: skip
    if any(len(run.val_step) for run in runs):
        for name, mode, dash in ((names[0], "lines", "solid"), (names[1], "lines+markers", "dash")):
            traces.append(
                go.Scatter(
                    x=[None], y=[None], mode=mode, name=name, hoverinfo="skip",
                    line={"color": GREY, "width": style.line_width, "dash": dash},
                )
            )  # fmt: skip
    fig = go.Figure(
        traces,
        layout={
            "title": text.title,
            "legend": {"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
            "xaxis": {"title": text.x},
            "yaxis": {"title": text.y, "type": "log"},
        },
    )
    return style.apply(fig, height=420)


def model_input(
    image: np.ndarray,
    *,
    title: str,
    style: PlotStyle,
    window: tuple[int, int, int, int] | None = None,
) -> go.Figure:
    """The 28×28 (or 8×8) image exactly as the network receives it, ink dark on white; with
    ``window`` = (top, left, bottom, right) (end exclusive, as ``core.network.input_window``), that
    receptive field as a square over it, clipped to the image (the rest is zero padding)."""
    # A frame shows the 28×28 field itself, so that white margins read as part of the input.
    rows, cols = np.shape(image)
    frame = {
        "type": "rect", "x0": -0.5, "y0": -0.5, "x1": cols - 0.5, "y1": rows - 0.5,
        "line": {"color": GREY, "width": 1.5}, "layer": "above",
    }  # fmt: skip
    shapes = [frame]
    if window is not None:
        top, left, bottom, right = window
        shapes.append(
            {
                "type": "rect",
                "x0": max(left, 0) - 0.5,
                "y0": max(top, 0) - 0.5,
                "x1": min(right, cols) - 0.5,
                "y1": min(bottom, rows) - 0.5,
                "line": {"color": style.color(1), "width": style.line_width},
                "fillcolor": _tint(style.color(1), 0.2),
                "layer": "above",
            }
        )
    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(image, dtype=float),
            colorscale="Greys",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="%{z:.2f}<extra></extra>",
        ),
        layout=_image_layout(title, shapes=shapes),
    )
    return style.apply(fig, height=320)


def class_probabilities(
    probs: np.ndarray, *, class_names: Sequence[str], text: ChartText, style: PlotStyle
) -> go.Figure:
    """Horizontal bars of every class's probability; the most likely class highlighted."""
    probs = np.asarray(probs, dtype=float)
    best = int(probs.argmax())
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=list(class_names),
            orientation="h",
            marker={"color": [style.color(0) if i == best else GREY for i in range(len(probs))]},
            # No "0%" labels: they crowd the class names and say less than the missing bar.
            text=[f"{p:.0%}" if p >= 0.005 else "" for p in probs],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        ),
        layout={
            "title": text.title,
            "showlegend": False,
            "xaxis": {"title": text.x, "range": [0, 1.15], "tickformat": ".0%"},
            "yaxis": {"type": "category", "autorange": "reversed", "ticksuffix": " "},
        },
    )
    return style.apply(fig, height=360)


# ---------------------------------------------------------------- inside a CNN (plotly)

MAP_COLUMNS = 8  # maps per row: each layer's mosaic spans the same width, one map per slot


class MapSection(NamedTuple):
    """One layer's feature maps in ``feature_maps``: ``maps`` is (channels, rows, cols)."""

    title: str
    maps: np.ndarray
    layer: int  # the layer's index (customdata and ``selected`` name it); -1 for the input
    clickable: bool = False  # its pixels hover with their place and value, and take clicks
    image: bool = False  # the input: ink dark on white, values in [0, 1]


def _signed_scale(values: np.ndarray) -> dict:
    """Blue positive, red negative, white zero, symmetric around 0 over ``values``."""
    lim = float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
    return {"colorscale": "RdBu", "zmid": 0, "zmin": -lim, "zmax": lim}


def feature_maps(
    sections: Sequence[MapSection],
    *,
    style: PlotStyle,
    hover: str,
    selected: tuple[int, int, int, int] | None = None,
    columns: int = MAP_COLUMNS,
) -> go.Figure:
    """Every layer's feature maps in one figure, one section under another, each a mosaic of
    ``columns`` maps a row on its own signed scale and scaled to the same width, its title above.

    A clickable section's pixels are also invisible square markers (Streamlit reports no clicks
    on a heatmap) with ``customdata`` = (layer, channel, row, column) and ``marker.color`` = the
    value, which ``hover`` (a plotly hovertemplate) may show. ``selected`` = (layer, channel, row,
    column) is framed. One figure rather than one per layer: each costs its own build, message
    and browser plot, every few seconds while training.
    """
    width = columns * 32  # data units across; a 28×28 map with its gap takes 32
    px = _page_width(style) / width  # screen px per data unit
    title_h = 2.4 * style.font_size / px
    traces, notes, shapes = [], [], []
    marks = {"x": [], "y": [], "data": [], "value": []}
    top = 0.0
    for section in sections:
        maps = np.asarray(section.maps, dtype=np.float32)
        n, h, w = maps.shape
        cell = (h + max(round(h / 8), 1), w + max(round(w / 8), 1))
        scale = width / (columns * cell[1])  # data units per map pixel
        y0 = top + title_h
        notes.append(
            {"text": section.title, "x": -0.5, "y": y0 - 0.5, "xanchor": "left",
             "yanchor": "bottom", "showarrow": False, "xref": "x", "yref": "y"}
        )  # fmt: skip
        colours = {"colorscale": "Greys", "zmin": 0, "zmax": 1} if section.image else None
        traces.append(
            go.Heatmap(
                z=_mosaic(maps, columns, cell).astype(np.float32),
                x0=(scale - 1) / 2,
                dx=scale,
                y0=y0 + (scale - 1) / 2,
                dy=scale,
                showscale=False,
                hoverinfo="skip" if section.clickable else "z",
                **(colours or _signed_scale(maps)),
            )
        )

        def at(channel, row, col, cell=cell, scale=scale, y0=y0):
            """Data coordinates of a map pixel's centre in this section."""
            x = (channel % columns * cell[1] + col + 0.5) * scale - 0.5
            y = y0 + (channel // columns * cell[0] + row + 0.5) * scale - 0.5
            return x, y

        if section.clickable:
            channel, row, col = np.indices(maps.shape, dtype=np.int16).reshape(3, -1)
            x, y = at(channel, row, col)
            marks["x"].append(x)
            marks["y"].append(y)
            layer = np.full_like(channel, section.layer)
            marks["data"].append(np.column_stack([layer, channel, row, col]))
            marks["value"].append(maps.ravel())
        if selected is not None and selected[0] == section.layer:
            x, y = at(*selected[1:])
            half = scale / 2
            shapes.append(
                {"type": "rect", "x0": x - half, "y0": y - half, "x1": x + half, "y1": y + half,
                 "line": {"color": style.color(1), "width": style.line_width}, "layer": "above"}
            )  # fmt: skip
        top = y0 + -(-n // columns) * cell[0] * scale
    if marks["x"]:
        # float32 and int16 arrays: a third of the bytes of float64 ones, sent every few seconds.
        traces.append(
            go.Scatter(
                x=np.concatenate(marks["x"]).astype(np.float32),
                y=np.concatenate(marks["y"]).astype(np.float32),
                mode="markers",
                marker={
                    "symbol": "square",
                    "size": 3.0,
                    "opacity": 0,
                    "color": np.concatenate(marks["value"]),
                },
                customdata=np.concatenate(marks["data"]),
                hovertemplate=hover + "<extra></extra>",
                showlegend=False,
            )
        )
    # Clicks select a point (Streamlit reads the selection); no drag, which would zoom. Fixed
    # ranges: the titles are annotations, which autorange leaves out.
    layout = _image_layout(
        None,
        annotations=notes,
        shapes=shapes,
        clickmode="event+select",
        dragmode=False,
        hovermode="closest",
    )
    layout["xaxis"] = {**layout["xaxis"], "range": [-0.5, width - 0.5]}
    layout["yaxis"] = {**layout["yaxis"], "autorange": False, "range": [top - 0.5, -0.5]}
    fig = go.Figure(traces, layout=layout)
    fig = style.apply(fig, height=_image_height(round(top), width, 20, style))
    fig.layout.margin.t = 10  # no title: the first section's title is at the top
    return fig


def window_times_kernel(
    window: np.ndarray,
    kernel: np.ndarray,
    products: np.ndarray,
    *,
    names: tuple[str, str, str],
    title: str,
    style: PlotStyle,
    columns: int = MAP_COLUMNS,
) -> go.Figure:
    """One output of a convolution, term by term: the input ``window``, the ``kernel`` and their
    elementwise ``products``, each ``(in_channels, k, k)``. One input channel: the three side by
    side with × and = between them and every number written in its cell; more: three rows of
    ``in_channels`` small maps each (their numbers on hover), each channel's sum of products under
    it. ``names`` label the three."""
    groups = [np.asarray(a, dtype=float) for a in (window, kernel, products)]
    c_in, k, _ = groups[0].shape
    one = c_in == 1
    per_row = 1 if one else min(c_in, columns)
    grid_w = per_row * (k + 1) - 1  # a group's maps, one cell apart
    grid_h = -(-c_in // per_row) * (k + 1) - 1
    symbol_gap = 2 if one else 0  # cells between the groups for × and =
    width = 3 * grid_w + 2 * symbol_gap if one else grid_w
    px = _page_width(style) / (width + 1)  # screen px per cell
    label_h = int(np.ceil(1.8 * style.font_size / px))  # cells above a group for its name
    traces, notes, frames = [], [], ([], [])
    for g, (values, name) in enumerate(zip(groups, names, strict=True)):
        x0 = g * (grid_w + symbol_gap) if one else 0
        y0 = label_h if one else g * (grid_h + 1 + label_h) + label_h
        for channel in range(c_in):  # a frame round each map: its zeros are as white as the page
            row, col = divmod(channel, per_row)
            left, top = x0 + col * (k + 1) - 0.5, y0 + row * (k + 1) - 0.5
            frames[0].extend([left, left + k, left + k, left, left, np.nan])
            frames[1].extend([top, top, top + k, top + k, top, np.nan])
        nonnegative = g == 0 and values.min(initial=0) >= 0  # an image patch: as the digit
        scale = {"colorscale": "Greys", "zmin": 0, "zmax": max(values.max(), 1e-9)}
        text = {}
        if one:
            # As large as "-0.46" fits in a cell: ~13 px on a projector's page, 16 px on a wide one.
            size = int(np.clip(px / 2.8, 9, style.font_size))
            text = {"texttemplate": "%{z:.2f}", "textfont": {"size": size}}
        traces.append(
            go.Heatmap(
                z=_mosaic(values, per_row, (k + 1, k + 1))[:grid_h, :grid_w],
                x0=x0,
                y0=y0,
                showscale=False,
                hovertemplate="%{z:.4f}<extra></extra>",
                **(scale if nonnegative else _signed_scale(values)),
                **text,
            )
        )
        op = ("", "× ", "= ")[g] if not one else ""
        notes.append(
            {
                "text": op + name,
                "x": x0 - 0.5,
                "y": y0 - 0.6,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "xref": "x",
                "yref": "y",
            }
        )
        if g == 2 and not one:  # each input channel's share of the sum, under its products
            for channel, share in enumerate(values.sum(axis=(1, 2))):
                row, col = divmod(channel, per_row)
                notes.append(
                    {
                        "text": f"Σ {share:.2f}",
                        "x": x0 + col * (k + 1) + (k - 1) / 2,
                        "y": y0 + row * (k + 1) + k - 0.3,
                        "yanchor": "top",
                        "showarrow": False,
                        "xref": "x",
                        "yref": "y",
                        "font": {"size": max(style.font_size - 2, 10)},
                    }
                )
        if one and g:
            notes.append(
                {
                    "text": "×" if g == 1 else "=",
                    "x": x0 - 0.5 - symbol_gap / 2,
                    "y": y0 + (k - 1) / 2,
                    "showarrow": False,
                    "xref": "x",
                    "yref": "y",
                    "font": {"size": round(style.font_size * 2)},
                }
            )
    traces.append(
        go.Scatter(
            x=np.array(frames[0]),
            y=np.array(frames[1]),
            mode="lines",
            line={"color": GREY, "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig = go.Figure(traces, layout=_image_layout(title, annotations=notes))
    # Many channels: room under the last row of products for their sums.
    height_cells = (label_h + grid_h) if one else 3 * (grid_h + 1 + label_h) + label_h
    # Fixed ranges: the names above the maps are annotations, which autorange would leave out.
    fig.layout.xaxis.range = [-0.5, width - 0.5]
    fig.layout.yaxis.update(autorange=False, range=[height_cells - 0.5, -0.5])
    return style.apply(fig, height=_image_height(height_cells, width, 70, style))
