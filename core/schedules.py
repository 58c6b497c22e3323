"""Learning-rate schedules as pure functions of the step.

A schedule maps the number of scheduler ``step()`` calls ``t`` (an int or an integer array) to the
learning rate in force, exactly as ``get_last_lr()`` of the matching ``torch.optim.lr_scheduler``
class would report it; ``t = 0`` is the initial lr. Factories take torch's argument names.

Contract: ``SCHEDULES[name](lr=..., **torch_kwargs)`` returns ``schedule(t)``; an int gives a float,
an integer array gives a float array of the same shape, equal elementwise to the scalar calls.
Torch's schedulers are recursive (``lr_t`` computed from ``lr_{t-1}``); we use closed forms that are
mathematically identical to that recursion, including past ``T_max`` / ``total_iters`` / the last
milestone (checked against torch 2.13.0 to 1e-13 relative; only rounding differs; the later
``chained_scheduler`` against its children's recursive forms step by step). A user's lambda
(``lr_lambda``, CyclicLR's ``scale_fn``) is called once per step with a Python int, as torch does.
Deliberate choices where torch has none: ``one_cycle_lr`` holds its final lr past ``total_steps``
(torch raises); ``sequential_lr`` rejects the two schedulers that rewrite the optimizer's lr
themselves, and ChainedScheduler (torch would restart it with ``step(0)``, which it does not take).
ReduceLROnPlateau depends on the losses: ``plateau`` is its pure ``(init, step)`` transition (the
trainer feeds it a loss per epoch) and ``reduce_lr_on_plateau`` maps a loss sequence to lrs.
Each scheduler is one ``ScheduleEntry`` of ``SCHEDULE_ENTRIES`` (factory, ``core.params.Param``
records, torch's class); ``SCHEDULES``, ``SCHEDULE_PARAMS`` and ``TORCH_CLASS`` are views of it.
``parse_milestones``, ``torch_code`` and ``phase_boundaries`` are parsing and text for the UI.
"""

import math
import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np

from core.params import Param, ParamError

Schedule = Callable[[np.ndarray | int], np.ndarray | float]


def as_schedule(lr: float | Schedule) -> Schedule:
    """Return ``lr`` unchanged if it is already a schedule, else a constant schedule."""
    if callable(lr):
        return lr
    value = float(lr)
    return lambda t: np.full(np.shape(t), value) if np.ndim(t) else value


# ---------------------------------------------------------------------------------------------
# helpers


def _check(ok: bool, message: str) -> None:
    """A programming error (a widget offers no such value): a plain ValueError."""
    if not ok:
        raise ValueError(message)


def _refuse(ok: bool, param: str, rule: str, message: str, **values: Any) -> None:
    """A value a user can enter: ``ParamError`` with the rule and the values the UI translates."""
    if not ok:
        raise ParamError(param, rule, message, **values)


def _at_least(name: str, value: Any, low: int, whole: bool = False) -> None:
    _refuse(value >= low, name, "int_ge" if whole else "ge", f"{name}={value!r} must be >= {low}",
            value=value, low=low)  # fmt: skip


def _above(name: str, value: Any, low: int = 0) -> None:
    _refuse(value > low, name, "gt", f"{name}={value!r} must be > {low}", value=value, low=low)


_INTERVAL_RULES = {"(]": "gt_le", "[]": "between", "[)": "ge_lt"}


def _within(name: str, value: Any, low: int, high: int, brackets: str) -> None:
    """``value`` in the interval ``low, high`` with ``brackets`` saying which ends belong to it."""
    ok = (low < value if brackets[0] == "(" else low <= value) and (
        value <= high if brackets[1] == "]" else value < high
    )
    message = f"{name}={value!r} must be in {brackets[0]}{low}, {high}{brackets[1]}"
    _refuse(ok, name, _INTERVAL_RULES[brackets], message, value=value, low=low, high=high)


def _steps(t: np.ndarray | int) -> np.ndarray:
    steps = np.asarray(t)
    _check(steps.dtype.kind in "iu", f"t must be an int or an integer array, got {steps.dtype}")
    steps = steps.astype(np.int64)
    _check(bool(np.all(steps >= 0)), f"t must be >= 0, got min {steps.min()}")
    return steps


def _make(curve: Callable[[np.ndarray], np.ndarray]) -> Schedule:
    """Wrap ``curve`` (1-D int64 steps -> float64 lrs) into a schedule taking ints or arrays."""

    def schedule(t: np.ndarray | int) -> np.ndarray | float:
        steps = _steps(t)
        # Scalars go through the same 1-D array code so that scalar and array calls agree bitwise.
        lrs = np.asarray(curve(steps.reshape(-1)), dtype=np.float64).reshape(steps.shape)
        return float(lrs) if steps.ndim == 0 else lrs

    return schedule


def _call_lambda(lr_lambda: Callable, epochs: np.ndarray) -> np.ndarray:
    """``lr_lambda`` at each of the integer ``epochs``, called as torch calls it: once per epoch,
    with a Python int. Not once on a float array: a lambda may tell an int from a float
    (``isinstance``, exact big-int powers), and torch only ever passes ints. A typed formula takes
    ~20 ms for the page's longest curve (2,000 steps)."""
    return np.array([lr_lambda(int(e)) for e in epochs], dtype=np.float64)


def parse_milestones(text: str) -> tuple[int, ...]:
    """Milestones typed as text: whole numbers separated by commas, spaces, ';' or '，'."""
    parts = [p for p in re.split(r"[,\s;，]+", text.strip()) if p]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        message = f"milestones={text!r} must be whole numbers separated by commas"
        raise ParamError("milestones", "whole_numbers", message, text=text) from None


def _check_milestones(name: str, milestones: Sequence[int], low: int) -> tuple[int, ...]:
    ms = tuple(int(m) for m in milestones)
    _refuse(
        all(a < b for a, b in pairwise(ms)) and (not ms or ms[0] >= low),
        name,
        "increasing",
        f"{name} must be strictly increasing integers >= {low}, got {name}={list(milestones)}",
        milestones=", ".join(str(m) for m in ms),
        low=low,
    )
    return ms


def _counted_milestones(milestones: Sequence[int]) -> tuple[int, ...]:
    """MultiStepLR's milestones as torch keeps them, a ``Counter``: any order, and a step listed
    k times decays k times; sorted here. Negative ones are refused (torch never reaches them)."""
    ms = tuple(sorted(int(m) for m in milestones))
    _refuse(
        not ms or ms[0] >= 0,
        "milestones",
        "milestones_ge",
        f"milestones must be integers >= 0, got {list(milestones)}",
        milestones=", ".join(str(m) for m in milestones),
        low=0,
    )
    return ms


# ---------------------------------------------------------------------------------------------
# schedules, simple to complex


def constant_lr(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> Schedule:
    """ConstantLR: ``lr·factor`` for ``t < total_iters``, then ``lr``."""
    _within("factor", factor, 0, 1, "(]")
    # torch divides by factor at total_iters; total_iters=0 would keep lr·factor forever.
    _at_least("total_iters", total_iters, 1, whole=True)
    return _make(lambda t: np.where(t < total_iters, lr * factor, lr))


def linear_lr(
    lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5
) -> Schedule:
    """LinearLR: factor moves linearly from start_factor to end_factor over total_iters, then holds."""
    _within("start_factor", start_factor, 0, 1, "(]")
    _within("end_factor", end_factor, 0, 1, "[]")
    _at_least("total_iters", total_iters, 1, whole=True)
    # torch's recursive ratio telescopes to exactly this closed form.
    span = end_factor - start_factor
    return _make(lambda t: lr * (start_factor + span * np.minimum(total_iters, t) / total_iters))


def step_lr(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """StepLR: multiply by gamma every step_size steps."""
    _at_least("step_size", step_size, 1, whole=True)
    _above("gamma", gamma)
    return _make(lambda t: lr * gamma ** (t // step_size))


def multi_step_lr(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """MultiStepLR: multiply by gamma at each milestone, once per time it is listed."""
    ms = np.array(_counted_milestones(milestones), dtype=np.int64)
    _above("gamma", gamma)
    return _make(lambda t: lr * gamma ** np.searchsorted(ms, t, side="right"))


def exponential_lr(lr: float, gamma: float) -> Schedule:
    """ExponentialLR: multiply by gamma every step."""
    _above("gamma", gamma)
    return _make(lambda t: lr * gamma ** t.astype(np.float64))


def polynomial_lr(lr: float, total_iters: int = 5, power: float = 1.0) -> Schedule:
    """PolynomialLR: ``lr·(1 − min(t, total_iters)/total_iters)^power``, 0 from total_iters on."""
    _at_least("total_iters", total_iters, 1, whole=True)
    # A negative power would make torch divide by zero at total_iters.
    _at_least("power", power, 0)
    return _make(lambda t: lr * (1.0 - np.minimum(total_iters, t) / total_iters) ** power)


def cosine_annealing_lr(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """CosineAnnealingLR: half a cosine from lr to eta_min over T_max steps."""
    _at_least("T_max", T_max, 1, whole=True)
    _at_least("eta_min", eta_min, 0)

    # Past T_max torch's recursion keeps following the cosine (period 2·T_max), climbing back to
    # lr at 2·T_max; its special case at T_max+1 is this same formula. So no clamp here.
    def curve(t: np.ndarray) -> np.ndarray:
        return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * t / T_max)) / 2

    return _make(curve)


def _restart_starts(T_0: int, T_mult: int, last: int) -> np.ndarray:
    """Steps at which warm-restart cycles begin (0, T_0, T_0+T_0·T_mult, …) up to ``last``."""
    if T_mult == 1:
        return np.arange(0, last + 1, T_0, dtype=np.int64)
    starts, start, length = [0], T_0, T_0
    while start <= last:
        starts.append(start)
        length *= T_mult
        start += length
    return np.array(starts, dtype=np.int64)


def cosine_annealing_warm_restarts(
    lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0
) -> Schedule:
    """CosineAnnealingWarmRestarts (SGDR): cosine cycles of length T_0, T_0·T_mult, …"""
    _refuse(T_0 >= 1 and int(T_0) == T_0, "T_0", "int_ge", f"{T_0=} must be a positive integer",
            value=T_0, low=1)  # fmt: skip
    _refuse(T_mult >= 1 and int(T_mult) == T_mult, "T_mult", "int_ge",
            f"{T_mult=} must be an integer >= 1", value=T_mult, low=1)  # fmt: skip
    _at_least("eta_min", eta_min, 0)

    def curve(t: np.ndarray) -> np.ndarray:
        starts = _restart_starts(T_0, int(T_mult), int(t.max(initial=0)))
        cycle = np.searchsorted(starts, t, side="right") - 1
        T_cur = t - starts[cycle]
        T_i = T_0 * int(T_mult) ** cycle.astype(np.int64)
        # Same operation order as torch (pi·T_cur first) so rounding matches.
        return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * T_cur / T_i)) / 2

    return _make(curve)


def cyclic_lr(
    lr: float,
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[int], float] | None = None,
    scale_mode: str = "cycle",
) -> Schedule:
    """CyclicLR (Smith 2017): triangles between base_lr and max_lr; ignores ``lr`` like torch.

    A ``scale_fn`` replaces ``mode``: the triangle's height is multiplied by ``scale_fn(cycle)``
    (cycle = 1, 2, …) or, with ``scale_mode="iterations"``, by ``scale_fn(t)``; torch calls it with
    a Python int, and so do we."""
    _at_least("base_lr", base_lr, 0)
    _refuse(max_lr >= base_lr, "max_lr", "max_ge_base", f"{max_lr=} must be >= {base_lr=}",
            max_lr=max_lr, base_lr=base_lr)  # fmt: skip
    _at_least("step_size_up", step_size_up, 1, whole=True)
    if step_size_down is not None:  # None: as long as step_size_up
        _at_least("step_size_down", step_size_down, 0, whole=True)
    _check(mode in _CYCLIC_MODES, f"{mode=} must be one of {_CYCLIC_MODES}")
    _above("gamma", gamma)
    _check(scale_fn is None or callable(scale_fn), f"{scale_fn=} must be None or callable")
    _check(scale_mode in ("cycle", "iterations"), f"{scale_mode=} must be 'cycle' or 'iterations'")
    up = float(step_size_up)
    total_size = up + (float(step_size_down) if step_size_down is not None else up)
    step_ratio = up / total_size

    def curve(t: np.ndarray) -> np.ndarray:
        cycle = np.floor(1 + t / total_size)
        x = 1.0 + t / total_size - cycle
        rising = x <= step_ratio
        # where= avoids 0/0 on the falling branch when step_size_down == 0 (it is never used then).
        falling = np.divide(x - 1, step_ratio - 1, out=np.zeros_like(x), where=~rising)
        scale_factor = np.where(rising, x / step_ratio, falling)
        base_height = (max_lr - base_lr) * scale_factor
        if scale_fn is not None:
            at = cycle.astype(np.int64) if scale_mode == "cycle" else t
            # One call per distinct cycle or step, with Python ints as torch makes them.
            points, where = np.unique(at, return_inverse=True)
            scale = _call_lambda(scale_fn, points)[where.reshape(at.shape)]
        elif mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:  # exp_range scales by iterations, not cycles
            scale = gamma ** t.astype(np.float64)
        return base_lr + base_height * scale

    return _make(curve)


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def _one_cycle_phases(total_steps, pct_start, div_factor, final_div_factor, three_phase, max_lr):
    """torch's OneCycleLR phase table: (end_step, start_lr, end_lr) per phase."""
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    warm_end = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            (warm_end, initial_lr, max_lr),
            (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr),
            (total_steps - 1, initial_lr, min_lr),
        ]
    return [(warm_end, initial_lr, max_lr), (total_steps - 1, max_lr, min_lr)]


def one_cycle_lr(
    lr: float,
    max_lr: float,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """OneCycleLR: max_lr/div_factor up to max_lr, then down to that/final_div_factor; ignores lr.

    The cycle lasts ``total_steps``, or ``epochs · steps_per_epoch`` when total_steps is None
    (torch's rule: total_steps wins when both are given)."""
    _above("max_lr", max_lr)
    if total_steps is None:
        _refuse(epochs is not None and steps_per_epoch is not None, "total_steps", "cycle_length",
                "define either total_steps or (epochs and steps_per_epoch)")  # fmt: skip
        _at_least("epochs", epochs, 1, whole=True)
        _at_least("steps_per_epoch", steps_per_epoch, 1, whole=True)
        total_steps = int(epochs) * int(steps_per_epoch)
    _at_least("total_steps", total_steps, 2, whole=True)
    _within("pct_start", pct_start, 0, 1, "[]")
    _check(anneal_strategy in ("cos", "linear"), f"{anneal_strategy=} must be 'cos' or 'linear'")
    _above("div_factor", div_factor)
    _above("final_div_factor", final_div_factor)
    phases = _one_cycle_phases(
        total_steps, pct_start, div_factor, final_div_factor, three_phase, max_lr
    )
    ends = [0.0] + [end for end, _, _ in phases]
    # An empty phase makes torch divide by zero; that is a warm-up too short (or too long).
    _refuse(
        all(a < b for a, b in pairwise(ends)),
        "pct_start",
        "empty_phase",
        f"{pct_start=} with {total_steps=} leaves an empty phase (need 1 < pct_start·total_steps"
        + (
            " and pct_start < (total_steps+1)/(2·total_steps))"
            if three_phase
            else " < total_steps)"
        ),
        pct_start=pct_start,
        total_steps=total_steps,
    )
    final_lr = phases[-1][2]

    def anneal(start: float, end: float, pct: np.ndarray) -> np.ndarray:
        if anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)
        return (end - start) * pct + start

    def curve(t: np.ndarray) -> np.ndarray:
        out = np.empty(t.shape)
        done = np.zeros(t.shape, dtype=bool)
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            last = i == len(phases) - 1
            here = ~done & ((t <= end_step) | last)
            out[here] = anneal(start, end, (t[here] - start_step) / (end_step - start_step))
            done |= here
            start_step = end_step
        # Torch raises past total_steps; we hold the designed final lr (initial/final_div_factor).
        # At t == total_steps itself torch extrapolates the last phase, and so do we.
        return np.where(t > total_steps, final_lr, out)

    return _make(curve)


def lambda_lr(lr: float, lr_lambda: Callable[[int], float]) -> Schedule:
    """LambdaLR: ``lr·lr_lambda(t)``."""
    _check(callable(lr_lambda), f"{lr_lambda=} must be callable")
    return _make(lambda t: lr * _call_lambda(lr_lambda, t))


def multiplicative_lr(lr: float, lr_lambda: Callable[[int], float]) -> Schedule:
    """MultiplicativeLR: ``lr_t = lr_{t-1}·lr_lambda(t)``; lr_lambda(0) is never used."""
    _check(callable(lr_lambda), f"{lr_lambda=} must be callable")

    def curve(t: np.ndarray) -> np.ndarray:
        last = int(t.max(initial=0))
        factors = _call_lambda(lr_lambda, np.arange(1, last + 1))
        # cumprod multiplies left to right, the same order as torch's lr *= λ(t), so the
        # products are bitwise torch's.
        return np.cumprod(np.concatenate([[lr], factors]))[t]

    return _make(curve)


# ChainedScheduler too: SequentialLR restarts a child with step(0), which it does not take.
_NOT_IN_SEQUENCE = ("cyclic_lr", "one_cycle_lr", "sequential_lr", "chained_scheduler")


def sequential_lr(
    lr: float, schedulers: Sequence[tuple[str, dict]], milestones: Sequence[int]
) -> Schedule:
    """SequentialLR: run ``schedulers`` (``(name, kwargs)`` pairs) one after another.

    At milestone ``m_k`` torch restarts child ``k`` with ``step(0)``: it runs from its own t = 0
    with the optimizer's initial lr, i.e. ``child_k(t − m_k)``. MultiplicativeLR is relative: it
    continues from the previous child's last lr, times ``lr_lambda(0)``.
    """
    _check(len(schedulers) >= 1, f"schedulers must not be empty, got {schedulers=}")
    _check(
        len(milestones) == len(schedulers) - 1,
        f"need len(milestones) == len(schedulers) - 1, got {milestones=} for "
        f"{len(schedulers)} schedulers",
    )
    ms = _check_milestones("milestones", milestones, 1)
    for name, _ in schedulers:
        # CyclicLR and OneCycleLR overwrite the optimizer's lr / initial_lr when constructed, so
        # in torch the result depends on construction order; we don't model that.
        _check(
            name in SCHEDULES and name not in _NOT_IN_SEQUENCE,
            f"schedulers entry {name=} must be a SCHEDULES key other than {_NOT_IN_SEQUENCE}",
        )
    starts = (0, *ms)
    children: list[Schedule] = []
    for k, (name, kwargs) in enumerate(schedulers):
        child_lr = lr
        if name == "multiplicative_lr" and k > 0:
            before = children[-1](starts[k] - 1 - starts[k - 1])
            child_lr = before * _call_lambda(kwargs["lr_lambda"], np.array([0]))[0]
        children.append(SCHEDULES[name](lr=child_lr, **kwargs))
    ms_array = np.array(ms, dtype=np.int64)

    def curve(t: np.ndarray) -> np.ndarray:
        which = np.searchsorted(ms_array, t, side="right")
        out = np.empty(t.shape)
        for k, child in enumerate(children):
            here = which == k
            if here.any():
                out[here] = child(t[here] - starts[k])
        return out

    return _make(curve)


# Schedulers whose torch step multiplies the lr in force by a factor that depends on the step
# only (their recursive get_lr), so that a chain of them multiplies their curves.
_CHAINABLE = (
    "constant_lr",
    "linear_lr",
    "step_lr",
    "multi_step_lr",
    "exponential_lr",
    "polynomial_lr",
    "multiplicative_lr",
)


def chained_scheduler(lr: float, schedulers: Sequence[tuple[str, dict]]) -> Schedule:
    """ChainedScheduler: every scheduler of ``schedulers`` (``(name, kwargs)`` pairs) steps at once.

    Each of them multiplies the lr in force by its own factor at each step (ConstantLR by
    ``factor`` at construction, ExponentialLR by γ, …), so the lr is ``lr·Π_i child_i(t)/lr``:
    each child computed from lr = 1. Schedulers that set the lr instead of multiplying it
    (LambdaLR, the cosine and cyclic ones) are refused: their chain depends on the order.
    """
    _check(len(schedulers) >= 1, f"schedulers must not be empty, got {schedulers=}")
    for name, _ in schedulers:
        _check(name in _CHAINABLE, f"schedulers entry {name=} must be one of {_CHAINABLE}")
    factors = [SCHEDULES[name](lr=1.0, **kwargs) for name, kwargs in schedulers]

    def curve(t: np.ndarray) -> np.ndarray:
        out = np.full(t.shape, float(lr))
        for factor in factors:
            out *= factor(t)
        return out

    return _make(curve)


def linear_warmup(
    schedule: Schedule, warmup_steps: int, start_factor: float = 1.0 / 3, lr: float | None = None
) -> Schedule:
    """Linear warm-up over ``warmup_steps`` to ``lr`` (default ``schedule(0)``), then ``schedule``.

    Convention = ``SequentialLR([LinearLR(start_factor, 1.0, W), main], milestones=[W])``: for
    ``t < W`` the lr is ``lr·(start_factor + (1 − start_factor)·t/W)`` (the target itself is never
    reached during warm-up), and from ``t = W`` on it is ``schedule(t − W)`` (shifted, restarted).
    Torch's LinearLR ramps to the optimizer's lr: pass it as ``lr`` to reproduce torch exactly,
    except for one_cycle_lr (torch ramps to max_lr/div_factor = ``schedule(0)``: leave ``lr=None``)
    and multiplicative_lr (torch continues from the last warm-up lr times λ(0): use
    ``sequential_lr``). ``lr=None`` ramps to ``schedule(0)``, which is the optimizer's lr for every
    schedule except constant_lr, linear_lr, cyclic_lr and a lambda_lr with λ(0) ≠ 1.
    """
    _at_least("warmup_steps", warmup_steps, 0, whole=True)
    _within("start_factor", start_factor, 0, 1, "(]")
    if warmup_steps == 0:
        return schedule
    peak = float(schedule(0)) if lr is None else float(lr)
    span = 1.0 - start_factor

    def curve(t: np.ndarray) -> np.ndarray:
        warm = peak * (start_factor + span * np.minimum(t, warmup_steps) / warmup_steps)
        main = schedule(np.maximum(t - warmup_steps, 0))
        return np.where(t < warmup_steps, warm, main)

    return _make(curve)


class PlateauState(NamedTuple):
    """ReduceLROnPlateau between two ``step(loss)`` calls: the lr in force, the best loss so far
    (sign-flipped in max mode), bad epochs since then and cooldown epochs left."""

    lr: float
    best: float = math.inf
    bad: int = 0
    cooling: int = 0


class Plateau(NamedTuple):
    """``init`` is the state before any loss; ``step(state, loss)`` is torch's ``step(loss)``."""

    init: PlateauState
    step: Callable[[PlateauState, float], PlateauState]


def plateau(
    lr: float,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> Plateau:
    """ReduceLROnPlateau as a pure transition: the trainer steps it with each loss as it comes."""
    _check(mode in ("min", "max"), f"{mode=} must be 'min' or 'max'")
    _check(threshold_mode in ("rel", "abs"), f"{threshold_mode=} must be 'rel' or 'abs'")
    _within("factor", factor, 0, 1, "[)")
    _at_least("patience", patience, 0, whole=True)
    _at_least("cooldown", cooldown, 0, whole=True)
    _at_least("threshold", threshold, 0)
    _at_least("min_lr", min_lr, 0)
    _at_least("eps", eps, 0)
    # Flip the sign in max mode so one test covers all four cases, bitwise as torch computes them:
    # min/rel a < best·(1−thr); max/rel −a < −best·(1+thr); abs: a < best − thr (signs flipped).
    sign = 1.0 if mode == "min" else -1.0
    k = (1.0 - threshold if mode == "min" else threshold + 1.0) if threshold_mode == "rel" else 1.0
    d = threshold if threshold_mode == "abs" else 0.0

    def step(state: PlateauState, loss: float) -> PlateauState:
        a = sign * float(loss)
        best, bad, cooling, current = state.best, state.bad, state.cooling, state.lr
        if a < best * k - d:
            best, bad = a, 0
        else:
            bad += 1  # NaN compares false, so it counts as a bad epoch, as in torch
        if cooling > 0:
            cooling -= 1
            bad = 0
        if bad > patience:
            new = max(current * factor, min_lr)
            if current - new > eps:
                current = new
            cooling, bad = cooldown, 0
        return PlateauState(current, best, bad, cooling)

    return Plateau(PlateauState(float(lr)), step)


def reduce_lr_on_plateau(lr: float, losses: Sequence[float] | np.ndarray, **settings) -> np.ndarray:
    """ReduceLROnPlateau: the lr after each ``step(loss)``, shape ``(len(losses),)``."""
    scheduler = plateau(lr, **settings)  # torch's arguments, with torch's defaults
    # The decision at each step depends on the running best and counters: a loop is the logic.
    state, out = scheduler.init, []
    for loss in np.asarray(losses, dtype=np.float64).reshape(-1).tolist():
        state = scheduler.step(state, loss)
        out.append(state.lr)
    return np.array(out, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# UI metadata: parameter ranges, PyTorch code, phase boundaries


_DEFAULT_CHAIN = (
    ("linear_lr", {"start_factor": 0.1, "total_iters": 10}),
    ("cosine_annealing_lr", {"T_max": 90}),
)
# The torch docs' example of ChainedScheduler, the decay stretched to draw over ~100 steps.
_DEFAULT_PRODUCT = (
    ("constant_lr", {"factor": 0.1, "total_iters": 20}),
    ("exponential_lr", {"gamma": 0.97}),
)
LR_PARAM = Param("float", 0.1, 1e-6, 10.0, log=True, step=0.01)


def _whole(default: int | None) -> Param:
    """A count of steps. Bounds are wide on purpose: 0 or an odd value gets the factory's named
    message instead of a widget that silently refuses it."""
    return Param("int", default, 0, 100_000, step=1)


def _real(default: float, high: float = 10.0, log: bool = False) -> Param:
    """A number; wide bounds for the same reason (a negative gamma is refused by name)."""
    return Param("float", default, -10.0, high, log=log, step=0.01)


_FLOAT_ARGS = {"pct_start", "div_factor", "final_div_factor", "gamma", "eta_min", "factor"}


_LAMBDA_VARIABLE = {"lr_lambda": "epoch", "scale_fn": "x"}  # typed formulas and their variable


def _literal(key: str, value: Any) -> str:
    if key in _LAMBDA_VARIABLE:
        _check(isinstance(value, str), f"{key} must be the expression text, got {value!r}")
        return f"lambda {_LAMBDA_VARIABLE[key]}: {value}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_literal("", v) for v in value) + "]"
    if key in _FLOAT_ARGS and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # OneCycleLR rejects an int pct_start
    return repr(value)


# torch's CyclicLR and OneCycleLR default to cycle_momentum=True: they would overwrite the SGD's
# momentum (0 in our code) with values cycling between base_momentum and max_momentum
# (0.8–0.9, 0.85–0.95) every step, which no chart here shows. Our curves are the lr alone.
_CYCLES_MOMENTUM = ("CyclicLR", "OneCycleLR")


def _constructor(name: str, params: dict) -> str:
    _check(name in TORCH_CLASS, f"{name=} is not a known schedule")
    if not params.get("scale_fn"):  # empty text: torch's own scale for the mode (scale_mode unused)
        params = {k: v for k, v in params.items() if k not in ("scale_fn", "scale_mode")}
    args = ["optimizer"] + [f"{k}={_literal(k, v)}" for k, v in params.items() if k != "lr"]
    if TORCH_CLASS[name] in _CYCLES_MOMENTUM:
        args.append("cycle_momentum=False")
    return f"torch.optim.lr_scheduler.{TORCH_CLASS[name]}({', '.join(args)})"


def torch_code(
    name: str, params: dict, warmup_steps: int = 0, warmup_start_factor: float = 1.0 / 3
) -> str:
    """Copyable PyTorch code building the optimizer and the scheduler ``name`` with ``params``."""
    params = dict(params)
    lr = params.pop("lr", LR_PARAM.default)
    lines = ["import torch", "", f"optimizer = torch.optim.SGD(model.parameters(), lr={lr!r})"]
    children: list[tuple[str, dict]] = []
    milestones: list[int] = []
    if warmup_steps > 0:
        children.append(
            ("linear_lr", {"start_factor": warmup_start_factor, "total_iters": warmup_steps})
        )
        milestones.append(warmup_steps)
    if name == "chained_scheduler":
        # torch's SequentialLR restarts a child with step(0), which ChainedScheduler does not take.
        _check(warmup_steps == 0, "a ChainedScheduler cannot follow a warm-up in a SequentialLR")
        for i, (child, kwargs) in enumerate(params["schedulers"]):
            lines.append(f"scheduler{i + 1} = {_constructor(child, dict(kwargs))}")
        names = ", ".join(f"scheduler{i + 1}" for i in range(len(params["schedulers"])))
        lines.append(
            f"scheduler = torch.optim.lr_scheduler.ChainedScheduler([{names}], optimizer=optimizer)"
        )
        return "\n".join(lines) + "\n"
    if name == "sequential_lr":
        # Flattened, because torch cannot restart a nested SequentialLR at a milestone.
        children += [(n, dict(kw)) for n, kw in params["schedulers"]]
        milestones += [m + warmup_steps for m in params["milestones"]]
    elif children:
        children.append((name, params))
    if not children:
        lines.append(f"scheduler = {_constructor(name, params)}")
        if SCHEDULE_ENTRIES[name].of_losses:
            lines.append("# after each epoch: scheduler.step(val_loss)")
        return "\n".join(lines) + "\n"
    for i, (child, kwargs) in enumerate(children):
        lines.append(f"scheduler{i + 1} = {_constructor(child, kwargs)}")
    names = ", ".join(f"scheduler{i + 1}" for i in range(len(children)))
    lines.append(
        "scheduler = torch.optim.lr_scheduler.SequentialLR("
        f"optimizer, schedulers=[{names}], milestones={list(milestones)!r})"
    )
    return "\n".join(lines) + "\n"


def phase_boundaries(name: str, params: dict, steps: int, warmup_steps: int = 0) -> list[int]:
    """Steps in ``(0, steps]`` where a phase ends or begins (warm-up end, milestones, restarts…)."""
    p = _factory_defaults(name) | dict(params)
    p.pop("lr", None)
    inner = _boundaries(name, p, max(steps - warmup_steps, 0))
    out = ([warmup_steps] if warmup_steps > 0 else []) + [b + warmup_steps for b in inner]
    return sorted({b for b in out if 0 < b <= steps})


def _factory_defaults(name: str) -> dict:
    """The registry defaults of ``name`` as its factory takes them (typed milestones parsed)."""
    defaults = {k: v.default for k, v in SCHEDULE_PARAMS.get(name, {}).items()}
    if "milestones" in defaults:
        defaults["milestones"] = parse_milestones(defaults["milestones"])
    return defaults


def _boundaries(name: str, p: dict, steps: int) -> list[int]:
    if name in ("constant_lr", "linear_lr", "polynomial_lr"):
        return [int(p["total_iters"])]
    if name == "step_lr":
        return list(range(int(p["step_size"]), steps + 1, int(p["step_size"])))
    if name == "multi_step_lr":
        return sorted({int(m) for m in p["milestones"]})
    if name == "cosine_annealing_lr":
        return list(range(int(p["T_max"]), steps + 1, int(p["T_max"])))
    if name == "cosine_annealing_warm_restarts":
        return _restart_starts(int(p["T_0"]), int(p["T_mult"]), steps)[1:].tolist()
    if name == "cyclic_lr":
        up = int(p["step_size_up"])
        down = up if p.get("step_size_down") is None else int(p["step_size_down"])
        return sorted(
            b for c in range(0, steps + 1, up + down) for b in (c, c + up) if 0 < b <= steps
        )
    if name == "one_cycle_lr":
        total = p["total_steps"]
        if total is None:
            total = p["epochs"] * p["steps_per_epoch"]
        phases = _one_cycle_phases(int(total), p["pct_start"], 1.0, 1.0, p["three_phase"], 1.0)
        return [math.floor(end) for end, _, _ in phases]
    if name == "chained_scheduler":
        return sorted(
            {
                b
                for child, kwargs in p["schedulers"]
                for b in _boundaries(child, _factory_defaults(child) | dict(kwargs), steps)
            }
        )
    if name == "sequential_lr":
        starts = [0, *p["milestones"]]
        ends = [*p["milestones"], steps]
        out = list(p["milestones"])
        for (child, kwargs), a, b in zip(p["schedulers"], starts, ends, strict=True):
            p_child = _factory_defaults(child) | dict(kwargs)
            out += [a + x for x in _boundaries(child, p_child, b - a) if x < b - a]
        return out
    if name in ("exponential_lr", "lambda_lr", "multiplicative_lr"):
        return []
    raise ValueError(f"{name=} has no phase boundaries (not a SCHEDULES key)")


class ScheduleEntry(NamedTuple):
    """One ``torch.optim.lr_scheduler`` class: our factory, its parameters (torch's names; torch's
    defaults where torch has one) and torch's class name. A scheduler ``of_losses`` follows the
    losses instead of the step (ReduceLROnPlateau): it is no closed-form curve of ``SCHEDULES``."""

    factory: Callable
    params: dict[str, Param]
    torch_class: str
    of_losses: bool = False


# Required arguments get values that draw well over ~100 steps. ``milestones`` and ``lr_lambda``
# are typed text: ``parse_milestones`` and core.expressions read it.
SCHEDULE_ENTRIES: dict[str, ScheduleEntry] = {
    "constant_lr": ScheduleEntry(
        constant_lr, {"factor": _real(1.0 / 3), "total_iters": _whole(5)}, "ConstantLR"
    ),
    "linear_lr": ScheduleEntry(
        linear_lr,
        {
            "start_factor": _real(1.0 / 3, log=True),
            "end_factor": _real(1.0),
            "total_iters": _whole(5),
        },
        "LinearLR",
    ),
    "step_lr": ScheduleEntry(
        step_lr, {"step_size": _whole(30), "gamma": _real(0.1, log=True)}, "StepLR"
    ),
    "multi_step_lr": ScheduleEntry(
        multi_step_lr,
        {"milestones": Param("text", "30, 80"), "gamma": _real(0.1, log=True)},
        "MultiStepLR",
    ),
    "exponential_lr": ScheduleEntry(exponential_lr, {"gamma": _real(0.95)}, "ExponentialLR"),
    "polynomial_lr": ScheduleEntry(
        polynomial_lr, {"total_iters": _whole(5), "power": _real(1.0, high=50.0)}, "PolynomialLR"
    ),
    "cosine_annealing_lr": ScheduleEntry(
        cosine_annealing_lr, {"T_max": _whole(100), "eta_min": _real(0.0)}, "CosineAnnealingLR"
    ),
    "cosine_annealing_warm_restarts": ScheduleEntry(
        cosine_annealing_warm_restarts,
        {
            "T_0": _whole(20),
            "T_mult": _whole(1),
            "eta_min": _real(0.0),
        },
        "CosineAnnealingWarmRestarts",
    ),
    "cyclic_lr": ScheduleEntry(
        cyclic_lr,
        {
            "base_lr": _real(0.001, log=True),
            "max_lr": _real(0.1, high=100.0, log=True),
            "step_size_up": _whole(2000),
            "step_size_down": _whole(None),  # None: the same as step_size_up
            "mode": Param("choice", "triangular", options=_CYCLIC_MODES),
            "gamma": _real(1.0),
            # A formula in x typed on the page; empty text is torch's None (the mode's own scale).
            "scale_fn": Param("text", ""),
            "scale_mode": Param("choice", "cycle", options=("cycle", "iterations")),
        },
        "CyclicLR",
    ),
    "one_cycle_lr": ScheduleEntry(
        one_cycle_lr,
        {
            "max_lr": _real(0.1, high=100.0, log=True),
            # torch's defaults are None; 10 epochs of 10 steps draw well (total_steps wins if set).
            "total_steps": _whole(None),
            "epochs": _whole(10),
            "steps_per_epoch": _whole(10),
            "pct_start": _real(0.3),
            "anneal_strategy": Param("choice", "cos", options=("cos", "linear")),
            "div_factor": _real(25.0, high=10_000.0, log=True),
            "final_div_factor": _real(1e4, high=1e7, log=True),
            "three_phase": Param("bool", False),
        },
        "OneCycleLR",
    ),
    "sequential_lr": ScheduleEntry(
        sequential_lr,
        {
            # Not a page setting (the chain builder composes its own): the one chain on offer.
            "schedulers": Param("choice", _DEFAULT_CHAIN, options=(_DEFAULT_CHAIN,)),
            "milestones": Param("text", "10"),
        },
        "SequentialLR",
    ),
    "chained_scheduler": ScheduleEntry(
        chained_scheduler,
        # Like SequentialLR's: not a page setting, the one product on offer.
        {"schedulers": Param("choice", _DEFAULT_PRODUCT, options=(_DEFAULT_PRODUCT,))},
        "ChainedScheduler",
    ),
    # lr_lambda is the expression text the page turns into a callable of ``epoch``.
    "lambda_lr": ScheduleEntry(
        lambda_lr, {"lr_lambda": Param("text", "0.95 ** epoch")}, "LambdaLR"
    ),
    "multiplicative_lr": ScheduleEntry(
        multiplicative_lr, {"lr_lambda": Param("text", "0.95")}, "MultiplicativeLR"
    ),
    "reduce_lr_on_plateau": ScheduleEntry(
        plateau,
        {
            "mode": Param("choice", "min", options=("min", "max")),
            "factor": _real(0.1),
            "patience": _whole(10),
            "threshold": _real(1e-4),
            "threshold_mode": Param("choice", "rel", options=("rel", "abs")),
            "cooldown": _whole(0),
            "min_lr": _real(0.0),
            "eps": _real(1e-8),
        },
        "ReduceLROnPlateau",
        of_losses=True,
    ),
}
# Views of the records by what callers look up.
SCHEDULES: dict[str, Callable[..., Schedule]] = {
    name: e.factory for name, e in SCHEDULE_ENTRIES.items() if not e.of_losses
}
SCHEDULE_PARAMS = {name: entry.params for name, entry in SCHEDULE_ENTRIES.items()}
TORCH_CLASS = {name: entry.torch_class for name, entry in SCHEDULE_ENTRIES.items()}
