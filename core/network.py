"""A network as a list of layer records, trained by one forward and one backward pass over them.

An ``Architecture`` is the input shape of one example (without the batch axis: ``(784,)`` for pixels
in a row, ``(1, 28, 28)`` for an image, NCHW as torch) and a tuple of layer records, each named
after its torch module: ``Linear``, ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``,
``BatchNorm`` (torch's BatchNorm1d after a linear layer, BatchNorm2d after a convolution),
``Activation`` (the network's nonlinearity, one for all, e.g. ReLU) and ``Dropout`` (its drop
probability is a training setting that may change between steps, not part of the architecture).
``mlp(layer_sizes)`` and ``cnn(...)`` build the two families the MNIST page offers: an MLP is
``Linear → [BatchNorm] → Activation → Dropout`` per hidden layer and a last ``Linear``.

``params[l]`` is a dict of layer ``l``'s tensors, empty for a layer without any: a ``Linear`` holds
``"W"`` of shape ``(in_features, out_features)``, used as ``x @ W`` (the transpose of torch's
``Linear.weight``), and ``"b"``; a ``Conv2d`` holds ``"W"`` of shape ``(out_channels,
in_channels, kH, kW)`` (torch's own layout) and ``"b"``; a ``BatchNorm`` holds ``"gamma"`` and
``"beta"`` (torch's weight and bias) and has running stats in ``bn_state[l]``.

Every function is pure: new arrays are returned; params and running stats are never mutated.
``forward`` returns ``(logits, cache)`` and ``backward(arch, params, cache, dlogits)`` the grads
shaped like ``params``. Computation runs in the params' dtype (float32 by default);
``gradient_check`` works on float64 copies. ``core.mlp`` is the same MLP written as one loop, kept
for the initialization page's per-layer signals and as a second implementation the tests compare
this one with.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from core import conv
from core.activations import Activation as Nonlinearity
from core.activations import value_and_grad
from core.batchnorm import (
    RunningStats,
    batch_norm_backward,
    batch_norm_forward,
    init_running_stats,
)
from core.datasets import to_float32
from core.initializers import INITIALIZERS, conv_weight
from core.mlp import class_probabilities, softmax_cross_entropy

Params = list[dict[str, np.ndarray]]


# ---------------------------------------------------------------- layer records


@dataclass(frozen=True)
class Linear:
    out_features: int


@dataclass(frozen=True)
class Conv2d:
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


@dataclass(frozen=True)
class MaxPool2d:
    kernel_size: int
    stride: int | None = None  # None: the kernel size, as torch


@dataclass(frozen=True)
class AvgPool2d:
    kernel_size: int
    stride: int | None = None


@dataclass(frozen=True)
class Flatten:
    pass


@dataclass(frozen=True)
class BatchNorm:
    pass


@dataclass(frozen=True)
class Activation:
    pass


@dataclass(frozen=True)
class Dropout:
    pass


Layer = Linear | Conv2d | MaxPool2d | AvgPool2d | Flatten | BatchNorm | Activation | Dropout
LAYER_KINDS = {
    "linear": Linear,
    "conv2d": Conv2d,
    "max_pool2d": MaxPool2d,
    "avg_pool2d": AvgPool2d,
    "flatten": Flatten,
    "batch_norm": BatchNorm,
    "activation": Activation,
    "dropout": Dropout,
}
KIND_OF = {cls: kind for kind, cls in LAYER_KINDS.items()}


class Architecture(NamedTuple):
    """The shape of one input example and the layers, first to last (the last gives the logits)."""

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]


def mlp(layer_sizes: tuple[int, ...] | list[int], *, batch_norm: bool = False) -> Architecture:
    """Inputs → hidden widths → outputs, as the page's MLP: torch's usual order per hidden layer."""
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"need at least input and output sizes, all >= 1: {layer_sizes=}")
    layers: list[Layer] = []
    for width in sizes[1:-1]:
        layers += [Linear(width), *([BatchNorm()] if batch_norm else []), Activation(), Dropout()]
    return Architecture((sizes[0],), (*layers, Linear(sizes[-1])))


def conv_block(channels: int, kernel_size: int, pool: int, batch_norm: bool) -> tuple[Layer, ...]:
    """A "same" convolution (odd kernel, padding k // 2), [batch norm], the nonlinearity, max-pool."""
    conv_layer = Conv2d(channels, kernel_size, padding=kernel_size // 2)
    return (conv_layer, *([BatchNorm()] if batch_norm else []), Activation(), MaxPool2d(pool))


def cnn(
    image_shape: tuple[int, int],
    blocks: tuple[tuple[int, int, int], ...] = ((8, 5, 2), (16, 5, 3)),
    *,
    classes: int = 10,
    batch_norm: bool = False,
) -> Architecture:
    """Convolution blocks ``(channels, kernel size, pool size)`` → flatten → dropout → linear.

    The default is ConvNetJS's MNIST demo: conv 8@5×5 pad 2 → ReLU → max-pool 2 → conv 16@5×5
    pad 2 → ReLU → max-pool 3 → dense 10.
    """
    layers = [layer for block in blocks for layer in conv_block(*block, batch_norm)]
    return Architecture((1, *image_shape), (*layers, Flatten(), Dropout(), Linear(classes)))


def describe(layer: Layer) -> dict[str, Any]:
    """A layer record as plain data (its kind and fields), for model files and links."""
    return {"kind": KIND_OF[type(layer)], **layer.__dict__}


def output_shapes(arch: Architecture) -> list[tuple[int, ...]]:
    """Each layer's output shape for one example; raises ValueError where a layer does not fit."""
    shape, shapes = tuple(arch.input_shape), []
    for i, layer in enumerate(arch.layers):
        shape = _output_shape(layer, shape)
        if min(shape, default=0) < 1:
            raise ValueError(f"layer {i} ({layer}) leaves nothing of its input")
        shapes.append(shape)
    return shapes


def _output_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
    match layer:
        case Linear(out_features=n):
            _require(len(shape) == 1, layer, shape)
            return (n,)
        case Conv2d():
            _require(len(shape) == 3, layer, shape)
            k, s, p, d = layer.kernel_size, layer.stride, layer.padding, layer.dilation
            return (layer.out_channels, *(conv.output_size(n, k, s, p, d) for n in shape[1:]))
        case MaxPool2d() | AvgPool2d():
            _require(len(shape) == 3, layer, shape)
            k, s = layer.kernel_size, layer.stride or layer.kernel_size
            return (shape[0], *(conv.output_size(n, k, s) for n in shape[1:]))
        case Flatten():
            return (math.prod(shape),)
    return shape


def _require(ok: bool, layer: Layer, shape: tuple[int, ...]) -> None:
    if not ok:
        raise ValueError(f"{layer} cannot take an input of shape {shape}")


def receptive_fields(arch: Architecture) -> list[int | None]:
    """Each layer's receptive field: the side of the input square one output pixel depends on
    (None once the pixels are flattened, where every output sees the whole image)."""
    size, jump, out = 1, 1, []
    for layer in arch.layers:
        match layer:
            case Conv2d() | MaxPool2d() | AvgPool2d():
                k = layer.kernel_size
                dilation = getattr(layer, "dilation", 1)
                stride = getattr(layer, "stride", None) or k
                size += (k - 1) * dilation * jump
                jump *= stride
            case Flatten() | Linear():
                size = None
        out.append(size)
        if size is None:
            out += [None] * (len(arch.layers) - len(out))
            break
    return out


def input_window(arch: Architecture, layer: int, row: int, col: int) -> tuple[int, int, int, int]:
    """The input rows and columns ``(top, left, bottom, right)`` (end exclusive, possibly beyond
    the image where padding was added) that pixel ``(row, col)`` of layer ``layer``'s output
    depends on; layer ``layer`` and all before it keep a spatial layout."""
    top, left, bottom, right = row, col, row + 1, col + 1
    for record in reversed(arch.layers[: layer + 1]):
        match record:
            case Conv2d() | MaxPool2d() | AvgPool2d():
                k = record.kernel_size
                stride = getattr(record, "stride", None) or k
                pad = getattr(record, "padding", 0)
                reach = (k - 1) * getattr(record, "dilation", 1)
                top, left = top * stride - pad, left * stride - pad
                bottom = (bottom - 1) * stride - pad + reach + 1
                right = (right - 1) * stride - pad + reach + 1
            case Flatten() | Linear():
                raise ValueError(f"layer {layer} has no spatial layout")
    return top, left, bottom, right


def parameter_shapes(arch: Architecture) -> list[dict[str, tuple[int, ...]]]:
    """The shape of every tensor of every layer, in ``params`` order."""
    shapes, shape = [], tuple(arch.input_shape)
    for layer, out in zip(arch.layers, output_shapes(arch), strict=True):
        match layer:
            case Linear(out_features=n):
                shapes.append({"W": (shape[0], n), "b": (n,)})
            case Conv2d():
                k = layer.kernel_size
                shapes.append({"W": (layer.out_channels, shape[0], k, k), "b": (out[0],)})
            case BatchNorm():
                shapes.append({"gamma": (shape[0],), "beta": (shape[0],)})
            case _:
                shapes.append({})
        shape = out
    return shapes


class LayerRow(NamedTuple):
    """One row of the layer table: what a layer makes of one example."""

    layer: Layer
    output_shape: tuple[int, ...]
    parameters: int
    receptive_field: int | None  # side of the input square one output pixel sees; None: all
    multiply_adds: int  # of the layer's weights in one forward pass of one example


def layer_table(arch: Architecture) -> list[LayerRow]:
    """Each layer's output shape, number of parameters, receptive field and multiply-adds, first
    to last (the "conv layer parameters" table of the tutorials: k·k·C_in·C_out + C_out for a
    conv, whose every output number costs k·k·C_in multiply-adds)."""
    outputs = output_shapes(arch)
    rows = zip(
        arch.layers,
        [tuple(arch.input_shape), *outputs[:-1]],
        outputs,
        parameter_shapes(arch),
        receptive_fields(arch),
        strict=True,
    )
    return [
        LayerRow(
            layer,
            out,
            sum(math.prod(s) for s in tensors.values()),
            field,
            _multiply_adds(layer, shape, out),
        )
        for layer, shape, out, tensors, field in rows
    ]


def _multiply_adds(layer: Layer, shape: tuple[int, ...], out: tuple[int, ...]) -> int:
    """A weight layer's multiply-adds for one example; the other layers' elementwise work is
    small beside them and not counted (as FLOP counts of CNNs usually do)."""
    match layer:
        case Linear(out_features=n):
            return shape[0] * n
        case Conv2d(kernel_size=k):
            return math.prod(out) * shape[0] * k * k
        case _:
            return 0


def multiply_adds(arch: Architecture) -> int:
    """Multiply-adds of one forward pass of one example (a training step costs about three times
    as many per example: the backward pass computes two products for every forward one)."""
    return sum(row.multiply_adds for row in layer_table(arch))


def torch_modules(arch: Architecture, activation_call: str, dropout: float) -> list[str]:
    """Each layer as the torch.nn module it equals, e.g. ``torch.nn.Conv2d(1, 8, kernel_size=5,
    padding=2)``; ``activation_call`` is the nonlinearity's (``"torch.nn.ReLU()"``)."""
    inputs = [tuple(arch.input_shape), *output_shapes(arch)]
    return [
        _torch_module(layer, shape, activation_call, dropout)
        for layer, shape in zip(arch.layers, inputs, strict=False)
    ]


def _torch_module(layer: Layer, shape: tuple[int, ...], activation_call: str, p: float) -> str:
    match layer:
        case Linear(out_features=n):
            return f"torch.nn.Linear({shape[0]}, {n})"
        case Conv2d():
            extra = "".join(
                f", {name}={value}"
                for name, value, default in (
                    ("stride", layer.stride, 1),
                    ("padding", layer.padding, 0),
                    ("dilation", layer.dilation, 1),
                )
                if value != default
            )
            k = layer.kernel_size
            return f"torch.nn.Conv2d({shape[0]}, {layer.out_channels}, kernel_size={k}{extra})"
        case MaxPool2d() | AvgPool2d():
            stride = "" if layer.stride is None else f", stride={layer.stride}"
            return f"torch.nn.{type(layer).__name__}({layer.kernel_size}{stride})"
        case Flatten():
            return "torch.nn.Flatten()"
        case BatchNorm():
            return f"torch.nn.BatchNorm{1 if len(shape) == 1 else 2}d({shape[0]})"
        case Activation():
            return activation_call
        case Dropout():
            return f"torch.nn.Dropout(p={p:g})"
    raise ValueError(f"unknown {layer=}")


def parameter_count(params: Params) -> int:
    """Number of trainable scalars."""
    return int(sum(arr.size for layer in params for arr in layer.values()))


def init_params(
    rng: np.random.Generator,
    arch: Architecture,
    *,
    initializer: str = "kaiming_uniform",
    init_kwargs: dict[str, Any] | None = None,
    dtype=np.float32,
) -> Params:
    """Weights from ``INITIALIZERS[initializer]`` (fans as torch's for conv weights), zero biases,
    batch-norm gamma = 1 and beta = 0 as in torch. The default is kaiming_uniform with torch.nn.init's
    defaults, not torch's layer default (a = √5, random biases): the chosen initializer alone decides
    the start, as ``core.mlp.init_params`` explains."""
    if initializer not in INITIALIZERS:
        raise ValueError(f"unknown {initializer=}")
    kw = init_kwargs or {}
    params = []
    for layer, shapes in zip(arch.layers, parameter_shapes(arch), strict=True):
        match layer:
            case Linear():
                fan_in, fan_out = shapes["W"]
                w = INITIALIZERS[initializer](rng, fan_in, fan_out, dtype=dtype, **kw)
                params.append({"W": w, "b": np.zeros(fan_out, dtype=dtype)})
            case Conv2d():
                out_ch, in_ch, k, _ = shapes["W"]
                w = conv_weight(initializer, rng, out_ch, in_ch, k, dtype=dtype, **kw)
                params.append({"W": w, "b": np.zeros(out_ch, dtype=dtype)})
            case BatchNorm():
                n = shapes["gamma"][0]
                params.append({"gamma": np.ones(n, dtype=dtype), "beta": np.zeros(n, dtype=dtype)})
            case _:
                params.append({})
    return params


def init_bn_state(params: Params) -> list[RunningStats | None]:
    """Fresh running stats (mean 0, var 1) per batch-norm layer; None for every other layer."""
    return [
        init_running_stats(p["gamma"].size, p["gamma"].dtype) if "gamma" in p else None
        for p in params
    ]


# ---------------------------------------------------------------- forward and backward


class ForwardCache(NamedTuple):
    """What ``backward`` needs: ``inputs[l]`` is what layer ``l`` received (``inputs[l + 1]`` is
    its output, a feature map for the views), ``saved[l]`` its own cache, ``bn_state`` the running
    stats after this pass (updated in train mode)."""

    inputs: list[np.ndarray]
    saved: list[Any]
    bn_state: list[RunningStats | None]


def _add_bias(z: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``z + b`` for a fresh matmul result ``z``: in place (no second (N, fan_out) array)."""
    if z.dtype == np.result_type(z, b):
        z += b
        return z
    return z + b


def _channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) → (H·W·N, C): batch norm over a convolution normalizes each channel over the
    batch and every position (BatchNorm2d). A view of the batch-last memory core.conv's layers
    return (rows in (h, w, n) order; batch norm is the same for any order of the rows)."""
    return x.transpose(1, 2, 3, 0).reshape(x.shape[1], -1).T


def _channels_first(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``_channels_last`` undone: a batch-last (N, C, H, W) view of batch norm's output, whose
    elementwise arithmetic keeps its input's column-major order."""
    n, c, h, w = shape
    return y.T.reshape(c, h, w, n).transpose(3, 0, 1, 2)


def _batch_norm(x, p, running, train):
    if x.ndim == 2:
        return batch_norm_forward(x, p["gamma"], p["beta"], running, train=train)
    y, saved, running = batch_norm_forward(
        _channels_last(x), p["gamma"], p["beta"], running, train=train
    )
    return _channels_first(y, x.shape), saved, running


def forward(
    arch: Architecture,
    params: Params,
    x: np.ndarray,
    *,
    activation: Nonlinearity,
    train: bool,
    rng: np.random.Generator | None = None,
    dropout: float = 0.0,
    bn_state: list[RunningStats | None] | None = None,
) -> tuple[np.ndarray, ForwardCache]:
    """Return ``(logits, cache)`` for a batch ``x`` of shape ``(N, *arch.input_shape)`` (or its
    rows flattened: it is reshaped to the input shape).

    ``dropout`` is the drop probability p of torch's ``nn.Dropout`` and needs ``rng`` in train
    mode; kept units are scaled by 1/(1 − p) so nothing changes at eval time. ``bn_state=None``
    means fresh running stats, like a new torch module. In eval mode nothing is kept for a
    backward pass (the feature maps in ``cache.inputs`` are).
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{dropout=} must be in [0, 1)")
    use_dropout = train and dropout > 0.0
    if use_dropout and rng is None:
        raise ValueError(f"dropout needs an rng in train mode, got {rng=}")
    if bn_state is None:
        bn_state = init_bn_state(params)
    dtype = next(a.dtype for p in params for a in p.values())
    h = np.asarray(x, dtype=dtype).reshape(len(x), *arch.input_shape)
    inputs, saved, new_state = [], [], list(bn_state)
    for i, (layer, p) in enumerate(zip(arch.layers, params, strict=True)):
        inputs.append(h)
        keep = None
        match layer:
            case Linear():
                h = _add_bias(h @ p["W"], p["b"])
            case Conv2d():
                h, keep = conv.conv2d(
                    h,
                    p["W"],
                    p["b"],
                    stride=layer.stride,
                    padding=layer.padding,
                    dilation=layer.dilation,
                    keep_cache=train,
                )
            case MaxPool2d():
                h, keep = conv.max_pool2d(h, layer.kernel_size, layer.stride, keep_cache=train)
            case AvgPool2d():
                h, keep = conv.avg_pool2d(h, layer.kernel_size, layer.stride, keep_cache=train)
            case Flatten():
                h = h.reshape(len(h), -1)
            case BatchNorm():
                h, keep, new_state[i] = _batch_norm(h, p, bn_state[i], train)
            case Activation():
                if train:
                    h, keep = value_and_grad(activation, h)  # keep f'(z) for backward
                else:
                    h = activation.fn(h)
            case Dropout():
                if use_dropout:
                    keep_mask = rng.random(h.shape, dtype=np.float32) >= dropout
                    keep = keep_mask.astype(h.dtype) / h.dtype.type(1.0 - dropout)
                    h = h * keep
        saved.append(keep)
    inputs.append(h)
    return h, ForwardCache(inputs, saved, new_state)


def _first_with_params(params: Params) -> int:
    return next((i for i, p in enumerate(params) if p), len(params))


def backward(
    arch: Architecture,
    params: Params,
    cache: ForwardCache,
    dlogits: np.ndarray,
    *,
    out: Params | None = None,
    release: bool = False,
) -> Params:
    """Backpropagate ``dlogits`` = dLoss/dlogits; return ``grads`` shaped like ``params``.

    ``out`` (arrays shaped like ``params``) receives the gradients instead of new arrays. Every
    gradient flowing down is a fresh array of this pass, so layers may scale it in place.
    ``release=True`` empties ``cache`` as it goes (each layer's entries set to None once used),
    for a caller that drops the cache after: a layer's gradients then never coexist with the
    whole cache, which is what a CNN's peak memory is made of (its im2col columns).
    """
    grads: Params = [{} for _ in params]
    first = _first_with_params(params)  # below it no layer needs dLoss/dinput
    d = dlogits
    for i in range(len(params) - 1, first - 1, -1):
        layer, p, keep, x = arch.layers[i], params[i], cache.saved[i], cache.inputs[i]
        if release:
            cache.saved[i] = cache.inputs[i + 1] = None
        target = {} if out is None else out[i]
        need_dx = i > first
        match layer:
            case Linear():
                grads[i]["W"] = np.matmul(x.T, d, out=target.get("W"))
                grads[i]["b"] = np.add.reduce(d, axis=0, out=target.get("b"))
                d = d @ p["W"].T if need_dx else None
            case Conv2d():
                d, grads[i]["W"], grads[i]["b"] = conv.conv2d_backward(
                    p["W"],
                    keep,
                    d,
                    need_dx=need_dx,
                    out_weight=target.get("W"),
                    out_bias=target.get("b"),
                )
            case MaxPool2d():
                d = conv.max_pool2d_backward(keep, d)
            case AvgPool2d():
                d = conv.avg_pool2d_backward(keep, d)
            case Flatten():
                # In x's memory order (batch-last after a conv or pool), so the layers below read
                # whole rows: a C-ordered gradient made the max-pool backward 4× slower.
                d = _copied(np.empty_like(x), d.reshape(x.shape))
            case BatchNorm():
                flat = d if d.ndim == 2 else _channels_last(d)
                dx, dgamma, dbeta = batch_norm_backward(flat, keep)
                d = dx if d.ndim == 2 else _channels_first(dx, d.shape)
                for key, g in (("gamma", dgamma), ("beta", dbeta)):
                    grads[i][key] = g if key not in target else _copied(target[key], g)
            case Activation():
                slope = keep
                if d.dtype == np.result_type(d, slope):
                    d = np.multiply(d, slope, out=d)
                else:
                    d = d * slope
            case Dropout():
                if keep is not None:
                    d = np.multiply(d, keep, out=d) if d.dtype == keep.dtype else d * keep
    return grads


def _copied(target: np.ndarray, value: np.ndarray) -> np.ndarray:
    np.copyto(target, value)
    return target


def loss_and_grads(
    arch: Architecture,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    activation: Nonlinearity,
    weight_decay: float = 0.0,
    train: bool = True,
    rng: np.random.Generator | None = None,
    dropout: float = 0.0,
    bn_state: list[RunningStats | None] | None = None,
) -> tuple[float, Params, ForwardCache]:
    """Cross-entropy (+ ``weight_decay``/2·Σ‖W‖² over the weights, not biases or batch norm) and
    its gradients in one pass, as ``core.mlp.loss_and_grads``."""
    logits, cache = forward(
        arch,
        params,
        x,
        activation=activation,
        train=train,
        rng=rng,
        dropout=dropout,
        bn_state=bn_state,
    )
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = backward(arch, params, cache, dlogits)
    if weight_decay:
        loss += 0.5 * weight_decay * sum(float(np.sum(p["W"] ** 2)) for p in params if "W" in p)
        for p, g in zip(params, grads, strict=True):
            if "W" in p:
                g["W"] = g["W"] + weight_decay * p["W"]
    return loss, grads, cache


EVAL_BYTES = 16 * 2**20  # what one evaluation pass's widest layer may take (see rows_per_pass)


def rows_per_pass(arch: Architecture, most: int = 2000) -> int:
    """How many examples one eval-mode pass may take: as many as keep its widest layer under
    ``EVAL_BYTES``, a convolution counted by its im2col columns, k·k·C_in numbers per output pixel
    (10,000 MNIST digits through the CNN preset's first layer: 0.8 GB). core.conv builds the
    columns a band at a time, so a pass holds less: its feature maps, ~8 MB for the preset."""
    widest, shape = 1, tuple(arch.input_shape)
    for layer, out in zip(arch.layers, output_shapes(arch), strict=True):
        if isinstance(layer, Conv2d):
            widest = max(widest, layer.kernel_size**2 * shape[0] * math.prod(out[1:]))
        widest = max(widest, math.prod(out))
        shape = out
    return int(np.clip(EVAL_BYTES // (4 * widest), 1, most))


def predict_proba(
    arch: Architecture,
    params: Params,
    x: np.ndarray,
    *,
    activation: Nonlinearity,
    bn_state: list[RunningStats | None] | None = None,
) -> np.ndarray:
    """Class probabilities in eval mode (no dropout; batch norm uses the running stats), computed
    ``rows_per_pass`` examples at a time. ``x`` may be uint8 images as a data set stores them:
    each slice is then converted as a training batch is (``to_float32``), and the float32 copy
    of a whole test split (31 MB for 10,000 digits) is never made."""
    step = rows_per_pass(arch)
    parts = []
    for start in range(0, len(x), step):
        rows = x[start : start + step]
        # [0]: the pass's feature maps are freed at once, not held through the next pass.
        logits = forward(
            arch,
            params,
            to_float32(rows) if rows.dtype == np.uint8 else rows,
            activation=activation,
            train=False,
            bn_state=bn_state,
        )[0]
        parts.append(class_probabilities(logits))
    return np.concatenate(parts) if parts else np.zeros((0, output_shapes(arch)[-1][0]))


# ---------------------------------------------------------------- gradient check


class TensorCheck(NamedTuple):
    """Backprop vs central differences on a few entries of one parameter tensor."""

    layer: int  # index into the architecture's layers, 0 is the first
    name: str  # "W", "b", "gamma" or "beta"
    rel: float  # worst relative error over the checked entries; NaN if a loss was not finite
    checked: int


CHECK_BUDGET = 32  # forward passes; ~0.15 s on the largest network the page allows
GRADIENT_OK = 1e-4  # a relative error below this means backprop agrees (float64 gives ~1e-9)
# Per entry, |g − n| is compared with |g| + |n| but at least this times max(1, |L|): the difference
# of two float64 losses divided by 2·eps is only good to ~1e-11·|L|, and some gradients are pure
# noise (a bias feeding batch norm has gradient 0 in exact arithmetic: the batch mean removes it).
_GRAD_FLOOR = 1e-5


def _work(arch: Architecture, params: Params) -> np.ndarray:
    """Each layer's share of a forward pass, in multiply-adds (elementwise layers count their
    outputs once): what re-running the network from a layer on costs."""
    shapes = output_shapes(arch)
    work = []
    for layer, p, shape in zip(arch.layers, params, shapes, strict=True):
        spatial = math.prod(shape[1:]) if isinstance(layer, Conv2d) else 1
        work.append(p["W"].size * spatial if "W" in p else math.prod(shape))
    return np.array(work, dtype=np.float64)


def _passes_per_entry(arch: Architecture, params: Params) -> float:
    """What checking one entry of every tensor costs, in forward passes of the whole network: two
    passes per tensor through the layers from the tensor's own on."""
    work = _work(arch, params)
    from_here = np.cumsum(work[::-1])[::-1] / work.sum()
    return float(sum(2 * len(p) * share for p, share in zip(params, from_here, strict=True)))


def _tail_loss(arch, params, i, x, y, activation, weight_decay) -> float:
    """The loss computed from layer ``i``'s cached input ``x`` on (L2 on those layers' W only)."""
    tail = Architecture(x.shape[1:], arch.layers[i:])
    logits, _ = forward(tail, params[i:], x, activation=activation, train=True)
    loss, _ = softmax_cross_entropy(logits, y)
    if weight_decay:
        loss += 0.5 * weight_decay * sum(float(np.sum(p["W"] ** 2)) for p in params[i:] if "W" in p)
    return loss


def _nudged_loss(flat: np.ndarray, j: int, h: float, loss) -> float:
    """``loss()`` with ``flat[j]`` moved by ``h``; ``flat[j]`` is restored after."""
    original = flat[j]
    flat[j] = original + h
    try:
        return loss()
    finally:
        flat[j] = original


def _entry_error(g: float, flat: np.ndarray, j: int, h: float, loss, floor: float) -> float:
    """|g − n| / (|g| + |n|) for the central difference n of ``loss()`` in ``flat[j]``, step h."""
    n = (_nudged_loss(flat, j, h, loss) - _nudged_loss(flat, j, -h, loss)) / (2 * h)
    return abs(g - n) / max(abs(g) + abs(n), floor)


def _kink_error(g: float, flat: np.ndarray, j: int, h: float, loss, floor: float) -> float:
    """How far g lies outside the one-sided slopes of ``loss()`` in ``flat[j]`` (0 between them).

    Where the loss has a kink exactly at θ, it has no derivative: every value between the slopes
    on the left and on the right is a subgradient, and backprop picks one (torch's ReLU slope 0 at
    z = 0). A convolution makes this common: a filter over the blank border of a digit gives
    exactly its bias, 0 at the start, for a whole region. At a smooth point both slopes agree to
    O(h), so a wrong gradient still fails.
    """
    at = loss()
    right = (_nudged_loss(flat, j, h, loss) - at) / h
    left = (at - _nudged_loss(flat, j, -h, loss)) / h
    low, high = min(left, right), max(left, right)
    outside = max(low - g, g - high, 0.0)
    return outside / max(abs(g) + abs(0.5 * (low + high)), floor)


def gradient_check(
    arch: Architecture,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    activation: Nonlinearity,
    rng: np.random.Generator,
    per_tensor: int | None = None,
    eps: float = 1e-5,
    weight_decay: float = 0.0,
) -> list[TensorCheck]:
    """Backprop vs central differences on ``per_tensor`` entries of every parameter tensor.

    ``per_tensor=None`` checks as many entries per tensor (1 to 3) as fit in the time of about
    ``CHECK_BUDGET`` forward passes of the whole network. Each tensor's entries are its largest
    analytic gradient and random others among those at least a tenth as large (a blank pixel's
    weight has gradient 0 and would test nothing). Per entry the error is |g − n| / (|g| + |n|)
    with n = (L(θ + eps) − L(θ − eps)) / (2·eps); eps = 1e-5 balances its O(eps²) truncation error
    against float64 round-off (~1e-16/eps). An entry above ``GRADIENT_OK`` is tried again at eps/10
    and keeps the smaller error (a ReLU kink within eps of the stencil spoils one eps only; a wrong
    gradient is as wrong at eps/10), and then against the one-sided slopes (a kink exactly at θ,
    see ``_kink_error``).
    Works on float64 copies, in train mode without dropout (batch norm then uses batch stats, so
    the loss is a deterministic function of the params). A nudge in layer l only changes what
    follows it, so the loss is recomputed from layer l's cached input through the layers from l on.
    """
    p64 = [{k: v.astype(np.float64) for k, v in layer.items()} for layer in params]
    x64 = np.asarray(x, dtype=np.float64)
    loss, grads, cache = loss_and_grads(
        arch, p64, x64, y, activation=activation, weight_decay=weight_decay
    )
    floor = _GRAD_FLOOR * max(1.0, abs(loss))
    if per_tensor is None:
        per_tensor = int(np.clip(CHECK_BUDGET // _passes_per_entry(arch, p64), 1, 3))
    checks = []
    for i, layer in enumerate(p64):

        def tail_loss(i=i):
            return _tail_loss(arch, p64, i, cache.inputs[i], y, activation, weight_decay)

        for key, value in layer.items():
            g = grads[i][key].ravel()
            magnitude = np.abs(g)
            largest = int(np.argmax(magnitude))
            strong = np.flatnonzero(magnitude >= 0.1 * magnitude[largest])
            others = strong[strong != largest]
            extra = rng.choice(others, size=min(per_tensor - 1, others.size), replace=False)
            worst, flat = 0.0, value.reshape(-1)  # a view: writing flat[j] changes value
            for j in (largest, *extra.tolist()):
                gap = _entry_error(g[j], flat, j, eps, tail_loss, floor)
                if not gap < GRADIENT_OK:
                    gap = min(gap, _entry_error(g[j], flat, j, eps / 10, tail_loss, floor))
                if not gap < GRADIENT_OK:
                    gap = min(gap, _kink_error(g[j], flat, j, eps / 10, tail_loss, floor))
                worst = max(worst, gap) if np.isfinite(gap) else math.nan
                if math.isnan(worst):
                    break
            checks.append(TensorCheck(i, key, worst, 1 + extra.size))
    return checks


def worst_check(checks: list[TensorCheck]) -> TensorCheck:
    """The tensor with the largest error; a NaN (a loss that was not finite) counts as largest."""
    return max(checks, key=lambda c: math.inf if math.isnan(c.rel) else c.rel)
