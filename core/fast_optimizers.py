"""Fast paths of the optimizers in ``core.optimizers``: the same numbers in fewer NumPy calls.

``fast_paths(optimizer)`` returns ``FastPaths(update, into, fusion, shared)``. The optimizer is
found through its ``recipe`` (the factory and arguments that built it) in ``FAST_PATHS``, a
registry keyed by factory; an optimizer without a registered recipe gets its own update in every
path, which is correct, only not faster. Every path gives the numbers of the readable
``optimizer.update``, as tests/test_fast_optimizers.py checks for every entry of ``OPTIMIZERS``:

- ``update(params, grads, state)``: the readable update without its ``np.errstate`` guard, for
  loops that set errstate once; the Adam family fills fresh buffers in place (4 new arrays
  instead of ~13). For a race's arrays of a few rows, NumPy's per-call cost decides, and the
  readable form (new arrays, no ``out=``) is the fastest.
- ``into(params, grads, state, out, scratch)``: for a caller that owns ``out``, ``scratch`` and
  every buffer of ``state`` (``core.training`` within a tick). SGD and the Adam family write the
  new params into ``out`` and the new state into the old one's buffers, with the same operations
  in the same order; ``params`` and ``grads`` are only read. Elsewhere, and where dtypes or shapes
  do not fit, it returns ``update``'s fresh arrays.
- ``fusion``: a ``Fusion`` record (None when ``lr`` is a schedule) from which optimizers of one
  factory and the same flags are rebuilt as one optimizer with per-run hyperparameter arrays
  (``core.descent.race``); elementwise arithmetic gives each run its own numbers, except that
  np.power on an array of betas may round an ulp away from Python's pow.
- ``shared``: where the settings are scalars, a ``Shared`` record stating the update as
  coefficients of one formula common to several factories, so a race updates them all in one
  call (``core.descent``'s shared update).
"""

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from core.optimizers import (
    PAIRS,
    AdadeltaState,
    AdagradState,
    AdamaxState,
    AdamState,
    NAdamState,
    Optimizer,
    RMSpropState,
    SGDState,
    _like_params,
    _lr_schedule,
    _nonzero,
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
    asgd,
    nadam,
    radam,
    rmsprop,
    rprop,
    sgd,
)

Update = Callable[[np.ndarray, np.ndarray, Any], tuple[np.ndarray, Any]]


class Fusion(NamedTuple):
    """How to rebuild an optimizer with per-run hyperparameters (see the module docstring)."""

    key: tuple  # (factory name, flags...): optimizers with equal keys can be fused
    hyperparameters: dict[str, Any]  # numeric hyperparameters (betas split into beta1, beta2)
    build: Callable[..., Optimizer]  # build(**hyperparameters) -> Optimizer


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


class FastPaths(NamedTuple):
    update: Update
    into: Callable[..., tuple[np.ndarray, Any]]  # (params, grads, state, out, scratch)
    fusion: Fusion | None = None
    shared: Shared | None = None


def _unguarded(optimizer: Optimizer) -> Update:
    """The readable update without the ``np.errstate`` guard that ``functools.wraps`` recorded."""
    return inspect.unwrap(optimizer.update)


def _fresh_into(update: Update):
    """An ``into`` that ignores the buffers and returns ``update``'s fresh arrays."""
    return lambda params, grads, state, out, scratch: update(params, grads, state)


def _plain_paths(optimizer: Optimizer, **records) -> FastPaths:
    """The readable update as every path, plus ``fusion`` / ``shared`` records."""
    update = _unguarded(optimizer)
    return FastPaths(update, _fresh_into(update), **records)


def _by_factory(optimizer: Optimizer, *key) -> Fusion | None:
    """Fuse optimizers of one factory and equal flags (and ``key``): every numeric argument
    becomes a per-run array, a pair such as ``betas`` as two (``PAIRS``). None for an lr
    schedule."""
    factory, arguments = optimizer.recipe
    if callable(arguments["lr"]):
        return None  # per-step lrs cannot be stacked
    flags = {name: value for name, value in arguments.items() if isinstance(value, bool)}
    numbers = {name: value for name, value in arguments.items() if name not in flags}
    pairs = {p: halves for p, halves in PAIRS.items() if isinstance(numbers.get(p), tuple)}
    for pair, (first, second) in pairs.items():
        numbers[first], numbers[second] = numbers.pop(pair)

    def build(**hyperparameters):
        for pair, (first, second) in pairs.items():
            hyperparameters[pair] = (hyperparameters.pop(first), hyperparameters.pop(second))
        return factory(**flags, **hyperparameters)

    return Fusion((factory.__name__, *flags.values(), *key), numbers, build)


def _shareable(lr, *hyperparameters) -> bool:
    """Whether the lr is no schedule and the other hyperparameters are scalars."""
    return not callable(lr) and all(np.ndim(h) == 0 for h in hyperparameters)


def _plain(*values) -> bool:
    """Whether all values are Python scalars, which keep float32 arrays float32 (NEP 50)."""
    return all(type(v) in (int, float, bool) for v in values)


def _same_layout(params, *arrays) -> bool:
    """Whether ``arrays`` share the params' floating dtype and shape, so out= keeps every bit."""
    dtype, shape = params.dtype, params.shape
    if dtype.kind != "f" or not shape:  # 0-d arithmetic returns scalars, which have no out=
        return False
    for a in arrays:
        if a.dtype != dtype or a.shape != shape:
            return False
    return True


def _row_of(lr) -> np.ndarray:
    """The lr (a float or a (runs, 1) array) as a (1, runs) row of a coefficient table."""
    return np.asarray(lr, dtype=float).reshape(1, -1)


# ---------------------------------------------------------------------------------------------
# SGD


def _sgd(optimizer, lr, momentum, dampening, weight_decay, nesterov) -> FastPaths:
    """SGD's readable update (fewest NumPy calls for a race's small arrays), an in-place
    ``into`` for scalar settings, and its fusion and shared records."""
    update = _unguarded(optimizer)
    schedule = _lr_schedule(lr)
    l2 = _nonzero(weight_decay)
    uses_momentum = _nonzero(momentum)
    in_place = _plain(momentum, dampening, weight_decay)

    def into(params, grads, state, out, scratch):
        lr_t = schedule(state.step)
        buf = state.momentum_buffer
        buffers = (grads, out) if buf is None else (grads, out, buf)
        if not (in_place and _plain(lr_t) and _same_layout(params, *buffers)):
            return update(params, grads, state)
        g = grads + weight_decay * params if l2 else grads
        if uses_momentum:
            if buf is None:
                buf = g.copy()
            else:
                buf *= momentum
                buf += g if dampening == 0 else (1 - dampening) * g  # (1 - 0)·g is g exactly
            if nesterov:
                # g + momentum·buf, summed the other way round: IEEE + and · are commutative.
                np.multiply(buf, momentum, out=out)
                out += g
            direction = out if nesterov else buf
        else:
            direction = g
        np.multiply(direction, lr_t, out=out)
        return np.subtract(params, out, out=out), SGDState(state.step + 1, buf)

    shared = None
    if _shareable(lr, momentum, dampening, weight_decay):
        mu, d = float(momentum), float(dampening)

        def coefficients(steps):
            # Step 1 sets the buffer to g itself (a1 = 0, a2 = 1), as torch does.
            a1, a2 = np.full(steps, mu), np.full(steps, 1 - d)
            a1[:1], a2[:1] = 0.0, 1.0
            # direction: nesterov g + mu·buf; momentum buf; plain g (buffer unused)
            c1, c2 = (mu, 1.0) if nesterov else ((1.0, 0.0) if mu != 0 else (0.0, 1.0))
            return {"a1": a1, "a2": a2, "c1": c1, "c2": c2, "lr": _row_of(lr)}

        def own_state(steps, A, B):
            return SGDState(steps, A.copy() if uses_momentum and steps else None)

        # B stays 1 (b1 = 1, b2 = 0) so the denominator is sqrt(1) + 0 = 1.
        shared = Shared(float(weight_decay), 1.0, 0.0, 1.0, 0.0, lr, coefficients, own_state)
    return FastPaths(update, into, _by_factory(optimizer), shared)


# ---------------------------------------------------------------------------------------------
# ASGD and Rprop: fusion records only


def _asgd(optimizer, lr, lambd, alpha, t0, weight_decay) -> FastPaths:
    """ASGD's readable update and its fusion record (its decaying eta and its average fit no
    shared formula; its ~10 NumPy calls cost what Adam's readable update costs on MNIST)."""
    return _plain_paths(optimizer, fusion=_by_factory(optimizer))


def _rprop(optimizer, lr, etas, step_sizes) -> FastPaths:
    """Rprop's readable update and its fusion record: sign-based steps fit no shared formula,
    and at ~10 NumPy calls per update it is as fast as Adam's readable update on MNIST."""
    return _plain_paths(optimizer, fusion=_by_factory(optimizer))


# ---------------------------------------------------------------------------------------------
# Adagrad, RMSprop, Adadelta: fusion and shared records only


def _adagrad(optimizer, lr, lr_decay, weight_decay, initial_accumulator_value, eps) -> FastPaths:
    """Adagrad's readable update and its fusion and shared records."""
    shared = None
    if _shareable(lr, lr_decay, weight_decay, initial_accumulator_value, eps):

        def coefficients(steps):
            lrs = _row_of(lr) / (1 + np.arange(steps) * lr_decay)[:, None]
            return {"a1": 0.0, "a2": 0.0, "c1": 0.0, "c2": 1.0, "lr": lrs}

        def own_state(steps, A, B):
            return AdagradState(steps, B.copy())

        shared = Shared(
            float(weight_decay),
            1.0,
            1.0,
            float(initial_accumulator_value),
            float(eps),
            lr,
            coefficients,
            own_state,
        )
    return _plain_paths(optimizer, fusion=_by_factory(optimizer), shared=shared)


def _rmsprop(optimizer, lr, alpha, eps, weight_decay, momentum, centered) -> FastPaths:
    """RMSprop's readable update and its fusion and (plain RMSprop's) shared records."""
    uses_momentum = _nonzero(momentum)
    shared = None
    if not centered and not uses_momentum and _shareable(lr, alpha, eps, weight_decay, momentum):

        def coefficients(steps):
            # g / (sqrt(v) + eps) first, then times lr (lr2), as in update; A is unused (0).
            return {"a1": 0.0, "a2": 0.0, "c1": 0.0, "c2": 1.0, "lr": 1.0, "lr2": _row_of(lr)}

        def own_state(steps, A, B):
            return RMSpropState(steps, B.copy(), None, None)

        shared = Shared(
            float(weight_decay),
            float(alpha),
            float(1 - alpha),
            0.0,
            float(eps),
            lr,
            coefficients,
            own_state,
        )
    # With and without momentum the states differ (a buffer or None): two kinds of family.
    return _plain_paths(optimizer, fusion=_by_factory(optimizer, uses_momentum), shared=shared)


def _adadelta(optimizer, lr, rho, eps, weight_decay) -> FastPaths:
    """Adadelta's readable update and its fusion and shared records."""
    shared = None
    if _shareable(lr, rho, eps, weight_decay):

        def coefficients(steps):
            # A holds acc_delta, left alone by the shared A-update (A·1 + 0·g) and set by the
            # adadelta step; B is square_avg.
            return {"a1": 1.0, "a2": 0.0, "lr": _row_of(lr)}

        def own_state(steps, A, B):
            return AdadeltaState(steps, B.copy(), A.copy())

        shared = Shared(
            float(weight_decay),
            float(rho),
            float(1 - rho),
            0.0,
            float(eps),
            lr,
            coefficients,
            own_state,
            "adadelta",
        )
    return _plain_paths(optimizer, fusion=_by_factory(optimizer), shared=shared)


# ---------------------------------------------------------------------------------------------
# Adam family: Adam and AdamW as one kernel, so a race fuses them


def _adam_family(lr, betas, eps, weight_decay, decoupled_decay, amsgrad) -> FastPaths:
    """Adam with coupled L2 ``weight_decay`` and AdamW's ``decoupled_decay`` (one of them 0).

    A zero term changes no number (g + 0·p = g, p·(1 − lr·0) = p), so one race can run Adam and
    AdamW paths in one update.
    """
    schedule = _lr_schedule(lr)
    l2, decay = _nonzero(weight_decay), _nonzero(decoupled_decay)
    beta1, beta2 = betas
    scalar = all(np.ndim(x) == 0 for x in (beta1, beta2, eps))
    plain = _plain(beta1, beta2, eps)
    # Past the decays, each step is readable Adam's (its errstate guard unwrapped).
    readable = _unguarded(adam(lr, betas, eps, 0.0, amsgrad))

    def prepare(params, g, state):
        """(lr_t, g with L2, base params after decoupled decay, whether buffers may be used)."""
        lr_t = schedule(state.step)
        if l2:
            g = g + weight_decay * params
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
        """Readable Adam's formulas, operation by operation, written into buffers."""
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

    def update(params, grads, state):
        params, g = np.asarray(params), np.asarray(grads)
        lr_t, g, base, buffered = prepare(params, g, state)
        if not buffered:
            new_params, state = readable(base, g, state)
            return _like_params(params, new_params), state  # a float64 lr may upcast `base`
        m, v, tmp, out = (np.empty_like(g) for _ in range(4))
        v_max = np.empty_like(g) if amsgrad else None
        return arithmetic(state, g, base, lr_t, m, v, v_max, tmp, out)

    def into(params, grads, state, out, scratch):
        lr_t, g, base, buffered = prepare(params, grads, state)
        if not (buffered and _same_layout(params, grads, out, scratch)):
            return update(params, grads, state)
        m, v, v_max = state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq
        return arithmetic(state, g, base, lr_t, m, v, v_max, scratch, out)

    def build(lr, beta1, beta2, eps, weight_decay, decoupled_decay):
        paths = _adam_family(lr, (beta1, beta2), eps, weight_decay, decoupled_decay, amsgrad)
        return Optimizer(adam(amsgrad=amsgrad).init, paths.update)

    shared = None
    if not amsgrad and _shareable(lr, beta1, beta2, eps, weight_decay, decoupled_decay):

        def coefficients(steps):
            # Python floats as in update (beta ** t), not np.power, so every bit agrees.
            ts = range(1, steps + 1)
            lrs = _row_of(lr)
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

        def own_state(steps, A, B):
            return AdamState(steps, A.copy(), B.copy(), None)

        # B is Adam's v (b1 = beta2); A is m, its beta1 is in a1/a2.
        shared = Shared(
            float(weight_decay), beta2, 1 - beta2, 0.0, float(eps), lr, coefficients, own_state
        )
    fusion = None
    if not callable(lr):  # per-step lrs cannot be stacked
        hyperparameters = {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps}
        hyperparameters |= {"weight_decay": weight_decay, "decoupled_decay": decoupled_decay}
        fusion = Fusion(("adam", bool(amsgrad)), hyperparameters, build)
    return FastPaths(update, into, fusion, shared)


def _adam(optimizer, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay) -> FastPaths:
    """Adam as the Adam family without decoupled decay, or (decoupled_weight_decay) as AdamW."""
    if decoupled_weight_decay:
        return _adam_family(lr, betas, eps, 0.0, weight_decay, amsgrad)
    return _adam_family(lr, betas, eps, weight_decay, 0.0, amsgrad)


def _adamw(optimizer, lr, betas, eps, weight_decay, amsgrad) -> FastPaths:
    """AdamW as the Adam family without L2 on the gradient."""
    return _adam_family(lr, betas, eps, 0.0, weight_decay, amsgrad)


# ---------------------------------------------------------------------------------------------
# NAdam, RAdam, Adamax: fusion and shared records only


def _nadam(
    optimizer, lr, betas, eps, weight_decay, momentum_decay, decoupled_weight_decay
) -> FastPaths:
    """NAdam's readable update and its fusion and shared records (the shared formula has no
    decoupled decay)."""
    beta1, beta2 = betas
    shared = None
    if not decoupled_weight_decay and _shareable(
        lr, beta1, beta2, eps, weight_decay, momentum_decay
    ):

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
                "lr": _row_of(lr),
            }

        def own_state(steps, A, B):
            return NAdamState(steps, A.copy(), B.copy(), mus(steps)[1] if steps else 1.0)

        shared = Shared(
            float(weight_decay),
            float(beta2),
            float(1 - beta2),
            0.0,
            float(eps),
            lr,
            coefficients,
            own_state,
        )
    return _plain_paths(optimizer, fusion=_by_factory(optimizer), shared=shared)


def _radam(optimizer, lr, betas, eps, weight_decay, decoupled_weight_decay) -> FastPaths:
    """RAdam's readable update and its fusion record (its rectifier fits no shared formula)."""
    return _plain_paths(optimizer, fusion=_by_factory(optimizer))


def _adamax(optimizer, lr, betas, eps, weight_decay) -> FastPaths:
    """Adamax's readable update and its fusion and shared records."""
    beta1, beta2 = betas
    shared = None
    if _shareable(lr, beta1, beta2, eps, weight_decay):

        def coefficients(steps):
            # lr / (1 - beta1**t) with Python floats as in update, then (that · m) / u.
            bias_correction1 = np.array([1 - beta1**t for t in range(1, steps + 1)])
            lrs = _row_of(lr) / bias_correction1[:, None]
            return {"a1": beta1, "a2": 1 - beta1, "c1": 1.0, "c2": 0.0, "lr": lrs}

        def own_state(steps, A, B):
            return AdamaxState(steps, A.copy(), B.copy())

        # B ← max(beta2·B + 0, |g| + eps): b2 = 0 makes the shared B-update beta2·u exactly.
        shared = Shared(
            float(weight_decay),
            float(beta2),
            0.0,
            0.0,
            float(eps),
            lr,
            coefficients,
            own_state,
            "max",
        )
    return _plain_paths(optimizer, fusion=_by_factory(optimizer), shared=shared)


# ---------------------------------------------------------------------------------------------
# Registry: readable factory -> builder of its fast paths, called with the same arguments

FAST_PATHS: dict[Callable[..., Optimizer], Callable[..., FastPaths]] = {
    sgd: _sgd,
    asgd: _asgd,
    rprop: _rprop,
    adagrad: _adagrad,
    rmsprop: _rmsprop,
    adadelta: _adadelta,
    adam: _adam,
    adamw: _adamw,
    nadam: _nadam,
    radam: _radam,
    adamax: _adamax,
}


def fast_paths(optimizer: Optimizer) -> FastPaths:
    """The fast paths of ``optimizer``: its factory's builder in ``FAST_PATHS``, else its update.

    ``maximize`` (a gradient ascent) gets the readable update and fusion by factory, whose key
    holds the flag: the in-place and shared formulas are written for descent only."""
    recipe = optimizer.recipe
    if recipe is None or recipe.factory not in FAST_PATHS:
        return _plain_paths(optimizer)
    arguments = dict(recipe.arguments)
    if arguments.pop("maximize", False):
        return _plain_paths(optimizer, fusion=_by_factory(optimizer))
    return FAST_PATHS[recipe.factory](optimizer, **arguments)
