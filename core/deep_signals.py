"""What happens to activations and gradients in a deep plain MLP (the initialization page).

``measure`` pushes one real batch through a ``depth × width`` MLP built with ``core.mlp`` and
returns per-layer statistics as arrays indexed by hidden layer (0 = first hidden layer): mean, std
and fixed-bin histograms of pre-activations ``z`` and activations ``a``, the share of dead units and
of saturated entries, and after backprop of the cross-entropy the gradient norms of weights and
activations and the update-to-weight ratio of one SGD step. Overflow is data, not an error: the
first layer whose values are not finite is reported as ``exploded_at``, with the statistics of the
layers before it (overflow warnings are silenced because overflow is the lesson here). Vanishing is
data too: statistics stay exact where float32 squares underflow (they fall back to float64).
``measure`` = ``measure_network(plain_network(rng, …), …)``: a caller that keeps the drawn network
(drawing 50 × 512 × 512 weights costs half as much as measuring it) measures it again with another
activation, batch norm or lr; ``plain_networks`` draws every depth at once, sharing the weights.

``symmetry_experiment`` shows why constant initialization fails (hidden units stay identical), and
``short_training`` gives loss-vs-step curves to compare initializations.
"""

import copy
import math
from typing import Any, NamedTuple

import numpy as np

from core.activations import Activation
from core.mlp import (
    Params,
    backward,
    forward,
    init_bn_state,
    init_params,
    softmax_cross_entropy,
)
from core.mlp import loss_and_grads as mlp_loss_and_grads
from core.optimizers import OPTIMIZERS, init_layers, update_layers

# An entry counts as saturated when |f'(z)| is below this share of the activation's peak |f'|;
# for tanh that is |tanh z| > 0.995, for sigmoid |z| > 6.9 (a 1 % trickle of gradient).
SATURATION_THRESHOLD = 0.01
_PROBE = np.linspace(-50.0, 50.0, 20001)  # grid for an activation's peak slope


class DeepSignals(NamedTuple):
    """Per-layer signals of one batch; forward arrays have one row per measured hidden layer.

    ``z_*`` / ``a_*``: pre-activation (after batch norm, if any) and activation statistics;
    histograms count every value of the layer into ``bins`` fixed bins (values beyond the edges go
    to the outermost bins). ``dead_fraction``: share of units whose f'(z) is exactly 0 for every
    sample (no gradient reaches their weights, e.g. ReLU with z ≤ 0 everywhere).
    ``saturated_fraction``: share of (sample, unit) entries with |f'(z)| < SATURATION_THRESHOLD·peak,
    reported only for activations bounded on both sides (sigmoid, tanh, hardtanh, …), NaN otherwise.
    Gradient arrays: ``weight_grad_norm``, ``weight_norm`` (‖W‖) and ``update_ratio`` (lr·‖dW‖/‖W‖,
    i.e. ‖ΔW‖/‖W‖ after one SGD step; ``at_lr`` gives it for another lr) have ``depth + 1``
    entries (the output layer last); ``activation_grad_norm`` and
    ``activation_grad_std`` (of dLoss/da) have ``depth``. They are empty if the forward pass
    exploded. ``exploded_at``: index of the first hidden layer with a non-finite value (``depth``
    for the logits), else None.
    """

    z_mean: np.ndarray
    z_std: np.ndarray
    a_mean: np.ndarray
    a_std: np.ndarray
    z_hist: np.ndarray
    a_hist: np.ndarray
    z_edges: np.ndarray
    a_edges: np.ndarray
    dead_fraction: np.ndarray
    saturated_fraction: np.ndarray
    weight_grad_norm: np.ndarray
    activation_grad_norm: np.ndarray
    activation_grad_std: np.ndarray
    update_ratio: np.ndarray
    weight_norm: np.ndarray
    loss: float
    exploded_at: int | None


class SymmetryResult(NamedTuple):
    """``spread[t]``: largest difference between two hidden units' incoming weights (and biases)
    after ``t`` steps; 0 means the units are still identical. ``loss[t]`` is the loss at step t."""

    spread: np.ndarray
    loss: np.ndarray


class TrainingCurve(NamedTuple):
    """Minibatch loss per step; it stops before the first non-finite loss (``diverged_at``)."""

    loss: np.ndarray
    diverged_at: int | None


def peak_slope(activation: Activation) -> float:
    """Peak |f'| on [−50, 50]: the scale of "saturated" (``SATURATION_THRESHOLD`` of it)."""
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(activation.grad(_PROBE))))


def output_limits(activation: Activation) -> tuple[float, float] | None:
    """The output range (lo, hi) if f is bounded on both sides, else None."""
    with np.errstate(all="ignore"):
        lo, hi = (float(v) for v in activation.fn(np.array([-1e6, 1e6])))
    bounded = np.isfinite([lo, hi]).all() and max(abs(lo), abs(hi)) < 1e3
    return (min(lo, hi), max(lo, hi)) if bounded else None


def _histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in equal-width bins, outliers clipped into the end bins (faster than np.histogram)."""
    bins = edges.size - 1
    # One float32 buffer scaled and clipped in place: ~4x faster than np.histogram here.
    scaled = np.subtract(values.ravel(), np.float32(edges[0]), dtype=np.float32)
    scaled *= np.float32(bins / (edges[-1] - edges[0]))
    np.clip(scaled, 0, bins - 1, out=scaled)
    # The smallest integer type that holds a bin index: bincount counts uint8 ~20 % faster than
    # intp, and the cast writes an eighth of the bytes.
    return np.bincount(scaled.astype(np.min_scalar_type(bins - 1)), minlength=bins)


def _sum_of_squares_is_exact(total: float, v: np.ndarray) -> bool:
    """Whether ``v``'s own-dtype sum of squares is finite and too large for underflow to matter.

    Squares below ``finfo.tiny`` lose precision (a vanishing signal of ~1e-20 squares to ~1e-40 in
    float32); even if every entry lost all of it, the sum would move by under one eps.
    """
    info = np.finfo(v.dtype)
    return np.isfinite(total) and total >= v.size * float(info.tiny) / float(info.eps)


def _mean_std(v: np.ndarray) -> tuple[float, float] | None:
    """Mean and std of every entry, or None if one is not finite.

    In the array's dtype with pairwise sums (a BLAS dot would be 250x less accurate on a ReLU
    layer) unless the sum overflows or the squares underflow; then in float64.
    """
    flat = v.ravel()
    mean = np.add.reduce(flat) / flat.dtype.type(flat.size)
    if np.isfinite(mean):  # inf and nan propagate through a sum: every entry is finite
        squares = flat - mean
        squares *= squares
        total = float(np.add.reduce(squares))
        if _sum_of_squares_is_exact(total, squares):
            return float(mean), math.sqrt(total / flat.size)
        if (flat == flat[0]).all():
            return float(flat[0]), 0.0
    elif not np.isfinite(flat).all():
        return None
    v64 = flat.astype(np.float64)
    return float(v64.mean()), float(v64.std())


def _norm(v: np.ndarray) -> float:
    """Frobenius norm; a BLAS dot in the array's dtype unless it overflows or underflows."""
    flat = v.ravel()
    total = float(np.dot(flat, flat))
    if _sum_of_squares_is_exact(total, flat):
        return math.sqrt(total)
    if total == 0 and not flat.any():
        return 0.0
    return float(np.linalg.norm(flat.astype(np.float64)))


def _check_net(depth: int, width: int) -> None:
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got {depth=}, {width=}")


def _layer_sizes(x, y, depth, width, n_classes):
    n_classes = int(np.max(y)) + 1 if n_classes is None else n_classes
    return [x.shape[1], *([width] * depth), n_classes]


def plain_network(
    rng: np.random.Generator,
    n_inputs: int,
    *,
    depth: int,
    width: int,
    n_classes: int,
    initializer: str,
    init_kwargs: dict[str, Any] | None = None,
) -> Params:
    """The network ``measure`` draws from ``rng``, without batch norm (which draws nothing)."""
    _check_net(depth, width)
    sizes = [n_inputs, *([width] * depth), n_classes]
    return init_params(rng, sizes, initializer=initializer, init_kwargs=init_kwargs)


class NetworkStack(NamedTuple):
    """``plain_network`` for every depth up to ``len(hidden)`` at once: ``at_depth`` picks one.

    Deeper networks from the same rng share their first hidden layers; only the output layer,
    drawn after the last hidden one, differs, so ``outputs[d − 1]`` is the one of depth ``d``.
    """

    hidden: Params
    outputs: Params


def plain_networks(
    rng: np.random.Generator,
    n_inputs: int,
    *,
    max_depth: int,
    width: int,
    n_classes: int,
    initializer: str,
    init_kwargs: dict[str, Any] | None = None,
) -> NetworkStack:
    """What ``plain_network`` draws from ``rng`` at each depth 1 … ``max_depth``, weights shared."""
    _check_net(max_depth, width)
    kw = {"initializer": initializer, "init_kwargs": init_kwargs}
    hidden, outputs = [], []
    for d in range(max_depth):
        hidden += init_params(rng, [n_inputs if d == 0 else width, width], **kw)
        # A copy of the generator draws the output layer, so the hidden stream goes on untouched.
        outputs += init_params(copy.deepcopy(rng), [width, n_classes], **kw)
    return NetworkStack(hidden, outputs)


def at_depth(stack: NetworkStack, depth: int) -> Params:
    """The network of ``depth`` hidden layers in ``stack``, equal to ``plain_network``'s."""
    if not 1 <= depth <= len(stack.hidden):
        raise ValueError(f"{depth=} must be in 1..{len(stack.hidden)}")
    return [*stack.hidden[:depth], stack.outputs[depth - 1]]


def _with_batch_norm(params: Params) -> Params:
    """Fresh torch BN (gamma 1, beta 0) after every hidden affine map, as ``init_params`` adds it."""
    return [
        {**p, "gamma": np.ones_like(p["b"]), "beta": np.zeros_like(p["b"])} for p in params[:-1]
    ] + [params[-1]]


def measure(
    rng: np.random.Generator,
    x: np.ndarray,
    y: np.ndarray,
    *,
    depth: int,
    width: int,
    activation: Activation,
    initializer: str,
    init_kwargs: dict[str, Any] | None = None,
    batch_norm: bool = False,
    lr: float = 0.01,
    n_classes: int | None = None,
    bins: int = 50,
    hist_range: float = 3.0,
) -> DeepSignals:
    """Initialize a fresh MLP from ``rng``, run the batch ``(x, y)`` in train mode, and measure it."""
    x = np.asarray(x, dtype=np.float32)
    n_classes = int(np.max(y)) + 1 if n_classes is None else n_classes
    params = plain_network(
        rng, x.shape[1], depth=depth, width=width, n_classes=n_classes, initializer=initializer,
        init_kwargs=init_kwargs,
    )  # fmt: skip
    return measure_network(
        params, x, y, activation=activation, batch_norm=batch_norm, lr=lr, bins=bins,
        hist_range=hist_range,
    )  # fmt: skip


def measure_network(
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    activation: Activation,
    batch_norm: bool = False,
    lr: float = 0.01,
    bins: int = 50,
    hist_range: float = 3.0,
) -> DeepSignals:
    """``measure`` on a prebuilt ``plain_network`` (read-only arrays are fine: nothing is mutated).

    ``z`` histograms span [−hist_range, hist_range]; ``a`` histograms span the activation's output
    range when it is bounded, else the same interval as ``z``.
    """
    depth = len(params) - 1
    _check_net(depth, params[0]["W"].shape[1])
    if any("gamma" in p for p in params):
        raise ValueError("params must be a plain network; ask for batch_norm=True instead")
    if batch_norm:
        params = _with_batch_norm(params)
    x = np.asarray(x, dtype=np.float32)
    limits = output_limits(activation)
    # Only saturation needs the peak slope, and only bounded activations saturate; the peak
    # costs 20001 float64 slopes (~6 ms for the exact GELU).
    peak = peak_slope(activation) if limits else None
    z_edges = np.linspace(-hist_range, hist_range, bins + 1)
    a_edges = np.linspace(*limits, bins + 1) if limits else z_edges
    with np.errstate(all="ignore"):
        logits, cache = forward(params, x, activation=activation, train=True)
        rows: dict[str, list] = {k: [] for k in DeepSignals._fields[:10] if "edges" not in k}
        exploded_at = None
        for k, (z, a) in enumerate(zip(cache.z, cache.a, strict=True)):
            z_stats = _mean_std(z)
            a_stats = _mean_std(a) if z_stats else None
            if a_stats is None:
                exploded_at = k
                break
            for name, (mean, std) in (("z", z_stats), ("a", a_stats)):
                rows[f"{name}_mean"].append(mean)
                rows[f"{name}_std"].append(std)
            rows["z_hist"].append(_histogram(z, z_edges))
            rows["a_hist"].append(_histogram(a, a_edges))
            slope = cache.slope[k]
            rows["dead_fraction"].append(np.mean(np.all(slope == 0, axis=0)))
            saturated = (
                np.count_nonzero(np.abs(slope) < SATURATION_THRESHOLD * peak) / slope.size
                if limits
                else np.nan
            )
            rows["saturated_fraction"].append(saturated)
        if exploded_at is None and not np.isfinite(logits).all():
            exploded_at = depth
        stats = {k: np.array(v, dtype=np.float64) for k, v in rows.items()}
        for k in ("z_hist", "a_hist"):
            stats[k] = np.array(rows[k], dtype=np.int64).reshape(-1, bins)
        empty = np.empty(0)
        grads_out = {
            "weight_grad_norm": empty,
            "activation_grad_norm": empty,
            "activation_grad_std": empty,
            "update_ratio": empty,
            "weight_norm": empty,
            "loss": float("nan"),
        }
        if exploded_at is None:
            loss, dlogits = softmax_cross_entropy(logits, y)
            grads, act_grads = backward(params, cache, dlogits, return_activation_grads=True)
            g_norm = np.array([_norm(g["W"]) for g in grads])
            w_norm = np.array([_norm(p["W"]) for p in params])
            grads_out = {
                "weight_grad_norm": g_norm,
                "activation_grad_norm": np.array([_norm(d) for d in act_grads]),
                "activation_grad_std": np.array(
                    [(_mean_std(d) or (np.nan, np.nan))[1] for d in act_grads]
                ),
                "update_ratio": _update_ratio(lr, g_norm, w_norm),
                "weight_norm": w_norm,
                "loss": loss,
            }
    return DeepSignals(
        **stats, z_edges=z_edges, a_edges=a_edges, **grads_out, exploded_at=exploded_at
    )


def _update_ratio(lr: float, g_norm: np.ndarray, w_norm: np.ndarray) -> np.ndarray:
    # Plain SGD moves W by exactly lr·dW; 0/0 -> nan and x/0 -> inf for zero weights.
    with np.errstate(all="ignore"):
        return lr * g_norm / w_norm


def at_lr(signals: DeepSignals, lr: float) -> DeepSignals:
    """The same signals with ``update_ratio`` for another ``lr``: nothing else depends on lr."""
    return signals._replace(
        update_ratio=_update_ratio(lr, signals.weight_grad_norm, signals.weight_norm)
    )


def _unit_spread(layer: dict[str, np.ndarray]) -> float:
    # Stack incoming weights and bias so that each column describes one hidden unit completely;
    # max over rows of (max − min across units) is the largest pairwise difference.
    units = np.vstack([layer["W"], layer["b"][None, :]])
    return float(np.max(units.max(axis=1) - units.min(axis=1)))


def symmetry_experiment(
    rng: np.random.Generator,
    x: np.ndarray,
    y: np.ndarray,
    *,
    initializer: str,
    init_kwargs: dict[str, Any] | None = None,
    activation: Activation,
    steps: int = 20,
    hidden_sizes: tuple[int, ...] = (16, 16),
    lr: float = 0.1,
    layer: int = 0,
    n_classes: int | None = None,
) -> SymmetryResult:
    """Full-batch gradient descent from the given init, tracking how different hidden units get.

    With a constant (or zero) init every unit of a layer computes the same value and receives the
    same gradient, so ``spread`` stays exactly 0 for ever; a random init breaks the symmetry.
    """
    if not 0 <= layer < len(hidden_sizes):
        raise ValueError(f"{layer=} must index one of {hidden_sizes=}")
    x = np.asarray(x, dtype=np.float32)
    n_classes = int(np.max(y)) + 1 if n_classes is None else n_classes
    sizes = [x.shape[1], *hidden_sizes, n_classes]
    params = init_params(rng, sizes, initializer=initializer, init_kwargs=init_kwargs)
    spread, losses = [], []
    with np.errstate(all="ignore"):
        for _ in range(steps + 1):
            loss, grads, _ = mlp_loss_and_grads(params, x, y, activation=activation)
            spread.append(_unit_spread(params[layer]))
            losses.append(loss)
            params = [{k: p[k] - lr * g[k] for k in p} for p, g in zip(params, grads, strict=True)]
    return SymmetryResult(np.array(spread), np.array(losses))


def short_training(
    rng: np.random.Generator,
    x: np.ndarray,
    y: np.ndarray,
    *,
    depth: int,
    width: int,
    activation: Activation,
    initializer: str,
    init_kwargs: dict[str, Any] | None = None,
    batch_norm: bool = False,
    optimizer: str = "sgd",
    lr: float = 0.01,
    steps: int = 200,
    batch_size: int = 64,
    n_classes: int | None = None,
) -> TrainingCurve:
    """Train a fresh ``depth × width`` MLP for ``steps`` minibatch steps of ``OPTIMIZERS[optimizer]``.

    Minibatches of ``batch_size`` rows are drawn from ``(x, y)`` without replacement within a step.
    """
    _check_net(depth, width)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    params = init_params(
        rng,
        _layer_sizes(x, y, depth, width, n_classes),
        initializer=initializer,
        init_kwargs=init_kwargs,
        batch_norm=batch_norm,
    )
    opt = OPTIMIZERS[optimizer](lr=lr)
    states = init_layers(opt, params)
    bn_state = init_bn_state(params)
    batch_size = min(batch_size, x.shape[0])
    losses = []
    with np.errstate(all="ignore"):
        for step in range(steps):
            idx = rng.choice(x.shape[0], size=batch_size, replace=False)
            loss, grads, cache = mlp_loss_and_grads(
                params, x[idx], y[idx], activation=activation, bn_state=bn_state
            )
            if not np.isfinite(loss):
                return TrainingCurve(np.array(losses), step)
            losses.append(loss)
            bn_state = cache.bn_state
            params, states = update_layers(opt, params, grads, states)
    return TrainingCurve(np.array(losses), None)
