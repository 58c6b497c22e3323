"""Figure builders for the optimizer race: data and translated labels in, plotly Figure out.

No streamlit here. Grids come as ``xs`` (nx,), ``ys`` (ny,) and ``z`` (ny, nx) with rows along y, as
``core.path_metrics.loss_grid`` returns them. A path is ``(name, points)`` with ``points`` of shape
(n, 2); NaN points (after divergence) are dropped before drawing, so a diverged path is drawn up to
its last finite point.
"""

import base64
import io
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image

from core.descent import Path
from core.path_metrics import finite_step
from ui.plots.lines import add_lines
from ui.theme import BAD_COLOR, ChartText, Curves, PlotStyle, log_ticks

CLICK_GRID = 30  # invisible clickable markers per axis on the contour
LOG_FLOOR = 1e-12  # relative floor under f - f_min before taking log10
CONTOUR_LEVELS = 30  # colour bands of a contour map, as plotly's ncontours
CONTOUR_OPACITY = 0.75
MAP_PIXELS = 480  # side of the raster contour map under the animated race
ARROW = "arrow"  # the name of a step arrow's trace (not in the legend)


class Arrow(NamedTuple):
    """An arrow from ``(x, y)`` by ``(dx, dy)``; ``faint`` arrows (the plain-gradient step) are thinner and paler."""

    x: float
    y: float
    dx: float
    dy: float
    color_index: int
    faint: bool


def step_arrows(paths: Sequence[Path], lrs: Sequence[float], step: int) -> list[Arrow]:
    """At ``step``, per path with a finite step: the plain-gradient step ``-lr * g`` (faint) and
    the optimizer's update, both from the point and coloured by the path's index."""
    arrows = []
    for i, (path, lr) in enumerate(zip(paths, lrs, strict=True)):
        if finite_step(path, step):
            (x, y), g, u = path.points[step], path.grads[step], path.updates[step]
            arrows.append(Arrow(x, y, -lr * g[0], -lr * g[1], i, True))
            arrows.append(Arrow(x, y, u[0], u[1], i, False))
    return arrows


def _inside_part(arrow: Arrow, bounds) -> tuple[float, float, float, float, bool] | None:
    """The part of ``arrow`` inside the plot's box: its tail and head points and whether the head
    is the arrow's own; None when none of it is inside (Liang–Barsky clipping).

    plotly draws annotations wherever their coordinates are, over the axes and the colour bar;
    an arrow of a diverging step reached across the page.
    """
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    t0, t1 = 0.0, 1.0
    for delta, distance in (
        (-arrow.dx, arrow.x - x_lo),
        (arrow.dx, x_hi - arrow.x),
        (-arrow.dy, arrow.y - y_lo),
        (arrow.dy, y_hi - arrow.y),
    ):
        if delta == 0:
            if distance < 0:
                return None
            continue
        t = distance / delta
        if delta < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
    if not (np.isfinite(t0) and np.isfinite(t1)) or t0 >= t1:
        return None
    x, y, dx, dy = arrow.x, arrow.y, arrow.dx, arrow.dy
    return x + t0 * dx, y + t0 * dy, x + t1 * dx, y + t1 * dy, t1 == 1.0


def gap_curves(
    labels: Sequence[str], paths: Sequence[Path], f_min: float | None
) -> tuple[Curves, bool]:
    """Per path its losses, or ``f - f_min`` when ``f_min`` is known, and whether the curves want
    a log y axis (the gap is known, or every finite value is positive)."""
    gap = f_min is not None
    curves = [
        (label, p.losses - f_min if gap else p.losses)
        for label, p in zip(labels, paths, strict=True)
    ]
    positive = all(np.all(c[np.isfinite(c)] > 0) for _, c in curves)
    return curves, gap or positive


def _finite(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    return points[np.all(np.isfinite(points), axis=-1)]


def _last_finite_upto(points: np.ndarray, k: int) -> int:
    """Index of the last finite point at or before ``k`` (0 if none)."""
    finite = np.flatnonzero(np.all(np.isfinite(np.asarray(points)[: k + 1]), axis=-1))
    return int(finite[-1]) if finite.size else 0


def contour_values(z: np.ndarray, f_min: float | None, log_levels: bool) -> np.ndarray:
    """What the contour colours: ``log10(f - f_min)`` when log levels are asked for, else ``f``."""
    z = np.where(np.isfinite(z), z, np.nan)
    if not log_levels:
        return z
    base = np.nanmin(z) if f_min is None else f_min
    gap = z - base
    scale = np.nanmax(np.abs(gap)) if np.isfinite(gap).any() else 1.0
    with np.errstate(all="ignore"):
        return np.log10(np.maximum(gap, LOG_FLOOR * max(scale, 1.0)))


def _contour(xs, ys, z, f_min, log_levels, colorbar_title, style) -> go.Contour:
    return go.Contour(
        x=xs,
        y=ys,
        z=contour_values(z, f_min, log_levels),
        ncontours=CONTOUR_LEVELS,
        colorscale="Viridis",
        opacity=CONTOUR_OPACITY,
        contours={"coloring": "heatmap", "showlines": True},
        line={"width": 0.5},
        colorbar={"title": {"text": colorbar_title, "side": "right"}, "thickness": 14},
        hoverinfo="skip",
        showlegend=False,
    )


def _resampled(z: np.ndarray, size: int) -> np.ndarray:
    """``z`` bilinearly interpolated onto a ``size`` × ``size`` grid spanning the same box."""
    rows, cols = z.shape
    fy, fx = np.linspace(0, rows - 1, size), np.linspace(0, cols - 1, size)
    y0, x0 = np.minimum(fy.astype(int), rows - 2), np.minimum(fx.astype(int), cols - 2)
    wy, wx = (fy - y0)[:, None], (fx - x0)[None, :]
    top = z[y0][:, x0] * (1 - wx) + z[y0][:, x0 + 1] * wx
    bottom = z[y0 + 1][:, x0] * (1 - wx) + z[y0 + 1][:, x0 + 1] * wx
    return top * (1 - wy) + bottom * wy


def _map_image(xs, ys, values: np.ndarray) -> tuple[dict, tuple[float, float]]:
    """The contour map as a layout image (Viridis bands, a darker line between bands) and its
    colour range.

    plotly.js removes contour and heatmap traces as soon as an animation plays without redrawing
    (plotly.js issue 4491), and redrawing every frame stutters; a layout image stays put.
    """
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    level = (_resampled(values, MAP_PIXELS) - low) / ((high - low) or 1.0)
    band = np.clip(np.floor(level * CONTOUR_LEVELS), 0, CONTOUR_LEVELS - 1)
    stops = np.array([plotly.colors.hex_to_rgb(c) for c in plotly.colors.sequential.Viridis])
    positions = np.linspace(0, 1, len(stops))
    t = np.nan_to_num((band + 0.5) / CONTOUR_LEVELS)
    rgb = np.stack([np.interp(t, positions, stops[:, c]) for c in range(3)], axis=-1)
    edge = np.zeros(band.shape, dtype=bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    rgb[edge] *= 0.8
    alpha = np.where(np.isfinite(level), 255 * CONTOUR_OPACITY, 0)
    # Image rows run top to bottom, the y axis bottom to top.
    pixels = np.dstack([rgb, alpha])[::-1].round().astype(np.uint8)
    png = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(png, format="PNG", optimize=True)
    image = {
        "source": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode(),
        "xref": "x", "yref": "y", "x": float(xs[0]), "y": float(ys[-1]),
        "sizex": float(xs[-1] - xs[0]), "sizey": float(ys[-1] - ys[0]),
        "sizing": "stretch", "layer": "below",
    }  # fmt: skip
    return image, (low, high)


def _colour_bar(low: float, high: float, title: str) -> go.Scatter:
    """A colour bar without a visible trace: two undrawn points carry the colour scale."""
    return go.Scatter(
        x=[np.nan, np.nan],
        y=[np.nan, np.nan],
        mode="markers",
        marker={
            "color": [low, high], "colorscale": "Viridis", "cmin": low, "cmax": high,
            "showscale": True, "opacity": CONTOUR_OPACITY,
            "colorbar": {"title": {"text": title, "side": "right"}, "thickness": 14},
        },
        hoverinfo="skip",
        showlegend=False,
    )  # fmt: skip


def _path_trace(name, points, color, style, *, legendgroup=None, showlegend=True) -> go.Scatter:
    p = _finite(points)
    return go.Scatter(
        x=p[:, 0],
        y=p[:, 1],
        name=name,
        mode="lines+markers",
        line={"color": color, "width": style.line_width},
        marker={"size": max(style.marker_size - 4, 3), "color": color},
        legendgroup=legendgroup or name,
        showlegend=showlegend,
        hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}<extra>%{fullData.name}</extra>",
    )


def _click_grid(bounds, hover: str) -> go.Scatter:
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, CLICK_GRID), np.linspace(y_lo, y_hi, CLICK_GRID))
    return go.Scatter(
        x=gx.ravel(),
        y=gy.ravel(),
        mode="markers",
        # Nearly transparent, not invisible: a trace that is not drawn cannot be clicked.
        marker={"size": 14, "color": "rgba(255,255,255,0.01)"},
        name=hover,
        showlegend=False,
        hovertemplate=f"{hover}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>",
    )


def _arrow_trace(arrow: Arrow, inside: tuple, style: PlotStyle) -> go.Scatter:
    """``arrow``'s part ``inside`` the map (``_inside_part``) as a line with a head at its end,
    the head left out where the step goes on out of view."""
    tail_x, tail_y, head_x, head_y, whole_head = inside
    color = style.color(arrow.color_index)
    width = style.line_width * (0.8 if arrow.faint else 1.4)
    return go.Scatter(
        x=[tail_x, head_x],
        y=[tail_y, head_y],
        mode="lines+markers" if whole_head else "lines",
        line={"color": color, "width": width},
        # The head turned along the line from the tail ("previous" point); none at the tail.
        marker={
            "symbol": "arrow",
            "size": [0, 4 * width],
            "angleref": "previous",
            "color": color,
            "line": {"width": 0},
        },
        opacity=0.55 if arrow.faint else 1.0,
        showlegend=False,
        hoverinfo="skip",
        name=ARROW,
    )


def _markers(minima, start, minimum_label, start_label, style) -> list[go.Scatter]:
    traces = []
    if len(minima):
        m = np.asarray(minima, dtype=float)
        traces.append(
            go.Scatter(
                x=m[:, 0],
                y=m[:, 1],
                mode="markers",
                name=minimum_label,
                marker={
                    "symbol": "star",
                    "size": style.marker_size + 8,
                    "color": "white",
                    "line": {"color": "black", "width": 1.5},
                },
            )
        )
    traces.append(
        go.Scatter(
            x=[start[0]],
            y=[start[1]],
            mode="markers",
            name=start_label,
            marker={
                "symbol": "circle-open",
                "size": style.marker_size + 8,
                "color": style.text_color,
                "line": {"width": 3},
            },
        )
    )
    return traces


def contour_with_paths(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    paths: Sequence[tuple[str, np.ndarray]],
    *,
    bounds,
    f_min: float | None,
    log_levels: bool,
    minima: Sequence[tuple[float, float]],
    start: tuple[float, float],
    arrows: Sequence[Arrow] = (),
    title: str,
    colorbar_title: str,
    minimum_label: str,
    start_label: str,
    click_label: str,
    style: PlotStyle,
) -> go.Figure:
    """Contour of the surface, every optimizer's path, minima, start, step arrows, click targets."""
    fig = go.Figure(_contour(xs, ys, z, f_min, log_levels, colorbar_title, style))
    fig.add_trace(_click_grid(bounds, click_label))
    for i, (name, points) in enumerate(paths):
        fig.add_trace(_path_trace(name, points, style.color(i), style))
    # Arrows are traces, not annotations, and the markers come after them: annotations are drawn
    # over every trace, and at step 0 the arrows' heads hid the start ring.
    for arrow in arrows:
        inside = _inside_part(arrow, bounds)
        if inside is not None:
            fig.add_trace(_arrow_trace(arrow, inside, style))
    for trace in _markers(minima, start, minimum_label, start_label, style):
        fig.add_trace(trace)
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    fig.update_xaxes(title="x", range=[x_lo, x_hi])
    fig.update_yaxes(title="y", range=[y_lo, y_hi])
    fig.update_layout(
        title=title,
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        clickmode="event+select",
    )
    return style.apply(fig, height=560)


def surface_3d(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    paths: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    f_min: float | None,
    log_levels: bool,
    title: str,
    z_title: str,
    style: PlotStyle,
) -> go.Figure:
    """The surface in 3-D (log10(f - f_min) when log levels are asked for) with the paths on it."""
    shown = contour_values(z, f_min, log_levels)
    fig = go.Figure(
        go.Surface(x=xs, y=ys, z=shown, colorscale="Viridis", opacity=0.85, showscale=False)
    )
    for i, (name, points, losses) in enumerate(paths):
        keep = np.all(np.isfinite(points), axis=-1) & np.isfinite(losses)
        lifted = contour_values(np.asarray(losses)[keep], f_min, log_levels)
        if log_levels:
            # Use the grid's floor so path and surface share one scale.
            lifted = np.maximum(lifted, np.nanmin(shown))
        fig.add_trace(
            go.Scatter3d(
                x=points[keep, 0],
                y=points[keep, 1],
                z=lifted,
                name=name,
                mode="lines",
                line={"color": style.color(i), "width": style.line_width * 2},
            )
        )
    fig.update_layout(
        title=title,
        scene={"xaxis_title": "x", "yaxis_title": "y", "zaxis_title": z_title},
        legend={"orientation": "h", "y": -0.05},
    )
    return style.apply(fig, height=560)


def loss_curves(curves: Curves, *, log_y: bool, text: ChartText, style: PlotStyle) -> go.Figure:
    """Loss (or f - f_min) per step for every optimizer; log y when every value is positive."""
    curves = [(name, np.asarray(values, dtype=float)) for name, values in curves]
    # A log axis cannot place 0 or a negative value: gaps there, not a broken line.
    shown = [(name, np.where(v > 0, v, np.nan)) for name, v in curves] if log_y else curves
    fig = go.Figure()
    add_lines(
        fig,
        shown,
        style,
        hovertemplate=f"{text.x}: %{{x}}<br>{text.y}: %{{y:.4g}}<extra>%{{fullData.name}}</extra>",
    )
    fig.update_layout(title=text.title, legend={"orientation": "h", "yanchor": "top", "y": -0.2})
    fig.update_xaxes(title=text.x)
    if log_y:
        every = np.concatenate([v for _, v in curves] or [[]])
        fig.update_yaxes(title=text.y, type="log", **log_ticks(every))
    else:
        fig.update_yaxes(title=text.y, type="linear", exponentformat="power")
    return style.apply(fig, height=560)


def race_animation(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    paths: Sequence[tuple[str, np.ndarray]],
    frame_steps: Sequence[int],
    *,
    bounds,
    f_min: float | None,
    log_levels: bool,
    minima: Sequence[tuple[float, float]],
    colorbar_title: str,
    minimum_label: str,
    step_label: str,
    play_label: str,
    fast_label: str,
    pause_label: str,
    replay_label: str,
    style: PlotStyle,
) -> go.Figure:
    """The race as a plotly animation: balls run along the paths; Play, Fast, Pause, Replay (from
    the first frame: Play and Fast go on from where the race stands, so at its end they have
    nothing left to show) and a slider.

    The full paths are drawn once; each frame moves a single trace holding every optimizer's
    current point (one trace per frame keeps building 60 frames fast). ``paths`` are named by
    optimizer alone. On a projector's narrow page the legend ran into the title and the buttons
    into the x axis's title, so: no title (the page's heading says it), no axis titles (x and y,
    as on the map above), the legend above the map, the buttons and the slider side by side
    below it.
    """
    colors = [style.color(i) for i in range(len(paths))]

    def heads(k):
        p = np.array(
            [np.asarray(points, dtype=float)[_last_finite_upto(points, k)] for _, points in paths]
        )
        p = p.reshape(-1, 2)
        return {"type": "scatter", "x": p[:, 0], "y": p[:, 1]}

    first = frame_steps[0] if frame_steps else 0
    image, (low, high) = _map_image(xs, ys, contour_values(z, f_min, log_levels))
    fig = go.Figure([_colour_bar(low, high, colorbar_title)])
    for trace in _markers(minima, (np.nan, np.nan), minimum_label, "", style)[:-1]:
        fig.add_trace(trace)
    for i, (name, points) in enumerate(paths):
        trace = _path_trace(name, points, colors[i], style)
        trace.update(opacity=0.55, marker={"size": 3})
        fig.add_trace(trace)
    start = heads(first)
    fig.add_trace(
        go.Scatter(
            x=start["x"],
            y=start["y"],
            mode="markers",
            marker={
                "size": style.marker_size + 8,
                "color": colors,
                "line": {"color": "white", "width": 2},
            },
            showlegend=False,
            hoverinfo="skip",
        )
    )
    moving = [len(fig.data) - 1]
    frames = [{"data": [heads(k)], "traces": moving, "name": str(k)} for k in frame_steps]

    def play(duration, frame_names=None, from_current=True):
        return [
            frame_names,
            {
                "frame": {"duration": duration, "redraw": False},
                "fromcurrent": from_current,
                "transition": {"duration": 0},
                "mode": "immediate",
            },
        ]

    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0,
                "y": -0.07,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {"label": play_label, "method": "animate", "args": play(120)},
                    {"label": fast_label, "method": "animate", "args": play(30)},
                    {
                        "label": pause_label,
                        "method": "animate",
                        "args": [
                            [None],
                            {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"},
                        ],
                    },
                    {
                        "label": replay_label,
                        "method": "animate",
                        "args": play(120, [frame["name"] for frame in frames], from_current=False),
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.54,
                "len": 0.46,
                "y": -0.04,
                "yanchor": "top",
                "currentvalue": {"prefix": f"{step_label}: ", "font": {"color": style.text_color}},
                # Up to 60 step numbers ran together under the slider; the current one is shown.
                "font": {"color": "rgba(0,0,0,0)"},
                "steps": [
                    {
                        "label": str(k),
                        "method": "animate",
                        "args": [
                            [str(k)],
                            {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"},
                        ],
                    }
                    for k in frame_steps
                ],
            }
        ],
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        images=[image],
    )
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    # No grid: it would be drawn over the map image.
    fig.update_xaxes(range=[x_lo, x_hi], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[y_lo, y_hi], showgrid=False, zeroline=False)
    fig = style.apply(fig, height=620)
    fig.frames = frames
    return fig


def convergence_heatmap(
    lrs: np.ndarray,
    momenta: np.ndarray,
    steps_to_reach: np.ndarray,
    diverged_at: np.ndarray,
    current: tuple[float, float] | None,
    *,
    text: ChartText,
    colorbar_title: str,
    diverged_label: str,
    never_label: str,
    current_label: str,
    style: PlotStyle,
) -> go.Figure:
    """Steps to reach the target per (lr, momentum); diverged and never-reached cells apart."""
    log_lr = np.log10(np.asarray(lrs, dtype=float))
    reached = np.where(steps_to_reach >= 0, steps_to_reach, np.nan).astype(float)
    diverged = np.where(diverged_at >= 0, 1.0, np.nan)
    never = np.where((steps_to_reach < 0) & (diverged_at < 0), 1.0, np.nan)
    fig = go.Figure(
        go.Heatmap(
            x=log_lr,
            y=momenta,
            z=reached,
            colorscale="Viridis_r",
            colorbar={"title": {"text": colorbar_title, "side": "right"}, "thickness": 14},
            name=colorbar_title,
            hovertemplate=f"lr=%{{customdata:.3g}}<br>{text.y}=%{{y:.3f}}<br>"
            f"{colorbar_title}: %{{z}}<extra></extra>",
            customdata=np.broadcast_to(lrs, reached.shape),
        )
    )
    for z, color, label in ((diverged, BAD_COLOR, diverged_label), (never, "#BBBBBB", never_label)):
        fig.add_trace(
            go.Heatmap(
                x=log_lr,
                y=momenta,
                z=z,
                colorscale=[[0, color], [1, color]],
                showscale=False,
                name=label,
                hovertemplate=f"lr=%{{customdata:.3g}}<br>{text.y}=%{{y:.3f}}<br>{label}"
                "<extra></extra>",
                customdata=np.broadcast_to(lrs, reached.shape),
            )
        )
        # A legend entry for the flat colour (heatmaps have none of their own).
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=label,
                marker={"symbol": "square", "size": 14, "color": color},
            )
        )
    if current is not None:
        fig.add_trace(
            go.Scatter(
                x=[np.log10(current[0])],
                y=[current[1]],
                mode="markers",
                name=current_label,
                marker={
                    "symbol": "x",
                    "size": style.marker_size + 10,
                    "color": "white",
                    "line": {"color": "black", "width": 2},
                },
            )
        )
    decades = np.arange(np.floor(log_lr.min()), np.ceil(log_lr.max()) + 1)
    fig.update_xaxes(
        title=text.x,
        tickvals=decades,
        ticktext=[f"1e{int(d)}" for d in decades],
        range=[log_lr.min(), log_lr.max()],
    )
    fig.update_yaxes(title=text.y)
    fig.update_layout(title=text.title, legend={"orientation": "h", "yanchor": "top", "y": -0.18})
    return style.apply(fig, height=520)


def lr_search_curves(
    lrs: np.ndarray,
    searches: Sequence[tuple[str, np.ndarray, float | None]],
    *,
    text: ChartText,
    best_label: str,
    style: PlotStyle,
) -> go.Figure:
    """Final loss against lr for every optimizer (gaps where it diverged), its best lr marked."""
    fig = go.Figure()
    lrs = np.asarray(lrs, dtype=float)
    for i, (name, finals, best_lr) in enumerate(searches):
        finals = np.asarray(finals, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=lrs,
                y=np.where(finals > 0, finals, np.nan),
                name=name,
                mode="lines+markers",
                line={"color": style.color(i), "width": style.line_width},
                marker={"size": max(style.marker_size - 2, 3)},
            )
        )
        if best_lr is not None:
            j = int(np.argmin(np.abs(lrs - best_lr)))
            fig.add_trace(
                go.Scatter(
                    x=[best_lr],
                    y=[finals[j] if finals[j] > 0 else None],
                    mode="markers",
                    name=f"{name}: {best_label}",
                    showlegend=False,
                    marker={
                        "symbol": "star",
                        "size": style.marker_size + 8,
                        "color": style.color(i),
                    },
                )
            )
    fig.update_xaxes(title=text.x, type="log", exponentformat="power")
    fig.update_yaxes(title=text.y, type="log", exponentformat="power")
    fig.update_layout(title=text.title, legend={"orientation": "h", "yanchor": "top", "y": -0.2})
    return style.apply(fig, height=420)
