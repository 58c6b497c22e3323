"""Schedules against torch 2.13.0, the torch docstring examples, and structural properties.

Literal reference values below were produced by torch 2.13.0 (CPU wheel) in a private venv:
``opt = torch.optim.SGD([p], lr=lr, momentum=0.9)``, the scheduler built on ``opt``, then
``values[t] = sched.get_last_lr()[0]`` after ``t`` calls of ``opt.step(); sched.step()``.
torch is not a dependency; nothing here imports it.
"""

import ast
import inspect
import math
from collections import Counter

import numpy as np
import pytest

from core.params import KINDS, ParamError
from core.schedules import (
    SCHEDULE_PARAMS,
    SCHEDULES,
    TORCH_CLASS,
    as_schedule,
    cosine_annealing_lr,
    cosine_annealing_warm_restarts,
    cyclic_lr,
    lambda_lr,
    linear_lr,
    linear_warmup,
    multiplicative_lr,
    one_cycle_lr,
    parse_milestones,
    phase_boundaries,
    plateau,
    reduce_lr_on_plateau,
    sequential_lr,
    step_lr,
    torch_code,
)

# Named lr_lambda callables used in the torch runs (plain Python, as torch receives them).
LAMBDAS = {
    "exp95": lambda e: 0.95**e,
    "stair": lambda e: 0.9 if e % 10 == 0 else 1.0,
    "half_then": lambda e: 0.5 if e == 0 else 0.99,
}

# torch 2.13.0, see module docstring. Keys: (name, kwargs, lr, {t: get_last_lr()[0]}).
TORCH_VALUES = [
    (
        "constant_lr",
        {},
        0.1,
        {0: 0.03333333333333333, 4: 0.03333333333333333, 5: 0.1, 6: 0.1, 300: 0.1},
    ),
    (
        "linear_lr",
        {},
        0.1,
        {
            0: 0.03333333333333333,
            1: 0.04666666666666667,
            2: 0.060000000000000005,
            4: 0.08666666666666668,
            5: 0.1,
            6: 0.1,
            300: 0.1,
        },
    ),
    (
        "linear_lr",
        {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 100},
        0.1,
        {
            0: 0.1,
            1: 0.099,
            37: 0.06299999999999997,
            99: 0.0009999999999999998,
            100: 0.0,
            101: 0.0,
            300: 0.0,
        },
    ),
    (
        "step_lr",
        {"step_size": 7, "gamma": 0.7},
        0.1,
        {
            0: 0.1,
            6: 0.1,
            7: 0.06999999999999999,
            13: 0.06999999999999999,
            14: 0.048999999999999995,
            300: 3.119734822845415e-08,
        },
    ),
    (
        "multi_step_lr",
        {"milestones": [0, 5, 6, 200], "gamma": 0.5},
        0.1,
        {0: 0.05, 4: 0.05, 5: 0.025, 6: 0.0125, 199: 0.0125, 200: 0.00625, 300: 0.00625},
    ),
    (
        "exponential_lr",
        {"gamma": 0.95},
        0.1,
        {
            0: 0.1,
            1: 0.095,
            10: 0.05987369392383786,
            100: 0.0005920529220333994,
            300: 2.0753033477680553e-08,
        },
    ),
    ("polynomial_lr", {}, 0.1, {0: 0.1, 1: 0.08000000000000002, 4: 0.02, 5: 0.0, 6: 0.0, 300: 0.0}),
    (
        "polynomial_lr",
        {"total_iters": 100, "power": 2.0},
        0.1,
        {
            0: 0.1,
            1: 0.09801,
            50: 0.02499999999999999,
            99: 1.0000000000000016e-05,
            100: 0.0,
            101: 0.0,
            300: 0.0,
        },
    ),
    (
        "cosine_annealing_lr",
        {"T_max": 100},
        0.1,
        {
            0: 0.1,
            1: 0.09997532801828658,
            50: 0.05000000000000004,
            99: 2.4671981713420017e-05,
            100: 0.0,
            101: 2.467198171342e-05,
            150: 0.04999999999999995,
            200: 0.09999999999999994,
            300: 0.0,
        },
    ),
    (
        "cosine_annealing_lr",
        {"T_max": 37, "eta_min": 0.01},
        0.1,
        {
            0: 0.1,
            1: 0.09983788698441369,
            36: 0.010162113015586307,
            37: 0.01,
            38: 0.010162113015586307,
            74: 0.10000000000000007,
            75: 0.09983788698441376,
            111: 0.01,
            300: 0.09742948504574869,
        },
    ),
    (
        "cosine_annealing_warm_restarts",
        {"T_0": 10, "T_mult": 2, "eta_min": 0.001},
        0.1,
        {
            0: 0.1,
            5: 0.0505,
            9: 0.0034227024433899004,
            10: 0.1,
            20: 0.0505,
            29: 0.001609427140540686,
            30: 0.1,
            69: 0.0011525919802101658,
            70: 0.1,
            150: 0.1,
            300: 0.0019511286200400938,
        },
    ),
    (
        "cyclic_lr",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 20, "mode": "triangular2"},
        0.1,
        {
            0: 0.01,
            10: 0.05500000000000001,
            20: 0.1,
            40: 0.01,
            60: 0.05500000000000001,
            100: 0.0325,
            300: 0.010703125,
        },
    ),
    (
        "cyclic_lr",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 15,
            "step_size_down": 5,
            "mode": "exp_range",
            "gamma": 0.99,
        },
        0.1,
        {
            0: 0.01,
            7: 0.0491467446120936,
            15: 0.08740525191771596,
            18: 0.040042495412203186,
            20: 0.01,
            35: 0.07331029254996123,
            300: 0.01,
        },
    ),
    (
        "one_cycle_lr",
        {"max_lr": 0.1, "total_steps": 100},
        0.1,
        {
            0: 0.0040000000000000036,
            10: 0.029516394846410082,
            29: 0.1,
            30: 0.09994965352845243,
            64: 0.0500002,
            99: 4e-07,
            100: 5.074647154757325e-05,
        },
    ),
    (
        "one_cycle_lr",
        {
            "max_lr": 1.0,
            "total_steps": 100,
            "pct_start": 0.25,
            "three_phase": True,
            "anneal_strategy": "linear",
        },
        0.1,
        {
            0: 0.04,
            12: 0.52,
            24: 1.0,
            36: 0.52,
            48: 0.040000000000000036,
            49: 0.03921576470588235,
            75: 0.018825647058823527,
            99: 3.9999999999970615e-06,
            100: -0.0007802352941176441,
        },
    ),
    (
        "lambda_lr",
        {"lr_lambda": "exp95"},
        0.1,
        {0: 0.1, 1: 0.095, 50: 0.007694497527671315, 300: 2.0753033477680562e-08},
    ),
    (
        "multiplicative_lr",
        {"lr_lambda": "stair"},
        0.1,
        {
            0: 0.1,
            9: 0.1,
            10: 0.09000000000000001,
            11: 0.09000000000000001,
            25: 0.08100000000000002,
            300: 0.004239115827521626,
        },
    ),
    (
        "sequential_lr",
        {
            "schedulers": [
                ("constant_lr", {"factor": 0.1, "total_iters": 20}),
                ("exponential_lr", {"gamma": 0.9}),
            ],
            "milestones": [20],
        },
        0.05,
        {
            0: 0.005000000000000001,
            19: 0.005000000000000001,
            20: 0.05,
            21: 0.045000000000000005,
            22: 0.04050000000000001,
            100: 1.0923725026419632e-05,
        },
    ),
    (
        "sequential_lr",
        {
            "schedulers": [
                ("exponential_lr", {"gamma": 0.97}),
                ("multiplicative_lr", {"lr_lambda": "half_then"}),
                ("cosine_annealing_warm_restarts", {"T_0": 25, "T_mult": 2}),
            ],
            "milestones": [30, 60],
        },
        0.1,
        {
            0: 0.1,
            29: 0.04134093490135644,
            30: 0.02067046745067822,
            31: 0.020463762776171436,
            59: 0.015444396455936342,
            60: 0.1,
            61: 0.0996057350657239,
            85: 0.1,
            300: 0.07612492823579745,
        },
    ),
]

# torch 2.13.0: SequentialLR([LinearLR(opt, start_factor=0.01, total_iters=10), CosineAnnealingLR(opt, 90)], [10]), lr=0.1
_WARMUP_COSINE = {
    0: 0.001,
    1: 0.010899999999999998,
    5: 0.05049999999999999,
    9: 0.09009999999999996,
    10: 0.1,
    11: 0.0999695413509548,
    55: 0.049999999999999996,
    100: 0.0,
    120: 0.0116977778440511,
}
# torch 2.13.0: ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5, min_lr=0.01), lr=0.1
PLATEAU_LOSSES = [
    1.0,
    0.9444,
    0.8889,
    0.8333,
    0.7778,
    0.7222,
    0.6667,
    0.6111,
    0.5556,
    0.5,
    0.5035,
    0.5082,
    0.5033,
    0.487,
    0.5091,
    0.5045,
    0.4946,
    0.5058,
    0.5036,
    0.5029,
    0.5003,
    0.5055,
    0.4926,
    0.4984,
    0.4952,
    0.506,
    0.5004,
    0.4971,
    0.4922,
    0.4974,
    0.5001,
    0.4972,
    0.5129,
    0.5101,
    0.4729,
    0.4811,
    0.4983,
    0.4958,
    0.5021,
    0.5022,
]
PLATEAU_LRS = [0.1] * 12 + [0.05] * 4 + [0.025] * 4 + [0.0125] * 4 + [0.01] * 16


def _resolve(kwargs: dict) -> dict:
    """Replace lr_lambda names (also inside sequential children) by the callables."""
    out = dict(kwargs)
    if isinstance(out.get("lr_lambda"), str):
        out["lr_lambda"] = LAMBDAS[out["lr_lambda"]]
    if "schedulers" in out:
        out["schedulers"] = [(n, _resolve(kw)) for n, kw in out["schedulers"]]
    return out


def _default_kwargs(name: str) -> dict:
    """Registry defaults from SCHEDULE_PARAMS; lr_lambda text becomes a Python lambda of epoch."""
    kwargs = {k: p.default for k, p in SCHEDULE_PARAMS[name].items()}
    if "lr_lambda" in kwargs:
        kwargs["lr_lambda"] = eval("lambda epoch: " + kwargs["lr_lambda"])  # test-only
    if "milestones" in kwargs:
        kwargs["milestones"] = tuple(int(m) for m in kwargs["milestones"].split(","))
    if kwargs.get("scale_fn") == "":  # empty typed formula: torch's None
        kwargs["scale_fn"] = None
    return kwargs


@pytest.mark.parametrize(
    ("name", "kwargs", "lr", "expected"),
    TORCH_VALUES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_VALUES)],
)
def test_matches_torch_get_last_lr(name, kwargs, lr, expected):
    schedule = SCHEDULES[name](lr=lr, **_resolve(kwargs))
    ts = np.array(list(expected))
    want = np.array(list(expected.values()))
    # Torch multiplies recursively, we use the closed form: only the last bits may differ.
    np.testing.assert_allclose(schedule(ts), want, rtol=1e-12, atol=1e-17)


def test_every_registry_entry_has_torch_reference():
    # ChainedScheduler came after the torch runs: it is checked against a step-by-step reference
    # written from each child's recursive get_lr (test_chained_scheduler_matches_torchs_…).
    assert {c[0] for c in TORCH_VALUES} == set(SCHEDULES) - {"chained_scheduler"}


# --- torch docstring examples (lr = 0.05) ---------------------------------------------------


def test_step_lr_docstring():
    s = SCHEDULES["step_lr"](lr=0.05, step_size=30, gamma=0.1)
    t = np.arange(90)
    want = np.select([t < 30, t < 60], [0.05, 0.005], 0.0005)
    np.testing.assert_allclose(s(t), want, rtol=1e-12)


def test_multi_step_lr_docstring():
    s = SCHEDULES["multi_step_lr"](lr=0.05, milestones=[30, 80], gamma=0.1)
    t = np.arange(120)
    want = np.select([t < 30, t < 80], [0.05, 0.005], 0.0005)
    np.testing.assert_allclose(s(t), want, rtol=1e-12)


def test_constant_lr_docstring():
    s = SCHEDULES["constant_lr"](lr=0.05, factor=0.5, total_iters=40)
    t = np.arange(100)
    np.testing.assert_allclose(s(t), np.where(t < 40, 0.025, 0.05), rtol=1e-12)


def _assert_truncated(actual, shown, unit):
    """The docstrings print values truncated (not rounded) to ``unit``."""
    diff = np.asarray(actual) - np.asarray(shown)
    assert np.all((diff > -1e-15) & (diff < unit)), diff


def test_linear_lr_docstring():
    # The docstring (start_factor=0.05, total_iters=40) lists 0.003687, 0.004875, 0.006062,
    # 0.00725 for "epoch 0..3": those are get_last_lr() after 1..4 steps (torch 2.13.0 gives
    # 0.0025 at t=0), i.e. the lr used in epoch e when step() is called at the start of it.
    s = SCHEDULES["linear_lr"](lr=0.05, start_factor=0.05, total_iters=40)
    assert s(0) == pytest.approx(0.0025, rel=1e-12)
    _assert_truncated(s(np.arange(1, 5)), [0.003687, 0.004875, 0.006062, 0.00725], 1e-6)
    np.testing.assert_allclose(s(np.arange(40, 100)), 0.05, rtol=1e-12)


def test_polynomial_lr_docstring():
    # Docstring (total_iters=50, power=0.9): 0.0490, 0.0481, 0.0472 for "epoch 0..2", again
    # one step later than get_last_lr() (t=0 is the initial 0.05); 0.0 from total_iters on.
    s = SCHEDULES["polynomial_lr"](lr=0.05, total_iters=50, power=0.9)
    assert s(0) == 0.05
    _assert_truncated(s(np.arange(1, 4)), [0.0490, 0.0481, 0.0472], 1e-4)
    np.testing.assert_array_equal(s(np.arange(50, 100)), 0.0)


def test_sequential_lr_docstring():
    s = sequential_lr(
        0.05,
        [("constant_lr", {"factor": 0.1, "total_iters": 20}), ("exponential_lr", {"gamma": 0.9})],
        [20],
    )
    np.testing.assert_allclose(s(np.arange(20)), 0.005, rtol=1e-12)
    np.testing.assert_allclose(s(np.array([20, 21, 22])), [0.05, 0.045, 0.0405], rtol=1e-12)


# --- endpoints and structure ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_array_input_equals_elementwise_calls(name):
    schedule = SCHEDULES[name](lr=0.1, **_default_kwargs(name))
    t = np.arange(400)
    curve = schedule(t)
    assert isinstance(curve, np.ndarray) and curve.shape == (400,) and curve.dtype == np.float64
    scalar = [schedule(int(i)) for i in t]
    assert all(isinstance(v, float) for v in scalar)
    np.testing.assert_array_equal(curve, scalar)
    # any integer shape, any order, repeated steps
    grid = np.array([[399, 0, 7], [7, 123, 1]], dtype=np.int32)
    np.testing.assert_array_equal(schedule(grid), curve[grid])
    assert schedule(np.int64(5)) == curve[5]


@pytest.mark.parametrize("name", sorted(set(SCHEDULES) - {"cyclic_lr", "one_cycle_lr"}))
def test_t0_is_initial_lr_times_first_factor(name):
    kwargs = _default_kwargs(name)
    first = {
        "constant_lr": kwargs.get("factor"),
        "linear_lr": kwargs.get("start_factor"),
        "lambda_lr": 0.95**0,
    }.get(name, 1.0)
    if name == "sequential_lr":
        first = kwargs["schedulers"][0][1]["start_factor"]
    if name == "chained_scheduler":  # ConstantLR's factor, then ExponentialLR's γ⁰
        first = kwargs["schedulers"][0][1]["factor"]
    assert SCHEDULES[name](lr=0.3, **kwargs)(0) == pytest.approx(0.3 * first, rel=1e-15)


def test_cosine_endpoints_and_behaviour_past_T_max():
    s = cosine_annealing_lr(0.1, T_max=50, eta_min=0.002)
    assert s(0) == 0.1
    assert s(50) == pytest.approx(0.002, rel=1e-12)
    assert s(25) == pytest.approx((0.1 + 0.002) / 2, rel=1e-12)
    # torch's recursion keeps following the cosine past T_max: back to lr at 2·T_max.
    assert s(100) == pytest.approx(0.1, rel=1e-12)
    assert s(51) == pytest.approx(s(49), rel=1e-12)


def test_warm_restarts_period_T_mult_1():
    s = cosine_annealing_warm_restarts(0.1, T_0=12, eta_min=0.001)
    t = np.arange(12)
    for k in range(1, 5):
        np.testing.assert_array_equal(s(t + 12 * k), s(t))
    assert s(11) > 0.001 and s(12) == 0.1


def test_warm_restarts_T_mult_2_restart_points():
    T_0 = 10
    s = cosine_annealing_warm_restarts(0.1, T_0=T_0, T_mult=2)
    t = np.arange(8 * T_0)
    restarts = [int(i) for i in t[1:] if s(int(i)) == 0.1]
    assert restarts == [T_0, 3 * T_0, 7 * T_0]
    # the second cycle is the first one stretched twice
    np.testing.assert_allclose(s(np.arange(T_0, 3 * T_0, 2)), s(np.arange(T_0)), rtol=1e-14)
    assert phase_boundaries("cosine_annealing_warm_restarts", {"T_0": T_0, "T_mult": 2}, 80) == [
        10,
        30,
        70,
    ]


def test_one_cycle_peak_initial_final():
    total, pct = 1000, 0.3
    s = one_cycle_lr(0.0, max_lr=0.5, total_steps=total, pct_start=pct)
    curve = s(np.arange(total))
    # torch's phase 1 ends at step pct·total − 1, where the lr is exactly max_lr.
    assert int(np.argmax(curve)) == int(pct * total - 1) == 299
    assert curve[299] == 0.5
    assert curve[0] == pytest.approx(0.5 / 25, rel=1e-14)
    assert curve[-1] == pytest.approx(0.5 / 25 / 1e4, rel=1e-12)


def test_one_cycle_past_total_steps_holds_final_lr():
    s = one_cycle_lr(
        0.0, max_lr=1.0, total_steps=100, pct_start=0.25, three_phase=True, anneal_strategy="linear"
    )
    # t = total_steps is torch's own (extrapolated, here negative) value; past it torch raises.
    assert s(100) == pytest.approx(-0.0007802352941176441, rel=1e-12)
    np.testing.assert_array_equal(s(np.arange(101, 200)), 1.0 / 25 / 1e4)


def test_cyclic_triangular2_halves_amplitude_each_cycle():
    s = cyclic_lr(
        0.0, base_lr=0.01, max_lr=0.09, step_size_up=10, step_size_down=30, mode="triangular2"
    )
    peaks = s(np.array([10, 50, 90, 130]))
    np.testing.assert_allclose(peaks - 0.01, [0.08, 0.04, 0.02, 0.01], rtol=1e-12)
    np.testing.assert_allclose(s(np.arange(0, 200, 40)), 0.01, rtol=1e-12)
    assert s(0) == 0.01  # torch ignores the optimizer's lr and starts at base_lr


def test_cyclic_triangular_and_exp_range():
    tri = cyclic_lr(0.0, base_lr=0.1, max_lr=0.5, step_size_up=4)
    np.testing.assert_allclose(
        tri(np.arange(9)), [0.1, 0.2, 0.3, 0.4, 0.5, 0.4, 0.3, 0.2, 0.1], rtol=1e-12
    )
    exp = cyclic_lr(0.0, base_lr=0.1, max_lr=0.5, step_size_up=4, mode="exp_range", gamma=0.9)
    t = np.arange(40)
    # exp_range scales the height by gamma**t (iterations, not cycles)
    np.testing.assert_allclose(exp(t) - 0.1, (tri(t) - 0.1) * 0.9**t, rtol=1e-12, atol=1e-17)


def _cyclic_reference(t, base_lr, max_lr, up, down, scale_fn, scale_mode):
    """torch's CyclicLR.get_lr with a custom scale_fn, line by line (Python ints and floats)."""
    total_size = float(up + down)
    step_ratio = up / total_size
    cycle = math.floor(1 + t / total_size)
    x = 1.0 + t / total_size - cycle
    if x <= step_ratio:
        scale_factor = x / step_ratio
    else:
        scale_factor = (x - 1) / (step_ratio - 1)
    base_height = (max_lr - base_lr) * scale_factor
    return base_lr + base_height * scale_fn(cycle if scale_mode == "cycle" else t)


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_cyclic_lr_with_a_scale_fn_follows_torchs_get_lr(scale_mode):
    seen = []

    def scale_fn(x):
        seen.append(type(x))
        return 0.5 * (1 + math.sin(x * math.pi / 2))  # the torch docs' example

    s = cyclic_lr(0.0, base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=3,
                  mode="exp_range", gamma=0.5, scale_fn=scale_fn, scale_mode=scale_mode)  # fmt: skip
    expected = [_cyclic_reference(t, 0.01, 0.1, 5, 3, scale_fn, scale_mode) for t in range(60)]
    np.testing.assert_allclose(s(np.arange(60)), expected, rtol=1e-14)  # mode is ignored
    assert set(seen) == {int}
    # triangular2 is the scale_fn 1 / 2 ** (x - 1) over cycles
    halved = cyclic_lr(0.0, 0.01, 0.1, 5, scale_fn=lambda x: 1 / 2 ** (x - 1))
    np.testing.assert_allclose(halved(np.arange(60)),
                               cyclic_lr(0.0, 0.01, 0.1, 5, mode="triangular2")(np.arange(60)),
                               rtol=1e-15)  # fmt: skip


def _chainable_step(name, kw, lr, t):
    """One torch scheduler step at last_epoch = t (t = 0: construction), from each class's
    recursive get_lr (the form ChainedScheduler runs): the new lr from the lr in force."""
    if name == "constant_lr":
        if t == 0:
            return lr * kw["factor"]
        return lr / kw["factor"] if t == kw["total_iters"] else lr
    if name == "linear_lr":
        s, e, n = kw["start_factor"], kw.get("end_factor", 1.0), kw["total_iters"]
        if t == 0:
            return lr * s
        return lr if t > n else lr * (1.0 + (e - s) / (n * s + (t - 1) * (e - s)))
    if name == "step_lr":
        return lr * kw["gamma"] if t and t % kw["step_size"] == 0 else lr
    if name == "multi_step_lr":
        counts = Counter(kw["milestones"])
        return lr * kw["gamma"] ** counts[t] if t in counts else lr
    if name == "exponential_lr":
        return lr * kw["gamma"] if t else lr
    if name == "polynomial_lr":
        n, p = kw["total_iters"], kw["power"]
        if t == 0 or t > n:
            return lr
        return lr * ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** p
    if name == "multiplicative_lr":
        return lr * kw["lr_lambda"](t) if t > 0 else lr
    raise AssertionError(name)


def _chained_reference(lr, schedulers, steps):
    """torch's ChainedScheduler: the children are built in order (each one's initial step), then
    every step() steps each child in order; lr after t steps."""
    for name, kw in schedulers:
        lr = _chainable_step(name, kw, lr, 0)
    out = [lr]
    for t in range(1, steps):
        for name, kw in schedulers:
            lr = _chainable_step(name, kw, lr, t)
        out.append(lr)
    return np.array(out)


@pytest.mark.parametrize(
    "schedulers",
    [
        [("constant_lr", {"factor": 0.1, "total_iters": 2}), ("exponential_lr", {"gamma": 0.9})],
        [
            ("linear_lr", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8}),
            ("step_lr", {"step_size": 5, "gamma": 0.5}),
            ("multi_step_lr", {"milestones": [3, 3, 12], "gamma": 0.7}),
        ],
        [
            ("polynomial_lr", {"total_iters": 30, "power": 2.0}),
            ("multiplicative_lr", {"lr_lambda": lambda e: 0.99 if e % 2 else 1.0}),
            ("exponential_lr", {"gamma": 0.97}),
        ],
    ],
)
def test_chained_scheduler_matches_torchs_step_by_step_chain(schedulers):
    s = SCHEDULES["chained_scheduler"](lr=0.1, schedulers=schedulers)
    expected = _chained_reference(0.1, schedulers, 40)
    np.testing.assert_allclose(s(np.arange(40)), expected, rtol=1e-13, atol=1e-18)


def test_chained_scheduler_of_the_torch_docs_example():
    # ConstantLR(factor=0.1, total_iters=2) and ExponentialLR(gamma=0.9) from lr = 1: 0.1 while
    # built, ×0.9 per step, the factor undone at step 2. (The docs' old comment listed the values
    # one step late with the factor held a step longer: 0.09, 0.081, 0.729.)
    chain = [("constant_lr", {"factor": 0.1, "total_iters": 2}), ("exponential_lr", {"gamma": 0.9})]
    s = SCHEDULES["chained_scheduler"](lr=1.0, schedulers=chain)
    np.testing.assert_allclose(s(np.arange(5)), [0.1, 0.09, 0.81, 0.729, 0.6561], rtol=1e-15)
    code = torch_code("chained_scheduler", {"lr": 1.0, "schedulers": chain})
    assert code.splitlines()[-1] == (
        "scheduler = torch.optim.lr_scheduler.ChainedScheduler([scheduler1, scheduler2], "
        "optimizer=optimizer)"
    )
    with pytest.raises(ValueError, match="cosine_annealing_lr"):
        SCHEDULES["chained_scheduler"](1.0, [("cosine_annealing_lr", {"T_max": 10})])
    assert phase_boundaries("chained_scheduler", {"schedulers": chain}, 10) == [2]


def test_one_cycle_lr_length_from_epochs_and_steps_per_epoch_as_in_torch():
    # torch: total_steps if it is given, else epochs * steps_per_epoch, else ValueError.
    by_total = one_cycle_lr(0.0, max_lr=0.5, total_steps=120, pct_start=0.25)
    t = np.arange(130)
    np.testing.assert_array_equal(
        one_cycle_lr(0.0, 0.5, None, 12, 10, pct_start=0.25)(t), by_total(t)
    )
    np.testing.assert_array_equal(one_cycle_lr(0.0, 0.5, 120, 3, 7, pct_start=0.25)(t), by_total(t))
    with pytest.raises(ParamError) as raised:
        one_cycle_lr(0.0, max_lr=0.5, epochs=12)
    assert (raised.value.param, raised.value.rule) == ("total_steps", "cycle_length")
    code = torch_code("one_cycle_lr", {"max_lr": 0.5, "total_steps": None, "epochs": 12,
                                       "steps_per_epoch": 10})  # fmt: skip
    assert "total_steps=None, epochs=12, steps_per_epoch=10" in code
    assert phase_boundaries("one_cycle_lr", {"total_steps": None, "epochs": 12,
                                             "steps_per_epoch": 10, "pct_start": 0.25}, 200) == [29, 119]  # fmt: skip


def test_cyclic_lr_torch_code_passes_the_typed_scale_fn_only_when_given():
    base = {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "scale_mode": "iterations"}
    assert "scale" not in torch_code("cyclic_lr", {**base, "scale_fn": ""})
    code = torch_code("cyclic_lr", {**base, "scale_fn": "0.99 ** x"})
    assert "scale_fn=lambda x: 0.99 ** x" in code and "scale_mode='iterations'" in code
    ast.parse(code)


def test_lambdas_get_python_int_epochs_as_in_torch():
    # torch's LambdaLR computes base_lr * lr_lambda(self.last_epoch) and MultiplicativeLR
    # group["lr"] * lr_lambda(self.last_epoch), with last_epoch a Python int.
    seen = []

    def int_aware(epoch):
        seen.append(type(epoch))
        return 0.5 if isinstance(epoch, int) else 1.0

    t = np.arange(6)
    np.testing.assert_array_equal(lambda_lr(0.1, int_aware)(t), np.full(6, 0.05))
    np.testing.assert_allclose(multiplicative_lr(0.1, int_aware)(t), 0.1 * 0.5**t, rtol=1e-15)
    assert set(seen) == {int}
    exact = lambda_lr(1.0, lambda e: (10**20 + e) - 10**20 + 1)  # e + 1 in ints; 1.0 in floats
    np.testing.assert_array_equal(exact(np.arange(5)), [1.0, 2.0, 3.0, 4.0, 5.0])


def test_multiplicative_lr_vectorized_lambda_equals_python_lambda():
    vec = multiplicative_lr(0.1, lambda e: 1 - 1 / (e + 2))  # numpy-friendly
    py = multiplicative_lr(0.1, lambda e: 1 - 1 / (e + 2) if e >= 0 else 0.0)  # needs Python ints
    t = np.arange(300)
    np.testing.assert_array_equal(vec(t), py(t))
    # lr_t = lr_0 · Π_{j=1..t} λ(j) = 0.1 · 2/(t+2) (telescoping), independently
    np.testing.assert_allclose(vec(t), 0.1 * 2 / (t + 2), rtol=1e-13)


def test_linear_warmup_matches_torch_sequential_and_sequential_lr():
    main = cosine_annealing_lr(0.1, T_max=90)
    s = linear_warmup(main, 10, start_factor=0.01)
    WARMUP_COSINE = _WARMUP_COSINE
    np.testing.assert_allclose(
        s(np.array(list(WARMUP_COSINE))), list(WARMUP_COSINE.values()), rtol=1e-12, atol=1e-17
    )
    assert linear_warmup(main, 0) is main


@pytest.mark.parametrize(
    "name",
    sorted(
        set(SCHEDULES)
        - {"one_cycle_lr", "sequential_lr", "multiplicative_lr", "cyclic_lr", "chained_scheduler"}
    ),
)
def test_linear_warmup_equals_sequential_lr_with_linear_lr(name):
    kwargs = _default_kwargs(name)
    warm = linear_warmup(SCHEDULES[name](lr=0.2, **kwargs), 7, start_factor=0.25, lr=0.2)
    seq = sequential_lr(
        0.2, [("linear_lr", {"start_factor": 0.25, "total_iters": 7}), (name, kwargs)], [7]
    )
    t = np.arange(300)
    np.testing.assert_allclose(warm(t), seq(t), rtol=1e-14)


def test_as_schedule():
    const = as_schedule(0.3)
    assert const(5) == 0.3
    np.testing.assert_array_equal(const(np.arange(4)), 0.3)
    s = step_lr(0.1, 3)
    assert as_schedule(s) is s


# --- ReduceLROnPlateau -----------------------------------------------------------------------


def test_plateau_matches_torch_sequence():
    got = reduce_lr_on_plateau(0.1, PLATEAU_LOSSES, patience=2, cooldown=1, factor=0.5, min_lr=0.01)
    np.testing.assert_array_equal(got, PLATEAU_LRS)


def test_plateau_patience():
    # best=1 at step 0; steps 1.. are not better: the 3rd bad epoch exceeds patience=2.
    got = reduce_lr_on_plateau(1.0, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], patience=2, factor=0.5)
    np.testing.assert_array_equal(got, [1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_plateau_cooldown():
    # patience=0: every bad epoch reduces, except during the 2 cooldown epochs after a cut.
    got = reduce_lr_on_plateau(1.0, [1.0] * 8, patience=0, cooldown=2, factor=0.5)
    np.testing.assert_array_equal(got, [1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125])


def test_plateau_threshold_rel_and_abs():
    losses = [1.0, 0.9995, 0.999, 0.9985]  # each 0.05% better: not enough for rel 1e-3
    rel = reduce_lr_on_plateau(1.0, losses, patience=1, threshold=1e-3, factor=0.5)
    np.testing.assert_array_equal(rel, [1, 1, 0.5, 0.5])
    absolute = reduce_lr_on_plateau(
        1.0, losses, patience=1, threshold=1e-4, threshold_mode="abs", factor=0.5
    )
    np.testing.assert_array_equal(absolute, [1, 1, 1, 1])


def test_plateau_min_lr_eps_and_max_mode():
    got = reduce_lr_on_plateau(1.0, [1.0] * 6, patience=0, factor=0.1, min_lr=0.05)
    np.testing.assert_allclose(got, [1, 0.1, 0.05, 0.05, 0.05, 0.05])
    # a cut smaller than eps is skipped
    np.testing.assert_array_equal(reduce_lr_on_plateau(1e-9, [1.0, 1.0], patience=0), [1e-9, 1e-9])
    # mode="max": a rising metric is improvement, a falling one is not
    up = reduce_lr_on_plateau(1.0, [0.1, 0.2, 0.3, 0.4], mode="max", patience=0)
    down = reduce_lr_on_plateau(1.0, [0.4, 0.3, 0.2], mode="max", patience=0, factor=0.5)
    np.testing.assert_array_equal(up, [1, 1, 1, 1])
    np.testing.assert_array_equal(down, [1, 0.5, 0.25])


def test_plateau_nan_loss_counts_as_bad_not_error():
    got = reduce_lr_on_plateau(1.0, [1.0, np.nan, np.nan], patience=1, factor=0.5)
    np.testing.assert_array_equal(got, [1, 1, 0.5])


# --- invalid arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "needle"),
    [
        ("cosine_annealing_lr", {"T_max": 0}, "T_max=0"),
        ("step_lr", {"step_size": 0}, "step_size=0"),
        ("step_lr", {"step_size": 5, "gamma": 0.0}, "gamma=0.0"),
        ("exponential_lr", {"gamma": -0.5}, "gamma=-0.5"),
        ("multi_step_lr", {"milestones": [30, -1]}, "milestones must be integers >= 0"),
        ("constant_lr", {"factor": 1.5}, "factor=1.5"),
        ("linear_lr", {"start_factor": 0.0}, "start_factor=0.0"),
        ("linear_lr", {"total_iters": 0}, "total_iters=0"),
        ("polynomial_lr", {"power": -1.0}, "power=-1.0"),
        ("cosine_annealing_warm_restarts", {"T_0": 0}, "T_0=0"),
        ("cosine_annealing_warm_restarts", {"T_0": 5, "T_mult": 0}, "T_mult=0"),
        ("cyclic_lr", {"base_lr": 0.1, "max_lr": 0.01}, "max_lr=0.01"),
        ("cyclic_lr", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 0}, "step_size_up=0"),
        ("cyclic_lr", {"base_lr": 0.01, "max_lr": 0.1, "mode": "sine"}, "mode='sine'"),
        ("one_cycle_lr", {"max_lr": 0.1, "total_steps": 10, "pct_start": 0.1}, "pct_start=0.1"),
        ("one_cycle_lr", {"max_lr": 0.1, "total_steps": 1}, "total_steps=1"),
        (
            "one_cycle_lr",
            {"max_lr": 0.1, "total_steps": 100, "anneal_strategy": "exp"},
            "anneal_strategy",
        ),
        (
            "sequential_lr",
            {"schedulers": [("step_lr", {"step_size": 3})], "milestones": [5]},
            "milestones",
        ),
        (
            "sequential_lr",
            {
                "schedulers": [("one_cycle_lr", {}), ("step_lr", {"step_size": 3})],
                "milestones": [5],
            },
            "one_cycle_lr",
        ),
        ("lambda_lr", {"lr_lambda": 0.5}, "lr_lambda=0.5"),
    ],
)
def test_invalid_arguments_raise_with_value(name, kwargs, needle):
    with pytest.raises(ValueError, match=None) as info:
        SCHEDULES[name](lr=0.1, **kwargs)
    assert needle in str(info.value)


def test_invalid_steps_and_plateau_args():
    s = step_lr(0.1, 3)
    with pytest.raises(ValueError, match="t must be >= 0"):
        s(-1)
    with pytest.raises(ValueError, match="integer"):
        s(np.array([0.5]))
    with pytest.raises(ValueError, match=r"factor=1\.0"):
        reduce_lr_on_plateau(0.1, [1.0], factor=1.0)
    with pytest.raises(ValueError, match="mode='up'"):
        reduce_lr_on_plateau(0.1, [1.0], mode="up")
    with pytest.raises(ValueError, match="warmup_steps=-1"):
        linear_warmup(s, -1)


# --- UI metadata -----------------------------------------------------------------------------


# Where torch's default (None) would draw nothing: OneCycleLR raises without total_steps or
# epochs and steps_per_epoch, so the page starts from 10 epochs of 10 steps.
DRAWING_DEFAULTS = {("one_cycle_lr", "epochs"): 10, ("one_cycle_lr", "steps_per_epoch"): 10}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_params_metadata_matches_factory_signature(name):
    signature = inspect.signature(SCHEDULES[name])
    assert set(SCHEDULE_PARAMS[name]) == set(signature.parameters) - {"lr"}
    for key, param in SCHEDULE_PARAMS[name].items():
        torch_default = signature.parameters[key].default
        if param.kind == "text" and torch_default is None:
            assert param.default == "", key  # a typed formula: empty text stands for None
        elif (name, key) in DRAWING_DEFAULTS:
            assert torch_default is None and param.default == DRAWING_DEFAULTS[name, key]
        elif torch_default is not inspect.Parameter.empty:
            assert param.default == torch_default, key
        assert param.kind in KINDS, key
        if param.kind in ("int", "float") and param.default is not None:
            assert param.low <= param.default <= param.high, key
            assert isinstance(param.default, int if param.kind == "int" else float), key
        if param.kind == "choice":
            assert param.default in param.options, key
        if key in ("milestones", "lr_lambda", "scale_fn"):
            assert param.kind == "text" and isinstance(param.default, str), key


@pytest.mark.parametrize(
    ("name", "kwargs", "param", "rule", "values"),
    [
        ("cosine_annealing_lr", {"T_max": 0}, "T_max", "int_ge", {"value": 0, "low": 1}),
        ("step_lr", {"step_size": 5, "gamma": -0.5}, "gamma", "gt", {"value": -0.5, "low": 0}),
        ("constant_lr", {"factor": 1.5}, "factor", "gt_le", {"value": 1.5, "low": 0, "high": 1}),
        ("linear_lr", {"end_factor": 2.0}, "end_factor", "between",
         {"value": 2.0, "low": 0, "high": 1}),
        ("polynomial_lr", {"power": -1.0}, "power", "ge", {"value": -1.0, "low": 0}),
        ("multi_step_lr", {"milestones": [80, -1]}, "milestones", "milestones_ge",
         {"milestones": "80, -1", "low": 0}),
        ("sequential_lr", {"schedulers": [("step_lr", {"step_size": 3})] * 2, "milestones": [0]},
         "milestones", "increasing", {"milestones": "0", "low": 1}),
        ("cyclic_lr", {"base_lr": 0.1, "max_lr": 0.01}, "max_lr", "max_ge_base",
         {"max_lr": 0.01, "base_lr": 0.1}),
        ("one_cycle_lr", {"max_lr": 0.1, "total_steps": 10, "pct_start": 0.1}, "pct_start",
         "empty_phase", {"pct_start": 0.1, "total_steps": 10}),
    ],
)  # fmt: skip
def test_refused_values_name_the_parameter_the_rule_and_the_values(
    name, kwargs, param, rule, values
):
    with pytest.raises(ParamError) as raised:
        SCHEDULES[name](lr=0.1, **kwargs)
    assert (raised.value.param, raised.value.rule, raised.value.values) == (param, rule, values)


def _multi_step_recursive(lr, milestones, gamma, steps):
    """torch's MultiStepLR.get_lr: milestones kept in a Counter; at an epoch listed k times the
    lr is multiplied by gamma**k, otherwise kept."""
    counts, out = Counter(milestones), []
    for t in range(steps):
        lr = lr * gamma ** counts[t] if t in counts else lr
        out.append(lr)
    return np.array(out)


@pytest.mark.parametrize("milestones", [[5, 5, 10], [10, 5, 5], [0, 0, 3, 7, 7, 7], [4]])
def test_multi_step_lr_decays_once_per_listed_milestone_as_torch_counts_them(milestones):
    s = SCHEDULES["multi_step_lr"](lr=0.1, milestones=milestones, gamma=0.5)
    expected = _multi_step_recursive(0.1, milestones, 0.5, 20)
    np.testing.assert_allclose(s(np.arange(20)), expected, rtol=1e-14)
    if sorted(milestones) == [5, 5, 10]:  # the example: 0.1 → 0.025 at t = 5
        assert s(4) == 0.1 and s(5) == pytest.approx(0.025) and s(10) == pytest.approx(0.0125)
    assert phase_boundaries("multi_step_lr", {"milestones": milestones}, 20) == sorted(
        {m for m in milestones if m > 0}
    )


def test_typed_milestones_are_parsed_or_refused_by_name():
    assert parse_milestones(" 30, 80;120，150  200 ") == (30, 80, 120, 150, 200)
    assert parse_milestones("") == ()
    with pytest.raises(ParamError, match="milestones='30, x'") as raised:
        parse_milestones("30, x")
    assert (raised.value.rule, raised.value.values) == ("whole_numbers", {"text": "30, x"})


def test_plateau_metadata_matches_signature():
    signature = inspect.signature(plateau)
    params = SCHEDULE_PARAMS["reduce_lr_on_plateau"]
    assert set(params) == set(signature.parameters) - {"lr"}
    assert all(p.default == signature.parameters[k].default for k, p in params.items())


@pytest.mark.parametrize("name", sorted(SCHEDULE_PARAMS))
@pytest.mark.parametrize("warmup_steps", [0, 5])
def test_torch_code_is_valid_python_naming_the_class(name, warmup_steps):
    if name == "chained_scheduler" and warmup_steps:
        pytest.skip("torch's SequentialLR cannot restart a ChainedScheduler (step(0))")
    params = {"lr": 0.05, **_default_kwargs(name)}
    if "lr_lambda" in params:
        params["lr_lambda"] = SCHEDULE_PARAMS[name]["lr_lambda"].default
    code = torch_code(name, params, warmup_steps=warmup_steps)
    ast.parse(code)
    first_argument = "[" if name == "chained_scheduler" else "optimizer"
    assert f"torch.optim.lr_scheduler.{TORCH_CLASS[name]}({first_argument}" in code
    assert "lr=0.05" in code
    if warmup_steps:
        assert "LinearLR(optimizer, start_factor=0.3333333333333333, total_iters=5)" in code


# From the torch docs: these two classes take cycle_momentum=True by default and then rewrite the
# optimizer's momentum every step (SGD has a "momentum" default, 0, so torch does not refuse).
MOMENTUM_CYCLERS = {"CyclicLR", "OneCycleLR"}


@pytest.mark.parametrize("name", sorted(SCHEDULE_PARAMS))
@pytest.mark.parametrize("warmup_steps", [0, 5])
def test_torch_code_leaves_the_momentum_of_plain_sgd_alone(name, warmup_steps):
    """The chart shows the lr of an SGD without momentum; the code must build exactly that."""
    if name == "chained_scheduler" and warmup_steps:
        pytest.skip("torch's SequentialLR cannot restart a ChainedScheduler (step(0))")
    params = {"lr": 0.05, **_default_kwargs(name)}
    if "lr_lambda" in params:
        params["lr_lambda"] = SCHEDULE_PARAMS[name]["lr_lambda"].default
    calls = [
        node
        for node in ast.walk(ast.parse(torch_code(name, params, warmup_steps=warmup_steps)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]
    (sgd,) = [c for c in calls if c.func.attr == "SGD"]
    assert "momentum" not in {k.arg for k in sgd.keywords}
    for call in calls:
        if call.func.attr in MOMENTUM_CYCLERS:
            keywords = {k.arg: k.value for k in call.keywords}
            assert ast.literal_eval(keywords.get("cycle_momentum", ast.Constant(True))) is False


def test_torch_code_examples():
    code = torch_code("step_lr", {"lr": 0.05, "step_size": 30, "gamma": 0.1})
    assert code.splitlines()[-1] == (
        "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)"
    )
    code = torch_code("one_cycle_lr", {"max_lr": 0.1, "total_steps": 100, "pct_start": 1})
    assert "pct_start=1.0" in code  # OneCycleLR rejects an int pct_start
    code = torch_code("lambda_lr", {"lr_lambda": "0.9 ** epoch"})
    assert "lr_lambda=lambda epoch: 0.9 ** epoch" in code
    seq = {
        "schedulers": [("linear_lr", {"total_iters": 3}), ("exponential_lr", {"gamma": 0.9})],
        "milestones": [3],
    }
    code = torch_code("sequential_lr", seq, warmup_steps=10)
    # warm-up is flattened into one SequentialLR with shifted milestones
    assert "schedulers=[scheduler1, scheduler2, scheduler3], milestones=[10, 13]" in code


def test_phase_boundaries():
    assert phase_boundaries("step_lr", {"step_size": 30}, 100) == [30, 60, 90]
    assert phase_boundaries("multi_step_lr", {"milestones": (30, 80)}, 50) == [30]
    assert phase_boundaries("cosine_annealing_lr", {"T_max": 40}, 100, warmup_steps=10) == [
        10,
        50,
        90,
    ]
    assert phase_boundaries("one_cycle_lr", {"max_lr": 0.1, "total_steps": 100}, 100) == [29, 99]
    assert phase_boundaries(
        "cyclic_lr", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "step_size_down": 10}, 35
    ) == [5, 15, 20, 30, 35]
    assert phase_boundaries("exponential_lr", {"gamma": 0.9}, 100) == []
    seq = {
        "schedulers": [("linear_lr", {"total_iters": 10}), ("step_lr", {"step_size": 20})],
        "milestones": [10],
    }
    assert phase_boundaries("sequential_lr", seq, 60) == [10, 30, 50]
    with pytest.raises(ValueError, match="reduce_lr_on_plateau"):
        phase_boundaries("reduce_lr_on_plateau", {}, 10)


def test_linear_lr_closed_form_independent_of_torch():
    # Hand computation: factor goes 0.5 → 1.0 in 4 steps, lr 0.2.
    np.testing.assert_allclose(
        linear_lr(0.2, 0.5, 1.0, 4)(np.arange(7)), [0.1, 0.125, 0.15, 0.175, 0.2, 0.2, 0.2]
    )


def test_linear_warmup_cyclic_ramps_to_optimizer_lr_like_torch():
    # torch 2.13.0, lr=0.2: SequentialLR([LinearLR(opt, 0.25, total_iters=5),
    # CyclicLR(opt, 0.01, 0.1, 10)], [5]): LinearLR ramps to the optimizer's lr, not base_lr.
    expected = [0.05, 0.08000000000000002, 0.11000000000000001, 0.14, 0.17, 0.01]
    expected += [0.01900000000000001, 0.028000000000000018, 0.036999999999999984, 0.046]
    main = cyclic_lr(0.2, base_lr=0.01, max_lr=0.1, step_size_up=10)
    s = linear_warmup(main, 5, start_factor=0.25, lr=0.2)
    np.testing.assert_allclose(s(np.arange(10)), expected, rtol=1e-12)
    # default target is schedule(0) = base_lr
    assert linear_warmup(main, 5, start_factor=0.25)(0) == pytest.approx(0.0025, rel=1e-14)
