"""Gradient-descent optimizers as pure ``(init, update)`` pairs over NumPy arrays.

Every factory takes ``torch.optim``'s argument names and defaults and returns
``Optimizer(init, update)``: ``init(params) -> state`` and
``update(params, grads, state) -> (new_params, new_state)``. ``update`` builds new arrays and
mutates nothing, so one optimizer can drive many paths side by side. Each state is a NamedTuple
``<Algorithm>State`` whose ``step`` counts the updates done so far.

The update rules are those of the algorithm boxes in the PyTorch docs (torch 2.x, maximize=False);
``weight_decay`` is L2 added to the gradient everywhere except in ``adamw``, whose decay is
decoupled. ``lr`` is a float or a schedule ``step -> lr`` (see ``core.schedules``), evaluated at
``state.step``, i.e. the lr in force for that update. ``lr``, ``momentum`` and the betas may also be
arrays that broadcast against the params, so that e.g. params of shape (R, 2) with lr of shape
(R, 1) race R learning rates in one call. Params keep their floating dtype.

``init_layers`` / ``update_layers`` apply one optimizer to every array of a nested list/tuple/dict
of arrays (an MLP's layers), like JAX's optimizers over a pytree.

Speed (the same numbers, fewer passes): argument checks and "is weight decay on?" are decided once
in the factory, not per update. SGD (with its momentum variants) and the Adam family also carry
``update.into(params, grads, state, out, scratch) -> (new_params, new_state)`` for a caller that
owns ``out``, ``scratch`` and every buffer of ``state`` (``core.training`` within a tick): the same
operations in the same order, written into ``out`` and into the state's own buffers instead of new
arrays; ``params`` and ``grads`` are only read, and no ``np.errstate`` guard is set (as ``raw``).
Where dtypes or shapes do not fit it returns ``update``'s fresh arrays instead.
Each ``update`` carries two attributes for ``core.descent.race``:
``update.raw`` is the update without its ``np.errstate`` guard (for loops that set errstate once),
and ``update.fuse`` a ``Fusion`` record (absent when ``lr`` is a schedule) from which optimizers of
one factory and the same flags are rebuilt as a single optimizer with per-run hyperparameter arrays;
elementwise NumPy arithmetic makes that fused run give the same numbers as the separate runs.
Where the settings are scalars, ``update.shared`` (a ``Shared`` record) also states the update as
coefficients of one formula common to several factories, so a race updates them all in one call.
Every optimizer also carries its ``recipe``: the factory and every argument it was built with.
"""

import inspect
from collections.abc import Callable
from functools import partial, wraps
from typing import Any, NamedTuple

import numpy as np

from core.schedules import as_schedule


class Recipe(NamedTuple):
    factory: Callable[..., "Optimizer"]
    arguments: dict[str, Any]  # every argument of the factory, defaults filled in


class Optimizer(NamedTuple):
    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, np.ndarray, Any], tuple[np.ndarray, Any]]
    recipe: Recipe | None = None  # set by every factory below


class Fusion(NamedTuple):
    """How to rebuild an optimizer with per-run hyperparameters (see the module docstring)."""

    key: tuple  # (factory name, flags...): optimizers with equal keys can be fused
    hyperparameters: dict[str, Any]  # numeric hyperparameters (betas split into beta1, beta2)
    build: Callable[..., Optimizer]  # build(**hyperparameters) -> Optimizer


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
    # A schedule validates its own arguments; its values are not known ahead of time.
    if not callable(lr):
        _check(np.asarray(lr) >= 0, f"Invalid learning rate: {lr=}")


def _check_common(lr, eps, weight_decay) -> None:
    _check_lr(lr)
    _check(np.asarray(eps) >= 0, f"Invalid epsilon value: {eps=}")
    _check(np.asarray(weight_decay) >= 0, f"Invalid weight_decay value: {weight_decay=}")


def _check_betas(betas) -> None:
    beta1, beta2 = betas
    b1, b2 = np.asarray(beta1), np.asarray(beta2)
    _check((b1 >= 0) & (b1 < 1), f"Invalid beta parameter at index 0: {beta1=}")
    _check((b2 >= 0) & (b2 < 1), f"Invalid beta parameter at index 1: {beta2=}")


def _quiet(update):
    """Silence NumPy's overflow/invalid warnings inside an update: a diverging path simply
    yields inf/NaN params, which the caller reports (core reports failures, it never warns)."""

    @wraps(update)
    def quiet_update(params, grads, state):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return update(params, grads, state)

    quiet_update.raw = update
    return quiet_update


class Shared(NamedTuple):
    """An optimizer as a case of one shared update, so a race runs several kinds in one call.

    With gp = g + weight_decay·p, per step t (coefficients as rows of ``coefficients(steps)``):
    ``A ← a1·A + a2·gp``, ``B ← b1·B + (b2·gp)·gp``,
    ``p ← p·k − (lr·((c1·A)/d1 + (c2·gp)/d2) / (sqrt(B/e1) + eps))·lr2``.
    Each optimizer's own formula is this one with some coefficients 0 or 1, which change no
    number (x·1 = x, x + 0 = x, x/1 = x), so the shared update reproduces it exactly.
    Two ``kind``s change a step of it for their rows: ``"max"`` (Adamax) sets
    ``B ← max(b1·B, |gp| + eps)`` and divides by ``B`` itself; ``"adadelta"`` keeps Adadelta's
    ``acc_delta`` in ``A`` (a1 = 1, a2 = 0) and steps by ``lr·sqrt(A + eps)/sqrt(B + eps)·gp``.
    """

    weight_decay: float
    b1: float
    b2: float
    b0: float  # B before the first step
    eps: float
    lr: Any  # float or per-run array
    coefficients: Callable[[int], dict[str, Any]]  # steps -> a1 a2 c1 d1 c2 d2 e1 lr k rows
    state: Callable[[int, np.ndarray, np.ndarray], Any]  # (steps, A, B) -> the own state
    kind: str = "sqrt"  # "sqrt", "max" (Adamax) or "adadelta" (see above)


def _shareable(lr, *hyperparameters) -> bool:
    return not callable(lr) and all(np.ndim(h) == 0 for h in hyperparameters)


def _fusable(optimizer: Optimizer, lr, key: tuple, build, **hyperparameters) -> Optimizer:
    """Attach a ``Fusion`` record to ``optimizer.update`` unless ``lr`` is a schedule."""
    if not callable(lr):
        optimizer.update.fuse = Fusion(key, {"lr": lr, **hyperparameters}, build)
    return optimizer


def _nonzero(x) -> bool:
    """Whether any element of a hyperparameter is non-zero (decided once, in the factory)."""
    return bool(np.any(np.asarray(x) != 0))


def _plain(*values) -> bool:
    """Whether all values are Python scalars, which keep float32 arrays float32 (NEP 50)."""
    return all(type(v) in (int, float, bool) for v in values)


def _float_dtype(params: np.ndarray):
    """The dtype new params are returned in: their own if floating, else float64."""
    return params.dtype if params.dtype.kind == "f" else np.dtype(float)


def _zeros(params) -> np.ndarray:
    """Zero state buffer shaped like ``params`` in their float dtype (float32 stays float32)."""
    params = np.asarray(params)
    return np.zeros(params.shape, dtype=_float_dtype(params))


def _apply(params, lr_t, direction):
    """``params - lr_t * direction`` in the params' float dtype, allocating one array if it can."""
    step = lr_t * direction
    if type(step) is np.ndarray and step.dtype == params.dtype == direction.dtype:
        # Same dtypes, same shape as params: subtracting into `step` gives the identical result.
        if step.shape == params.shape and params.dtype.kind == "f":
            return np.subtract(params, step, out=step)
    return _finish(params, params - step)


def _same_layout(params, *arrays) -> bool:
    """Whether ``arrays`` share the params' floating dtype and shape, so out= keeps every bit."""
    return (
        params.dtype.kind == "f"
        and params.ndim > 0  # 0-d arithmetic returns scalars, which have no out=
        and all(a.dtype == params.dtype and a.shape == params.shape for a in arrays)
    )


def _finish(params, new_params):
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
def sgd(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False) -> Optimizer:
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
    l2 = _nonzero(weight_decay)
    uses_momentum = _nonzero(momentum)
    has_momentum = np.asarray(momentum) != 0
    mixed = uses_momentum and not np.all(has_momentum)  # some runs of a race without momentum
    undamped = np.ndim(dampening) == 0 and dampening == 0

    def init(params):
        return SGDState(step=0, momentum_buffer=None)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
        buf = state.momentum_buffer
        if uses_momentum:
            # torch starts the buffer at the first gradient itself, undamped (b_1 = g_1).
            if buf is None:
                buf = np.array(g, dtype=_float_dtype(g))  # a copy: state never aliases grads
            else:
                buf = np.multiply(buf, momentum)  # a fresh array: the old buffer is untouched
                if undamped and buf.dtype == g.dtype:
                    buf += g  # (1 - 0) * g is g exactly, so this is torch's formula
                else:
                    buf = buf + (1 - dampening) * g
            direction = g + momentum * buf if nesterov else buf
            if mixed:
                # torch skips the buffer entirely where momentum == 0 (dampening has no effect).
                direction = np.where(has_momentum, direction, g)
        else:
            direction = g
        return _apply(params, schedule(state.step), direction), SGDState(state.step + 1, buf)

    in_place = _plain(momentum, dampening, weight_decay)

    def into(params, grads, state, out, scratch):
        lr_t = schedule(state.step)
        buf = state.momentum_buffer
        buffers = (grads, out) if buf is None else (grads, out, buf)
        if not (in_place and _plain(lr_t) and _same_layout(params, *buffers)):
            return update.raw(params, grads, state)
        g = grads + weight_decay * params if l2 else grads
        if uses_momentum:
            if buf is None:
                buf = g.copy()
            else:
                buf *= momentum
                buf += g if undamped else (1 - dampening) * g
            if nesterov:
                # g + momentum·buf, summed the other way round: IEEE + and · are commutative.
                np.multiply(buf, momentum, out=out)
                out += g
            direction = out if nesterov else buf
        else:
            direction = g
        np.multiply(direction, lr_t, out=out)
        return np.subtract(params, out, out=out), SGDState(state.step + 1, buf)

    update.into = into

    if _shareable(lr, momentum, dampening, weight_decay):
        mu, d = float(momentum), float(dampening)

        def coefficients(steps):
            # Step 1 sets the buffer to g itself (a1 = 0, a2 = 1), as torch does.
            a1, a2 = np.full(steps, mu), np.full(steps, 1 - d)
            a1[:1], a2[:1] = 0.0, 1.0
            # direction: nesterov g + mu·buf; momentum buf; plain g (buffer unused)
            c1, c2 = (mu, 1.0) if nesterov else ((1.0, 0.0) if mu != 0 else (0.0, 1.0))
            lrs = np.asarray(lr, dtype=float).reshape(1, -1)
            return {"a1": a1, "a2": a2, "c1": c1, "c2": c2, "lr": lrs}

        def state(steps, A, B):
            return SGDState(steps, A.copy() if uses_momentum and steps else None)

        # B stays 1 (b1 = 1, b2 = 0) so the denominator is sqrt(1) + 0 = 1.
        update.shared = Shared(float(weight_decay), 1.0, 0.0, 1.0, 0.0, lr, coefficients, state)
    return _fusable(
        Optimizer(init, update),
        lr,
        ("sgd", bool(nesterov)),
        lambda **h: sgd(nesterov=nesterov, **h),
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
    )


momentum = partial(sgd, momentum=0.9)
nesterov = partial(sgd, momentum=0.9, nesterov=True)


# ---------------------------------------------------------------------------------------------
# Adagrad


class AdagradState(NamedTuple):
    step: int
    state_sum: np.ndarray


@_recorded
def adagrad(
    lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
) -> Optimizer:
    """Adagrad: per-coordinate lr scaled by the root of the summed squared gradients."""
    _check_common(lr, eps, weight_decay)
    _check(np.asarray(lr_decay) >= 0, f"Invalid lr_decay value: {lr_decay=}")
    _check(
        np.asarray(initial_accumulator_value) >= 0,
        f"Invalid initial_accumulator_value value: {initial_accumulator_value=}",
    )
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)

    def init(params):
        return AdagradState(0, _zeros(params) + initial_accumulator_value)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
        clr = schedule(state.step) / (1 + state.step * lr_decay)  # step = t - 1 in torch's box
        state_sum = state.state_sum + g * g
        new_params = params - clr * g / (np.sqrt(state_sum) + eps)
        return _finish(params, new_params), AdagradState(state.step + 1, state_sum)

    if _shareable(lr, lr_decay, weight_decay, initial_accumulator_value, eps):

        def coefficients(steps):
            lrs = (
                np.asarray(lr, dtype=float).reshape(1, -1)
                / (1 + np.arange(steps) * lr_decay)[:, None]
            )
            return {"a1": 0.0, "a2": 0.0, "c1": 0.0, "c2": 1.0, "lr": lrs}

        def state(steps, A, B):
            return AdagradState(steps, B.copy())

        update.shared = Shared(
            float(weight_decay),
            1.0,
            1.0,
            float(initial_accumulator_value),
            float(eps),
            lr,
            coefficients,
            state,
        )
    return _fusable(
        Optimizer(init, update),
        lr,
        ("adagrad",),
        lambda **h: adagrad(**h),
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
    )


# ---------------------------------------------------------------------------------------------
# RMSprop


class RMSpropState(NamedTuple):
    step: int
    square_avg: np.ndarray
    grad_avg: np.ndarray | None  # only when centered
    momentum_buffer: np.ndarray | None  # only when momentum > 0


@_recorded
def rmsprop(
    lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False
) -> Optimizer:
    """RMSprop (Hinton), optionally centered and with momentum, as ``torch.optim.RMSprop``."""
    _check_common(lr, eps, weight_decay)
    _check(np.asarray(momentum) >= 0, f"Invalid momentum value: {momentum=}")
    _check(np.asarray(alpha) >= 0, f"Invalid alpha value: {alpha=}")
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)
    uses_momentum = np.any(np.asarray(momentum) > 0)

    def init(params):
        zeros = _zeros(params)
        return RMSpropState(0, zeros, zeros if centered else None, zeros if uses_momentum else None)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
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
        return _finish(params, new_params), RMSpropState(state.step + 1, square_avg, grad_avg, buf)

    if not centered and not uses_momentum and _shareable(lr, alpha, eps, weight_decay, momentum):

        def coefficients(steps):
            # g / (sqrt(v) + eps) first, then times lr (lr2), as in update; A is unused (0).
            lrs = np.asarray(lr, dtype=float).reshape(1, -1)
            return {"a1": 0.0, "a2": 0.0, "c1": 0.0, "c2": 1.0, "lr": 1.0, "lr2": lrs}

        def state(steps, A, B):
            return RMSpropState(steps, B.copy(), None, None)

        update.shared = Shared(
            float(weight_decay),
            float(alpha),
            float(1 - alpha),
            0.0,
            float(eps),
            lr,
            coefficients,
            state,
        )
    return _fusable(
        Optimizer(init, update),
        lr,
        ("rmsprop", bool(centered), bool(uses_momentum)),
        lambda **h: rmsprop(centered=centered, **h),
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        momentum=momentum,
    )


# ---------------------------------------------------------------------------------------------
# Adadelta


class AdadeltaState(NamedTuple):
    step: int
    square_avg: np.ndarray  # v: running mean of g²
    acc_delta: np.ndarray  # u: running mean of the squared updates


@_recorded
def adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0) -> Optimizer:
    """Adadelta (Zeiler 2012): updates scaled by RMS of past updates over RMS of gradients."""
    _check_common(lr, eps, weight_decay)
    _check((np.asarray(rho) >= 0) & (np.asarray(rho) <= 1), f"Invalid rho value: {rho=}")
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)

    def init(params):
        zeros = _zeros(params)
        return AdadeltaState(0, zeros, zeros)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
        square_avg = rho * state.square_avg + (1 - rho) * g * g
        delta = np.sqrt(state.acc_delta + eps) / np.sqrt(square_avg + eps) * g
        acc_delta = rho * state.acc_delta + (1 - rho) * delta * delta
        new_params = params - schedule(state.step) * delta
        return _finish(params, new_params), AdadeltaState(state.step + 1, square_avg, acc_delta)

    if _shareable(lr, rho, eps, weight_decay):

        def coefficients(steps):
            # A holds acc_delta, left alone by the shared A-update (A·1 + 0·g) and set by the
            # adadelta step; B is square_avg.
            lrs = np.asarray(lr, dtype=float).reshape(1, -1)
            return {"a1": 1.0, "a2": 0.0, "lr": lrs}

        def state(steps, A, B):
            return AdadeltaState(steps, B.copy(), A.copy())

        update.shared = Shared(
            float(weight_decay),
            float(rho),
            float(1 - rho),
            0.0,
            float(eps),
            lr,
            coefficients,
            state,
            "adadelta",
        )
    return _fusable(
        Optimizer(init, update),
        lr,
        ("adadelta",),
        lambda **h: adadelta(**h),
        rho=rho,
        eps=eps,
        weight_decay=weight_decay,
    )


# ---------------------------------------------------------------------------------------------
# Adam family


class AdamState(NamedTuple):
    step: int
    exp_avg: np.ndarray  # m
    exp_avg_sq: np.ndarray  # v
    max_exp_avg_sq: np.ndarray | None  # running max of v, only when amsgrad


def _adam_init(amsgrad):
    def init(params):
        zeros = _zeros(params)
        return AdamState(0, zeros, zeros, zeros if amsgrad else None)

    return init


def _adam_family(lr, betas, eps, weight_decay, decoupled_decay, amsgrad) -> Optimizer:
    """Adam with coupled L2 ``weight_decay`` and AdamW's ``decoupled_decay``; no checks here.

    Adam is ``decoupled_decay=0`` and AdamW ``weight_decay=0``; a zero term changes no number
    (g + 0·p = g, p·(1 − lr·0) = p), so one race can run Adam and AdamW paths in one update.
    """
    schedule = _lr_schedule(lr)
    l2, decay = _nonzero(weight_decay), _nonzero(decoupled_decay)
    beta1, beta2 = betas
    scalar = all(np.ndim(x) == 0 for x in (beta1, beta2, eps))
    plain = _plain(beta1, beta2, eps)

    def prepare(params, g, state):
        """(lr_t, g with L2, base params after decoupled decay, whether buffers may be used)."""
        lr_t = schedule(state.step)
        if l2:
            g = g + weight_decay * params
        # Decay shrinks the params directly (scaled by lr, as torch does); m and v never see it.
        base = params * (1 - lr_t * decoupled_decay) if decay else params
        m0, v0, dtype = state.exp_avg, state.exp_avg_sq, g.dtype
        buffered = (
            scalar
            and (not isinstance(lr_t, np.ndarray) or lr_t.ndim == 0)
            and dtype.kind == "f"
            and dtype == m0.dtype == v0.dtype == params.dtype == base.dtype
            and (not amsgrad or state.max_exp_avg_sq.dtype == dtype)
            and params.ndim > 0  # 0-d arithmetic returns scalars, which have no out=
            and g.shape == m0.shape == params.shape
            and (dtype == np.float64 or (plain and _plain(lr_t)))
        )
        return lr_t, g, base, buffered

    def arithmetic(state, g, base, lr_t, m, v, v_max, tmp, out):
        """The formulas of ``update`` below, operation by operation, written into buffers."""
        t = state.step + 1
        np.multiply(state.exp_avg, beta1, out=m)
        np.multiply(g, 1 - beta1, out=tmp)
        m += tmp
        np.multiply(state.exp_avg_sq, beta2, out=v)
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp
        if amsgrad:
            np.maximum(state.max_exp_avg_sq, v, out=v_max)
        np.divide(v_max if amsgrad else v, 1 - beta2**t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps
        np.divide(m, 1 - beta1**t, out=out)
        out *= lr_t
        out /= tmp
        return np.subtract(base, out, out=out), AdamState(t, m, v, v_max)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        lr_t, g, base, buffered = prepare(params, g, state)
        if buffered:
            # Fresh buffers filled in place: 4 new arrays instead of ~13.
            m, v, tmp, out = (np.empty_like(g) for _ in range(4))
            v_max = np.empty_like(g) if amsgrad else None
            return arithmetic(state, g, base, lr_t, m, v, v_max, tmp, out)
        t = state.step + 1
        m = beta1 * state.exp_avg + (1 - beta1) * g
        v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
        # amsgrad keeps the max of the raw v and bias-corrects that (torch's implementation).
        v_max = np.maximum(state.max_exp_avg_sq, v) if amsgrad else None
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        new_params = base - lr_t * m_hat / (np.sqrt(v_hat) + eps)
        return _finish(params, new_params), AdamState(t, m, v, v_max)

    def into(params, grads, state, out, scratch):
        lr_t, g, base, buffered = prepare(params, grads, state)
        if not (buffered and _same_layout(params, grads, out, scratch)):
            return update.raw(params, grads, state)
        m, v, v_max = state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq
        return arithmetic(state, g, base, lr_t, m, v, v_max, scratch, out)

    update.into = into

    def build(lr, beta1, beta2, eps, weight_decay, decoupled_decay):
        return _adam_family(lr, (beta1, beta2), eps, weight_decay, decoupled_decay, amsgrad)

    beta1, beta2 = betas
    if not amsgrad and _shareable(lr, beta1, beta2, eps, weight_decay, decoupled_decay):

        def coefficients(steps):
            # Python floats as in update (beta ** t), not np.power, so every bit agrees.
            ts = range(1, steps + 1)
            lrs = np.asarray(lr, dtype=float).reshape(1, -1)
            return {
                "a1": beta1,
                "a2": 1 - beta1,
                "c1": 1.0,
                "d1": np.array([1 - beta1**t for t in ts]),
                "c2": 0.0,
                "e1": np.array([1 - beta2**t for t in ts]),
                "lr": lrs,
                "k": 1 - lrs * decoupled_decay if decay else 1.0,
            }

        def state(steps, A, B):
            return AdamState(steps, A.copy(), B.copy(), None)

        # B is Adam's v (b1 = beta2); A is m, its beta1 is in a1/a2.
        update.shared = Shared(
            float(weight_decay), beta2, 1 - beta2, 0.0, float(eps), lr, coefficients, state
        )
    return _fusable(
        Optimizer(_adam_init(amsgrad), update),
        lr,
        ("adam", bool(amsgrad)),
        build,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        decoupled_decay=decoupled_decay,
    )


@_recorded
def adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False) -> Optimizer:
    """Adam (Kingma & Ba 2014) with eps outside the root of the bias-corrected v, as torch."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    return _adam_family(lr, betas, eps, weight_decay, 0.0, amsgrad)


@_recorded
def adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False) -> Optimizer:
    """AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    return _adam_family(lr, betas, eps, 0.0, weight_decay, amsgrad)


class NAdamState(NamedTuple):
    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    mu_product: np.ndarray | float  # prod_{i<=t} mu_i, as torch keeps it


@_recorded
def nadam(
    lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3
) -> Optimizer:
    """NAdam (Dozat 2016): Adam with Nesterov momentum and torch's momentum-decay schedule mu_t."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    _check(np.asarray(momentum_decay) >= 0, f"Invalid momentum_decay value: {momentum_decay=}")
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)
    beta1, beta2 = betas

    def init(params):
        zeros = _zeros(params)
        return NAdamState(0, zeros, zeros, 1.0)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
        t = state.step + 1
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = state.mu_product * mu
        m = beta1 * state.exp_avg + (1 - beta1) * g
        v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
        m_hat = mu_next * m / (1 - mu_product * mu_next) + (1 - mu) * g / (1 - mu_product)
        v_hat = v / (1 - beta2**t)
        new_params = params - schedule(state.step) * m_hat / (np.sqrt(v_hat) + eps)
        return _finish(params, new_params), NAdamState(t, m, v, mu_product)

    if _shareable(lr, beta1, beta2, eps, weight_decay, momentum_decay):

        def mus(steps):
            """mu_t, mu_{t+1} and the running product, with the Python floats of update."""
            rows, product = [], 1.0
            mu_next = beta1 * (1 - 0.5 * 0.96 ** (1 * momentum_decay))
            for t in range(1, steps + 1):
                # mu_t is the previous step's mu_next: the same expression with the same t.
                mu = mu_next
                mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
                product = product * mu
                rows.append((mu, mu_next, product, 1 - beta2**t))
            return np.array(rows).reshape(-1, 4), product

        def coefficients(steps):
            rows, _ = mus(steps)
            mu, mu_next, product, bc2 = rows.T
            return {
                "a1": beta1,
                "a2": 1 - beta1,
                "c1": mu_next,
                "d1": 1 - product * mu_next,
                "c2": 1 - mu,
                "d2": 1 - product,
                "e1": bc2,
                "lr": np.asarray(lr, dtype=float).reshape(1, -1),
            }

        def state(steps, A, B):
            return NAdamState(steps, A.copy(), B.copy(), mus(steps)[1] if steps else 1.0)

        update.shared = Shared(
            float(weight_decay),
            float(beta2),
            float(1 - beta2),
            0.0,
            float(eps),
            lr,
            coefficients,
            state,
        )
    return _fusable(
        Optimizer(init, update),
        lr,
        ("nadam",),
        lambda beta1, beta2, **h: nadam(betas=(beta1, beta2), **h),
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        momentum_decay=momentum_decay,
    )


@_recorded
def radam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0) -> Optimizer:
    """RAdam (Liu et al. 2019): Adam whose adaptive term is switched on once rho_t > 5."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)
    beta1, beta2 = betas
    rho_inf = 2 / (1 - beta2) - 1

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
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
        return _finish(params, new_params), AdamState(t, m, v, None)

    return _fusable(
        Optimizer(_adam_init(False), update),
        lr,
        ("radam",),
        lambda beta1, beta2, **h: radam(betas=(beta1, beta2), **h),
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
    )


class AdamaxState(NamedTuple):
    step: int
    exp_avg: np.ndarray  # m
    exp_inf: np.ndarray  # u: exponentially weighted infinity norm


@_recorded
def adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0) -> Optimizer:
    """Adamax (Kingma & Ba 2014, sec. 7): Adam with the infinity norm in place of v."""
    _check_common(lr, eps, weight_decay)
    _check_betas(betas)
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)
    beta1, beta2 = betas

    def init(params):
        zeros = _zeros(params)
        return AdamaxState(0, zeros, zeros)

    @_quiet
    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        if l2:
            g = g + weight_decay * params
        t = state.step + 1
        m = beta1 * state.exp_avg + (1 - beta1) * g
        u = np.maximum(beta2 * state.exp_inf, np.abs(g) + eps)  # torch puts eps inside the max
        new_params = params - schedule(state.step) / (1 - beta1**t) * m / u
        return _finish(params, new_params), AdamaxState(t, m, u)

    if _shareable(lr, beta1, beta2, eps, weight_decay):

        def coefficients(steps):
            # lr / (1 - beta1**t) with Python floats as in update, then (that · m) / u.
            bias_correction1 = np.array([1 - beta1**t for t in range(1, steps + 1)])
            lrs = np.asarray(lr, dtype=float).reshape(1, -1) / bias_correction1[:, None]
            return {"a1": beta1, "a2": 1 - beta1, "c1": 1.0, "c2": 0.0, "lr": lrs}

        def state(steps, A, B):
            return AdamaxState(steps, A.copy(), B.copy())

        # B ← max(beta2·B + 0, |g| + eps): b2 = 0 makes the shared B-update beta2·u exactly.
        update.shared = Shared(
            float(weight_decay), float(beta2), 0.0, 0.0, float(eps), lr, coefficients, state, "max"
        )
    return _fusable(
        Optimizer(init, update),
        lr,
        ("adamax",),
        lambda beta1, beta2, **h: adamax(betas=(beta1, beta2), **h),
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
    )


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


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adadelta": adadelta,
    "adam": adam,
    "adamw": adamw,
    "nadam": nadam,
    "radam": radam,
    "adamax": adamax,
}


class Hyperparameter(NamedTuple):
    kind: str  # "float" or "bool"
    default: float | bool  # typical value; each optimizer's own default is in OPTIMIZER_DEFAULTS
    min: float | None
    max: float | None
    log_scale: bool


# `betas` appears as two scalar entries, beta1 and beta2; `make` folds them back into `betas`.
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "lr": Hyperparameter("float", 1e-3, 1e-5, 10.0, True),
    "momentum": Hyperparameter("float", 0.9, 0.0, 0.999, False),
    "dampening": Hyperparameter("float", 0.0, 0.0, 0.99, False),
    "nesterov": Hyperparameter("bool", False, None, None, False),
    "weight_decay": Hyperparameter("float", 0.0, 0.0, 0.1, False),
    "alpha": Hyperparameter("float", 0.99, 0.0, 0.999, False),
    "eps": Hyperparameter("float", 1e-8, 1e-12, 1e-1, True),
    "centered": Hyperparameter("bool", False, None, None, False),
    "lr_decay": Hyperparameter("float", 0.0, 0.0, 0.1, False),
    "initial_accumulator_value": Hyperparameter("float", 0.0, 0.0, 1.0, False),
    "rho": Hyperparameter("float", 0.9, 0.0, 0.999, False),
    "beta1": Hyperparameter("float", 0.9, 0.0, 0.999, False),
    "beta2": Hyperparameter("float", 0.999, 0.0, 0.9999, False),
    "amsgrad": Hyperparameter("bool", False, None, None, False),
    "momentum_decay": Hyperparameter("float", 4e-3, 0.0, 0.1, False),
}

_ADAM_LIKE = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
_SGD = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}

# Hyperparameters each optimizer exposes, in torch's argument order, with torch's defaults
# (a test checks them against the factories' signatures).
OPTIMIZER_DEFAULTS: dict[str, dict[str, float | bool]] = {
    "sgd": _SGD,
    "momentum": _SGD | {"momentum": 0.9},
    "nesterov": _SGD | {"momentum": 0.9, "nesterov": True},
    "adagrad": {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
    "rmsprop": {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    "adam": _ADAM_LIKE | {"amsgrad": False},
    "adamw": _ADAM_LIKE | {"weight_decay": 1e-2, "amsgrad": False},
    "nadam": _ADAM_LIKE | {"lr": 2e-3, "momentum_decay": 4e-3},
    "radam": dict(_ADAM_LIKE),
    "adamax": _ADAM_LIKE | {"lr": 2e-3},
}

_SGD_CALL = (
    "torch.optim.SGD(params, lr={lr}, momentum={momentum}, dampening={dampening}, "
    "weight_decay={weight_decay}, nesterov={nesterov})"
)
_BETAS = "betas=({beta1}, {beta2}), eps={eps}, weight_decay={weight_decay}"

# The equivalent torch call, to be filled with str.format(**values) using the names above.
TORCH_CALL: dict[str, str] = {
    "sgd": _SGD_CALL,
    "momentum": _SGD_CALL,
    "nesterov": _SGD_CALL,
    "adagrad": (
        "torch.optim.Adagrad(params, lr={lr}, lr_decay={lr_decay}, weight_decay={weight_decay}, "
        "initial_accumulator_value={initial_accumulator_value}, eps={eps})"
    ),
    "rmsprop": (
        "torch.optim.RMSprop(params, lr={lr}, alpha={alpha}, eps={eps}, "
        "weight_decay={weight_decay}, momentum={momentum}, centered={centered})"
    ),
    "adadelta": (
        "torch.optim.Adadelta(params, lr={lr}, rho={rho}, eps={eps}, weight_decay={weight_decay})"
    ),
    "adam": "torch.optim.Adam(params, lr={lr}, " + _BETAS + ", amsgrad={amsgrad})",
    "adamw": "torch.optim.AdamW(params, lr={lr}, " + _BETAS + ", amsgrad={amsgrad})",
    "nadam": "torch.optim.NAdam(params, lr={lr}, " + _BETAS + ", momentum_decay={momentum_decay})",
    "radam": "torch.optim.RAdam(params, lr={lr}, " + _BETAS + ")",
    "adamax": "torch.optim.Adamax(params, lr={lr}, " + _BETAS + ")",
}


def make(name: str, **hyperparameters) -> Optimizer:
    """Build ``OPTIMIZERS[name]`` from UI-table names (``beta1``/``beta2`` become ``betas``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer: {name=}")
    kwargs = dict(hyperparameters)
    if "beta1" in kwargs or "beta2" in kwargs:
        defaults = OPTIMIZER_DEFAULTS[name]
        kwargs["betas"] = (
            kwargs.pop("beta1", defaults["beta1"]),
            kwargs.pop("beta2", defaults["beta2"]),
        )
    return OPTIMIZERS[name](**kwargs)
