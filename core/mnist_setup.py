"""What the MNIST page's settings mean, without widgets: the typed hidden widths, the stops of its
sliders, an optimizer's shown hyperparameters, the ``TrainConfig`` and label of a run, and the
numbers its views show (safe test predictions, the gradient-check verdict, per-layer signals).
"""

from typing import Any, NamedTuple

import numpy as np

from core.activations import ACTIVATIONS
from core.datasets import NUM_CLASSES, Dataset, Split
from core.network import (
    GRADIENT_OK,
    Architecture,
    BatchNorm,
    Conv2d,
    Linear,
    TensorCheck,
    cnn,
    mlp,
    multiply_adds,
    predict_proba,
    worst_check,
)
from core.optimizers import OPTIMIZER_ENTRIES, make
from core.schedules import SCHEDULES
from core.training import TrainConfig

MAX_LAYERS, MAX_WIDTH = 6, 1024  # the hidden layers a typed architecture may ask for
FAMILIES = ("mlp", "cnn")
# The convolutional network's choices: ConvNetJS's MNIST demo (8@5×5 → pool 2 → 16@5×5 → pool 3)
# and its neighbours. A second block of 0 channels is no second block.
CONV1_CHANNELS, CONV2_CHANNELS, KERNELS = (4, 8, 16, 32), (0, 8, 16, 32), (3, 5, 7)
POOLS = (2, 3)  # each block's max-pool, as ConvNetJS

# What one visitor's network may cost the shared server, in multiply-adds (core.network's count):
# one evaluation of a validation or test split, and one training step (about three times the
# forward pass per example). 10^10 is half a second on one core here (OpenBLAS runs these
# products at 15–25 G a second), so about a second on a slower shared machine. The CNN preset
# evaluates all 10,000 test digits of full MNIST within it (0.79 M per image).
EVAL_BUDGET = 10**10
STEP_BUDGET = 10**10


class Network(NamedTuple):
    """The network, optimizer and schedule chosen on the page (``lr`` is the slider's value)."""

    hidden: tuple[int, ...]
    activation: str
    initializer: str
    dropout: float
    batch_norm: bool
    batch: int
    seed: int
    optimizer: str
    lr: float
    schedule: str
    hyperparameters: dict[str, Any]
    schedule_params: dict[str, Any]
    family: str = "mlp"  # one of FAMILIES
    conv: tuple[tuple[int, int], ...] = ((8, 5), (16, 5))  # (channels, kernel size) per block
    augment: bool = False  # random shifts and rotations of the training images


def parse_hidden(text: str) -> tuple[int, ...] | None:
    """Hidden widths from "256, 128" (comma, space or Chinese comma); None if not valid."""
    parts = [p for p in text.replace("，", ",").replace(" ", ",").split(",") if p]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        return None
    if len(widths) > MAX_LAYERS or any(not 1 <= w <= MAX_WIDTH for w in widths):
        return None
    return widths


def nearest(value: Any, options: tuple, log: bool = True) -> Any:
    """The option closest to ``value`` (in log distance for lr-like values)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return options[0]
    if log:
        value = max(value, 1e-30)
        return min(options, key=lambda o: abs(np.log(o) - np.log(value)))
    return min(options, key=lambda o: abs(o - value))


def exposed(optimizer: str) -> list[str]:
    """The optimizer's hyperparameters the page shows (lr has its own slider)."""
    return [hp for hp in OPTIMIZER_ENTRIES[optimizer].hyperparameters if hp != "lr"]


def checked_hyperparameters(
    optimizer: str, lr: float, hyperparameters: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """``hyperparameters`` if the optimizer accepts them, else its defaults and the reason."""
    try:
        make(optimizer, lr=lr, **hyperparameters)
    except ValueError as error:
        defaults = {
            hp: v for hp, v in OPTIMIZER_ENTRIES[optimizer].defaults().items() if hp != "lr"
        }
        return defaults, str(error)
    return hyperparameters, None


def layer_sizes(image_shape: tuple[int, ...], hidden: tuple[int, ...]) -> tuple[int, ...]:
    """Inputs (one per pixel), the hidden widths, one output per class."""
    return (int(np.prod(image_shape)), *hidden, NUM_CLASSES)


def architecture(image_shape: tuple[int, ...], net: Network) -> Architecture:
    """The network the settings describe: the MLP of the typed widths or the CNN of the blocks."""
    if net.family == "mlp":
        return mlp(layer_sizes(image_shape, net.hidden), batch_norm=bool(net.batch_norm))
    return _cnn(tuple(image_shape), net.conv, bool(net.batch_norm))


def _cnn(image_shape: tuple[int, ...], conv: tuple, batch_norm: bool) -> Architecture:
    blocks = tuple((c, k, pool) for (c, k), pool in zip(conv, POOLS, strict=False) if c)
    return cnn(image_shape, blocks, classes=NUM_CLASSES, batch_norm=batch_norm)


def page_settings(arch: Architecture) -> dict[str, Any] | None:
    """The settings that make ``architecture`` give ``arch`` (the inverse, for a model file), or
    None when this page cannot build it (another shape, or beyond the page's limits)."""
    widths = tuple(layer.out_features for layer in arch.layers if isinstance(layer, Linear))
    convs = [(c.out_channels, c.kernel_size) for c in arch.layers if isinstance(c, Conv2d)]
    batch_norm = any(isinstance(layer, BatchNorm) for layer in arch.layers)
    if len(arch.input_shape) == 1 and not convs:
        hidden = widths[:-1]
        if (
            len(hidden) > MAX_LAYERS
            or any(w > MAX_WIDTH for w in hidden)
            or mlp((*arch.input_shape, *widths), batch_norm=batch_norm) != arch
        ):
            return None
        return {"family": "mlp", "hidden": hidden, "batch_norm": batch_norm}
    if len(arch.input_shape) != 3 or not 1 <= len(convs) <= len(POOLS):
        return None
    conv = (*convs, (0, KERNELS[0]))[:2]
    if conv[0][0] not in CONV1_CHANNELS or conv[1][0] not in CONV2_CHANNELS:
        return None
    if any(k not in KERNELS for _, k in conv):
        return None
    if _cnn(arch.input_shape[1:], conv, batch_norm) != arch:
        return None
    return {"family": "cnn", "conv": conv, "batch_norm": batch_norm}


def architecture_text(arch: Architecture, *, ascii_only: bool = False) -> str:
    """A short name: "784–128–10" for an MLP, "8@5×5–16@5×5–10" for a CNN (its convolutions and
    outputs); ``ascii_only`` for a file name: "784-128-10", "8c5x5-16c5x5-10"."""
    at, times, dash = ("c", "x", "-") if ascii_only else ("@", "×", "–")
    parts = [] if arch.layers and isinstance(arch.layers[0], Conv2d) else list(arch.input_shape)
    for layer in arch.layers:
        if isinstance(layer, Conv2d):
            parts.append(f"{layer.out_channels}{at}{layer.kernel_size}{times}{layer.kernel_size}")
        elif isinstance(layer, Linear):
            parts.append(layer.out_features)
    return dash.join(str(p) for p in parts)


def train_config(image_shape: tuple[int, ...], net: Network, init_kwargs: tuple) -> TrainConfig:
    """The trainer's configuration; a schedule's parameters are in epochs, the page's unit."""
    lr = net.lr
    if net.schedule != "none":
        lr = SCHEDULES[net.schedule](lr=net.lr, **net.schedule_params)
    return TrainConfig(
        architecture=architecture(image_shape, net),
        initializer=net.initializer,
        init_kwargs=init_kwargs,
        activation=net.activation,
        dropout=float(net.dropout),
        augment=bool(net.augment),
        optimizer=net.optimizer,
        hyperparameters=tuple(net.hyperparameters.items()),
        lr=lr,
        schedule_unit="epoch",
        batch_size=int(net.batch),
    )


class Budget(NamedTuple):
    """What a network may take at once on the shared server."""

    multiply_adds: int  # of one forward pass of one example
    eval_rows: int  # examples of a split one evaluation takes
    batch: int  # the largest batch of the page's stops one training step takes


def budget(arch: Architecture, batch_stops: tuple[int, ...]) -> Budget:
    """``arch``'s share: evaluation rows in hundreds (at least 100), the largest batch stop (at
    least the smallest) whose step stays within STEP_BUDGET."""
    cost = multiply_adds(arch)
    rows = max(100, EVAL_BUDGET // cost // 100 * 100)
    fits = [b for b in batch_stops if 3 * b * cost <= STEP_BUDGET]
    return Budget(cost, rows, max(fits, default=min(batch_stops)))


def within_budget(data: Dataset, config: TrainConfig, share: Budget) -> tuple[Dataset, TrainConfig]:
    """The first ``share.eval_rows`` of the validation and test splits (views, no copy) and the
    batch size cut to ``share.batch``; the training split and everything else as they were."""

    def head(split: Split) -> Split:
        return Split(split.x[: share.eval_rows], split.y[: share.eval_rows])

    data = data._replace(val=head(data.val), test=head(data.test))
    return data, config._replace(batch_size=min(config.batch_size, share.batch))


def run_label(
    net: Network, arch: Architecture, train_size: int, n_max: int, names: tuple[str, str]
) -> str:
    """A run's name in the comparison: ``names`` are the optimizer's and the schedule's."""
    optimizer_name, schedule_name = names
    return " · ".join(
        [
            optimizer_name,
            f"lr={net.lr:g}" + ("" if net.schedule == "none" else f" ({schedule_name})"),
            architecture_text(arch),
            net.activation,
            f"bs={net.batch}",
            *([f"dropout={net.dropout:g}"] if net.dropout else []),
            *(["BN"] if net.batch_norm else []),
            *(["aug"] if net.augment else []),
            *([f"n={train_size}"] if train_size != n_max else []),
        ]
    )


def finite_probabilities(
    arch: Architecture, params: list, x: np.ndarray, activation: str, bn_state: Any
) -> np.ndarray | None:
    """Class probabilities of ``x`` (float rows of pixels, or a split's uint8 images); None once
    the network diverged."""
    with np.errstate(all="ignore"):
        probs = predict_proba(
            arch, params, x, activation=ACTIVATIONS[activation](), bn_state=bn_state
        )
    return probs if np.all(np.isfinite(probs)) else None


def gradcheck_verdict(checks: list[TensorCheck]) -> tuple[str, TensorCheck, list[TensorCheck]]:
    """ "na" (no number to judge), "ok" or "bad" for a gradient check of every parameter tensor,
    the tensor with the worst error and the tensors that failed (NaN counts as failed)."""
    worst = worst_check(checks)
    failed = [c for c in checks if not c.rel < GRADIENT_OK]
    if all(np.isnan(c.rel) for c in checks):
        return "na", worst, failed
    return ("bad" if failed else "ok"), worst, failed


def signal_series(
    signals: tuple | list,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, gradient norms (step × layer) and update ratios from ``(step, norms, ratios)`` rows."""
    steps = np.array([s for s, _, _ in signals], dtype=float)
    return steps, np.array([g for _, g, _ in signals]), np.array([r for _, _, r in signals])
