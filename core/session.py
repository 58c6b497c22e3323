"""The live-training session of the MNIST page as pure transitions on an immutable ``Session``.

Every transition takes a ``Session`` and returns a new one; nothing is mutated, so a page may keep
the old session when a rerun is abandoned. The page keeps one ``Session`` under one session key and
wires each button to a transition: ``configure`` (every run: a new architecture or seed is a new
network), ``start``, ``pause``, ``tick`` (one time-budgeted chunk while running), ``step``,
``epoch`` (a chunk now, the rest of the epoch in later ticks), ``reset``, ``archive`` (keep a run's curve for comparison), ``receive_model`` and
``configure`` again to load a saved model's weights, ``receive_upload`` for the visitor's own data,
``new_sample`` for the prediction grid, ``checked_gradients`` for the gradient-check memo.
``paced_tick`` is ``tick`` at a pace a class can watch (``PACES``): how many steps a tick may take
follows from the time since the last one, which the caller passes in (``now``).

All randomness comes from the seed in ``arch`` (the network) or from ``sample_seed`` (the grid); the
training rng itself is carried in ``core.training.TrainState``.
"""

import math
from typing import Any, NamedTuple

import numpy as np

from core.datasets import Dataset
from core.mnist_setup import architecture_text, finite_probabilities, page_settings
from core.model_io import LoadedModel
from core.network import TensorCheck, gradient_check
from core.training import TrainConfig, TrainState, init_train_state, smooth_ema, train_for

MAX_RUNS = 8  # archived runs kept for comparison
MAX_SIGNALS = 1000  # ticks of per-layer signals kept for the "inside the network" chart
BUILTIN, DIGITS_8X8 = "mnist_builtin", "digits_8x8"  # the data a loaded model's inputs call for


class Run(NamedTuple):
    """A finished or interrupted run's loss curve and validation points, kept for "compare runs"."""

    label: str
    step: np.ndarray
    loss: np.ndarray  # smoothed (core.training.smooth_ema)
    epochs: tuple = ()  # core.training.EpochMetrics of its finished epochs: the validation points


class Upload(NamedTuple):
    """The visitor's last valid upload: the uploader's file ids, their names, the data."""

    ids: tuple
    names: str
    dataset: Dataset


class GradCheckMemo(NamedTuple):
    """The last gradient check: the params it ran on (held, so their id is never reused)."""

    params: list
    key: tuple
    checks: list[TensorCheck]
    step: int


class PredictionMemo(NamedTuple):
    """The last test-split probabilities: the params they are of (held, so their id is never
    reused) and what else they depend on."""

    params: list
    key: tuple
    probs: np.ndarray | None


class Session(NamedTuple):
    """Everything the MNIST page remembers between reruns; ``train`` is None until configured."""

    id: str  # names this visitor in the process-wide trainer registry
    train: TrainState | None = None
    arch: tuple | None = None  # (data id, train size, core.network.Architecture, initializer,
    # activation, seed): what makes a new network, the seed last
    label: str | None = None  # the current run's name in "compare runs"
    running: bool = False
    to_epoch_end: bool = False  # running only to the end of the current epoch ("One epoch")
    last: Any = None  # the last tick's core.training.TickMetrics
    signals: tuple = ()  # (step, grad norms, update ratios) per tick
    runs: tuple[Run, ...] = ()
    sample_seed: int = 0
    gradcheck: GradCheckMemo | None = None
    predictions: PredictionMemo | None = None
    loaded_note: tuple[str, str] | None = None  # (file name, architecture) of the loaded weights
    pending: tuple[LoadedModel, str] | None = None  # a read model waiting for its architecture
    model_error: tuple[str, str] | None = None  # (code, file name) of the last load problem
    inputs: int | None = None  # the network's input size in use
    upload: Upload | None = None
    upload_seen: tuple | None = None  # file ids last read
    upload_error: tuple[str, str] | None = None  # (code, file names)
    prev_data: str = BUILTIN  # the built-in data last in use, kept while no upload is valid
    paced_at: float | None = None  # the clock (``paced_tick``'s ``now``) at the last paced tick
    credit: float = 0.0  # steps earned by the pace and not yet taken (a fraction, mostly)


# ---------------------------------------------------------------- the network


def archive(s: Session) -> Session:
    """Keep the current run's curve for comparison (only if it trained at all), newest last."""
    if s.train is None or s.train.step == 0 or s.label is None:
        return s
    h = s.train.history
    run = Run(s.label, np.array(h.step), smooth_ema(h.loss), h.epochs)
    runs = (*[r for r in s.runs if r.label != s.label], run)
    return s._replace(runs=runs[-MAX_RUNS:])


def race(
    s: Session,
    data: Dataset,
    contenders: tuple[tuple[str, TrainConfig], ...],
    steps: int,
    seed: int,
) -> Session:
    """Train a fresh network per ``(label, config)``, all from ``seed``, for ``steps`` steps each
    and keep every curve as a Run (one click compares optimizers); the current run is untouched.
    """
    runs = list(s.runs)
    for label, config in contenders:
        state = init_train_state(np.random.default_rng(seed), data, config)
        state, _ = train_for(state, data, config, max_steps=steps)
        h = state.history
        runs = [r for r in runs if r.label != label]
        runs.append(Run(label, np.array(h.step), smooth_ema(h.loss), h.epochs))
    return s._replace(runs=tuple(runs[-MAX_RUNS:]))


def _fresh(s: Session, data: Dataset, config: TrainConfig, arch: tuple, label: str) -> Session:
    """A new network from the seed (``arch[-1]``), paused; the current run is archived first."""
    s = archive(s)
    train = init_train_state(np.random.default_rng(arch[-1]), data, config)
    return s._replace(
        train=train, arch=arch, label=label, running=False, last=None, signals=(), loaded_note=None
    )


def configure(s: Session, data: Dataset, config: TrainConfig, arch: tuple, label: str) -> Session:
    """The session for the page's settings: a new network when ``arch`` changed, else the same run
    under its current label. A model read by ``receive_model`` replaces the new network's weights
    when its architecture is this one; otherwise it is refused."""
    if s.arch != arch or s.train is None:
        s = _fresh(s, data, config, arch, label)
    s = s._replace(label=label, inputs=math.prod(config.architecture.input_shape))
    if s.pending is None:
        return s
    (model, name), s = s.pending, s._replace(pending=None)
    if model.architecture != config.architecture:
        return s._replace(model_error=("architecture", name))  # e.g. edited in the same moment
    return load_weights(s, data, config, model, name)


def reset(s: Session, data: Dataset, config: TrainConfig) -> Session:
    """A fresh network with the same settings (the current run is archived)."""
    return _fresh(s, data, config, s.arch, s.label)


def load_weights(
    s: Session, data: Dataset, config: TrainConfig, model: LoadedModel, name: str
) -> Session:
    """A fresh network carrying ``model``'s weights; the optimizer starts from scratch, as after
    torch's ``load_state_dict`` without the optimizer's state."""
    s = reset(s, data, config)
    train = s.train._replace(params=model.params, bn_state=model.bn_state)
    note = (name, architecture_text(config.architecture))
    return s._replace(train=train, loaded_note=note, model_error=None)


def receive_model(s: Session, model: LoadedModel | None, name: str, error: str | None = None):
    """A model file was read: keep it for ``configure``, and return the settings it needs
    (``data``, ``family``, ``hidden`` or ``conv1``, ``kernel1``, ``conv2``, ``kernel2``,
    ``activation``, ``batch_norm``) or {} when it can't be used."""
    if error is None and model is not None and model.activation_kwargs:
        error = "activation_kwargs"  # the page builds activations with their defaults only
    if error is not None or model is None:
        return s._replace(model_error=(error, name), pending=None), {}
    # core.model_io refuses architectures the page cannot build, so page_settings has an answer.
    settings = {**page_settings(model.architecture), "activation": model.activation}
    if "hidden" in settings:  # as typed in the hidden-layers box
        settings["hidden"] = ", ".join(str(n) for n in settings["hidden"])
    if "conv" in settings:  # one setting per block's channels and kernel size
        (c1, k1), (c2, k2) = settings.pop("conv")
        settings |= {"conv1": c1, "kernel1": k1, "conv2": c2, "kernel2": k2}
    inputs = math.prod(model.architecture.input_shape)
    if inputs != s.inputs:  # 8×8 (64) and 28×28 (784) can be saved: matching data
        settings["data"] = DIGITS_8X8 if inputs == 64 else BUILTIN
    return s._replace(pending=(model, name), model_error=None), settings


# ---------------------------------------------------------------- training


def resumed(s: Session) -> Session:
    """A run that ended by itself (its epoch limit, early stopping) may go on: the stop is lifted,
    with a fresh patience. The epoch limit is checked again by the next step; a diverged run stays
    stopped."""
    if s.train is None or s.train.stopped not in ("epochs", "early_stopping"):
        return s
    return s._replace(train=s.train._replace(stopped=None, bad_epochs=0))


def can_go_on(s: Session, config: TrainConfig) -> bool:
    """Whether Start would train: a network that has not diverged, below its epoch limit."""
    if s.train is None or s.train.stopped == "diverged":
        return False
    return config.epochs is None or s.train.epoch < config.epochs


def start(s: Session) -> Session:
    """Training ticks from now on, unless it has stopped (diverged)."""
    s = resumed(s)
    stopped = s.train is None or s.train.stopped is not None
    return s if stopped else s._replace(running=True, to_epoch_end=False)


def restore_best(s: Session) -> Session:
    """The weights after the epoch with the lowest validation loss (Keras's
    ``restore_best_weights``; the early-stopping algorithm of the textbooks returns them), e.g.
    once early stopping ended the run. The history and the optimizer's state stay: Start trains
    on from these weights. Shared, not copied: a tick never writes into the params it is given."""
    train = s.train
    if train is None or train.best_params is None:
        return s
    return s._replace(train=train._replace(params=train.best_params, bn_state=train.best_bn_state))


def pause(s: Session) -> Session:
    return s._replace(running=False, to_epoch_end=False)


def tick(s: Session, data: Dataset, config: TrainConfig, **limits) -> Session:
    """One training chunk (``core.training.train_for`` limits); a stop (divergence) pauses, and so
    does the end of the epoch a session runs to (``to_epoch_end``)."""
    if s.train.stopped is not None:
        return pause(s)
    train, metrics = train_for(s.train, data, config, until_epoch_end=s.to_epoch_end, **limits)
    signals = s.signals
    if metrics.grad_norms:
        sig = (train.step, metrics.grad_norms, metrics.update_ratios)
        signals = (*signals[-(MAX_SIGNALS - 1) :], sig)
    running = s.running and train.stopped is None
    if s.to_epoch_end and train.epoch > s.train.epoch:
        running = False
    return s._replace(
        train=train,
        last=metrics,
        signals=signals,
        running=running,
        to_epoch_end=s.to_epoch_end and running,
    )


def step(s: Session, data: Dataset, config: TrainConfig) -> Session:
    """Pause and train exactly one minibatch."""
    return tick(pause(resumed(s)), data, config, max_steps=1)


def epoch(s: Session, data: Dataset, config: TrainConfig, budget: float) -> Session:
    """Train to the end of the epoch: ``budget`` seconds now, then, if the epoch is not over (a
    large network with batch size 1 takes minutes), running to its end over the page's ticks, so
    that no click holds the session longer than ``budget``."""
    s = resumed(s)
    if s.train is None or s.train.stopped is not None:
        return pause(s)
    return tick(s._replace(running=True, to_epoch_end=True), data, config, time_budget=budget)


# ---------------------------------------------------------------- pace

PACES = ("slow", "class", "fast")  # slow motion, a class's pace, as fast as the server allows
CLASS_EPOCH_SECONDS = 15.0  # class pace: an epoch unfolds over this long, whatever its size
SLOW_STEPS_PER_S = 2.0  # slow motion: a step at a time, with time to look at each
MAX_CATCH_UP = 1.0  # seconds a late tick catches up at most: a pause or a busy server banks nothing


def steps_per_epoch(data: Dataset, config: TrainConfig) -> int:
    """Minibatches in one pass over the training images (the last one may be smaller)."""
    return -(-len(data.train.y) // config.batch_size)


def steps_per_s(pace: str, epoch_steps: int) -> float | None:
    """Training steps a second at ``pace``; None for as fast as the server allows.

    Class pace spreads one epoch over ``CLASS_EPOCH_SECONDS``, so the validation accuracy gets a
    new point every ~15 s on any data size; slow motion never goes faster than class pace.
    """
    if pace == "fast":
        return None
    if pace == "class":
        return epoch_steps / CLASS_EPOCH_SECONDS
    if pace == "slow":
        return min(SLOW_STEPS_PER_S, epoch_steps / CLASS_EPOCH_SECONDS)
    raise ValueError(f"{pace=} is not one of {PACES}")


def paced_tick(
    s: Session,
    data: Dataset,
    config: TrainConfig,
    *,
    pace: str,
    now: float,
    budget: float,
    every: float = 0.0,
    late_scale: float = 1.0,
) -> Session:
    """``tick`` at ``pace``: the steps the time since the last paced tick earned (``now`` is a
    clock in seconds; the first tick counts as ``MAX_CATCH_UP`` late), at most ``budget``
    seconds of training. ``every`` is the planned time between ticks (ui.fair_share: seconds
    apart when a class trains on one server), which a tick may take without losing steps.
    Fractions of a step carry over to the next tick, so two steps a second at three ticks a
    second take a step on two ticks of three. As fast as possible, a tick trains ``budget`` for
    every ``every`` seconds since the last one, at most ``late_scale`` budgets (ui.fair_share: a
    lone trainer's ticks come late because its browser is busy, a class's because the server
    is, and then no tick may grow). A run to the end of the epoch (the epoch button's) is not
    paced."""
    # The rest of an epoch the epoch button asked for goes as fast as its click did.
    rate = None if s.to_epoch_end else steps_per_s(pace, steps_per_epoch(data, config))
    if rate is None:
        # The share of the clock the plan gives (budget per ``every``), also when ticks come
        # later than planned: a browser busy drawing the CNN's charts asked for one a second,
        # not three, and the CNN trained 4 steps a second on a server 80 % idle.
        since = now - s.paced_at if s.paced_at is not None else every
        scale = min(max(since / every, 1.0), late_scale) if every > 0 else 1.0
        return tick(s._replace(paced_at=now, credit=0.0), data, config, time_budget=budget * scale)
    late = now - s.paced_at if s.paced_at is not None else MAX_CATCH_UP
    late = min(max(late, 0.0), every + MAX_CATCH_UP)
    credit = s.credit + rate * late
    s = s._replace(paced_at=now)
    if credit < 1.0:
        return s._replace(credit=credit)
    before = s.train.step
    s = tick(s, data, config, max_steps=int(credit), time_budget=budget)
    # Steps the budget did not allow are not owed beyond one tick's worth of catching up.
    owed = max(1.0, rate * (every + MAX_CATCH_UP))
    return s._replace(credit=min(credit - (s.train.step - before), owed))


# ---------------------------------------------------------------- data and views


def receive_upload(
    s: Session, ids: tuple, names: str, dataset: Dataset | None, error: str | None = None
) -> Session:
    """Uploaded files were read (once per set of file ids): a bad upload keeps the last good one;
    files removed from the uploader keep it too."""
    if ids == s.upload_seen:
        return s
    s = s._replace(upload_seen=ids, upload_error=None)
    if error is not None:
        return s._replace(upload_error=(error, names))
    return s if dataset is None else s._replace(upload=Upload(ids, names, dataset))


def data_source(s: Session, chosen: str, upload: str) -> tuple[str, str]:
    """The data to use for the choice ``chosen`` and why: ``chosen``, or the data in use before
    while the upload choice has no valid upload yet (``no_upload``)."""
    if chosen == upload and s.upload is None:
        return s.prev_data, "no_upload"
    return chosen, "chosen"


def used_data(s: Session, name: str) -> Session:
    """``name`` (a built-in data set) is in use: the fallback while no upload is valid."""
    return s if s.prev_data == name else s._replace(prev_data=name)


def new_sample(s: Session) -> Session:
    """Another random sample of test images for the prediction grid."""
    return s._replace(sample_seed=s.sample_seed + 1)


def checked_gradients(
    s: Session, arch, key: tuple, x: np.ndarray, y: np.ndarray, activation
) -> tuple[Session, list[TensorCheck], int]:
    """Backprop vs central differences on two entries of every parameter tensor of the live
    network (core.network.gradient_check); the per-tensor errors and the step they were computed on.

    Tens of float64 forward passes, so it is not repeated for the same params (replaced,
    never mutated: the same object means the same answer) nor while training: every tick has new
    params, and with a class training on one server a check on every refresh cost more than the
    prediction grid. It is redone once paused. ``key`` names what else the answer depends on.
    """
    memo, params = s.gradcheck, s.train.params
    if memo is not None and memo.key == key and (memo.params is params or s.running):
        return s, memo.checks, memo.step
    with np.errstate(all="ignore"):
        checks = gradient_check(
            arch, params, x, y, activation=activation, rng=np.random.default_rng(0)
        )
    memo = GradCheckMemo(params, key, checks, s.train.step)
    return s._replace(gradcheck=memo), checks, memo.step


def probabilities_on_test(
    s: Session, arch, key: tuple, x: np.ndarray, activation: str
) -> tuple[Session, np.ndarray | None]:
    """Class probabilities of the test images ``x`` under the live network, None once it
    diverged (core.mnist_setup.finite_probabilities). A whole test split takes up to half a
    second, and every click on the page reran it: for the same params (replaced, never mutated)
    and ``key`` (what else the answer depends on) the last answer is given again."""
    memo, params = s.predictions, s.train.params
    if memo is not None and memo.params is params and memo.key == key:
        return s, memo.probs
    probs = finite_probabilities(arch, params, x, activation, s.train.bn_state)
    return s._replace(predictions=PredictionMemo(params, key, probs)), probs
