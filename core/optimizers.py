"""Gradient-descent optimizers as pure ``(init, update)`` pairs over NumPy arrays.

Every factory takes ``torch.optim``'s argument names and defaults and returns
``Optimizer(init, update)``: ``init(params) -> state`` and
``update(params, grads, state) -> (new_params, new_state)``. ``update`` builds new arrays and
mutates nothing, so one optimizer can drive many paths side by side. Each state is a NamedTuple
``<Algorithm>State`` whose ``step`` counts the updates done so far.

The update rules are those of the algorithm boxes in the PyTorch docs (torch 2.x), each written
once, here; ``maximize`` negates the gradient first, as torch does. ``weight_decay`` is L2 added
to the gradient except where the decay is decoupled (``adamw``, ``decoupled_weight_decay=True``,
Adafactor, Muon): the params shrink by ``1 - lr * weight_decay`` instead. ``lr`` is a float or a schedule ``step -> lr`` (see
``core.schedules``), evaluated at ``state.step``, i.e. the lr in force for that update. ``lr``,
``momentum`` and the betas may also be arrays that broadcast against the params, so that e.g.
params of shape (R, 2) with lr of shape (R, 1) race R learning rates in one call. Params keep their
floating dtype. A diverging update returns inf/NaN params without a warning; the caller reports it.

An optimizer also carries its ``recipe`` (the factory and every argument it was built with), by
which ``core.fast_optimizers`` finds the fused and in-place fast paths that the race and the
trainer run instead; they give these numbers, which tests/test_fast_optimizers.py checks.

Most updates are elementwise. ``Optimizer.elementwise`` is False for those that read the whole
array (Adafactor's RMS and factored moments, Muon's orthogonalisation of a matrix), which
callers must hand one array at a time. Muon takes 2-D weight matrices only; its registry entry
pairs it with AdamW for the other arrays (``by_ndim``), as torch's docs recommend. L-BFGS
evaluates the function inside a step, so it is a ``ClosureOptimizer(init, step)`` whose
``step(params, closure, state)`` calls ``closure(params) -> (loss, grad)``, as torch's
``step(closure)``; ``core.descent`` provides the closure.

``init_layers`` / ``update_layers`` apply one optimizer to every array of a nested list/tuple/dict
of arrays (an MLP's layers), like JAX's optimizers over a pytree. ``OPTIMIZER_ENTRIES`` describes
every optimizer the app offers, ``OPTIMIZERS`` holds the (init, update) factories and
``on_page`` says which optimizers each page offers.
"""

import inspect
from collections.abc import Callable
from functools import partial, wraps
from typing import Any, NamedTuple

import numpy as np

from core.params import Param
from core.schedules import as_schedule


class Recipe(NamedTuple):
    factory: Callable[..., "Optimizer"]
    arguments: dict[str, Any]  # every argument of the factory, defaults filled in


class Optimizer(NamedTuple):
    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, np.ndarray, Any], tuple[np.ndarray, Any]]
    recipe: Recipe | None = None  # set by every factory below
    # False where the update reads the whole array (an RMS, a factored moment, a matrix
    # function): then arrays may not be concatenated, nor runs stacked as rows of one array.
    elementwise: bool = True


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _recorded(factory):
    """Make ``factory`` record itself and its arguments as the ``recipe`` of what it builds."""
    signature = inspect.signature(factory)

    @wraps(factory)
    def build(*args, **kwargs) -> Optimizer:
        arguments = signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        return factory(*args, **kwargs)._replace(recipe=Recipe(build, arguments.arguments))

    return build


def _lr_schedule(lr):
    """Return ``step -> lr`` for a float, an array of lrs, or a schedule."""
    # as_schedule calls float(); an array of lrs (one per raced path) must pass through unchanged.
    if callable(lr):
        return as_schedule(lr)
    if np.ndim(lr) == 0:
        # as_schedule's constant also accepts an array of steps; updates only pass one int step,
        # and this plain closure costs a fraction of that per call.
        value = float(as_schedule(lr)(0))
        return lambda step: value
    lr = np.asarray(lr, dtype=float)
    return lambda step: lr


def _check(condition, message: str) -> None:
    """Raise ValueError(message) unless ``condition`` holds for every element."""
    if not np.all(condition):
        raise ValueError(message)


def _check_lr(lr) -> None:
    """Refuse a negative lr; a schedule validates its own arguments."""
    if not callable(lr):
        _check(np.asarray(lr) >= 0, f"Invalid learning rate: {lr=}")


def _check_common(lr, eps, weight_decay) -> None:
    """The checks torch makes on lr, eps and weight_decay."""
    _check_lr(lr)
    _check(np.asarray(eps) >= 0, f"Invalid epsilon value: {eps=}")
    _check(np.asarray(weight_decay) >= 0, f"Invalid weight_decay value: {weight_decay=}")


def _check_betas(betas) -> None:
    """Both betas in [0, 1), as torch requires."""
    beta1, beta2 = betas
    b1, b2 = np.asarray(beta1), np.asarray(beta2)
    _check((b1 >= 0) & (b1 < 1), f"Invalid beta parameter at index 0: {beta1=}")
    _check((b2 >= 0) & (b2 < 1), f"Invalid beta parameter at index 1: {beta2=}")


def _quiet(update):
    """Silence NumPy's overflow/invalid warnings inside an update: a diverging path simply
    yields inf/NaN params, which the caller reports (core reports failures, it never warns)."""

    @wraps(update)  # inspect.unwrap(quiet_update) gives the unguarded update back
    def quiet_update(params, grads, state):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return update(params, grads, state)

    return quiet_update


def _nonzero(x) -> bool:
    """Whether any element of a hyperparameter is non-zero (decided once, in the factory)."""
    return bool(np.any(np.asarray(x) != 0))


def _decayed_gradient(weight_decay, maximize=False):
    """``(params, grads) -> (params, g)`` as arrays, with torch's coupled (L2) weight decay
    ``g = grads + weight_decay * params``; without decay ``g`` is the gradient itself. With
    ``maximize`` the gradient is negated first (torch negates it before the decay is added)."""
    if maximize:
        ascent = _decayed_gradient(weight_decay)
        return lambda params, grads: ascent(params, -np.asarray(grads))
    if not _nonzero(weight_decay):
        return lambda params, grads: (np.asarray(params), np.asarray(grads))

    def with_decay(params, grads):
        params = np.asarray(params)
        return params, np.asarray(grads) + weight_decay * params

    return with_decay


def _float_dtype(params: np.ndarray):
    """The dtype new params are returned in: their own if floating, else float64."""
    return params.dtype if params.dtype.kind == "f" else np.dtype(float)


def _zeros(params) -> np.ndarray:
    """Zero state buffer shaped like ``params`` in their float dtype (float32 stays float32).

    Each buffer of a state is its own array, never one shared zeros: the in-place fast paths
    (``core.fast_optimizers``) write into a state's buffers, and m and v sharing memory would
    make Adam's first step write m into v."""
    params = np.asarray(params)
    return np.zeros(params.shape, dtype=_float_dtype(params))


def _like_params(params, new_params) -> np.ndarray:
    """``new_params`` as an array of the params' float dtype."""
    dtype = _float_dtype(params)
    if type(new_params) is np.ndarray and new_params.dtype == dtype:
        return new_params  # already a fresh array of the right dtype: skip the asarray call
    return np.asarray(new_params, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# SGD, with momentum and Nesterov as partials


class SGDState(NamedTuple):
    step: int
    momentum_buffer: np.ndarray | None  # None while no update with momentum has been made


@_recorded
def sgd(
    lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *, maximize=False
) -> Optimizer:
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``."""
    _check_lr(lr)
    _check(np.asarray(momentum) >= 0, f"Invalid momentum value: {momentum=}")
    _check(np.asarray(weight_decay) >= 0, f"Invalid weight_decay value: {weight_decay=}")
    if nesterov:
        _check(
            (np.asarray(momentum) > 0) & (np.asarray(dampening) == 0),
            f"Nesterov momentum requires a momentum and zero dampening: {momentum=}, {dampening=}",
        )
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)
    uses_momentum = _nonzero(momentum)
    has_momentum = np.asarray(momentum) != 0
    mixed = uses_momentum and not np.all(has_momentum)  # some runs of a race without momentum

    def init(params):
        return SGDState(step=0, momentum_buffer=None)

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        buf = state.momentum_buffer
        if uses_momentum:
            if buf is None:
                # torch starts the buffer at the first gradient itself, undamped (b_1 = g_1);
                # a copy, so that the state never aliases the grads.
                buf = np.array(g, dtype=_float_dtype(g))
            else:
                buf = momentum * buf + (1 - dampening) * g
            direction = g + momentum * buf if nesterov else buf
            if mixed:
                # torch skips the buffer entirely where momentum == 0 (dampening has no effect).
                direction = np.where(has_momentum, direction, g)
        else:
            direction = g
        new_params = params - schedule(state.step) * direction
        return _like_params(params, new_params), SGDState(state.step + 1, buf)

    return Optimizer(init, update)


momentum = partial(sgd, momentum=0.9)
nesterov = partial(sgd, momentum=0.9, nesterov=True)


# ---------------------------------------------------------------------------------------------
# ASGD


class ASGDState(NamedTuple):
    step: int
    eta: np.ndarray | float | None  # the step size of the next update (None: lr, at the first)
    mu: float  # the averaging weight of the next update
    ax: np.ndarray  # the averaged iterate, ASGD's answer (the path itself is theta)


@_recorded
def asgd(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *, maximize=False) -> Optimizer:
    """Averaged SGD (Polyak & Juditsky 1992): SGD with the decaying step
    ``eta_t = lr / (1 + lambd * lr * t) ** alpha`` whose iterates are averaged from step ``t0``."""
    _check_lr(lr)
    _check(np.asarray(weight_decay) >= 0, f"Invalid weight_decay value: {weight_decay=}")
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)

    def init(params):
        return ASGDState(0, None, 1.0, _zeros(params))

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        t = state.step + 1
        lr_t = schedule(state.step)
        eta = lr_t if state.eta is None else state.eta
        new_params = params * (1 - lambd * eta) - eta * g
        # torch copies theta into ax while mu is 1 (before t0) and averages afterwards; np.where
        # and np.maximum so that a race may give each run its own t0.
        ax = np.where(state.mu == 1, new_params, state.ax + (new_params - state.ax) * state.mu)
        next_eta = lr_t / (1 + lambd * lr_t * t) ** alpha
        next_mu = 1 / np.maximum(1, t - t0)
        new_params = _like_params(params, new_params)
        return new_params, ASGDState(t, next_eta, next_mu, np.array(ax, dtype=new_params.dtype))

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Rprop


class RpropState(NamedTuple):
    step: int
    prev: np.ndarray  # the previous gradient (0 where a sign change skipped the step)
    step_size: np.ndarray | None  # per-coordinate step, set to lr at the first update as torch


@_recorded
def rprop(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False) -> Optimizer:
    """Rprop (Riedmiller & Braun 1993): steps of ``step_size * sign(g)``, each coordinate's step
    grown by etaplus while its gradient keeps its sign and cut by etaminus when it flips."""
    _check_lr(lr)
    etaminus, etaplus = etas
    _check(
        (np.asarray(etaminus) > 0) & (np.asarray(etaminus) < 1) & (np.asarray(etaplus) > 1),
        f"Invalid eta values: {etas=}",
    )
    step_size_min, step_size_max = step_sizes
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(0.0, maximize)

    def init(params):
        return RpropState(0, _zeros(params), None)

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        step_size = state.step_size
        if step_size is None:
            # torch fills the step sizes with the lr in force at the first step; later lrs
            # (a schedule) do not change them.
            step_size = np.full(params.shape, schedule(state.step), dtype=_float_dtype(params))
        sign = np.sign(g * state.prev)
        # sign is NaN where g or prev is not finite (0·inf); torch keeps that NaN as the factor.
        factor = np.where(
            sign > 0, etaplus, np.where(sign < 0, etaminus, np.where(sign == 0, 1, sign))
        )
        step_size = np.clip(
            step_size * factor.astype(step_size.dtype), step_size_min, step_size_max
        )
        # After a sign change torch takes no step in that coordinate and forgets the gradient,
        # so the next step counts as "no previous sign" there.
        g = np.where(sign < 0, 0, g)
        new_params = params - np.sign(g) * step_size
        return _like_params(params, new_params), RpropState(state.step + 1, g, step_size)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adagrad


class AdagradState(NamedTuple):
    step: int
    state_sum: np.ndarray


@_recorded
def adagrad(
    lr=1e-2,
    lr_decay=0.0,
    weight_decay=0.0,
    initial_accumulator_value=0.0,
    eps=1e-10,
    *,
    maximize=False,
) -> Optimizer:
    """Adagrad: per-coordinate lr scaled by the root of the summed squared gradients."""
    _check_common(lr, eps, weight_decay)
    _check(np.asarray(lr_decay) >= 0, f"Invalid lr_decay value: {lr_decay=}")
    _check(
        np.asarray(initial_accumulator_value) >= 0,
        f"Invalid initial_accumulator_value value: {initial_accumulator_value=}",
    )
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)

    def init(params):
        return AdagradState(0, _zeros(params) + initial_accumulator_value)

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        clr = schedule(state.step) / (1 + state.step * lr_decay)  # step = t - 1 in torch's box
        state_sum = state.state_sum + g * g
        new_params = params - clr * g / (np.sqrt(state_sum) + eps)
        return _like_params(params, new_params), AdagradState(state.step + 1, state_sum)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# RMSprop


class RMSpropState(NamedTuple):
    step: int
    square_avg: np.ndarray
    grad_avg: np.ndarray | None  # only when centered
    momentum_buffer: np.ndarray | None  # only when momentum > 0


@_recorded
def rmsprop(
    lr=1e-2,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0.0,
    momentum=0.0,
    centered=False,
    *,
    maximize=False,
) -> Optimizer:
    """RMSprop (Hinton), optionally centered and with momentum, as ``torch.optim.RMSprop``."""
    _check_common(lr, eps, weight_decay)
    _check(np.asarray(momentum) >= 0, f"Invalid momentum value: {momentum=}")
    _check(np.asarray(alpha) >= 0, f"Invalid alpha value: {alpha=}")
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)
    uses_momentum = _nonzero(momentum)

    def init(params):
        return RMSpropState(
            0,
            _zeros(params),
            _zeros(params) if centered else None,
            _zeros(params) if uses_momentum else None,
        )

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        square_avg = alpha * state.square_avg + (1 - alpha) * g * g
        grad_avg = None
        v = square_avg
        if centered:
            grad_avg = alpha * state.grad_avg + (1 - alpha) * g
            # Mathematically >= 0 (a weighted variance); clip rounding so sqrt never sees -1e-20,
            # where torch would return NaN.
            v = np.maximum(square_avg - grad_avg * grad_avg, 0.0)
        scaled = g / (np.sqrt(v) + eps)
        buf = None
        if uses_momentum:
            # With momentum == 0 this buffer equals `scaled`, so array momentum needs no np.where.
            buf = momentum * state.momentum_buffer + scaled
            scaled = buf
        new_params = params - schedule(state.step) * scaled
        return _like_params(params, new_params), RMSpropState(
            state.step + 1, square_avg, grad_avg, buf
        )

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adadelta


class AdadeltaState(NamedTuple):
    step: int
    square_avg: np.ndarray  # v: running mean of g²
    acc_delta: np.ndarray  # u: running mean of the squared updates


@_recorded
def adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False) -> Optimizer:
    """Adadelta (Zeiler 2012): updates scaled by RMS of past updates over RMS of gradients."""
    _check_common(lr, eps, weight_decay)
    _check((np.asarray(rho) >= 0) & (np.asarray(rho) <= 1), f"Invalid rho value: {rho=}")
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)

    def init(params):
        return AdadeltaState(0, _zeros(params), _zeros(params))

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        square_avg = rho * state.square_avg + (1 - rho) * g * g
        delta = np.sqrt(state.acc_delta + eps) / np.sqrt(square_avg + eps) * g
        acc_delta = rho * state.acc_delta + (1 - rho) * delta * delta
        new_params = params - schedule(state.step) * delta
        return _like_params(params, new_params), AdadeltaState(
            state.step + 1, square_avg, acc_delta
        )

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adam family


class AdamState(NamedTuple):
    step: int
    exp_avg: np.ndarray  # m
    exp_avg_sq: np.ndarray  # v
    max_exp_avg_sq: np.ndarray | None  # running max of v, only when amsgrad


def _decoupled(without_decay: Optimizer, lr, weight_decay) -> Optimizer:
    """``without_decay`` after shrinking the params by ``1 - lr * weight_decay`` (Loshchilov &
    Hutter 2019): decay decoupled from the gradient, so the moments never see it."""
    schedule = _lr_schedule(lr)
    inner = inspect.unwrap(without_decay.update)

    @_quiet
    def update(params, grads, state):
        decayed = np.asarray(params) * (1 - schedule(state.step) * weight_decay)
        new_params, state = inner(decayed, grads, state)
        return _like_params(params, new_params), state  # a float64 lr may have upcast `decayed`

    return Optimizer(without_decay.init, update)


@_recorded
def adam(
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    *,
    maximize=False,
    decoupled_weight_decay=False,
) -> Optimizer:
    """Adam (Kingma & Ba 2014) with eps outside the root of the bias-corrected v, as torch;
    ``decoupled_weight_decay=True`` is AdamW."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    if decoupled_weight_decay:
        return _decoupled(adam(lr, betas, eps, 0.0, amsgrad, maximize=maximize), lr, weight_decay)
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)
    beta1, beta2 = betas

    def init(params):
        return AdamState(0, _zeros(params), _zeros(params), _zeros(params) if amsgrad else None)

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        t = state.step + 1
        m = beta1 * state.exp_avg + (1 - beta1) * g
        v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
        # amsgrad keeps the max of the raw v and bias-corrects that (torch's implementation).
        v_max = np.maximum(state.max_exp_avg_sq, v) if amsgrad else None
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        new_params = params - schedule(state.step) * m_hat / (np.sqrt(v_hat) + eps)
        return _like_params(params, new_params), AdamState(t, m, v, v_max)

    return Optimizer(init, update)


@_recorded
def adamw(
    lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False
) -> Optimizer:
    """AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient."""
    return adam(
        lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True
    )


class NAdamState(NamedTuple):
    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    mu_product: np.ndarray | float  # prod_{i<=t} mu_i, as torch keeps it


@_recorded
def nadam(
    lr=2e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    momentum_decay=4e-3,
    decoupled_weight_decay=False,
    *,
    maximize=False,
) -> Optimizer:
    """NAdam (Dozat 2016): Adam with Nesterov momentum and torch's momentum-decay schedule mu_t."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    _check(np.asarray(momentum_decay) >= 0, f"Invalid momentum_decay value: {momentum_decay=}")
    if decoupled_weight_decay:
        without = nadam(lr, betas, eps, 0.0, momentum_decay, maximize=maximize)
        return _decoupled(without, lr, weight_decay)
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)
    beta1, beta2 = betas

    def init(params):
        return NAdamState(0, _zeros(params), _zeros(params), 1.0)

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        t = state.step + 1
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = state.mu_product * mu
        m = beta1 * state.exp_avg + (1 - beta1) * g
        v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
        m_hat = mu_next * m / (1 - mu_product * mu_next) + (1 - mu) * g / (1 - mu_product)
        v_hat = v / (1 - beta2**t)
        new_params = params - schedule(state.step) * m_hat / (np.sqrt(v_hat) + eps)
        return _like_params(params, new_params), NAdamState(t, m, v, mu_product)

    return Optimizer(init, update)


@_recorded
def radam(
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    *,
    maximize=False,
) -> Optimizer:
    """RAdam (Liu et al. 2019): Adam whose adaptive term is switched on once rho_t > 5."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    if decoupled_weight_decay:
        return _decoupled(radam(lr, betas, eps, 0.0, maximize=maximize), lr, weight_decay)
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)
    beta1, beta2 = betas
    rho_inf = 2 / (1 - beta2) - 1

    def init(params):
        return AdamState(0, _zeros(params), _zeros(params), None)

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        t = state.step + 1
        m = beta1 * state.exp_avg + (1 - beta1) * g
        v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        bias_correction2 = 1 - beta2**t
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        tractable = rho_t > 5
        # np.where evaluates both branches (betas may be arrays), so feed the rectifier harmless
        # 1s where the variance is intractable; there rho_inf may be <= 4 and the formula invalid.
        numerator = np.where(tractable, (rho_t - 4) * (rho_t - 2) * rho_inf, 1.0)
        denominator = np.where(tractable, (rho_inf - 4) * (rho_inf - 2) * rho_t, 1.0)
        r_t = np.sqrt(numerator / denominator)
        l_t = np.sqrt(bias_correction2) / (np.sqrt(v) + eps)  # eps added to sqrt(v), not v_hat
        direction = np.where(tractable, m_hat * r_t * l_t, m_hat)
        new_params = params - schedule(state.step) * direction
        return _like_params(params, new_params), AdamState(t, m, v, None)

    return Optimizer(init, update)


class AdamaxState(NamedTuple):
    step: int
    exp_avg: np.ndarray  # m
    exp_inf: np.ndarray  # u: exponentially weighted infinity norm


@_recorded
def adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False) -> Optimizer:
    """Adamax (Kingma & Ba 2014, sec. 7): Adam with the infinity norm in place of v."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    schedule = _lr_schedule(lr)
    gradient = _decayed_gradient(weight_decay, maximize)
    beta1, beta2 = betas

    def init(params):
        return AdamaxState(0, _zeros(params), _zeros(params))

    @_quiet
    def update(params, grads, state):
        params, g = gradient(params, grads)
        t = state.step + 1
        m = beta1 * state.exp_avg + (1 - beta1) * g
        u = np.maximum(beta2 * state.exp_inf, np.abs(g) + eps)  # torch puts eps inside the max
        new_params = params - schedule(state.step) / (1 - beta1**t) * m / u
        return _like_params(params, new_params), AdamaxState(t, m, u)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adafactor: reads the whole array (its RMS, and row and column factors of a matrix)


class AdafactorState(NamedTuple):
    step: int
    row_var: np.ndarray | None  # mean of g² over the last axis, for arrays of 2+ dimensions
    col_var: np.ndarray | None  # mean of g² over the second-to-last axis
    variance: np.ndarray | None  # g² itself (smoothed), for vectors and scalars


def _rms(x) -> float:
    """Root mean square of all entries."""
    return float(np.sqrt(np.mean(np.square(x)))) if np.size(x) else 0.0


@_recorded
def adafactor(
    lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *, maximize=False
) -> Optimizer:
    """Adafactor (Shazeer & Stern 2018) as ``torch.optim.Adafactor``: the second moment of a
    matrix kept as row and column means only; steps relative to the params' RMS, with lr capping
    the relative step (torch's choice) and clipping updates whose RMS exceeds ``d``."""
    _check_lr(lr)
    eps1, eps2 = eps
    _check(np.asarray(beta2_decay) <= 0, f"Invalid beta2_decay value: {beta2_decay=}")
    _check(eps1 is None or np.asarray(eps1) >= 0, f"Invalid epsilon1 value: {eps1=}")
    _check(np.asarray(eps2) >= 0, f"Invalid epsilon2 value: {eps2=}")
    _check(np.asarray(d) >= 1, f"Invalid clipping threshold d: {d=}")
    _check(np.asarray(weight_decay) >= 0, f"Invalid weight_decay value: {weight_decay=}")
    schedule = _lr_schedule(lr)

    def init(params):
        params = np.asarray(params)
        if params.ndim > 1:
            dtype = _float_dtype(params)
            row = np.zeros((*params.shape[:-1], 1), dtype)
            col = np.zeros((*params.shape[:-2], 1, params.shape[-1]), dtype)
            return AdafactorState(0, row, col, None)
        return AdafactorState(0, None, None, _zeros(params))

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        g = -g if maximize else g
        dtype = _float_dtype(params)
        epsilon1 = np.finfo(dtype).eps if eps1 is None else eps1  # torch: the dtype's eps
        t = state.step + 1
        lr_t = schedule(state.step)
        one_minus_beta2 = t**beta2_decay  # beta2_t = 1 - t^beta2_decay
        rho = min(lr_t, 1 / t**0.5)
        alpha = max(eps2, _rms(params)) * rho
        decayed = params * (1 - lr_t * weight_decay) if weight_decay else params
        row_var = col_var = variance = None
        if params.ndim > 1:
            # Means instead of the paper's sums: the same estimate, R C / mean(R) = R C / sum(R)
            # for sums, with smaller numbers.
            row_var = (
                state.row_var
                + (np.mean(g * g, axis=-1, keepdims=True) - state.row_var) * one_minus_beta2
            )
            col_var = (
                state.col_var
                + (np.mean(g * g, axis=-2, keepdims=True) - state.col_var) * one_minus_beta2
            )
            v_hat = (
                row_var * col_var / np.maximum(np.mean(row_var, axis=-2, keepdims=True), epsilon1)
            )
        else:
            variance = state.variance + (g * g - state.variance) * one_minus_beta2
            v_hat = variance
        u = g / np.sqrt(np.maximum(v_hat, epsilon1 * epsilon1))  # eps1 squared under the root
        u_hat = u / max(1.0, _rms(u) / d)
        new_params = decayed - alpha * u_hat
        return _like_params(params, new_params), AdafactorState(t, row_var, col_var, variance)

    return Optimizer(init, update, elementwise=False)


# ---------------------------------------------------------------------------------------------
# Muon: orthogonalised momentum for weight matrices, AdamW for every other array


class MuonState(NamedTuple):
    step: int
    momentum_buffer: np.ndarray  # B


def zeropower_via_newton_schulz(g, ns_coefficients=(3.4445, -4.775, 2.0315), ns_steps=5, eps=1e-7):
    """An approximation of U Vᵀ for g = U S Vᵀ (every singular value pushed towards 1) by
    ``ns_steps`` quintic Newton–Schulz iterations X ← aX + (b A + c A²) X with A = X Xᵀ, after
    scaling g to Frobenius norm <= 1 (Jordan et al. 2024). Computed on the wide orientation,
    so A is the smaller Gram matrix."""
    a, b, c = ns_coefficients
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / max(float(np.linalg.norm(x)), eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def _muon_lr_ratio(adjust_lr_fn, shape) -> float:
    """torch's AdjustLR over its (out, in) weight shape, which is our (fan_in, fan_out)
    transposed: "original" sqrt(max(1, out/in)) (the default), "match_rms_adamw"
    0.2 sqrt(max(out, in)) (Moonshot: the update's RMS then matches AdamW's)."""
    fan_out, fan_in = shape[1], shape[0]
    if adjust_lr_fn in (None, "original"):
        return float(np.sqrt(max(1.0, fan_out / fan_in)))
    return 0.2 * float(np.sqrt(max(fan_out, fan_in)))


@_recorded
def muon(
    lr=1e-3,
    weight_decay=0.1,
    momentum=0.95,
    nesterov=True,
    ns_coefficients=(3.4445, -4.775, 2.0315),
    eps=1e-7,
    ns_steps=5,
    adjust_lr_fn=None,
) -> Optimizer:
    """Muon (Jordan et al. 2024) as ``torch.optim.Muon``, for 2-D weight matrices only: SGD
    momentum whose update is orthogonalised by Newton–Schulz iterations, decoupled weight decay,
    lr scaled by the matrix's shape. torch keeps B as an average (lerp by 1 - momentum) where
    its docs write B = momentum B + g; the two differ by a factor that the normalisation in
    Newton–Schulz removes. torch runs it in bfloat16; here it runs in the params' dtype."""
    _check_lr(lr)
    _check(np.asarray(weight_decay) >= 0, f"Invalid weight_decay value: {weight_decay=}")
    _check(np.asarray(momentum) >= 0, f"Invalid momentum value: {momentum=}")
    _check(np.asarray(eps) >= 0, f"Invalid epsilon value: {eps=}")
    _check(adjust_lr_fn in (None, "original", "match_rms_adamw"), f"Invalid {adjust_lr_fn=}")
    schedule = _lr_schedule(lr)

    def init(params):
        return MuonState(0, _zeros(params))

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if params.ndim != 2:
            raise ValueError(f"Muon updates 2-D weight matrices only, got {params.shape=}")
        buf = momentum * state.momentum_buffer + g
        direction = g + momentum * buf if nesterov else buf
        o = zeropower_via_newton_schulz(direction, ns_coefficients, ns_steps, eps)
        lr_t = schedule(state.step)
        decayed = params * (1 - lr_t * weight_decay)
        new_params = decayed - lr_t * _muon_lr_ratio(adjust_lr_fn, params.shape) * o
        return _like_params(params, new_params), MuonState(state.step + 1, buf)

    return Optimizer(init, update, elementwise=False)


def by_ndim(matrices: Optimizer, others: Optimizer) -> Optimizer:
    """``matrices`` for 2-D arrays and ``others`` for every other array (biases, batch-norm γ
    and β), as torch's docs pair Muon with AdamW: two optimizers over two parameter lists."""

    def pick(params) -> Optimizer:
        return matrices if np.ndim(params) == 2 else others

    def init(params):
        return pick(params).init(params)

    def update(params, grads, state):
        return pick(params).update(params, grads, state)

    return Optimizer(init, update, elementwise=False)


def _with_adamw_for_the_rest(factory):
    """``factory`` (same signature) for the 2-D arrays and AdamW with the same lr and
    weight_decay (torch's defaults otherwise) for every other array."""
    signature = inspect.signature(factory)

    @wraps(factory)
    def paired(*args, **kwargs) -> Optimizer:
        arguments = signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        lr, weight_decay = arguments.arguments["lr"], arguments.arguments["weight_decay"]
        return by_ndim(factory(*args, **kwargs), adamw(lr=lr, weight_decay=weight_decay))

    paired.__name__ = paired.__qualname__ = f"{factory.__name__}_with_adamw"
    return paired


# Muon for the weight matrices, AdamW for the rest: the pairing torch's Muon docs recommend.
muon_with_adamw = _recorded(_with_adamw_for_the_rest(muon))


# ---------------------------------------------------------------------------------------------
# L-BFGS: a step that evaluates the function itself


class ClosureOptimizer(NamedTuple):
    """An optimizer whose step calls the function, as torch's ``step(closure)``: ``init(params)
    -> state`` and ``step(params, closure, state) -> (new_params, new_state)``, where
    ``closure(params) -> (loss, grad)``. The caller owns the closure, so it can count every
    evaluation and see every point evaluated (``core.descent`` does)."""

    init: Callable[[np.ndarray], Any]
    step: Callable[[np.ndarray, Callable, Any], tuple[np.ndarray, Any]]
    recipe: Recipe | None = None


class LBFGSState(NamedTuple):
    step: int  # steps (closure calls of the caller) done
    func_evals: int  # function evaluations over all steps, torch's state["func_evals"]
    n_iter: int  # L-BFGS iterations over all steps, torch's state["n_iter"]
    direction: np.ndarray | None  # the last search direction d
    step_length: float  # the last step length t along d
    s_history: tuple  # the last ``history_size`` moves s = t d, oldest first
    y_history: tuple  # the matching gradient changes y
    rho_history: tuple  # the matching 1 / (y·s)
    h_diag: float  # y·s / y·y of the newest pair: the initial inverse Hessian's scale
    prev_grad: np.ndarray | None
    prev_loss: float | None


def _two_loop(g, s_history, y_history, rho_history, h_diag) -> np.ndarray:
    """The L-BFGS direction -H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4)."""
    pairs = list(zip(s_history, y_history, rho_history, strict=True))
    q = -g
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = (s @ q) * rho
        q = q - alpha * y
        alphas.append(alpha)
    r = q * h_diag
    for (s, y, rho), alpha in zip(pairs, reversed(alphas), strict=True):
        beta = (y @ r) * rho
        r = r + (alpha - beta) * s
    return r


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimizer of the cubic through (x1, f1, f'=g1) and (x2, f2, f'=g2), clipped to
    ``bounds`` (default: between the points); their midpoint if the cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        minimum = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return float(min(max(minimum, low), high))


class _Trial(NamedTuple):
    t: float  # step length along d
    f: float
    g: np.ndarray
    gtd: float  # directional derivative g·d


def _strong_wolfe(phi, start: _Trial, t, d_norm, tolerance_change, c1=1e-4, c2=0.9, max_ls=25):
    """A step length meeting the strong Wolfe conditions along d (torch's ``_strong_wolfe``, after
    minFunc): bracket a good step, growing it by cubic extrapolation, then zoom into the bracket
    by cubic interpolation. ``phi(t) -> _Trial``. Returns (the trial chosen, evaluations)."""

    def sufficient(trial):  # Armijo: f fell by at least c1·t·(slope at 0)
        return trial.f <= start.f + c1 * trial.t * start.gtd

    def curvature(trial):  # |slope| shrank to at most c2·|slope at 0|
        return abs(trial.gtd) <= -c2 * start.gtd

    previous, trial, evals, done = start, phi(t), 1, False
    bracket = None
    while evals - 1 < max_ls:
        if not sufficient(trial) or (evals > 2 and trial.f >= previous.f):
            bracket = [previous, trial]
            break
        if curvature(trial):
            bracket, done = [trial], True
            break
        if trial.gtd >= 0:
            bracket = [previous, trial]
            break
        # Still descending: extrapolate, at least 1% further and at most 10 times as far.
        t = _cubic_minimum(
            previous.t, previous.f, previous.gtd, trial.t, trial.f, trial.gtd,
            bounds=(trial.t + 0.01 * (trial.t - previous.t), trial.t * 10),
        )  # fmt: skip
        previous, trial = trial, phi(t)
        evals += 1
    if bracket is None:  # max_ls trials without a bracket
        bracket = [start, trial]

    # Zoom: shrink the bracket [low, high] (low has the lower f) until a point meets both
    # conditions or the bracket is too short to matter.
    insufficient_progress = False
    low = 0 if bracket[0].f <= bracket[-1].f else 1
    while not done and evals - 1 < max_ls:
        a, b = bracket[0].t, bracket[1].t
        if abs(b - a) * d_norm < tolerance_change:
            break
        left, right = min(a, b), max(a, b)
        t = _cubic_minimum(a, bracket[0].f, bracket[0].gtd, b, bracket[1].f, bracket[1].gtd)
        # A trial too close to an end makes little progress: move it 10% of the bracket inside.
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:
            if insufficient_progress or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        trial = phi(t)
        evals += 1
        high = 1 - low
        if not sufficient(trial) or trial.f >= bracket[low].f:
            bracket[high] = trial
        else:
            if curvature(trial):
                done = True
            elif trial.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = trial
        low = 0 if bracket[0].f <= bracket[1].f else 1
    return bracket[low], evals


@_recorded
def lbfgs(
    lr=1,
    max_iter=20,
    max_eval=None,
    tolerance_grad=1e-7,
    tolerance_change=1e-9,
    history_size=100,
    line_search_fn=None,
) -> ClosureOptimizer:
    """L-BFGS (Liu & Nocedal 1989) as ``torch.optim.LBFGS``: one step runs up to ``max_iter``
    quasi-Newton iterations (at most ``max_eval`` evaluations), each along the two-loop
    direction, with step ``lr`` or a strong-Wolfe line search (``line_search_fn="strong_wolfe"``).
    """
    _check_lr(lr)
    if line_search_fn not in (None, "strong_wolfe"):
        raise ValueError(
            f"Invalid line_search_fn, only 'strong_wolfe' is supported: {line_search_fn=}"
        )
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    schedule = _lr_schedule(lr)

    def init(params):
        return LBFGSState(0, 0, 0, None, 0.0, (), (), (), 1.0, None, None)

    def step(params, closure, state):
        x = np.array(params, dtype=float)
        loss, g = closure(x)
        loss, g = float(loss), np.asarray(g, dtype=float)
        evals = 1
        st = state._replace(step=state.step + 1, func_evals=state.func_evals + 1)
        if np.max(np.abs(g)) <= tolerance_grad:  # already optimal: no iteration
            return x, st
        lr_t = float(schedule(state.step))
        d, t = st.direction, st.step_length
        s_history, y_history, rho_history = st.s_history, st.y_history, st.rho_history
        h_diag = st.h_diag
        prev_grad, prev_loss, n_iter = st.prev_grad, st.prev_loss, st.n_iter
        for i in range(1, max_iter + 1):
            n_iter += 1
            if n_iter == 1:  # the very first iteration: steepest descent, empty memory
                d, s_history, y_history, rho_history, h_diag = -g, (), (), (), 1.0
            else:
                y, s = g - prev_grad, d * t
                ys = y @ s
                if ys > 1e-10:  # keep only pairs with positive curvature
                    s_history = (*s_history, s)[-history_size:]
                    y_history = (*y_history, y)[-history_size:]
                    rho_history = (*rho_history, 1.0 / ys)[-history_size:]
                    h_diag = ys / (y @ y)
                d = _two_loop(g, s_history, y_history, rho_history, h_diag)
            prev_grad, prev_loss = g, loss
            # The first step length ever is scaled by the gradient's size; later ones are lr.
            t = min(1.0, 1.0 / np.sum(np.abs(g))) * lr_t if n_iter == 1 else lr_t
            gtd = g @ d
            if gtd > -tolerance_change:  # not a descent direction (any more)
                break
            if line_search_fn == "strong_wolfe":

                def phi(t_trial, x=x, d=d):
                    f_trial, g_trial = closure(x + t_trial * d)
                    g_trial = np.asarray(g_trial, dtype=float)
                    return _Trial(t_trial, float(f_trial), g_trial, g_trial @ d)

                start = _Trial(0.0, loss, g, gtd)
                found, ls_evals = _strong_wolfe(phi, start, t, np.max(np.abs(d)), tolerance_change)
                loss, g, t = found.f, found.g, found.t
                x = x + t * d
                evals += ls_evals
            else:
                x = x + t * d
                if i != max_iter:  # torch skips the evaluation after the last iteration
                    loss, g = closure(x)
                    loss, g = float(loss), np.asarray(g, dtype=float)
                    evals += 1
            if i == max_iter or evals >= max_eval:
                break
            if np.max(np.abs(g)) <= tolerance_grad:  # optimal
                break
            if (
                np.max(np.abs(d * t)) <= tolerance_change
                or abs(loss - prev_loss) < tolerance_change
            ):
                break  # no progress
        return x, LBFGSState(
            st.step, state.func_evals + evals, n_iter, d, t, s_history, y_history, rho_history, h_diag,
            prev_grad, prev_loss,
        )  # fmt: skip

    return ClosureOptimizer(init, step)


# ---------------------------------------------------------------------------------------------
# Applying one optimizer to every array of an MLP


def _is_container(x) -> bool:
    # Only plain lists/tuples/dicts are containers; the params side never holds a NamedTuple.
    return isinstance(x, dict | list) or type(x) is tuple


def init_layers(optimizer: Optimizer, params):
    """One optimizer state per array, in the nesting (list/tuple/dict) of ``params``."""
    if isinstance(params, dict):
        return {k: init_layers(optimizer, p) for k, p in params.items()}
    if _is_container(params):
        return type(params)(init_layers(optimizer, p) for p in params)
    return optimizer.init(params)


def update_layers(optimizer: Optimizer, params, grads, states):
    """Update every array of nested ``params`` with its gradient and state; mutates nothing."""
    if isinstance(params, dict):
        pairs = {k: update_layers(optimizer, params[k], grads[k], states[k]) for k in params}
        return {k: p for k, (p, _) in pairs.items()}, {k: s for k, (_, s) in pairs.items()}
    if _is_container(params):
        pairs = [
            update_layers(optimizer, *args) for args in zip(params, grads, states, strict=True)
        ]
        return type(params)(p for p, _ in pairs), type(params)(s for _, s in pairs)
    return optimizer.update(params, grads, states)


# ---------------------------------------------------------------------------------------------
# Registry and UI metadata (data only: labels and help texts live in the locales)


class OptimizerEntry(NamedTuple):
    """Everything the app says about one optimizer: its factory, the hyperparameters a user may
    set (torch's names, order and defaults, ``betas`` as ``beta1``/``beta2``; a test checks them
    against the factory's signature and torch's) and the equivalent torch call, a ``str.format``
    template over those names."""

    factory: Callable[..., Optimizer]
    hyperparameters: dict[str, Param]
    torch_call: str
    closure: bool = False  # the factory builds a ClosureOptimizer (a step that evaluates f)
    pages: tuple[str, ...] = ("optimizers", "mnist")  # the pages it can run on

    def defaults(self) -> dict[str, Any]:
        """Each hyperparameter's default, in torch's argument order."""
        return {name: param.default for name, param in self.hyperparameters.items()}


# What a widget offers for each hyperparameter, the same for every optimizer that has it; each
# entry sets its own default. A log-scaled one steps by the decade of its smallest value.
RANGES: dict[str, Param] = {
    "lr": Param("float", 1e-3, 1e-5, 10.0, log=True, step=1e-5),
    "momentum": Param("float", 0.9, 0.0, 0.999, step=0.01),
    "dampening": Param("float", 0.0, 0.0, 0.99, step=0.01),
    "nesterov": Param("bool", False),
    "weight_decay": Param("float", 0.0, 0.0, 0.1, step=0.01),
    "etaminus": Param("float", 0.5, 0.01, 0.99, step=0.01),
    "etaplus": Param("float", 1.2, 1.01, 5.0, step=0.01),
    "step_size_min": Param("float", 1e-6, 1e-9, 1e-2, log=True, step=1e-9),
    "step_size_max": Param("float", 50.0, 0.01, 100.0, log=True, step=0.01),
    "lambd": Param("float", 1e-4, 0.0, 1.0, step=1e-4),
    "alpha": Param("float", 0.99, 0.0, 0.999, step=0.01),
    "t0": Param("float", 1e6, 0.0, 1e6, step=1.0),
    "eps": Param("float", 1e-8, 1e-12, 1e-1, log=True, step=1e-12),
    "centered": Param("bool", False),
    "lr_decay": Param("float", 0.0, 0.0, 0.1, step=0.01),
    "initial_accumulator_value": Param("float", 0.0, 0.0, 1.0, step=0.01),
    "rho": Param("float", 0.9, 0.0, 0.999, step=0.01),
    "beta1": Param("float", 0.9, 0.0, 0.999, step=0.01),
    "beta2": Param("float", 0.999, 0.0, 0.9999, step=0.01),
    "amsgrad": Param("bool", False),
    "momentum_decay": Param("float", 4e-3, 0.0, 0.1, step=0.01),
    "beta2_decay": Param("float", -0.8, -1.0, 0.0, step=0.05),
    "eps2": Param("float", 1e-3, 1e-8, 1e-1, log=True, step=1e-8),
    "d": Param("float", 1.0, 1.0, 10.0, step=0.1),
    "max_iter": Param("int", 20, 1, 100, step=1),
    "tolerance_grad": Param("float", 1e-7, 1e-12, 1e-1, log=True, step=1e-12),
    "tolerance_change": Param("float", 1e-9, 1e-15, 1e-1, log=True, step=1e-15),
    "history_size": Param("int", 100, 1, 200, step=1),
    "line_search_fn": Param("choice", None, options=(None, "strong_wolfe")),
    "ns_steps": Param("int", 5, 1, 10, step=1),
    "adjust_lr_fn": Param("choice", None, options=(None, "original", "match_rms_adamw")),
    "decoupled_weight_decay": Param("bool", False),
    "maximize": Param("bool", False),
}
# torch's tuple arguments and the two widgets each is split into (first, second).
PAIRS = {
    "betas": ("beta1", "beta2"),
    "etas": ("etaminus", "etaplus"),
    "step_sizes": ("step_size_min", "step_size_max"),
    "eps": ("eps1", "eps2"),  # Adafactor's; eps1's default None (the dtype's eps) has no widget
}


def _entry(
    factory: Callable[..., Optimizer], torch_call: str, *, record=(), **defaults: Any
) -> OptimizerEntry:
    """The entry of ``factory``; ``record`` holds the other fields of OptimizerEntry as pairs."""
    hyperparameters = {
        name: RANGES[name]._replace(default=value) for name, value in defaults.items()
    }
    return OptimizerEntry(factory, hyperparameters, torch_call, **dict(record))


_MAX = {"maximize": False}
_SGD = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
_ADAM_LIKE = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
_DECOUPLED = {"decoupled_weight_decay": False}
_SGD_CALL = (
    "torch.optim.SGD(params, lr={lr}, momentum={momentum}, dampening={dampening}, "
    "weight_decay={weight_decay}, nesterov={nesterov}, maximize={maximize})"
)
_BETAS = "betas=({beta1}, {beta2}), eps={eps}, weight_decay={weight_decay}"
_SGD_ALL = _SGD | _MAX

# In the order of the module (and of the UI): from plain SGD to the Adam family.
OPTIMIZER_ENTRIES: dict[str, OptimizerEntry] = {
    "sgd": _entry(sgd, _SGD_CALL, **_SGD_ALL),
    "momentum": _entry(momentum, _SGD_CALL, **_SGD_ALL | {"momentum": 0.9}),
    "nesterov": _entry(nesterov, _SGD_CALL, **_SGD_ALL | {"momentum": 0.9, "nesterov": True}),
    "asgd": _entry(
        asgd,
        "torch.optim.ASGD(params, lr={lr}, lambd={lambd}, alpha={alpha}, t0={t0}, "
        "weight_decay={weight_decay}, maximize={maximize})",
        lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, **_MAX,
    ),
    "rprop": _entry(
        rprop,
        "torch.optim.Rprop(params, lr={lr}, etas=({etaminus}, {etaplus}), "
        "step_sizes=({step_size_min}, {step_size_max}), maximize={maximize})",
        lr=1e-2, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0, **_MAX,
    ),
    "adagrad": _entry(
        adagrad,
        "torch.optim.Adagrad(params, lr={lr}, lr_decay={lr_decay}, weight_decay={weight_decay}, "
        "initial_accumulator_value={initial_accumulator_value}, eps={eps}, maximize={maximize})",
        lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, **_MAX,
    ),
    "rmsprop": _entry(
        rmsprop,
        "torch.optim.RMSprop(params, lr={lr}, alpha={alpha}, eps={eps}, "
        "weight_decay={weight_decay}, momentum={momentum}, centered={centered}, "
        "maximize={maximize})",
        lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, **_MAX,
    ),
    "adadelta": _entry(
        adadelta,
        "torch.optim.Adadelta(params, lr={lr}, rho={rho}, eps={eps}, weight_decay={weight_decay}, "
        "maximize={maximize})",
        lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, **_MAX,
    ),
    "adam": _entry(
        adam,
        "torch.optim.Adam(params, lr={lr}, " + _BETAS + ", amsgrad={amsgrad}, "
        "maximize={maximize}, decoupled_weight_decay={decoupled_weight_decay})",
        **_ADAM_LIKE | {"amsgrad": False} | _MAX | _DECOUPLED,
    ),
    "adamw": _entry(
        adamw,
        "torch.optim.AdamW(params, lr={lr}, " + _BETAS + ", amsgrad={amsgrad}, "
        "maximize={maximize})",
        **_ADAM_LIKE | {"weight_decay": 1e-2, "amsgrad": False} | _MAX,
    ),
    "nadam": _entry(
        nadam,
        "torch.optim.NAdam(params, lr={lr}, " + _BETAS + ", momentum_decay={momentum_decay}, "
        "decoupled_weight_decay={decoupled_weight_decay}, maximize={maximize})",
        **_ADAM_LIKE | {"lr": 2e-3, "momentum_decay": 4e-3} | _DECOUPLED | _MAX,
    ),
    "radam": _entry(
        radam,
        "torch.optim.RAdam(params, lr={lr}, " + _BETAS + ", "
        "decoupled_weight_decay={decoupled_weight_decay}, maximize={maximize})",
        **_ADAM_LIKE | _DECOUPLED | _MAX,
    ),
    "adamax": _entry(
        adamax, "torch.optim.Adamax(params, lr={lr}, " + _BETAS + ", maximize={maximize})",
        **_ADAM_LIKE | {"lr": 2e-3} | _MAX,
    ),
    "adafactor": _entry(
        adafactor,
        "torch.optim.Adafactor(params, lr={lr}, beta2_decay={beta2_decay}, eps=(None, {eps2}), "
        "d={d}, weight_decay={weight_decay}, maximize={maximize})",
        lr=1e-2, beta2_decay=-0.8, eps2=1e-3, d=1.0, weight_decay=0.0, **_MAX,
    ),
    # Muon takes the weight matrices; the other arrays get AdamW, as torch's docs recommend.
    "muon": _entry(
        muon_with_adamw,
        "(torch.optim.Muon([p for p in params if p.ndim == 2], lr={lr}, "
        "weight_decay={weight_decay}, momentum={momentum}, nesterov={nesterov}, "
        "ns_coefficients=(3.4445, -4.775, 2.0315), eps={eps}, ns_steps={ns_steps}, "
        "adjust_lr_fn={adjust_lr_fn!r}), "
        "torch.optim.AdamW([p for p in params if p.ndim != 2], lr={lr}, "
        "weight_decay={weight_decay}))",
        record=(("pages", ("mnist",)),),
        lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, eps=1e-7, ns_steps=5,
        adjust_lr_fn=None,
    ),
    # max_eval keeps torch's default None (= max_iter * 5 // 4), so it follows max_iter.
    "lbfgs": _entry(
        lbfgs,
        "torch.optim.LBFGS(params, lr={lr}, max_iter={max_iter}, max_eval=None, "
        "tolerance_grad={tolerance_grad}, tolerance_change={tolerance_change}, "
        "history_size={history_size}, line_search_fn={line_search_fn!r})",
        record=(("closure", True), ("pages", ("optimizers",))),
        lr=1.0, max_iter=20, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100,
        line_search_fn=None,
    ),
}  # fmt: skip
# The factories of (init, update) pairs by name, for the many callers that only build those.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    name: entry.factory for name, entry in OPTIMIZER_ENTRIES.items() if not entry.closure
}


def on_page(page: str) -> tuple[str, ...]:
    """The names of the optimizers that can run on ``page`` ("optimizers" or "mnist")."""
    return tuple(name for name, entry in OPTIMIZER_ENTRIES.items() if page in entry.pages)


def make(name: str, **hyperparameters) -> Optimizer | ClosureOptimizer:
    """Build ``OPTIMIZERS[name]`` from UI-table names (``beta1``/``beta2`` become ``betas``, and
    so on for every pair of ``PAIRS``; a half not given keeps the factory's default)."""
    if name not in OPTIMIZER_ENTRIES:
        raise ValueError(f"Unknown optimizer: {name=}")
    factory = OPTIMIZER_ENTRIES[name].factory
    kwargs = dict(hyperparameters)
    signature = inspect.signature(factory).parameters
    for pair, (first, second) in PAIRS.items():
        if pair in signature and (first in kwargs or second in kwargs):
            default = signature[pair].default
            kwargs[pair] = (kwargs.pop(first, default[0]), kwargs.pop(second, default[1]))
    return factory(**kwargs)
