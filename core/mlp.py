"""A fully connected network (MLP) as plain functions over a list of layer dicts.

``params[l]`` holds ``"W"`` of shape ``(fan_in, fan_out)`` and ``"b"`` of shape ``(fan_out,)``, used
as ``x @ W + b``; ``W`` is the transpose of torch's ``Linear.weight``. Hidden layers built with batch
norm also hold ``"gamma"`` and ``"beta"`` (torch's ``BatchNorm1d`` weight and bias). The last layer
is linear and produces logits. A hidden layer computes, in torch's usual order,
``affine → batch norm (optional) → activation → inverted dropout (train only)``.

Every function is pure: new arrays are returned, params and running stats are never mutated.
``forward`` returns ``(logits, cache)``; ``backward(params, cache, dlogits)`` returns ``grads``
shaped like ``params``. Computation runs in the params' dtype (float32 by default, for speed).
The MNIST page trains ``core.network``'s layer records, where this MLP is one case; this module is
the same network in one loop, for the initialization page's per-layer signals (``deep_signals``)
and as the second implementation the network's tests compare with.
"""

import itertools
import math
from typing import Any, NamedTuple

import numpy as np

from core.activations import Activation, value_and_grad
from core.batchnorm import (
    BatchNormCache,
    RunningStats,
    batch_norm_backward,
    batch_norm_forward,
    init_running_stats,
)
from core.initializers import INITIALIZERS

Params = list[dict[str, np.ndarray]]


class ForwardCache(NamedTuple):
    """Everything ``backward`` needs, plus per-hidden-layer signals for plots.

    ``z[l]`` and ``a[l]`` are the pre-activation (after batch norm, i.e. the activation's input)
    and the activation of hidden layer ``l`` (before dropout). ``inputs[l]`` is what layer ``l``
    multiplies by ``W``: ``x`` for the first layer, then the (dropped-out) hidden activations.
    ``bn_state`` holds the running stats after this pass (updated in train mode). ``slope[l]`` is
    f'(z[l]), computed in train mode only (where backward will need it anyway), else None.
    """

    inputs: list[np.ndarray]
    z: list[np.ndarray]
    a: list[np.ndarray]
    masks: list[np.ndarray | None]
    bn: list[BatchNormCache | None]
    bn_state: list[RunningStats | None]
    activation: Activation
    slope: list[np.ndarray] | None


def init_params(
    rng: np.random.Generator,
    layer_sizes: list[int] | tuple[int, ...],
    *,
    initializer: str = "kaiming_uniform",
    init_kwargs: dict[str, Any] | None = None,
    batch_norm: bool = False,
    dtype=np.float32,
) -> Params:
    """Weights from ``INITIALIZERS[initializer]``, zero biases; BN gamma = 1 and beta = 0 as in torch.

    The default is ``kaiming_uniform`` with torch.nn.init's defaults (He init for ReLU,
    bound sqrt(6/fan_in)), *not* torch's ``nn.Linear`` default, which uses ``a=sqrt(5)``
    (bound 1/sqrt(fan_in)) and random biases; biases start at zero here so that the chosen
    initializer alone decides the starting point, which is what the initialization page compares.
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"need at least input and output sizes, all >= 1: {layer_sizes=}")
    if initializer not in INITIALIZERS:
        raise ValueError(f"unknown {initializer=}")
    init = INITIALIZERS[initializer]
    params = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layer = {
            "W": init(rng, fan_in, fan_out, dtype=dtype, **(init_kwargs or {})),
            "b": np.zeros(fan_out, dtype=dtype),
        }
        if batch_norm and i < len(sizes) - 2:
            layer["gamma"] = np.ones(fan_out, dtype=dtype)
            layer["beta"] = np.zeros(fan_out, dtype=dtype)
        params.append(layer)
    return params


def init_bn_state(params: Params) -> list[RunningStats | None]:
    """Fresh running stats (mean 0, var 1) per layer; ``None`` where a layer has no batch norm."""
    return [
        init_running_stats(p["gamma"].size, p["gamma"].dtype) if "gamma" in p else None
        for p in params
    ]


def _add_bias(z: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``z + b`` for a fresh matmul result ``z``: in place (no second (N, fan_out) array)."""
    if z.ndim == 2 and (z.dtype == b.dtype or z.dtype == np.result_type(z, b)):
        z += b
        return z
    return z + b


def forward(
    params: Params,
    x: np.ndarray,
    *,
    activation: Activation,
    train: bool,
    rng: np.random.Generator | None = None,
    dropout: float = 0.0,
    bn_state: list[RunningStats | None] | None = None,
) -> tuple[np.ndarray, ForwardCache]:
    """Return ``(logits, cache)`` for a batch ``x`` of shape ``(N, fan_in)``.

    ``dropout`` is the drop probability p of torch's ``nn.Dropout`` and needs ``rng``; kept units
    are scaled by 1/(1 − p) in training so nothing changes at eval time. ``bn_state=None`` means
    fresh running stats, like a new torch module.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{dropout=} must be in [0, 1)")
    use_dropout = train and dropout > 0.0
    if use_dropout and rng is None:
        raise ValueError(f"dropout needs an rng in train mode, got {rng=}")
    if bn_state is None:
        bn_state = init_bn_state(params)
    h = np.asarray(x, dtype=params[0]["W"].dtype)
    inputs, zs, activations, masks, bn_caches, new_state = [], [], [], [], [], []
    slopes = [] if train else None
    for layer, running in zip(params[:-1], bn_state[:-1], strict=True):
        inputs.append(h)
        z = h @ layer["W"]
        z = _add_bias(z, layer["b"])
        bn_cache = None
        if "gamma" in layer:
            z, bn_cache, running = batch_norm_forward(
                z, layer["gamma"], layer["beta"], running, train=train
            )
        if train:
            a, slope = value_and_grad(activation, z)
            slopes.append(slope)
        else:
            a = activation.fn(z)
        mask = None
        if use_dropout:
            keep = rng.random(a.shape, dtype=np.float32) >= dropout
            mask = keep.astype(a.dtype) / a.dtype.type(1.0 - dropout)
            h = a * mask
        else:
            h = a
        zs.append(z)
        activations.append(a)
        masks.append(mask)
        bn_caches.append(bn_cache)
        new_state.append(running)
    inputs.append(h)
    new_state.append(bn_state[-1])
    logits = _add_bias(h @ params[-1]["W"], params[-1]["b"])
    cache = ForwardCache(inputs, zs, activations, masks, bn_caches, new_state, activation, slopes)
    return logits, cache


def backward(
    params: Params,
    cache: ForwardCache,
    dlogits: np.ndarray,
    *,
    return_activation_grads: bool = False,
    out: Params | None = None,
) -> Params | tuple[Params, list[np.ndarray]]:
    """Backpropagate ``dlogits`` = dLoss/dlogits; return ``grads`` shaped like ``params``.

    With ``return_activation_grads=True`` return ``(grads, activation_grads)`` where
    ``activation_grads[l]`` = dLoss/d``cache.a[l]`` for each hidden layer, shape ``(N, width)``.
    ``out`` (arrays shaped like ``params``) receives the gradients instead of new arrays.
    """
    grads: Params = [{} for _ in params]
    activation_grads: list[np.ndarray] = [None] * (len(params) - 1)
    delta = dlogits  # dLoss / d(output of the affine map of the current layer)
    for i in range(len(params) - 1, -1, -1):
        target = {} if out is None else out[i]
        grads[i]["W"] = np.matmul(cache.inputs[i].T, delta, out=target.get("W"))
        grads[i]["b"] = np.add.reduce(delta, axis=0, out=target.get("b"))
        if i == 0:
            break
        k = i - 1  # the hidden layer feeding layer i
        d_input = delta @ params[i]["W"].T
        d_a = d_input if cache.masks[k] is None else d_input * cache.masks[k]
        activation_grads[k] = d_a
        slope = cache.activation.grad(cache.z[k]) if cache.slope is None else cache.slope[k]
        if return_activation_grads or d_a.dtype != np.result_type(d_a, slope):
            delta = d_a * slope
        else:
            # d_a is a fresh array nobody else holds, so it can become delta in place.
            delta = np.multiply(d_a, slope, out=d_a)
        if cache.bn[k] is not None:
            delta, grads[k]["gamma"], grads[k]["beta"] = batch_norm_backward(delta, cache.bn[k])
            if out is not None:
                for key in ("gamma", "beta"):
                    np.copyto(out[k][key], grads[k][key])
                    grads[k][key] = out[k][key]
    # Keep the params' key order so grads zip cleanly with params everywhere.
    grads = [{key: g[key] for key in p} for p, g in zip(params, grads, strict=True)]
    return (grads, activation_grads) if return_activation_grads else grads


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    # Subtracting the row max makes exp() overflow-free; log-sum-exp is exact under the shift.
    # The row max of a few classes is quicker down the columns of a transposed copy (and exact).
    row_max = np.maximum.reduce(logits.T.copy(), axis=0)[:, None]
    shifted = np.subtract(logits, row_max, order="C")  # C order: callers index its flat view
    lse = np.add.reduce(np.exp(shifted), axis=1, keepdims=True)
    return np.subtract(shifted, np.log(lse, out=lse), out=shifted)


def class_probabilities(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, from the same log-softmax as the loss (so predictions and loss agree)."""
    return np.exp(_log_softmax(logits))


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer ``labels`` under softmax(logits), and dLoss/dlogits.

    Fused on purpose: the softmax Jacobian times the cross-entropy gradient collapses to
    ``(softmax(logits) − onehot(labels)) / N``, which is cheaper and never divides by a
    probability that underflowed to 0 (torch's ``nn.CrossEntropyLoss`` does the same fusion).
    """
    labels = np.asarray(labels)
    n = logits.shape[0]
    log_p = _log_softmax(logits)
    # Flat positions of the labels: 1-D fancy indexing costs a third of the 2-D kind.
    at = np.arange(0, log_p.size, log_p.shape[1]) + labels
    picked = log_p.ravel().take(at)
    # .mean()'s own arithmetic (a sum in the array's dtype, divided by n in float64, cast back),
    # without its Python wrapper: this runs once per training step on a small array.
    loss = -float(picked.dtype.type(float(np.add.reduce(picked)) / n)) if n else math.nan
    dlogits = np.exp(log_p, out=log_p)
    dlogits.ravel()[at] -= 1.0
    dlogits /= n
    return loss, dlogits


def loss_and_grads(
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    activation: Activation,
    weight_decay: float = 0.0,
    train: bool = True,
    rng: np.random.Generator | None = None,
    dropout: float = 0.0,
    bn_state: list[RunningStats | None] | None = None,
) -> tuple[float, Params, ForwardCache]:
    """Cross-entropy (+ ``weight_decay``/2·Σ‖W‖², on weights only) and its gradients in one pass.

    The L2 term is added to the returned loss and ``weight_decay·W`` to the weight gradients, which
    is what torch's SGD ``weight_decay`` does to the gradient; biases and BN parameters get none.
    Use it *or* an optimizer's own ``weight_decay``, not both.
    """
    logits, cache = forward(
        params, x, activation=activation, train=train, rng=rng, dropout=dropout, bn_state=bn_state
    )
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = backward(params, cache, dlogits)
    if weight_decay:
        loss += 0.5 * weight_decay * sum(float(np.sum(p["W"] ** 2)) for p in params)
        for p, g in zip(params, grads, strict=True):
            g["W"] = g["W"] + weight_decay * p["W"]
    return loss, grads, cache


def predict_proba(
    params: Params,
    x: np.ndarray,
    *,
    activation: Activation,
    bn_state: list[RunningStats | None] | None = None,
) -> np.ndarray:
    """Class probabilities in eval mode (no dropout; batch norm uses the running stats)."""
    logits, _ = forward(params, x, activation=activation, train=False, bn_state=bn_state)
    return class_probabilities(logits)


def predict(
    params: Params,
    x: np.ndarray,
    *,
    activation: Activation,
    bn_state: list[RunningStats | None] | None = None,
) -> np.ndarray:
    """Predicted class index per row, in eval mode."""
    logits, _ = forward(params, x, activation=activation, train=False, bn_state=bn_state)
    return logits.argmax(axis=1)


def accuracy(
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    activation: Activation,
    bn_state: list[RunningStats | None] | None = None,
) -> float:
    """Share of rows whose predicted class equals ``y``, in eval mode."""
    return float(np.mean(predict(params, x, activation=activation, bn_state=bn_state) == y))


def parameter_count(params: Params) -> int:
    """Number of trainable scalars (weights, biases, BN gamma and beta)."""
    return int(sum(arr.size for layer in params for arr in layer.values()))
