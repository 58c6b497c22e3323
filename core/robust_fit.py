"""Fit one constant to data under MSE, MAE and Huber loss: mean, median and Huber's M-estimate.

The constant c minimising mean((x − c)²) is the mean, mean|x − c| the median, and the mean Huber
loss (torch.nn.HuberLoss's convention: ½r² for |r| < delta, else delta·(|r| − ½delta)) the
solution of Σ clip(x − c, −delta, delta) = 0, found by iteratively reweighted least squares
(Huber 1981, §6.7) started at the median. ``outlier_sample`` draws the demo data with an explicit
``rng``. Convergence is reported in the result, never raised; bad arguments raise ``ValueError``.
"""

from typing import NamedTuple

import numpy as np


class ConstantFit(NamedTuple):
    """The three constants, and how the Huber iteration went."""

    mean: float  # argmin of MSE
    median: float  # argmin of MAE (the midpoint of the middle pair for even n)
    huber: float  # argmin of the mean Huber loss with the given delta
    iterations: int
    converged: bool


def _data(data) -> np.ndarray:
    x = np.asarray(data, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError(f"{x.size=} must be positive")
    if not np.all(np.isfinite(x)):
        raise ValueError("data must be finite")
    return x


def huber_location(
    data, delta: float = 1.0, tol: float = 1e-12, max_iter: int = 200
) -> tuple[float, int, bool]:
    """(estimate, iterations, converged): the Huber M-estimate of location by IRLS."""
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"{delta=} must be > 0")
    x = _data(data)
    c = float(np.median(x))
    for iteration in range(1, max_iter + 1):
        r = np.abs(x - c)
        # Weight ψ(r)/r: 1 inside the quadratic zone, delta/|r| outside, so far points pull with
        # a constant force delta instead of one growing with r. Each step lowers the Huber loss.
        w = np.where(r <= delta, 1.0, delta / np.maximum(r, delta))
        new = float(np.sum(w * x) / np.sum(w))
        if abs(new - c) <= tol * (1.0 + abs(c)):
            return new, iteration, True
        c = new
    return c, max_iter, False


def fit_constant(data, delta: float = 1.0) -> ConstantFit:
    """Where MSE (mean), MAE (median) and Huber(delta) put a single constant fitted to ``data``."""
    x = _data(data)
    estimate, iterations, converged = huber_location(x, delta)
    return ConstantFit(float(np.mean(x)), float(np.median(x)), estimate, iterations, converged)


def outlier_sample(
    rng: np.random.Generator,
    n: int = 40,
    outlier_share: float = 0.1,
    outlier_offset: float = 10.0,
    noise: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(data, is_outlier): N(0, noise²) points, round(share·n) of them moved by +outlier_offset."""
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"{n=} must be an integer >= 1")
    if not 0 <= outlier_share <= 1:
        raise ValueError(f"{outlier_share=} must lie in [0, 1]")
    if not (np.isfinite(outlier_offset) and noise >= 0 and np.isfinite(noise)):
        raise ValueError(f"{outlier_offset=} and {noise=} must be finite, noise >= 0")
    data = noise * rng.standard_normal(n)
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[: round(outlier_share * n)] = True
    data[is_outlier] += outlier_offset
    return data, is_outlier
