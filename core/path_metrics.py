"""What a descent path achieved, for the optimizer race's results table and step arrows.

``summarize(path, surface, eps)`` returns a ``PathSummary`` of plain numbers: the last finite loss,
the distance from the last finite point to the nearest listed minimum (None if the surface lists
none), the first step that reached the target, and ``diverged_at`` copied from the path. The target
is the one ``core.descent.convergence_map`` uses: ``f - f_min < eps`` when ``f_min`` is known,
otherwise within ``eps`` of a listed minimum, otherwise none (``reached_at`` is None).
``effective_step`` divides each coordinate's update by minus its gradient: the learning rate that
plain SGD would have needed for the same move, which shows Adam's per-coordinate scaling;
``finite_step`` says whether a step has a finite gradient and update to show at all.
Nothing here warns or raises for diverged (NaN) paths; they are reported.
"""

from typing import NamedTuple

import numpy as np

from core.descent import Path
from core.surfaces import Surface


class PathSummary(NamedTuple):
    final_loss: float | None  # loss at the last finite point; None if even the start was bad
    distance_to_minimum: float | None  # from the last finite point to the nearest listed minimum
    reached_at: int | None  # first step meeting the target, None if never or no target
    diverged_at: int | None
    last_finite: int  # index of the last finite point, -1 if none


def last_finite_index(path: Path) -> int:
    """Index of the last point before divergence (the last point if none), -1 if none is finite."""
    finite = np.isfinite(path.losses) & np.all(np.isfinite(path.points), axis=-1)
    return int(np.flatnonzero(finite)[-1]) if finite.any() else -1


def summarize(path: Path, surface: Surface, eps: float) -> PathSummary:
    """Final loss, distance to the nearest minimum, first step within ``eps``, divergence."""
    if eps <= 0:
        raise ValueError(f"need a positive tolerance, got {eps=}")
    last = last_finite_index(path)
    if last < 0:
        return PathSummary(None, None, None, path.diverged_at, -1)
    points = path.points[: last + 1]
    distance = None
    if surface.minima:
        minima = np.asarray(surface.minima, dtype=float)
        gaps = np.linalg.norm(points[:, None, :] - minima[None], axis=-1).min(axis=1)
        distance = float(gaps[-1])
    if surface.f_min is not None:
        hit = path.losses[: last + 1] - surface.f_min < eps
    elif distance is not None:
        hit = gaps < eps
    else:
        hit = np.zeros(last + 1, dtype=bool)
    reached = int(np.argmax(hit)) if hit.any() else None
    return PathSummary(float(path.losses[last]), distance, reached, path.diverged_at, last)


def effective_step(path: Path, step: int) -> np.ndarray:
    """Per coordinate, ``-update / grad`` at ``step`` (NaN where the gradient is ~0 or unknown)."""
    if not 0 <= step < len(path.updates):
        raise ValueError(f"step outside the path: {step=}, {len(path.updates)=}")
    g, u = path.grads[step], path.updates[step]
    with np.errstate(all="ignore"):
        ratio = -u / g
    return np.where(np.isfinite(ratio) & (np.abs(g) > 1e-12), ratio, np.nan)


def finite_step(path: Path, step: int) -> bool:
    """Whether the gradient and the update at ``step`` are both finite (not past divergence)."""
    return bool(np.all(np.isfinite(path.grads[step])) and np.all(np.isfinite(path.updates[step])))


def clamp_start(start, bounds) -> tuple[tuple[float, float], bool]:
    """``start`` moved into the box ``bounds`` and whether it had to move."""
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    x, y = float(start[0]), float(start[1])
    clamped = (min(max(x, x_lo), x_hi), min(max(y, y_lo), y_hi))
    return clamped, clamped != (x, y)


def left_box_at(path: Path, bounds) -> int | None:
    """The first step at which ``path`` is outside the box ``bounds`` (or not finite), or None
    if it stays inside: the map shows only the box."""
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    x, y = path.points[:, 0], path.points[:, 1]
    with np.errstate(invalid="ignore"):
        inside = (x >= x_lo) & (x <= x_hi) & (y >= y_lo) & (y <= y_hi)
    outside = np.flatnonzero(~inside)
    return int(outside[0]) if outside.size else None


def loss_grid(surface: Surface, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Axis values xs, ys (``resolution`` each) over ``surface.bounds`` and ``f`` on that grid."""
    if resolution < 2:
        raise ValueError(f"need at least 2 points per axis, got {resolution=}")
    (x_lo, x_hi), (y_lo, y_hi) = surface.bounds
    xs = np.linspace(x_lo, x_hi, resolution)
    ys = np.linspace(y_lo, y_hi, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (ny, nx, 2): rows are y, as plotly wants
    with np.errstate(all="ignore"):
        z = np.asarray(surface.f(grid), dtype=float)
    return xs, ys, z
