"""What the MNIST page's settings mean, without widgets: the typed hidden widths, the stops of its
sliders, an optimizer's shown hyperparameters, the ``TrainConfig`` and label of a run, and the
numbers its views show (safe test predictions, the gradient-check verdict, per-layer signals).
"""

from typing import Any, NamedTuple

import numpy as np

from core.activations import ACTIVATIONS
from core.datasets import NUM_CLASSES
from core.mlp import GRADIENT_OK, TensorCheck, predict_proba, worst_check
from core.optimizers import OPTIMIZER_ENTRIES, make
from core.schedules import SCHEDULES
from core.training import TrainConfig

MAX_LAYERS, MAX_WIDTH = 6, 1024  # the hidden layers a typed architecture may ask for


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


def train_config(image_shape: tuple[int, ...], net: Network, init_kwargs: tuple) -> TrainConfig:
    """The trainer's configuration; a schedule's parameters are in epochs, the page's unit."""
    lr = net.lr
    if net.schedule != "none":
        lr = SCHEDULES[net.schedule](lr=net.lr, **net.schedule_params)
    return TrainConfig(
        layer_sizes=layer_sizes(image_shape, net.hidden),
        initializer=net.initializer,
        init_kwargs=init_kwargs,
        batch_norm=bool(net.batch_norm),
        activation=net.activation,
        dropout=float(net.dropout),
        optimizer=net.optimizer,
        hyperparameters=tuple(net.hyperparameters.items()),
        lr=lr,
        schedule_unit="epoch",
        batch_size=int(net.batch),
    )


def run_label(
    net: Network, sizes: tuple[int, ...], train_size: int, n_max: int, names: tuple[str, str]
) -> str:
    """A run's name in the comparison: ``names`` are the optimizer's and the schedule's."""
    optimizer_name, schedule_name = names
    return " · ".join(
        [
            optimizer_name,
            f"lr={net.lr:g}" + ("" if net.schedule == "none" else f" ({schedule_name})"),
            "-".join(str(s) for s in sizes),
            net.activation,
            f"bs={net.batch}",
            *([f"dropout={net.dropout:g}"] if net.dropout else []),
            *(["BN"] if net.batch_norm else []),
            *([f"n={train_size}"] if train_size != n_max else []),
        ]
    )


def finite_probabilities(
    params: list, x: np.ndarray, activation: str, bn_state: Any
) -> np.ndarray | None:
    """Class probabilities of ``x`` (rows of pixels); None once the network diverged."""
    with np.errstate(all="ignore"):
        probs = predict_proba(params, x, activation=ACTIVATIONS[activation](), bn_state=bn_state)
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
