"""Minibatch training of the MLP in resumable, time-budgeted chunks.

``train_for(state, data, config, max_steps=, time_budget=)`` advances a ``TrainState`` by a number
of steps or until a time budget is spent and returns ``(new_state, TickMetrics)``. It never mutates
its input: a Streamlit page may abandon a tick, keep the old state, or change ``config`` (lr,
schedule, optimizer and its hyperparameters, batch size, dropout, augmentation, patience) between
ticks without a reset. ``train`` wraps it as a generator yielding once per epoch. For speed a tick copies the params
and optimizer buffers once and updates its copies in place (``core.fast_optimizers``' ``into``); the
arrays of a state, once handed out, are never written again.

All randomness (init, shuffling, dropout, augmentation) flows from the ``rng`` given to ``init_train_state`` and is
carried in the state, so a seed reproduces a run exactly however it is cut into ticks. One epoch is
one pass over a fresh permutation of the training set in batches of ``batch_size`` (the last batch
may be smaller, as torch's ``DataLoader(drop_last=False)``). Data stays uint8; each batch is
converted with ``to_float32``. After every epoch the model is evaluated on the validation split;
early stopping counts epochs without a validation-loss improvement. A non-finite training loss is
reported (``diverged_at`` = the global step) and stops training; it is never trained through.

Each tick also reports, for its last step, every layer's weight-gradient norm ‖∂L/∂W‖ and
update-to-weight ratio ‖ΔW‖/‖W‖ (a healthy ratio is around 1e-3; Karpathy's CS231n notes), and
``smooth_ema`` / ``loss_plateau`` give the page its smoothed curve and its "lr too small" hint.
"""

import math
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from core.activations import ACTIVATIONS, Activation
from core.augment import augment
from core.datasets import Dataset, Split, to_float32
from core.fast_optimizers import fast_paths
from core.mlp import softmax_cross_entropy
from core.network import (
    Architecture,
    BatchNorm,
    backward,
    forward,
    init_bn_state,
    init_params,
    mlp,
    rows_per_pass,
)
from core.optimizers import Optimizer, init_layers, make
from core.schedules import Plateau, as_schedule

EVAL_BATCH = 2000  # rows per forward pass in evaluation: bounds memory on 10k-image splits
STOP_REASONS = ("epochs", "early_stopping", "diverged")


class TrainConfig(NamedTuple):
    """What to train and how. Fields marked (init) are read only by ``init_train_state``."""

    architecture: Architecture = mlp((784, 128, 10))  # (init)
    initializer: str = "kaiming_uniform"  # (init)
    init_kwargs: tuple[tuple[str, Any], ...] = ()  # (init)
    activation: str = "relu"
    activation_kwargs: tuple[tuple[str, Any], ...] = ()
    dropout: float = 0.0
    augment: bool = False  # random shifts (±2 px) and rotations (±10°) of each training batch
    optimizer: str = "adam"
    hyperparameters: tuple[tuple[str, Any], ...] = ()  # optimizer kwargs except lr (UI names)
    lr: float | Callable = 1e-3  # a float or a schedule from core.schedules
    schedule_unit: str = "epoch"  # the schedule's t counts epochs (torch's usual) or "step"s
    batch_size: int = 128
    epochs: int | None = None  # stop after this many epochs (None: no limit)
    patience: int | None = None  # early stopping after this many epochs without improvement
    min_delta: float = 0.0  # a validation loss must drop by more than this to count


class History(NamedTuple):
    """Per-step curves (read-only arrays) and one record per finished epoch."""

    step: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    epochs: tuple["EpochMetrics", ...]


class EpochMetrics(NamedTuple):
    epoch: int  # epochs finished, 1-based
    step: int  # global steps done at the end of this epoch
    train_loss: float  # mean minibatch loss over the epoch (train mode)
    train_accuracy: float  # share of training rows classified right during the epoch
    val_loss: float
    val_accuracy: float
    lr: float  # lr of the epoch's last step
    samples_per_s: float
    ms_per_step: float


class TrainState(NamedTuple):
    params: list  # core.network params: one dict of tensors per layer
    opt_states: list  # one optimizer state per array, nested like params
    optimizer: str  # the OPTIMIZERS key the opt_states belong to
    bn_state: list  # running stats per layer (None where no batch norm)
    step: int  # global steps done
    epoch: int  # epochs finished
    rng_state: dict  # bit-generator state of the training rng (shuffling, dropout)
    order: np.ndarray  # this epoch's permutation of the training rows
    pos: int  # rows of ``order`` already used this epoch
    epoch_sums: tuple  # (loss·rows, correct, rows, seconds, steps) so far this epoch
    history: History
    best_val_loss: float
    best_epoch: int  # 0 while no epoch has finished
    best_params: list | None  # params at best_epoch (copied once when recorded, then shared)
    best_bn_state: list | None
    bad_epochs: int  # epochs since the last validation improvement
    diverged_at: int | None  # global step whose training loss was not finite
    stopped: str | None  # None while training may continue, else one of STOP_REASONS


class TickMetrics(NamedTuple):
    """What one ``train_for`` call did; arrays cover only this call's steps."""

    step: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    epochs: tuple[EpochMetrics, ...]  # epochs finished during this call
    running_loss: float  # mean training loss of the current epoch so far (nan if none)
    samples_per_s: float
    ms_per_step: float
    seconds: float
    diverged_at: int | None
    stopped: str | None
    # Of the tick's last step, one entry per layer's weight matrix (empty if no step was taken):
    grad_norms: tuple[float, ...] = ()  # ‖∂L/∂W‖ (Frobenius)
    update_ratios: tuple[float, ...] = ()  # ‖W_after − W_before‖ / ‖W_before‖


def minibatches(rng: np.random.Generator, n: int, batch_size: int) -> Iterator[np.ndarray]:
    """Endless index batches: each epoch a new permutation of ``range(n)`` cut into batches."""
    if n < 1 or batch_size < 1:
        raise ValueError(f"{n=} and {batch_size=} must be >= 1")
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _activation(config: TrainConfig) -> Activation:
    return ACTIVATIONS[config.activation](**dict(config.activation_kwargs))


def _optimizer(config: TrainConfig, lr_box: list[float]) -> Optimizer:
    # The trainer sets the lr before each update, like torch's LRScheduler writing
    # param_group["lr"]; the optimizer's own step count then keeps driving only its bias corrections.
    return make(config.optimizer, lr=lambda t: lr_box[0], **dict(config.hyperparameters))


def _compatible(fresh, old) -> bool:
    """An old optimizer state can continue under new settings if no buffer it needs is missing."""
    if type(fresh) is not type(old):
        return False
    return all(f is None or o is not None for f, o in zip(fresh, old, strict=True))


def init_train_state(rng: np.random.Generator, data: Dataset, config: TrainConfig) -> TrainState:
    """Fresh params (from ``rng``), optimizer states and an empty history."""
    n_features = int(np.prod(data.train.x.shape[1:]))
    arch = config.architecture
    if math.prod(arch.input_shape) != n_features:
        raise ValueError(f"{arch.input_shape=} does not hold the {n_features} input pixels")
    params = init_params(
        rng, arch, initializer=config.initializer, init_kwargs=dict(config.init_kwargs)
    )
    # A child generator of a fixed type, so its state can be stored and restored.
    train_rng = np.random.default_rng(rng.integers(2**63))
    order = _readonly(train_rng.permutation(len(data.train.y)))
    opt = _optimizer(config, [0.0])
    empty = _readonly(np.zeros(0))
    return TrainState(
        params=params,
        opt_states=init_layers(opt, params),
        optimizer=config.optimizer,
        bn_state=init_bn_state(params),
        step=0,
        epoch=0,
        rng_state=train_rng.bit_generator.state,
        order=order,
        pos=0,
        epoch_sums=(0.0, 0, 0, 0.0, 0),
        history=History(_readonly(np.zeros(0, np.int64)), empty, empty, ()),
        best_val_loss=math.inf,
        best_epoch=0,
        best_params=None,
        best_bn_state=None,
        bad_epochs=0,
        diverged_at=None,
        stopped=None,
    )


def evaluate(
    arch: Architecture, params: list, bn_state: list, split: Split, activation: Activation
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on ``split`` in eval mode (running BN stats, no dropout)."""
    total_loss, correct = 0.0, 0
    rows = rows_per_pass(arch, EVAL_BATCH)
    for start in range(0, len(split.y), rows):
        x = to_float32(split.x[start : start + rows])
        y = split.y[start : start + rows]
        # [0]: the pass's feature maps are freed at once, not held through the next pass.
        logits = forward(arch, params, x, activation=activation, train=False, bn_state=bn_state)[0]
        loss, _ = softmax_cross_entropy(logits, y)
        total_loss += loss * len(y)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == y))
    n = max(len(split.y), 1)
    return total_loss / n, correct / n


def _owned(tree):
    """A copy of nested params in which every array is a new one of its own."""
    if isinstance(tree, dict):
        return {k: _owned(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_owned(v) for v in tree]
    return tree.copy()


class _OwnedParams:
    """A tick's own params, gradients and optimizer state, each a flat array with per-layer views.

    Every optimizer is elementwise with one step count for all arrays, so a single update on the
    concatenation gives each array's numbers, and Python's overhead is paid once instead of once
    per weight and bias (Adam: ~14 NumPy calls each). Params of mixed dtypes are kept one per
    flat array, as concatenating them would cast, and so are those of an optimizer that reads
    its whole array (``elementwise`` False: Adafactor's factored moments of each matrix). New params are written into a spare flat array
    and the one read becomes the next spare, so the params before a step stay intact until the
    next one (the per-layer signals need them).
    """

    def __init__(self, params: list, opt_states: list, elementwise: bool = True):
        slots = [(i, k) for i, layer in enumerate(params) for k in layer]
        one_dtype = len({params[i][k].dtype for i, k in slots}) == 1
        joined = one_dtype and elementwise
        self.groups = [slots] if joined else [[slot] for slot in slots]
        self.shapes = {(i, k): params[i][k].shape for i, k in slots}
        self.keys = [list(layer) for layer in params]
        # One slot keeps its shape (a matrix stays a matrix for a whole-array update).
        self.flat = [
            params[g[0][0]][g[0][1]].copy()
            if len(g) == 1
            else np.concatenate([params[i][k].ravel() for i, k in g])
            for g in self.groups
        ]
        self.spare = [np.empty_like(f) for f in self.flat]
        self.scratch = [np.empty_like(f) for f in self.flat]
        self.grad_flat = [np.empty_like(f) for f in self.flat]
        self.grads = self._views(self.grad_flat)
        self.params = self._views(self.flat)
        # np.concatenate copies, so no buffer is shared (a fresh state's buffers share one zeros
        # array, which in-place updates must not write twice).
        self.states = [
            self._joined([opt_states[i][k] for i, k in g], len(f))
            for g, f in zip(self.groups, self.flat, strict=True)
        ]

    def _views(self, flats: list) -> list:
        views = [{} for _ in self.keys]
        for group, flat in zip(self.groups, flats, strict=True):
            start = 0
            for i, k in group:
                shape = self.shapes[i, k]
                size = math.prod(shape)
                views[i][k] = flat.reshape(-1)[start : start + size].reshape(shape)
                start += size
        return [{k: views[i][k] for k in keys} for i, keys in enumerate(self.keys)]

    @staticmethod
    def _joined(states: list, size: int):
        """One state for the concatenated arrays: buffers joined, step counts and the like kept."""
        first = states[0]
        if len(states) == 1:  # one array keeps its shape; its buffers are copied
            return type(first)(*(np.copy(v) if isinstance(v, np.ndarray) else v for v in first))
        return type(first)(
            *(
                np.concatenate([np.ravel(s[f]) for s in states])
                if isinstance(value, np.ndarray) and sum(np.size(s[f]) for s in states) == size
                else value
                for f, value in enumerate(first)
            )
        )

    def update(self, into: Callable) -> None:
        """One optimizer step with the gradients in ``self.grads``."""
        for j, (p, g, s, out, tmp) in enumerate(
            zip(self.flat, self.grad_flat, self.states, self.spare, self.scratch, strict=True)
        ):
            new, self.states[j] = into(p, g, s, out, tmp)
            if new is out:
                self.spare[j] = p
            self.flat[j] = new
        self.params = self._views(self.flat)

    def opt_states(self) -> list:
        """The optimizer state of every array, nested like the params, as views of the flat ones."""
        out = [{} for _ in self.keys]
        for group, state in zip(self.groups, self.states, strict=True):
            size = sum(math.prod(self.shapes[slot]) for slot in group)
            buffers = [
                f
                for f, value in enumerate(state)
                if isinstance(value, np.ndarray) and value.size == size
            ]
            start = 0
            for i, k in group:
                shape = self.shapes[i, k]
                n = math.prod(shape)
                fields = list(state)
                for f in buffers:
                    fields[f] = state[f].reshape(-1)[start : start + n].reshape(shape)
                out[i][k] = type(state)(*fields)
                start += n
        return [{k: out[i][k] for k in keys} for i, keys in enumerate(self.keys)]


def train_for(
    state: TrainState,
    data: Dataset,
    config: TrainConfig,
    *,
    max_steps: int | None = None,
    time_budget: float | None = None,
    until_epoch_end: bool = False,
) -> tuple[TrainState, TickMetrics]:
    """Advance ``state`` by up to ``max_steps`` steps / ``time_budget`` seconds; return a new state.

    At least one step is taken when training can continue. Stops early at an epoch's end when
    ``until_epoch_end``, or when training ends (``state.stopped``). With neither limit it runs to
    the end of the current epoch.
    """
    if config.schedule_unit not in ("epoch", "step"):
        raise ValueError(f"{config.schedule_unit=} must be 'epoch' or 'step'")
    if config.batch_size < 1:
        raise ValueError(f"{config.batch_size=} must be >= 1")
    if max_steps is None and time_budget is None:
        until_epoch_end = True
    t_start = time.perf_counter()
    activation = _activation(config)
    lr_box = [0.0]
    opt = _optimizer(config, lr_box)
    params, bn_state, opt_states = state.params, state.bn_state, state.opt_states
    i, key = next((i, k) for i, p in enumerate(params) for k in p)  # the first tensor
    fresh = opt.init(params[i][key][:1])
    if config.optimizer != state.optimizer or not _compatible(fresh, opt_states[i][key]):
        opt_states = init_layers(opt, params)  # a new optimizer starts from zeroed buffers
    # The tick updates its own copies in place, never an array of a state someone holds: a page
    # may keep the old state (Streamlit can abandon a tick). Copying once per tick is cheap.
    owned = _OwnedParams(params, opt_states, opt.elementwise)
    params = owned.params
    into = fast_paths(opt).into
    schedule = as_schedule(config.lr)
    by_epoch = config.schedule_unit == "epoch"
    lr_of = None  # the schedule's t whose lr is in lr_box
    rng = np.random.default_rng()
    rng.bit_generator.state = state.rng_state
    x_all, y_all = data.train.x, data.train.y
    n = len(y_all)
    xb_buffer = np.empty((min(config.batch_size, n), x_all[0].size), dtype=np.float32)
    order, pos, step, epoch = state.order, state.pos, state.step, state.epoch
    loss_sum, correct, seen, epoch_seconds, epoch_steps = state.epoch_sums
    best = (state.best_val_loss, state.best_epoch, state.best_params, state.best_bn_state)
    bad_epochs, diverged_at, stopped = state.bad_epochs, state.diverged_at, state.stopped
    if stopped is None and config.epochs is not None and epoch >= config.epochs:
        stopped = "epochs"
    steps, losses, lrs, finished = [], [], [], []
    last = None  # (params before, grads) of the latest step, for the per-layer signals
    train_seconds, train_rows, step_seconds = 0.0, 0, 0.0
    arch = config.architecture
    batch_norm = any(isinstance(layer, BatchNorm) for layer in arch.layers)
    while stopped is None:
        if max_steps is not None and len(steps) >= max_steps:
            break
        elapsed = time.perf_counter() - t_start
        # Stop before a step that would overrun the budget (predicted from the last step).
        if time_budget is not None and steps and elapsed + step_seconds > time_budget:
            break
        t0 = time.perf_counter()
        idx = order[pos : pos + config.batch_size]
        if (t := epoch if by_epoch else step) != lr_of:
            # float(): a float64 numpy scalar would promote float32 params to float64 in updates.
            lr_box[0], lr_of = float(schedule(t)), t
        if batch_norm and len(idx) < 2:
            idx = idx[:0]  # a 1-row batch has no batch variance (torch raises); skip the row
        if len(idx):
            if config.augment:
                xb = augment(rng, x_all[idx])  # drawn from the carried rng: a seed repeats it
            else:
                xb = to_float32(x_all[idx], out=xb_buffer[: len(idx)])
            yb = y_all[idx]
            # Huge lrs overflow on purpose in this playground; the loss check below reports it,
            # so the floating-point warnings are silenced here only.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                logits, cache = forward(
                    arch,
                    params,
                    xb,
                    activation=activation,
                    train=True,
                    rng=rng,
                    dropout=config.dropout,
                    bn_state=bn_state,
                )
                loss, dlogits = softmax_cross_entropy(logits, yb)
                if not math.isfinite(loss):
                    diverged_at, stopped = step, "diverged"
                    break
                # Released as it goes: the next forward then builds its cache alone, not beside
                # this one (the CNN preset's holds 17 MB of feature maps at batch 128).
                grads = backward(arch, params, cache, dlogits, out=owned.grads, release=True)
                last = (params, grads)
                owned.update(into)
                params = owned.params
            bn_state = cache.bn_state
            loss_sum += loss * len(idx)
            correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
            seen += len(idx)
            steps.append(step)
            losses.append(loss)
            lrs.append(lr_box[0])
            step += 1
            epoch_steps += 1
        pos += config.batch_size
        step_seconds = time.perf_counter() - t0
        train_seconds += step_seconds
        train_rows += len(idx)
        epoch_seconds += step_seconds
        if pos < n:
            continue
        # ---- end of epoch: evaluate, early stopping, new permutation
        epoch += 1
        val_loss, val_acc = evaluate(config.architecture, params, bn_state, data.val, activation)
        record = EpochMetrics(
            epoch=epoch,
            step=step,
            train_loss=loss_sum / max(seen, 1),
            train_accuracy=correct / max(seen, 1),
            val_loss=val_loss,
            val_accuracy=val_acc,
            lr=lr_box[0],
            samples_per_s=seen / epoch_seconds if epoch_seconds > 0 else math.nan,
            ms_per_step=1000 * epoch_seconds / max(epoch_steps, 1),
        )
        finished.append(record)
        if val_loss < best[0] - config.min_delta:
            # A copy: the tick's own arrays are overwritten by its next steps.
            best, bad_epochs = (val_loss, epoch, _owned(params), bn_state), 0
        else:
            bad_epochs += 1  # a NaN validation loss never counts as an improvement
        if config.patience is not None and bad_epochs >= config.patience:
            stopped = "early_stopping"
        elif config.epochs is not None and epoch >= config.epochs:
            stopped = "epochs"
        order, pos = _readonly(rng.permutation(n)), 0
        loss_sum, correct, seen, epoch_seconds, epoch_steps = 0.0, 0, 0, 0.0, 0
        if until_epoch_end:
            break
    h = state.history
    history = History(
        _readonly(np.concatenate([h.step, np.asarray(steps, dtype=np.int64)])),
        _readonly(np.concatenate([h.loss, np.asarray(losses, dtype=float)])),
        _readonly(np.concatenate([h.lr, np.asarray(lrs, dtype=float)])),
        h.epochs + tuple(finished),
    )
    new_state = TrainState(
        params=params,
        opt_states=owned.opt_states(),
        optimizer=config.optimizer,
        bn_state=bn_state,
        step=step,
        epoch=epoch,
        rng_state=rng.bit_generator.state,
        order=order,
        pos=pos,
        epoch_sums=(loss_sum, correct, seen, epoch_seconds, epoch_steps),
        history=history,
        best_val_loss=best[0],
        best_epoch=best[1],
        best_params=best[2],
        best_bn_state=best[3],
        bad_epochs=bad_epochs,
        diverged_at=diverged_at,
        stopped=stopped,
    )
    metrics = TickMetrics(
        step=_readonly(np.asarray(steps, dtype=np.int64)),
        loss=_readonly(np.asarray(losses, dtype=float)),
        lr=_readonly(np.asarray(lrs, dtype=float)),
        epochs=tuple(finished),
        running_loss=loss_sum / seen if seen else math.nan,
        samples_per_s=train_rows / train_seconds if train_seconds > 0 else math.nan,
        ms_per_step=1000 * train_seconds / len(steps) if steps else math.nan,
        seconds=time.perf_counter() - t_start,
        diverged_at=diverged_at,
        stopped=stopped,
        **_layer_signals(last, params),
    )
    return new_state, metrics


def _norm(a: np.ndarray) -> float:
    # float64 sum of squares: a float32 norm of 100k entries loses digits and overflows sooner.
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def _layer_signals(last, params_after) -> dict:
    if last is None:
        return {}
    before, grads = last
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        norms = tuple(_norm(g["W"]) for g in grads if "W" in g)
        ratios = tuple(
            _norm(a["W"] - b["W"]) / w if (w := _norm(b["W"])) > 0 else math.inf
            for a, b in zip(params_after, before, strict=True)
            if "W" in b
        )
    return {"grad_norms": norms, "update_ratios": ratios}


def train_on_plateau(
    state: TrainState, data: Dataset, config: TrainConfig, steps: int, scheduler: Plateau
) -> TrainState:
    """``steps`` more optimizer steps at ReduceLROnPlateau's lr, the scheduler stepped with the
    validation loss at the end of every epoch, as in torch's usual loop (``train_one_epoch(...);
    scheduler.step(val_loss)``). ``config.lr`` is ignored; stops early if training stops."""
    plateau_state, end = scheduler.init, len(state.history.loss) + steps
    while len(state.history.loss) < end:
        taken, epochs = len(state.history.loss), len(state.history.epochs)
        state, _ = train_for(
            state,
            data,
            config._replace(lr=plateau_state.lr),
            max_steps=end - taken,
            until_epoch_end=True,
        )
        if len(state.history.loss) == taken:  # no step was taken: training stopped
            break
        if len(state.history.epochs) > epochs:
            plateau_state = scheduler.step(plateau_state, state.history.epochs[-1].val_loss)
    return state


def smooth_ema(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (TensorBoard's smoothing; Adam's debiasing).

    s_t = weight·s_{t−1} + (1 − weight)·x_t with s_{−1} = 0, divided by 1 − weight^(t+1) so the
    first values are not pulled towards 0.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"{weight=} must be in [0, 1)")
    x = np.asarray(values, dtype=float)
    out = np.empty_like(x)
    s = 0.0
    for i, v in enumerate(x):
        s = weight * s + (1.0 - weight) * v
        out[i] = s
    return out / (1.0 - weight ** np.arange(1, len(x) + 1))


def loss_plateau(
    loss: np.ndarray, *, window: int = 100, min_drop: float = 0.02, high: float = 1.0
) -> bool:
    """True when the loss is still high and barely moves: the mean of the last ``window`` steps is
    above ``high`` and less than ``min_drop`` (relative) below the mean of the window before.

    On a 10-class problem a loss above 1 after many steps usually means the lr is too small (or
    the network cannot learn at all); a low loss that flattens is just convergence.
    """
    if window < 1:
        raise ValueError(f"{window=} must be >= 1")
    loss = np.asarray(loss, dtype=float)
    if len(loss) < 2 * window:
        return False
    recent, before = loss[-window:].mean(), loss[-2 * window : -window].mean()
    if not (math.isfinite(recent) and math.isfinite(before)):
        return False
    return bool(recent > high and recent > (1.0 - min_drop) * before)


def train(
    rng: np.random.Generator, data: Dataset, config: TrainConfig, *, epochs: int
) -> Iterator[tuple[TrainState, TickMetrics]]:
    """Generator: train from scratch, yielding ``(state, metrics)`` after every epoch (or stop)."""
    if epochs < 1:
        raise ValueError(f"{epochs=} must be >= 1")
    config = config._replace(epochs=epochs if config.epochs is None else min(epochs, config.epochs))
    state = init_train_state(rng, data, config)
    while state.stopped is None:
        state, metrics = train_for(state, data, config, until_epoch_end=True)
        yield state, metrics


# ---------------------------------------------------------------- looking at predictions

PICK_MODES = ("sample", "mistakes", "confident_mistakes")


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, *, normalize: bool = False
) -> np.ndarray:
    """Counts ``m[i, j]`` of rows with true class i predicted as j (sklearn's orientation); with
    ``normalize`` each row as shares of its true class (sklearn's ``normalize="true"``; an empty
    row stays 0)."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    if not normalize:
        return m
    rows = m.sum(axis=1, keepdims=True)
    return m / np.where(rows > 0, rows, 1)


def most_confused(matrix: np.ndarray) -> tuple[int, int, int]:
    """(true class, predicted class, count) of the largest off-diagonal count of a count matrix."""
    off = np.where(np.eye(len(matrix), dtype=bool), 0, matrix)
    i, j = np.unravel_index(int(off.argmax()), off.shape)
    return int(i), int(j), int(off[i, j])


def top_k(probs: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most probable classes per row and their probabilities, best first."""
    classes = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return classes, np.take_along_axis(probs, classes, axis=1)


def pick_examples(
    probs: np.ndarray, y: np.ndarray, mode: str, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Row indices to show: a random ``sample``, random ``mistakes``, or the
    ``confident_mistakes`` (wrong rows ordered by the probability given to the wrong class)."""
    if mode not in PICK_MODES:
        raise ValueError(f"{mode=} must be one of {PICK_MODES}")
    pred = probs.argmax(axis=1)
    if mode == "sample":
        return rng.choice(len(y), size=min(n, len(y)), replace=False)
    wrong = np.flatnonzero(pred != y)
    if mode == "mistakes":
        return rng.choice(wrong, size=min(n, len(wrong)), replace=False)
    confidence = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:n]]
