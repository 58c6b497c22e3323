"""Every fast path of core.fast_optimizers against the readable update of core.optimizers.

Cases are generated from the ``OPTIMIZERS`` registry: each entry with its defaults and with every
argument it takes that switches a code path (momentum, also as a per-run column, dampening,
nesterov, centered, amsgrad, weight_decay), under a constant lr, an lr schedule and a column of
per-run lrs. A new optimizer is covered as soon as it is registered.
"""

import inspect

import numpy as np
import pytest

import core.descent
from core.descent import _families
from core.fast_optimizers import FAST_PATHS, fast_paths
from core.optimizers import OPTIMIZERS
from tests.optimizer_states import assert_states_equal

STEPS = 8
RUNS = 3  # rows of params, one lr each in the "lr column" mode
SWITCHES = {
    "momentum": {"momentum": 0.6},
    # one momentum per run, 0 in the first: torch's "no buffer" rows beside buffered ones
    "momentum_column": {"momentum": np.array([[0.0], [0.5], [0.9]])},
    "dampening": {"momentum": 0.6, "dampening": 0.3},
    "nesterov": {"momentum": 0.6, "nesterov": True},
    "weight_decay": {"weight_decay": 0.05},
    "centered": {"centered": True},
    "centered_momentum": {"centered": True, "momentum": 0.5},
    "amsgrad": {"amsgrad": True},
}
LRS = {
    "constant_lr": 0.05,
    "schedule": lambda step: 0.05 * 0.7**step,
    "lr_column": np.array([[0.01], [0.05], [0.2]]),
}


def _cases():
    """(key, switch name, kwargs) for every registry entry and each switch it takes."""
    cases = []
    for key, factory in OPTIMIZERS.items():
        cases.append((key, "defaults", {}))
        names = inspect.signature(factory).parameters
        for switch, kwargs in SWITCHES.items():
            if not set(kwargs) <= set(names):
                continue
            try:
                factory(**kwargs)
            except ValueError:  # a combination torch refuses (e.g. Nesterov with dampening)
                continue
            cases.append((key, switch, kwargs))
    return cases


CASES = _cases()
CASE_IDS = [f"{key}-{switch}" for key, switch, _ in CASES]


def _gradients(shape, dtype, seed=3):
    """A fixed gradient sequence whose coordinates change sign and shrink (max() takes both sides)."""
    rng = np.random.default_rng(seed)
    scale = np.geomspace(2.0, 0.05, STEPS).reshape(-1, *[1] * len(shape))
    return (rng.normal(size=(STEPS, *shape)) * scale).astype(dtype)


def test_fast_paths_exist_exactly_for_the_elementwise_optimizers():
    """The rule: every elementwise optimizer has a builder in FAST_PATHS, at least its fusion
    record, so that a race or an lr search runs all its runs in one update; in-place ``into``
    and shared records are added where a profile shows the time goes (the MNIST trainer's SGD
    and Adam family; the race's shared update). An optimizer that reads its whole array
    (Adafactor) has none: fusion stacks runs as rows of one array, which its update would mix,
    so races run it row by row and the trainer array by array, with its readable update."""
    for key, factory in OPTIMIZERS.items():
        registered = getattr(factory, "func", factory) in FAST_PATHS
        assert registered == factory().elementwise, key
        if registered:
            assert fast_paths(factory()).fusion is not None, key


# ---------------------------------------------------------------------------------------------
# update and into: the same operations in the same order, so equal bit for bit


# A column of per-row lrs treats rows as runs, which only an elementwise optimizer allows.
WITH_LRS = [
    (key, switch, kwargs, lr)
    for key, switch, kwargs in CASES
    for lr in LRS
    if lr != "lr_column" or OPTIMIZERS[key]().elementwise
]


@pytest.mark.parametrize(
    ("key", "switch", "kwargs", "lr"), WITH_LRS, ids=[f"{k}-{s}-{lr}" for k, s, _, lr in WITH_LRS]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_update_and_into_equal_the_readable_update_bit_for_bit(key, switch, kwargs, lr, dtype):
    opt = OPTIMIZERS[key](**kwargs, lr=LRS[lr])
    paths = fast_paths(opt)
    p0 = np.linspace(-1.0, 2.0, RUNS * 4).reshape(RUNS, 4).astype(dtype)
    readable, readable_state = p0, opt.init(p0)
    fast, fast_state = p0, opt.init(p0)
    # into writes into the state straight from init (each buffer its own array) and gets the
    # trainer's ping-pong of params and output buffer
    owned, owned_state = p0.copy(), opt.init(p0)
    out, scratch = np.empty_like(p0), np.empty_like(p0)
    with np.errstate(all="ignore"):  # the fast paths leave errstate to their caller
        for g in _gradients(p0.shape, dtype):
            readable, readable_state = opt.update(readable, g, readable_state)
            fast, fast_state = paths.update(fast, g, fast_state)
            np.testing.assert_array_equal(fast, readable)
            assert_states_equal(fast_state, readable_state)

            before, g_before = owned.copy(), g.copy()
            new, owned_state = paths.into(owned, g, owned_state, out, scratch)
            np.testing.assert_array_equal(owned, before)  # params and grads are only read
            np.testing.assert_array_equal(g, g_before)
            assert new.dtype == dtype
            np.testing.assert_array_equal(new, readable)
            assert_states_equal(owned_state, readable_state)
            if new is out:
                owned, out = new, owned
            else:
                owned = new


@pytest.mark.parametrize("key", ["sgd", "momentum", "nesterov", "adam", "adamw"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", ["constant_lr", "schedule"])
def test_into_runs_in_place_for_sgd_and_the_adam_family(key, dtype, lr):
    """The trainer's optimizers write into ``out`` (the speed of a training tick depends on it)."""
    opt = OPTIMIZERS[key](lr=LRS[lr], weight_decay=0.01)
    p = np.ones((2, 3), dtype)
    state = opt.init(p)
    for g in _gradients(p.shape, dtype)[:2]:
        out = np.empty_like(p)
        new, state = fast_paths(opt).into(p, g, state, out, np.empty_like(p))
        assert new is out
        p = new


def test_into_falls_back_to_update_where_buffers_do_not_fit():
    opt = OPTIMIZERS["adam"]()
    p, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    out64 = np.empty(3)  # a float64 buffer would change float32 arithmetic: not used
    new, state = fast_paths(opt).into(p, g, opt.init(p), out64, np.empty(3))
    expected, _ = opt.update(p, g, opt.init(p))
    assert new is not out64 and new.dtype == np.float32
    np.testing.assert_array_equal(new, expected)
    assert state.step == 1


# ---------------------------------------------------------------------------------------------
# Fusion and the shared update, grouped as core.descent.race groups them (params of shape (rows, 2))

GROUPED = [
    (k, s, kw, lr)
    for k, s, kw in CASES
    for lr in ("constant_lr", "lr_column")
    if OPTIMIZERS[k]().elementwise
]
GROUPED_IDS = [f"{k}-{s}-{lr}" for k, s, _, lr in GROUPED]
SHAREABLE = [
    case
    for case in GROUPED
    if fast_paths(OPTIMIZERS[case[0]](**case[2], lr=LRS[case[3]])).shared is not None
]
SHAREABLE_IDS = [f"{k}-{s}-{lr}" for k, s, _, lr in SHAREABLE]
START = np.array([[1.5, -0.5], [-0.7, 0.4], [0.2, 1.1]])  # one row per run


def _members(key, kwargs, lr, factor):
    """Two optimizers of one entry; the second has twice the lr and its other numbers times
    ``factor`` (zeros stay zeros, so flags such as "uses momentum" stay the same)."""
    first = OPTIMIZERS[key](**kwargs, lr=LRS[lr])
    factory, arguments = first.recipe
    second = dict(arguments, lr=2 * LRS[lr])
    for name, value in arguments.items():
        if isinstance(value, bool) or name == "lr":
            continue
        scaled = tuple(v * factor for v in value) if isinstance(value, tuple) else value * factor
        try:  # Rprop's etaplus · 0.8 would fall below 1, which torch refuses: keep that one
            factory(**(second | {name: scaled}))
        except ValueError:
            continue
        second[name] = scaled
    return [first, factory(**second)]


def _gradient(p, t):
    """An ill-conditioned bowl with a drifting offset: gradients of both signs at every step."""
    return np.array([1.0, 20.0]) * p + 0.3 * np.cos(t + np.arange(len(p)))[:, None]


def _race(members):
    """Run the one family ``_families`` makes of ``members``: yields its params and state and each
    member's readable (params, state) at every step."""
    (family, indices), *others = _families(members, RUNS, STEPS)
    assert not others and sorted(indices) == [0, 1]  # one family: members in their own order
    p = np.concatenate([START] * len(members))
    state, update = family.init(p), fast_paths(family).update
    alone = [(START, m.init(START)) for m in members]
    with np.errstate(all="ignore"):
        for t in range(STEPS):
            g = _gradient(p, t)
            p, state = update(p, g, state)
            p = p.copy()  # the shared update writes its returned buffer again at the next step
            alone = [
                m.update(q, g[i * RUNS : (i + 1) * RUNS], s)
                for i, (m, (q, s)) in enumerate(zip(members, alone, strict=True))
            ]
            yield p, state, alone


def _assert_rows_close(fused, alone, i, rtol):
    """Member i's rows of a fused array equal its own run, relative to the run's largest entry."""
    rows = np.asarray(fused)[i * RUNS : (i + 1) * RUNS]
    scale = np.max(np.abs(alone), initial=0.0)
    np.testing.assert_allclose(rows, alone, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize(("key", "switch", "kwargs", "lr"), GROUPED, ids=GROUPED_IDS)
@pytest.mark.parametrize("varied", ["lr", "every_hyperparameter"])
def test_fused_family_equals_each_members_readable_update(
    key, switch, kwargs, lr, varied, monkeypatch
):
    monkeypatch.setattr(core.descent, "MAX_SHARED_TABLE", 0)  # fusion by factory only
    if varied == "lr":
        # The stacked lrs multiply elementwise, every other number is the members' own scalar:
        # the same operations as each member's update, so equal bit for bit.
        members, rtol = _members(key, kwargs, lr, 1.0), 0.0
    else:
        # Per-run arrays of betas (and NAdam's 0.96 ** (t·momentum_decay)) are raised to the
        # power t with np.power, whose SIMD loops may differ by an ulp from the Python pow of a
        # lone run. In 1 − βᵗ that ulp grows by βᵗ/(1 − βᵗ) < 1/(1 − β) (1,000 for the largest β,
        # 0.999), and such differences may add up over the steps; float64 throughout.
        members, rtol = _members(key, kwargs, lr, 0.8), STEPS * np.finfo(float).eps / (1 - 0.999)
    for p, state, alone in _race(members):
        for i, (q, s) in enumerate(alone):
            _assert_rows_close(p, q, i, rtol)
            for fused_field, own in zip(state, s, strict=True):
                if isinstance(own, np.ndarray):
                    _assert_rows_close(fused_field, own, i, rtol)
                else:
                    assert (fused_field is None) == (own is None)


@pytest.mark.parametrize(("key", "switch", "kwargs", "lr"), SHAREABLE, ids=SHAREABLE_IDS)
def test_shared_update_equals_each_members_readable_update_bit_for_bit(key, switch, kwargs, lr):
    # Coefficient tables hold the members' own Python-float numbers (their powers with Python's
    # pow), and the shared formula's extra coefficients are 0s and 1s, which change no number
    # (x·1 = x, x + 0 = x, x/1 = x): each member's rows are its own operations, bit for bit.
    members = _members(key, kwargs, lr, 0.8)
    for p, state, alone in _race(members):
        for i, (m, (q, s)) in enumerate(zip(members, alone, strict=True)):
            _assert_rows_close(p, q, i, 0.0)
            rows = slice(i * RUNS, (i + 1) * RUNS)
            own = fast_paths(m).shared.state(state.step, state.A[rows], state.B[rows])
            assert_states_equal(own, s)
