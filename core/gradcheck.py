"""Checks on a sampled derivative: agreement with central differences, and where it vanishes.

``gradient_check(fn, grad, x)`` compares an analytic derivative with the central difference
(f(x + h) − f(x − h)) / 2h at every point of ``x`` and returns a ``GradCheck`` record; it never
raises for data (non-finite values are reported as a NaN gap). Points whose stencil straddles a
kink (the analytic derivative jumps across it) or leaves the domain ``[low, high]`` are skipped and
counted, because a central difference there measures the average of two slopes, not a mistake.
Where only f″ jumps (softsign or ELU at 0) the difference is first-order accurate, so gaps of about
h ≈ 6e-6 are expected there; a wrong formula gives gaps of order 0.1.
``gradient_check_partials`` does the same for each partial derivative of a function of several
variables (the loss page checks the whole gradient of a multiclass loss with it).
``low_gradient_intervals`` returns the x-intervals where |f′| stays below a threshold
(saturation, vanishing gradient).
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

ArrayFn = Callable[[np.ndarray], np.ndarray]

# h = cbrt(eps)·scale balances truncation error (∝ h²) against rounding error (∝ eps/h).
_STEP = float(np.finfo(np.float64).eps ** (1 / 3))


class GradCheck(NamedTuple):
    """Result of comparing an analytic derivative with central differences on a grid."""

    max_gap: float  # max |grad − FD| over the checked points; NaN if none or a value was not finite
    max_relative_gap: float  # max |grad − FD| / max(1, |grad|)
    at: float  # x where max_gap occurs (NaN if nothing was checked)
    checked: int
    skipped_kinks: int
    skipped_edges: int


def central_difference(fn: ArrayFn, x, h) -> np.ndarray:
    """(fn(x + h) − fn(x − h)) / 2h elementwise."""
    x = np.asarray(x, dtype=np.float64)
    return (np.asarray(fn(x + h), dtype=np.float64) - np.asarray(fn(x - h), dtype=np.float64)) / (
        2 * h
    )


def step_sizes(x, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Per-point step cbrt(eps)·min(max(1, |x|), distance to the domain edge); 0 at an edge."""
    x = np.asarray(x, dtype=np.float64)
    # Near a domain edge the function usually has a singularity there (log p at p = 0), so the
    # local length scale is the distance to it, not 1.
    scale = np.minimum(np.maximum(1.0, np.abs(x)), np.minimum(x - low, high - x))
    return _STEP * np.maximum(scale, 0.0)


def gradient_check(
    fn: ArrayFn,
    grad: ArrayFn,
    x,
    low: float = -np.inf,
    high: float = np.inf,
    kink_tol: float = 1e-3,
) -> GradCheck:
    """Largest gap between ``grad`` and the central difference of ``fn`` over the points ``x``."""
    if not kink_tol > 0:
        raise ValueError(f"{kink_tol=} must be > 0")
    x = np.asarray(x, dtype=np.float64).ravel()
    h = step_sizes(x, low, high)
    inside = h > 0
    # Only points whose whole stencil lies in the domain are evaluated (log 0 would raise or warn).
    xs, hs = x[inside], h[inside]
    with np.errstate(all="ignore"):  # diverging functions give inf/NaN, reported as a NaN gap
        g = np.asarray(grad(xs), dtype=np.float64)
        g_right = np.asarray(grad(xs + hs), dtype=np.float64)
        g_left = np.asarray(grad(xs - hs), dtype=np.float64)
        fd = central_difference(fn, xs, hs)
        scale = np.maximum(1.0, np.maximum(np.abs(g_left), np.abs(g_right)))
        # A smooth derivative changes by about 2h·f″ ≪ kink_tol across the stencil; a kink
        # (ReLU at 0, |r| at 0, a hinge at its margin) changes it by O(1).
        kink = np.abs(g_right - g_left) > kink_tol * scale
        gap = np.abs(g - fd)[~kink]
        relative = gap / np.maximum(1.0, np.abs(g[~kink]))
    xs = xs[~kink]
    checked = int(xs.size)
    if checked == 0:
        max_gap = max_relative = at = float("nan")
    elif not np.all(np.isfinite(gap)):
        max_gap = max_relative = float("nan")
        at = float(xs[~np.isfinite(gap)][0])
    else:
        i = int(np.argmax(gap))
        max_gap, at = float(gap[i]), float(xs[i])
        max_relative = float(np.max(relative))
    return GradCheck(
        max_gap=max_gap,
        max_relative_gap=max_relative,
        at=at,
        checked=checked,
        skipped_kinks=int(np.count_nonzero(kink)),
        skipped_edges=int(np.count_nonzero(~inside)),
    )


def gradient_check_partials(fn, grad, points, kink_tol: float = 1e-3) -> GradCheck:
    """``gradient_check`` of every partial derivative of fn: R^k → R at each row of ``points``.

    ``fn`` maps rows ``(n, k)`` to values ``(n,)`` and ``grad`` maps them to gradients ``(n, k)``.
    Coordinate j is checked along its own axis through every point, on an unbounded domain (so
    every point is evaluated and ``fn`` always gets whole rows); the result is the worst
    coordinate's, with the checked and skipped counts summed over the coordinates.
    """
    points = np.array(points, dtype=np.float64)
    if points.ndim != 2 or not np.all(np.isfinite(points)):
        raise ValueError(f"points must be a finite (n, k) array, got {points.shape=}")

    def moved(v, j):
        rows = points.copy()
        rows[:, j] = v
        return rows

    checks = [
        gradient_check(
            lambda v, j=j: fn(moved(v, j)),
            lambda v, j=j: np.asarray(grad(moved(v, j)))[:, j],
            points[:, j],
            kink_tol=kink_tol,
        )
        for j in range(points.shape[1])
    ]
    worst = max(
        checks, key=lambda c: np.inf if np.isnan(c.max_relative_gap) else c.max_relative_gap
    )
    return worst._replace(
        checked=sum(c.checked for c in checks),
        skipped_kinks=sum(c.skipped_kinks for c in checks),
        skipped_edges=sum(c.skipped_edges for c in checks),
    )


def low_gradient_intervals(x, g, threshold: float = 0.05) -> list[tuple[float, float]]:
    """Maximal runs of the sorted grid ``x`` where |g| < threshold, as (first x, last x) pairs."""
    if not threshold > 0:
        raise ValueError(f"{threshold=} must be > 0")
    x = np.asarray(x, dtype=np.float64).ravel()
    low = np.abs(np.asarray(g, dtype=np.float64).ravel()) < threshold  # NaN counts as not low
    if x.shape != low.shape:
        raise ValueError(f"{x.shape=} must equal the shape of g, {low.shape}")
    # Run boundaries are where the mask flips; padding with False closes runs at both ends.
    edges = np.flatnonzero(np.diff(np.concatenate(([False], low, [False])).astype(np.int8)))
    return [(float(x[a]), float(x[b - 1])) for a, b in zip(edges[::2], edges[1::2], strict=True)]
