"""Optimizers against references they don't share: the torch docs' algorithm boxes written out
again as scalar Python, scikit-learn's own SGD/Adam, literal torch 2.13.0 trajectories, and
behaviour on a quadratic bowl and the Rosenbrock valley."""

import ast
import inspect
import math
import string
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from core.optimizers import (
    OPTIMIZER_ENTRIES,
    OPTIMIZERS,
    PAIRS,
    RANGES,
    AdamState,
    adam,
    init_layers,
    make,
    muon,
    on_page,
    rmsprop,
    sgd,
    update_layers,
    zeropower_via_newton_schulz,
)
from tests.optimizer_states import assert_states_equal, copy_state

KEYS = list(OPTIMIZERS)
ELEMENTWISE = [key for key in KEYS if OPTIMIZERS[key]().elementwise]


def run(optimizer, p0, grad_fn, steps):
    """Apply ``steps`` updates with gradients ``grad_fn(t, params)``; return every iterate."""
    p, state = np.asarray(p0, dtype=float), optimizer.init(p0)
    path = []
    for t in range(steps):
        p, state = optimizer.update(p, grad_fn(t, p), state)
        path.append(p)
    return np.array(path), state


# ---------------------------------------------------------------------------------------------
# Scalar references, one per algorithm box of the PyTorch docs (maximize=False), written from the
# docs rather than from core/optimizers.py. Each maps (theta0, [g_1, g_2, ...]) -> [theta_1, ...].


def ref_sgd(theta, grads, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    out, b = [], None
    for g in grads:
        g = g + weight_decay * theta
        if momentum != 0:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def ref_adagrad(
    theta, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
):
    out, state_sum = [], initial_accumulator_value
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        clr = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g * g
        theta = theta - clr * g / (math.sqrt(state_sum) + eps)
        out.append(theta)
    return out


def ref_rmsprop(
    theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False
):
    out, v, b, g_ave = [], 0.0, 0.0, 0.0
    for g in grads:
        g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g * g
        v_tilde = v
        if centered:
            g_ave = alpha * g_ave + (1 - alpha) * g
            v_tilde = v_tilde - g_ave * g_ave
        if momentum > 0:
            b = momentum * b + g / (math.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (math.sqrt(v_tilde) + eps)
        out.append(theta)
    return out


def ref_adadelta(theta, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    out, v, u = [], 0.0, 0.0
    for g in grads:
        g = g + weight_decay * theta
        v = v * rho + g * g * (1 - rho)
        dx = math.sqrt(u + eps) / math.sqrt(v + eps) * g
        u = u * rho + dx * dx * (1 - rho)
        theta = theta - lr * dx
        out.append(theta)
    return out


def ref_adam(
    theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, _w=False
):
    """Adam's box; ``_w=True`` gives AdamW's box (decay applied to theta, not to g)."""
    (b1, b2), out, m, v, v_max = betas, [], 0.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if _w:
            theta = theta - lr * weight_decay * theta
        else:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        if amsgrad:
            v_max = max(v_max, v)
            v_hat = v_max / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_adamw(
    theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False
):
    return ref_adam(theta, grads, lr, betas, eps, weight_decay, amsgrad, _w=True)


def ref_nadam(
    theta, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3
):
    (b1, b2), out, m, v = betas, [], 0.0, 0.0

    def mu(i):
        return b1 * (1 - 0.5 * 0.96 ** (i * momentum_decay))

    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        prod_t = math.prod(mu(i) for i in range(1, t + 1))
        prod_next = math.prod(mu(i) for i in range(1, t + 2))
        m_hat = mu(t + 1) * m / (1 - prod_next) + (1 - mu(t)) * g / (1 - prod_t)
        v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_radam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    (b1, b2), out, m, v = betas, [], 0.0, 0.0
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            l_t = math.sqrt(1 - b2**t) / (math.sqrt(v) + eps)
            r_t = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            theta = theta - lr * m_hat * r_t * l_t
        else:
            theta = theta - lr * m_hat
        out.append(theta)
    return out


def ref_adamax(theta, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    (b1, b2), out, m, u = betas, [], 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        u = max(b2 * u, abs(g) + eps)
        theta = theta - lr * m / ((1 - b1**t) * u)
        out.append(theta)
    return out


def ref_rprop(theta, grads, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
    """torch 2.x's box: a sign change shrinks the step, skips the move and zeroes g_prev."""
    (eta_minus, eta_plus), (step_min, step_max) = etas, step_sizes
    out, g_prev, eta = [], 0.0, lr
    for g in grads:
        if g_prev * g > 0:
            eta = min(eta * eta_plus, step_max)
        elif g_prev * g < 0:
            eta = max(eta * eta_minus, step_min)
            g = 0.0
        else:
            eta = min(max(eta, step_min), step_max)  # torch clamps at every step, the first too
        theta = theta - eta * math.copysign(1.0, g) * (g != 0)
        g_prev = g
        out.append(theta)
    return out


def ref_asgd(theta, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0):
    """torch's ASGD: eta starts at lr and decays as lr / (1 + lambd lr t)^alpha after step t."""
    out, eta = [], lr
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        theta = theta * (1 - lambd * eta) - eta * g
        eta = lr / (1 + lambd * lr * t) ** alpha
        out.append(theta)
    return out


REFERENCES = {
    "sgd": ref_sgd,
    "asgd": ref_asgd,
    "momentum": partial(ref_sgd, momentum=0.9),
    "nesterov": partial(ref_sgd, momentum=0.9, nesterov=True),
    "rprop": ref_rprop,
    "adagrad": ref_adagrad,
    "rmsprop": ref_rmsprop,
    "adadelta": ref_adadelta,
    "adam": ref_adam,
    "adamw": ref_adamw,
    "nadam": ref_nadam,
    "radam": ref_radam,
    "adamax": ref_adamax,
}

_ADAM_OPTIONS = dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1)
# Defaults plus settings that switch on every branch (dampening, lr_decay, centered + momentum,
# amsgrad, ...). With betas=(0.8, 0.9) RAdam's rho_t first exceeds 5 at step 6 of 6.
HAND_CASES = [
    ("sgd", {}),
    ("sgd", dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.05)),
    ("momentum", dict(lr=0.05)),
    ("nesterov", dict(lr=0.05, weight_decay=0.1)),
    ("asgd", {}),
    ("asgd", dict(lr=0.2, lambd=0.3, alpha=0.5, t0=2.0, weight_decay=0.1)),
    ("rprop", {}),
    # a step size that hits the upper bound, then the lower one after the sign flips
    ("rprop", dict(lr=0.3, etas=(0.2, 1.9), step_sizes=(0.05, 0.5))),
    ("rprop", dict(lr=1e-7, step_sizes=(1e-6, 50))),  # the first step is clamped up to 1e-6
    ("adagrad", {}),
    ("adagrad", dict(lr=0.3, lr_decay=0.1, weight_decay=0.02, initial_accumulator_value=0.5)),
    ("rmsprop", {}),
    ("rmsprop", dict(centered=True)),
    ("rmsprop", dict(momentum=0.5)),
    ("rmsprop", dict(lr=0.03, alpha=0.9, eps=1e-3, weight_decay=0.01, momentum=0.7, centered=True)),
    ("adadelta", {}),
    ("adadelta", dict(lr=0.5, rho=0.7, eps=1e-3, weight_decay=0.1)),
    ("adam", {}),
    ("adam", dict(_ADAM_OPTIONS, amsgrad=True)),
    ("adamw", {}),
    ("adamw", dict(_ADAM_OPTIONS, weight_decay=0.3, amsgrad=True)),
    ("nadam", {}),
    ("nadam", dict(_ADAM_OPTIONS, momentum_decay=0.05)),
    ("radam", {}),
    ("radam", _ADAM_OPTIONS),
    ("adamax", {}),
    ("adamax", _ADAM_OPTIONS),
]

P0 = np.array([0.5, -1.0, 2.0])
# A fixed gradient sequence (rows are steps); coordinate 2 shrinks so amsgrad's max and Adamax's
# max(beta2 * u, |g| + eps) each take both sides.
G = np.array(
    [
        [0.5, -1.0, 2.0],
        [0.3, -0.2, -1.5],
        [-0.4, 0.1, 1.0],
        [1.2, -0.7, 0.05],
        [-0.8, 0.9, 0.3],
        [0.25, -0.6, -2.5],
    ]
)


def test_every_optimizer_has_a_reference_and_a_hand_case():
    assert set(REFERENCES) == set(ELEMENTWISE)
    assert {key for key, _ in HAND_CASES} == set(ELEMENTWISE)
    assert {key for key, _, _ in TENSOR_CASES} == set(KEYS) - set(ELEMENTWISE)


@pytest.mark.parametrize(("key", "kwargs"), HAND_CASES)
def test_steps_match_the_torch_docs_formula(key, kwargs):
    path, state = run(OPTIMIZERS[key](**kwargs), P0, lambda t, p: G[t], len(G))
    expected = np.array([REFERENCES[key](P0[i], G[:, i], **kwargs) for i in range(3)]).T
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-15)
    assert state.step == len(G)


@pytest.mark.parametrize(("key", "kwargs"), HAND_CASES)
def test_maximize_follows_the_negated_gradient(key, kwargs):
    # torch's boxes begin "if maximize: g_t = -grad f(theta_{t-1})"; weight decay comes after.
    path, _ = run(OPTIMIZERS[key](**kwargs, maximize=True), P0, lambda t, p: G[t], len(G))
    expected = np.array([REFERENCES[key](P0[i], -G[:, i], **kwargs) for i in range(3)]).T
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-15)


DECOUPLED_CASES = [
    ("adam", dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.3)),
    ("nadam", dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.3, momentum_decay=0.05)),
    ("radam", dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.3)),
]


@pytest.mark.parametrize(("key", "kwargs"), DECOUPLED_CASES)
def test_decoupled_weight_decay_shrinks_theta_outside_the_moments(key, kwargs):
    path, _ = run(
        OPTIMIZERS[key](**kwargs, decoupled_weight_decay=True), P0, lambda t, p: G[t], len(G)
    )
    # torch 2.x's decoupled branch: theta_t = theta_{t-1}(1 - lr * wd) - step_t, where without
    # L2 on g the moves step_t depend on the gradients alone: the reference's moves at wd = 0.
    wd, lr = kwargs["weight_decay"], kwargs["lr"]
    plain = {k: v for k, v in kwargs.items() if k != "weight_decay"}
    for i in range(3):
        moves = np.diff(REFERENCES[key](0.0, G[:, i], **plain), prepend=0.0)
        theta, expected = P0[i], []
        for move in moves:
            theta = theta * (1 - lr * wd) + move
            expected.append(theta)
        np.testing.assert_allclose(path[:, i], expected, rtol=1e-12, atol=1e-15)
    if key == "adam":  # Adam with decoupled decay is AdamW
        adamw_path, _ = run(OPTIMIZERS["adamw"](**kwargs), P0, lambda t, p: G[t], len(G))
        np.testing.assert_array_equal(path, adamw_path)


def test_asgd_averages_the_iterates_from_t0_on():
    # mu_t = 1 / max(1, t - t0): ax copies theta through step t0 + 2, then is their running mean.
    opt = OPTIMIZERS["asgd"](lr=0.1, t0=3.0)
    path, state = run(opt, P0, lambda t, p: G[t], len(G))
    np.testing.assert_allclose(state.ax, path[4:].mean(axis=0), rtol=1e-14)
    path, state = run(OPTIMIZERS["asgd"](lr=0.1), P0, lambda t, p: G[t], len(G))
    np.testing.assert_array_equal(state.ax, path[-1])  # before t0 (default 1e6) ax is theta


# ---------------------------------------------------------------------------------------------
# Optimizers that read the whole array, against references over Python lists


def ref_adafactor(
    theta, grads, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0
):
    """torch's Adafactor box with the paper's sums: R = (G∘G)1, C = 1ᵀ(G∘G), V = R Cᵀ / 1ᵀR
    for a matrix (a list of rows), V smoothed directly for a vector. eps1 None = float64 eps."""
    eps1 = 2.0**-52 if eps[0] is None else eps[0]
    eps2 = eps[1]
    matrix = isinstance(theta[0], list)
    flat = (lambda x: [v for row in x for v in row]) if matrix else (lambda x: list(x))
    shape = (
        (
            lambda values: [
                values[i * len(theta[0]) : (i + 1) * len(theta[0])] for i in range(len(theta))
            ]
        )
        if matrix
        else (lambda values: values)
    )
    rms = lambda xs: math.sqrt(sum(x * x for x in xs) / len(xs))  # noqa: E731
    n, m = (len(theta), len(theta[0])) if matrix else (len(theta), 1)
    R, C, V = [0.0] * n, [0.0] * m, [0.0] * n
    out = []
    for t, G in enumerate(grads, start=1):
        b2 = 1 - t**beta2_decay
        alpha = max(eps2, rms(flat(theta))) * min(lr, 1 / math.sqrt(t))
        theta = shape([x - lr * weight_decay * x for x in flat(theta)])
        if matrix:
            R = [b2 * R[i] + (1 - b2) * sum(G[i][j] ** 2 for j in range(m)) for i in range(n)]
            C = [b2 * C[j] + (1 - b2) * sum(G[i][j] ** 2 for i in range(n)) for j in range(m)]
            total = max(sum(R), eps1)
            v_hat = [R[i] * C[j] / total for i in range(n) for j in range(m)]
        else:
            V = [b2 * V[i] + (1 - b2) * G[i] ** 2 for i in range(n)]
            v_hat = V
        U = [g / max(math.sqrt(v), eps1) for g, v in zip(flat(G), v_hat, strict=True)]
        clip = max(1.0, rms(U) / d)
        theta = shape([x - alpha * u / clip for x, u in zip(flat(theta), U, strict=True)])
        out.append(theta)
    return out


def _matmul(a, b):
    return [
        [sum(x * y for x, y in zip(row, col, strict=True)) for col in zip(*b, strict=True)]
        for row in a
    ]


def _transpose(a):
    return [list(col) for col in zip(*a, strict=True)]


def ref_newton_schulz(x, coefficients, steps, eps):
    """torch's NS^{(a,b,c)}_k(X; eps) on lists: the wide orientation, X / max(|X|_F, eps), then
    X <- aX + (bA + cA²)X with A = X Xᵀ."""
    a, b, c = coefficients
    tall = len(x) > len(x[0])
    x = _transpose(x) if tall else x
    norm = max(math.sqrt(sum(v * v for row in x for v in row)), eps)
    x = [[v / norm for v in row] for row in x]
    for _ in range(steps):
        gram = _matmul(x, _transpose(x))
        gram2 = _matmul(gram, gram)
        poly = [[b * g1 + c * g2 for g1, g2 in zip(r1, r2, strict=True)]
                for r1, r2 in zip(gram, gram2, strict=True)]  # fmt: skip
        px = _matmul(poly, x)
        x = [[a * v + w for v, w in zip(r1, r2, strict=True)] for r1, r2 in zip(x, px, strict=True)]
    return _transpose(x) if tall else x


def ref_muon(theta, grads, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
             ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):  # fmt: skip
    """torch's Muon box on torch's (out, in) weight: our theta and grads are (in, out), so the
    reference transposes them in and out. Vectors get the AdamW reference per coordinate."""
    if not isinstance(theta[0], list):
        columns = [ref_adamw(theta[i], [g[i] for g in grads], lr=lr, weight_decay=weight_decay)
                   for i in range(len(theta))]  # fmt: skip
        return [list(row) for row in zip(*columns, strict=True)]
    w = _transpose(theta)
    rows, cols = len(w), len(w[0])
    buf = [[0.0] * cols for _ in range(rows)]
    if adjust_lr_fn in (None, "original"):
        ratio = math.sqrt(max(1, rows / cols))
    else:
        ratio = 0.2 * math.sqrt(max(rows, cols))
    out = []
    for g in grads:
        g = _transpose(g)
        buf = [[momentum * b + x for b, x in zip(rb, rg, strict=True)]
               for rb, rg in zip(buf, g, strict=True)]  # fmt: skip
        if nesterov:
            d = [[x + momentum * b for b, x in zip(rb, rg, strict=True)]
                 for rb, rg in zip(buf, g, strict=True)]  # fmt: skip
        else:
            d = buf
        o = ref_newton_schulz(d, ns_coefficients, ns_steps, eps)
        w = [[v - lr * weight_decay * v for v in row] for row in w]
        w = [[v - lr * ratio * x for v, x in zip(rw, ro, strict=True)]
             for rw, ro in zip(w, o, strict=True)]  # fmt: skip
        out.append(_transpose(w))
    return out


TENSOR_REFERENCES = {"adafactor": ref_adafactor, "muon": ref_muon}
_GM = [G[t].reshape(1, 3) * np.array([[1.0], [-0.5]]) + 0.1 * t for t in range(len(G))]
TENSOR_CASES = [
    ("muon", {}, "matrix"),
    ("muon", {}, "vector"),  # AdamW, the pairing torch's docs recommend
    (
        "muon",
        dict(
            lr=0.02,
            weight_decay=0.05,
            momentum=0.9,
            nesterov=False,
            ns_steps=3,
            adjust_lr_fn="match_rms_adamw",
        ),
        "matrix",
    ),
    ("muon", dict(lr=0.02, eps=0.5, adjust_lr_fn="original"), "tall"),
    ("adafactor", {}, "vector"),
    ("adafactor", {}, "matrix"),
    (
        "adafactor",
        dict(lr=0.5, beta2_decay=-0.5, eps=(1e-3, 0.05), d=1.5, weight_decay=0.1),
        "vector",
    ),
    (
        "adafactor",
        dict(lr=0.5, beta2_decay=-0.5, eps=(1e-3, 0.05), d=1.5, weight_decay=0.1),
        "matrix",
    ),
]


@pytest.mark.parametrize(("key", "kwargs", "kind"), TENSOR_CASES)
def test_tensor_steps_match_the_torch_docs_formula(key, kwargs, kind):
    p0 = P0 if kind == "vector" else np.stack([P0, -2 * P0])
    grads = G if kind == "vector" else np.array(_GM)
    if kind == "tall":  # more rows than columns: Newton–Schulz runs on the transpose
        p0, grads = p0.T, grads.transpose(0, 2, 1)
    path, state = run(OPTIMIZERS[key](**kwargs), p0, lambda t, p: grads[t], len(grads))
    expected = TENSOR_REFERENCES[key](p0.tolist(), grads.tolist(), **kwargs)
    np.testing.assert_allclose(path, np.array(expected), rtol=1e-12, atol=1e-15)
    assert state.step == len(grads)


def test_newton_schulz_with_the_cubic_coefficients_converges_to_u_v_transposed(rng):
    # X <- 1.5 X - 0.5 X Xᵀ X drives every singular value to 1: the orthogonal polar factor.
    g = rng.normal(size=(5, 3))
    u, _, vt = np.linalg.svd(g, full_matrices=False)
    np.testing.assert_allclose(
        zeropower_via_newton_schulz(g, (1.5, -0.5, 0.0), 40), u @ vt, atol=1e-10
    )
    # Muon's quintic coefficients trade exactness for speed: singular values land near 1.
    s = np.linalg.svd(zeropower_via_newton_schulz(g), compute_uv=False)
    assert np.all((s > 0.6) & (s < 1.25))


def test_muon_refuses_arrays_that_are_not_matrices():
    opt = OPTIMIZERS["muon"]()
    with pytest.raises(ValueError, match="2-D"):
        muon().update(np.ones(3), np.ones(3), muon().init(np.ones(3)))
    assert isinstance(opt.init(np.ones(3)), AdamState)  # vectors go to AdamW


def test_adafactor_clips_the_first_step_to_rms_lr_times_the_params_rms():
    # Step 1: V = g², so U = sign(g) with RMS 1 <= d: every coordinate moves by alpha =
    # max(eps2, RMS(theta)) * min(lr, 1) whatever the gradient's size.
    p0, g = np.array([3.0, -4.0]), np.array([1e-3, 200.0])
    new, _ = OPTIMIZERS["adafactor"](lr=0.01).update(p0, g, OPTIMIZERS["adafactor"]().init(p0))
    np.testing.assert_allclose(p0 - new, 0.01 * math.sqrt(12.5) * np.sign(g), rtol=1e-12)


def test_adam_first_step_is_lr_times_sign_of_g():
    g = np.array([1e-3, -5.0, 200.0])
    new, state = adam(lr=0.01).update(np.zeros(3), g, adam(lr=0.01).init(np.zeros(3)))
    # m_hat = g and sqrt(v_hat) = |g| after one step, so the move is lr * g / (|g| + eps).
    np.testing.assert_allclose(new, -0.01 * np.sign(g), rtol=1e-4)
    assert state.step == 1


def test_radam_first_steps_are_plain_momentum_sgd():
    # rho_1 = 1 <= 5: no adaptive term, the step is lr * m_hat = lr * g on the first update.
    g = np.array([1e-3, -5.0, 200.0])
    opt = OPTIMIZERS["radam"](lr=0.01)
    new, _ = opt.update(np.zeros(3), g, opt.init(np.zeros(3)))
    np.testing.assert_allclose(new, -0.01 * g, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# Literal reference values from torch 2.13.0 (CPU, float64), produced in a private venv with
#   p = torch.tensor([1.0, -2.0], requires_grad=True); opt = torch.optim.<Class>([p], **kwargs)
#   for t in 1..10: p.grad = torch.tensor([3*x + 1, 0.5*y - 0.2]) at the current (x, y); opt.step()
# and recording p after steps 1, 2, 3 and 10 (kwargs identical to ours; momentum/nesterov are
# torch.optim.SGD with momentum=0.9[, nesterov=True]).

TORCH_STEPS = (1, 2, 3, 10)
TORCH_TRAJECTORIES = {
    "sgd": (
        dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.05),
        [
            (0.595, -1.8699999999999999),
            (0.07396749999999994, -1.680005),
            (-0.4286505612500001, -1.4493288075),
            (-0.18568712033160892, 0.18829373642394753),
        ],
    ),
    "momentum": (
        dict(lr=0.05),
        [
            (0.8, -1.94),
            (0.45, -1.8275),
            (0.01749999999999997, -1.6705625),
            (-0.8277226306152342, -0.013625285570859832),
        ],
    ),
    "nesterov": (
        dict(lr=0.05, weight_decay=0.1),
        [
            (0.6105, -1.867),
            (0.16965775000000008, -1.684881),
            (-0.24189973237499998, -1.465344683),
            (-0.4653624288778293, 0.27469468521331347),
        ],
    ),
    "adagrad": (
        dict(lr=0.3, lr_decay=0.1, weight_decay=0.02, initial_accumulator_value=0.5, eps=1e-3),
        [
            (0.7046083540504532, -1.7395770018583385),
            (0.5387514263799287, -1.5727640141578116),
            (0.42503825085908226, -1.4500219299482433),
            (0.07700210956781955, -1.0192801788146821),
        ],
    ),
    "rmsprop": (
        dict(lr=0.03, alpha=0.9, eps=1e-3, weight_decay=0.01, momentum=0.7, centered=True),
        [
            (0.9000830564784054, -1.9002724795640327),
            (0.7566153115776892, -1.7557158960535548),
            (0.5957341480324471, -1.5908409950590432),
            (-0.2871750370318454, -0.4673129515665352),
        ],
    ),
    "adadelta": (
        dict(lr=0.5, rho=0.7, eps=1e-3, weight_decay=0.1),
        [
            (0.9711353482518972, -1.9711570024799385),
            (0.9401144034228485, -1.9400359278517962),
            (0.9077609507121219, -1.907391343706649),
            (0.6657072796150967, -1.6551920178900397),
        ],
    ),
    "adam": (
        dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, amsgrad=True),
        [
            (0.900024384296513, -1.9000713775874376),
            (0.800356851668168, -1.8002962733088528),
            (0.7012401224499658, -1.7007843321695781),
            (0.05995672800079396, -1.021934868718812),
        ],
    ),
    "adamw": (
        dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.3, amsgrad=True),
        [
            (0.8700249937515621, -1.840083263946711),
            (0.7443818465591041, -1.6852279554443337),
            (0.6232776099152499, -1.5354692595476829),
            (-0.056959112468718646, -0.6367659561652179),
        ],
    ),
    "nadam": (
        dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, momentum_decay=0.05),
        [
            (0.8904529479495888, -1.8905044402704985),
            (0.8067081917297507, -1.805429263393467),
            (0.7274178254774548, -1.723988960130255),
            (0.19306841824488433, -1.1386596956126278),
        ],
    ),
    "radam": (
        dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1),
        [
            (0.5900000000000001, -1.86),
            (0.2506111111111111, -1.7246666666666668),
            (-0.02250751366120224, -1.5941912568306011),
            (-0.44609319836353706, -1.1644800135556128),
        ],
    ),
    "adamax": (
        dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1),
        [
            (0.900024384296513, -1.9000713775874376),
            (0.7964173820529008, -1.7981588635248342),
            (0.6886407319012364, -1.6941887321270057),
            (-0.1467182459733422, -0.8961715231099499),
        ],
    ),
}


@pytest.mark.parametrize("key", list(TORCH_TRAJECTORIES))
def test_matches_literal_torch_trajectory(key):
    kwargs, expected = TORCH_TRAJECTORIES[key]
    path, _ = run(
        OPTIMIZERS[key](**kwargs),
        np.array([1.0, -2.0]),
        lambda t, p: np.array([3.0 * p[0] + 1.0, 0.5 * p[1] - 0.2]),
        max(TORCH_STEPS),
    )
    np.testing.assert_allclose(path[[s - 1 for s in TORCH_STEPS]], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# scikit-learn's MLP optimizers as a second implementation. Where they coincide with torch:
# - SGDOptimizer(momentum=0, nesterov=False): p += -lr*g, exactly torch SGD without momentum.
# - SGDOptimizer(momentum=mu, nesterov=False): v = mu*v - lr*g, p += v. With constant lr and
#   dampening=0 this is v = -lr*b for torch's b = mu*b + g (b_1 = g_1 = what v_0 = 0 gives).
# - SGDOptimizer(nesterov=True): v = mu*v - lr*g, p += mu*v - lr*g = -lr*(g + mu*b), which is
#   torch's nesterov form g + mu*b under the same substitution v = -lr*b.
# - AdamOptimizer folds the bias corrections into lr_t = lr*sqrt(1 - b2^t)/(1 - b1^t) and uses
#   m/(sqrt(v) + eps); torch's m_hat/(sqrt(v_hat) + eps) equals m/(sqrt(v) + eps*sqrt(1 - b2^t))
#   times lr_t. So with eps = 0 both are the same rule; with eps = 1e-8 they differ by a relative
#   ~eps/|g| per step, which the looser tolerance below allows for.

SKLEARN_CASES = [
    ("sgd", dict(lr=0.02), partial(SGDOptimizer, momentum=0.0, nesterov=False), 1e-12, 0),
    ("momentum", dict(lr=0.02), partial(SGDOptimizer, momentum=0.9, nesterov=False), 1e-12, 0),
    ("nesterov", dict(lr=0.02), partial(SGDOptimizer, momentum=0.9, nesterov=True), 1e-12, 0),
    ("adam", dict(lr=0.02, eps=0.0), partial(AdamOptimizer, epsilon=0.0), 1e-12, 0),
    # |difference| per step <~ lr * eps / sqrt(v) ~ 0.02 * 1e-8 / 0.03; 50 steps stay below 1e-6.
    ("adam", dict(lr=0.02), partial(AdamOptimizer, epsilon=1e-8), 0, 1e-6),
]


@pytest.mark.parametrize(("key", "kwargs", "make_sklearn", "rtol", "atol"), SKLEARN_CASES)
def test_fifty_steps_match_sklearn(key, kwargs, make_sklearn, rtol, atol):
    local_rng = np.random.default_rng(7)
    start = [local_rng.normal(size=(3, 2)), local_rng.normal(size=2)]
    noise = local_rng.normal(scale=0.1, size=(50, 8))
    scales = [np.array([[1.0, 4.0], [0.5, 2.0], [3.0, 1.0]]), np.array([2.0, 0.25])]

    def grads(t, params):  # a noisy quadratic bowl, evaluated where each optimizer stands
        return [
            s * p + n.reshape(p.shape)
            for s, p, n in zip(scales, params, np.split(noise[t], [6]), strict=True)
        ]

    theirs_params = [p.copy() for p in start]
    theirs = make_sklearn(theirs_params, learning_rate_init=kwargs["lr"])
    ours, states = start, init_layers(OPTIMIZERS[key](**kwargs), start)
    for t in range(50):
        theirs.update_params(theirs_params, grads(t, theirs_params))  # in place, sklearn style
        ours, states = update_layers(OPTIMIZERS[key](**kwargs), ours, grads(t, ours), states)
        for a, b in zip(ours, theirs_params, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# Behaviour on test functions

BOWL = np.array([1.0, 50.0])  # f = (x^2 + 50 y^2) / 2, condition number 50
SENSIBLE = {
    "sgd": dict(lr=0.03),
    "momentum": dict(lr=0.01),
    "nesterov": dict(lr=0.01),
    "asgd": dict(lr=0.03),
    "rprop": dict(lr=0.01),
    "adafactor": dict(lr=0.1),
    "muon": dict(lr=0.05),
    "adagrad": dict(lr=0.5),
    "rmsprop": dict(lr=0.01, momentum=0.5),
    "adadelta": dict(lr=5.0, rho=0.95),
    "adam": dict(lr=0.05),
    "adamw": dict(lr=0.05),
    "nadam": dict(lr=0.05),
    "radam": dict(lr=0.05),
    "adamax": dict(lr=0.1),
}


@pytest.mark.parametrize("key", KEYS)
def test_every_optimizer_reduces_an_ill_conditioned_quadratic(key):
    assert key in SENSIBLE, "add sensible settings for the new optimizer"
    path, _ = run(OPTIMIZERS[key](**SENSIBLE[key]), [3.0, 1.0], lambda t, p: BOWL * p, 300)
    f = 0.5 * np.sum(BOWL * path**2, axis=-1)
    f0 = 0.5 * np.sum(BOWL * np.array([3.0, 1.0]) ** 2)
    assert f[-1] < 1e-2 * f0
    assert np.all(np.isfinite(path))


def test_tuned_adam_reaches_the_rosenbrock_minimum():
    def grad(t, p):  # f = (1 - x)^2 + 100 (y - x^2)^2
        x, y = p
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    path, _ = run(adam(lr=0.02), [-1.5, 2.5], grad, 3000)
    np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-3)


def test_centered_rmsprop_survives_rounding_of_a_vanishing_variance():
    # With a constant gradient, v - g_ave^2 = (1 - a^t) a^t g^2 -> 0 and rounding makes it
    # slightly negative (torch 2.13.0 returns NaN from step 3226 of this run). We clip at 0.
    opt = rmsprop(lr=1e-3, centered=True)
    path, _ = run(opt, [0.0], lambda t, p: np.array([0.05]), 3300)
    assert np.all(np.isfinite(path))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_gradients_give_non_finite_params_without_raising(key, bad):
    opt = OPTIMIZERS[key]()
    new, state = opt.update(np.ones(2), np.array([bad, 1.0]), opt.init(np.ones(2)))
    assert not np.isfinite(new[0])
    assert state.step == 1


# ---------------------------------------------------------------------------------------------
# Purity, shapes, vectorized hyperparameters, schedules, layers


@pytest.mark.parametrize(("key", "kwargs"), HAND_CASES + [(k, kw) for k, kw, _ in TENSOR_CASES])
@pytest.mark.parametrize("first", [True, False], ids=["from_init", "with_buffers"])
def test_update_mutates_nothing_and_aliases_nothing(key, kwargs, first, rng):
    opt = OPTIMIZERS[key](**kwargs)
    p, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    state = opt.init(p)
    if not first:  # a state whose buffers are already filled
        _, state = opt.update(p, g, state)
    p_copy, g_copy, state_copy = p.copy(), g.copy(), copy_state(state)
    new_p, new_state = opt.update(p, g, state)
    np.testing.assert_array_equal(p, p_copy)
    np.testing.assert_array_equal(g, g_copy)
    assert_states_equal(state, state_copy)
    # Writing into the inputs afterwards must not reach the outputs (e.g. a buffer set to g).
    new_p_copy, new_state_copy = new_p.copy(), copy_state(new_state)
    p += 1.0
    g *= -3.0
    for x in state:
        if isinstance(x, np.ndarray):
            x += 1.0
    np.testing.assert_array_equal(new_p, new_p_copy)
    assert_states_equal(new_state, new_state_copy)


@pytest.mark.parametrize("key", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(), (3,), (4, 5)])
def test_any_shape_equals_the_flattened_run(key, shape, rng):
    p0 = rng.normal(size=shape)
    scale = 1.0 + np.arange(p0.size).reshape(shape)

    path, state = run(OPTIMIZERS[key](lr=0.1), p0, lambda t, p: scale * p + 0.1 * t, 5)
    flat, _ = run(
        OPTIMIZERS[key](lr=0.1), p0.reshape(-1), lambda t, p: scale.reshape(-1) * p + 0.1 * t, 5
    )
    assert path.shape == (5, *shape)
    assert state.step == 5
    np.testing.assert_allclose(path.reshape(5, -1), flat, rtol=1e-14)


RACE_VALUES = {
    "lr": [0.01, 0.05, 0.1],
    "momentum": [0.0, 0.5, 0.9],
    "beta1": [0.0, 0.5, 0.9],
    "beta2": [0.5, 0.9, 0.999],  # 0.5 puts RAdam's rho_inf below 4: never rectified
}
RACE_CASES = [
    (key, name)
    for key in ELEMENTWISE
    for name in RACE_VALUES
    if name in OPTIMIZER_ENTRIES[key].hyperparameters
]


@pytest.mark.parametrize(("key", "name"), RACE_CASES)
def test_array_hyperparameter_races_equal_separate_runs(key, name, rng):
    # Nesterov refuses momentum 0; elsewhere 0 checks torch's "no buffer" path inside a race.
    values = [0.3, 0.6, 0.9] if (key, name) == ("nesterov", "momentum") else RACE_VALUES[name]
    starts = rng.normal(size=(3, 2))

    def grad(t, p):
        return BOWL * p + 0.05

    raced, _ = run(make(key, **{name: np.array(values)[:, None]}), starts, grad, 8)
    assert raced.shape == (8, 3, 2)
    for r, value in enumerate(values):
        alone, _ = run(make(key, **{name: value}), starts[r], grad, 8)
        np.testing.assert_allclose(raced[:, r], alone, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("key", KEYS)
def test_schedule_as_lr_equals_changing_lr_by_hand(key, rng):
    p0, steps = rng.normal(size=3), 6

    def grad(t, p):
        return BOWL[0] * p + np.array([0.3, -0.1, 0.2]) * t

    scheduled, _ = run(OPTIMIZERS[key](lr=lambda step: 0.1 * 0.5**step), p0, grad, steps)
    p, state = p0, OPTIMIZERS[key]().init(p0)
    for t in range(steps):  # like setting param_group["lr"] before each torch step
        p, state = OPTIMIZERS[key](lr=0.1 * 0.5**t).update(p, grad(t, p), state)
        np.testing.assert_allclose(scheduled[t], p, rtol=1e-14)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("container", [dict, tuple])
def test_update_layers_equals_per_array_updates(key, container, rng):
    shapes = {(0, "W"): (3, 2), (0, "b"): (2,), (1, "W"): (2, 1), (1, "b"): (1,)}
    start = {leaf: rng.normal(size=shape) for leaf, shape in shapes.items()}
    grad_seq = [{leaf: rng.normal(size=shape) for leaf, shape in shapes.items()} for _ in range(3)]

    def nest(leaves):  # an MLP-like list of layers, as dicts {"W", "b"} or tuples (W, b)
        if container is dict:
            return [{"W": leaves[i, "W"], "b": leaves[i, "b"]} for i in range(2)]
        return [(leaves[i, "W"], leaves[i, "b"]) for i in range(2)]

    def leaf(tree, i, k):
        return tree[i][k] if container is dict else tree[i][("W", "b").index(k)]

    opt = OPTIMIZERS[key](**SENSIBLE[key])
    params = nest(start)
    states = init_layers(opt, params)
    assert type(states) is list and type(states[0]) is container
    for t in range(3):
        params, states = update_layers(opt, params, nest(grad_seq[t]), states)
    assert type(params) is list and type(params[0]) is container
    for (i, k), p0 in start.items():
        alone, _ = run(opt, p0, lambda t, p, i=i, k=k: grad_seq[t][i, k], 3)
        np.testing.assert_allclose(leaf(params, i, k), alone[-1], rtol=1e-14)
        assert leaf(states, i, k).step == 3


def test_update_layers_mutates_nothing(rng):
    opt = OPTIMIZERS["adam"]()
    params = [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}]
    grads = [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}]
    _, states = update_layers(opt, params, grads, init_layers(opt, params))
    copies = [{k: v.copy() for k, v in layer.items()} for layer in (*params, *grads)]
    state_copies = [{k: copy_state(v) for k, v in states[0].items()}]
    update_layers(opt, params, grads, states)
    for layer, copy in zip((*params, *grads), copies, strict=True):
        for k in layer:
            np.testing.assert_array_equal(layer[k], copy[k])
    for k in states[0]:
        assert_states_equal(states[0][k], state_copies[0][k])


@pytest.mark.parametrize("key", KEYS)
def test_recipe_names_the_factory_and_rebuilds_the_same_optimizer(key):
    opt = OPTIMIZERS[key](**SENSIBLE[key])
    factory, arguments = opt.recipe
    assert factory is getattr(OPTIMIZERS[key], "func", OPTIMIZERS[key])  # sgd for momentum
    assert list(arguments) == list(inspect.signature(factory).parameters)
    path, _ = run(opt, [3.0, 1.0], lambda t, p: BOWL * p, 5)
    rebuilt, _ = run(factory(**arguments), [3.0, 1.0], lambda t, p: BOWL * p, 5)
    np.testing.assert_array_equal(rebuilt, path)


@pytest.mark.parametrize("key", KEYS)
def test_params_keep_their_float_dtype(key):
    opt = OPTIMIZERS[key](lr=lambda step: np.float64(0.01))  # a float64 lr must not upcast
    new32, _ = opt.update(np.ones(3, np.float32), np.ones(3, np.float32), opt.init(np.ones(3)))
    assert new32.dtype == np.float32
    new_int, _ = opt.update(np.arange(3), np.ones(3), opt.init(np.arange(3)))
    assert new_int.dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Invalid hyperparameters raise ValueError quoting the value, where torch refuses them


def _takes(key, name):
    return name in inspect.signature(OPTIMIZERS[key]).parameters


ADAM_FAMILY = ["adam", "adamw", "nadam", "radam", "adamax"]
INVALID = (
    [(key, {"lr": -0.1}, "-0.1") for key in KEYS]
    + [(key, {"eps": -1e-3}, "-0.001") for key in KEYS if _takes(key, "eps") and key != "adafactor"]
    + [(key, {"weight_decay": -0.5}, "-0.5") for key in KEYS if _takes(key, "weight_decay")]
    + [(key, {"betas": (1.0, 0.999)}, "1.0") for key in ADAM_FAMILY]
    + [(key, {"betas": (-0.1, 0.999)}, "-0.1") for key in ADAM_FAMILY]
    + [(key, {"betas": (0.9, 1.0)}, "1.0") for key in ADAM_FAMILY]
    + [
        ("sgd", {"momentum": -0.5}, "-0.5"),
        ("sgd", {"nesterov": True}, "momentum=0.0"),
        ("nesterov", {"momentum": 0.0}, "momentum=0.0"),
        ("nesterov", {"dampening": 0.1}, "dampening=0.1"),
        ("adagrad", {"lr_decay": -1.0}, "-1.0"),
        ("adagrad", {"initial_accumulator_value": -1.0}, "-1.0"),
        ("rmsprop", {"alpha": -0.1}, "-0.1"),
        ("rmsprop", {"momentum": -0.1}, "-0.1"),
        ("adadelta", {"rho": 1.5}, "1.5"),
        ("adadelta", {"rho": -0.1}, "-0.1"),
        ("nadam", {"momentum_decay": -1.0}, "-1.0"),
        ("rprop", {"etas": (1.0, 1.2)}, "1.0"),
        ("adafactor", {"eps": (None, -1e-3)}, "-0.001"),
        ("adafactor", {"eps": (-1e-3, 1e-3)}, "-0.001"),
        ("adafactor", {"beta2_decay": 0.5}, "0.5"),
        ("adafactor", {"d": 0.5}, "0.5"),
        ("rprop", {"etas": (0.5, 0.9)}, "0.9"),
        ("rprop", {"etas": (0.0, 1.2)}, "0.0"),
        ("adam", {"lr": np.array([[0.1], [-0.2]])}, "-0.2"),
        ("momentum", {"momentum": np.array([[0.5], [-0.2]])}, "-0.2"),
    ]
)


@pytest.mark.parametrize(("key", "kwargs", "quoted"), INVALID)
def test_invalid_hyperparameters_raise_with_the_value(key, kwargs, quoted):
    with pytest.raises(ValueError, match=r"Invalid|requires") as excinfo:
        OPTIMIZERS[key](**kwargs)
    assert quoted in str(excinfo.value)


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("adadelta", {"rho": 0.0}),
        ("adadelta", {"rho": 1.0}),
        ("adam", {"betas": (0.0, 0.0), "eps": 0.0}),
        ("sgd", {"lr": 0.0, "dampening": 0.5, "momentum": 0.5}),
    ],
)
def test_boundary_hyperparameters_torch_accepts_are_accepted(key, kwargs):
    opt = OPTIMIZERS[key](**kwargs)
    new, _ = opt.update(np.ones(2), np.ones(2), opt.init(np.ones(2)))
    assert np.all(np.isfinite(new))


def test_make_folds_beta1_beta2_and_rejects_unknown_names():
    a, _ = run(make("adam", lr=0.1, beta1=0.5), [1.0, 2.0], lambda t, p: p, 4)
    b, _ = run(adam(lr=0.1, betas=(0.5, 0.999)), [1.0, 2.0], lambda t, p: p, 4)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="lion"):
        make("lion")


# ---------------------------------------------------------------------------------------------
# Registry and UI metadata, checked against torch 2.13.0's signatures (copied from
# inspect.signature(torch.optim.<Class>.__init__), without maximize/foreach/capturable/...).

TORCH_CLASS = {
    "sgd": "SGD",
    "momentum": "SGD",
    "nesterov": "SGD",
    "asgd": "ASGD",
    "rprop": "Rprop",
    "adafactor": "Adafactor",
    "muon": "Muon",
    "lbfgs": "LBFGS",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adamax": "Adamax",
}
_TORCH_ADAM = dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)
_MAX = dict(maximize=False)
_DECOUPLED = dict(decoupled_weight_decay=False)
TORCH_DEFAULTS = {
    "SGD": dict(lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False) | _MAX,
    "ASGD": dict(lr=0.01, lambd=0.0001, alpha=0.75, t0=1000000.0, weight_decay=0) | _MAX,
    "Adafactor": dict(lr=0.01, beta2_decay=-0.8, eps=(None, 0.001), d=1.0, weight_decay=0.0) | _MAX,
    "Muon": dict(
        lr=0.001,
        weight_decay=0.1,
        momentum=0.95,
        nesterov=True,
        ns_coefficients=(3.4445, -4.775, 2.0315),
        eps=1e-07,
        ns_steps=5,
        adjust_lr_fn=None,
    ),
    "LBFGS": dict(
        lr=1,
        max_iter=20,
        max_eval=None,
        tolerance_grad=1e-07,
        tolerance_change=1e-09,
        history_size=100,
        line_search_fn=None,
    ),
    "Rprop": dict(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-06, 50)) | _MAX,
    "Adagrad": dict(lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10)
    | _MAX,
    "RMSprop": dict(lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0, momentum=0, centered=False)
    | _MAX,
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0) | _MAX,
    "Adam": _TORCH_ADAM | dict(amsgrad=False) | _MAX | _DECOUPLED,
    "AdamW": _TORCH_ADAM | dict(weight_decay=0.01, amsgrad=False) | _MAX,
    "NAdam": _TORCH_ADAM | dict(lr=0.002, momentum_decay=0.004) | _DECOUPLED | _MAX,
    "RAdam": _TORCH_ADAM | _DECOUPLED | _MAX,
    "Adamax": _TORCH_ADAM | dict(lr=0.002) | _MAX,
}
# Where torch puts each flag: positional where it directly follows the numbers we model (NAdam's
# and RAdam's decoupled_weight_decay), keyword-only otherwise: after torch's * in most classes,
# and in RMSprop and ASGD, whose positional maximize comes after foreach/capturable, which we do
# not model (a 7th positional argument would mean something else than in torch).
KEYWORD_ONLY = {"maximize", "decoupled_weight_decay"}
POSITIONAL_FLAGS = {("nadam", "decoupled_weight_decay"), ("radam", "decoupled_weight_decay")}


def _signature_defaults(factory):
    return {n: p.default for n, p in inspect.signature(factory).parameters.items()}


def _unfold_pairs(values):
    values = dict(values)
    for pair, (first, second) in PAIRS.items():
        if isinstance(values.get(pair), tuple):
            values[first], values[second] = values.pop(pair)
            # Half a pair whose default is None (Adafactor's eps1: the dtype's machine epsilon)
            # has no widget.
            values = {k: v for k, v in values.items() if k not in (first, second) or v is not None}
    # LBFGS's max_eval keeps torch's None (= max_iter * 5 // 4), which the torch call writes
    # out; Muon's ns_coefficients keep torch's default tuple, which the call writes out.
    return {k: v for k, v in values.items() if k not in ("max_eval", "ns_coefficients")}


def test_registry_order_is_simple_to_complex():
    assert KEYS == [
        "sgd",
        "momentum",
        "nesterov",
        "asgd",
        "rprop",
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "adamw",
        "nadam",
        "radam",
        "adamax",
        "adafactor",
        "muon",
    ]
    assert OPTIMIZERS["momentum"].func is sgd and OPTIMIZERS["momentum"].keywords == {
        "momentum": 0.9
    }
    assert OPTIMIZERS["nesterov"].keywords == {"momentum": 0.9, "nesterov": True}


@pytest.mark.parametrize("key", list(OPTIMIZER_ENTRIES))
def test_defaults_are_torchs_and_the_ui_table_lists_them(key):
    ours = _signature_defaults(OPTIMIZER_ENTRIES[key].factory)
    torch_defaults = dict(TORCH_DEFAULTS[TORCH_CLASS[key]])
    if key in ("momentum", "nesterov"):
        torch_defaults |= OPTIMIZERS[key].keywords
    assert ours == torch_defaults
    assert OPTIMIZER_ENTRIES[key].defaults() == _unfold_pairs(ours)


@pytest.mark.parametrize("key", list(OPTIMIZER_ENTRIES))
def test_every_exposed_hyperparameter_has_a_range_containing_its_default(key):
    for name, spec in OPTIMIZER_ENTRIES[key].hyperparameters.items():
        shared = RANGES[name]
        assert spec._replace(default=shared.default) == shared  # the range is the shared one
        if spec.kind == "bool":
            assert isinstance(spec.default, bool) and isinstance(shared.default, bool)
        elif spec.kind == "choice":
            assert spec.default in spec.options and shared.default in spec.options
        elif spec.kind == "int":
            assert spec.low <= spec.default <= spec.high and spec.step >= 1
            assert all(isinstance(v, int) for v in (spec.default, spec.low, spec.high))
        else:
            assert spec.kind == "float"
            assert spec.low <= spec.default <= spec.high and spec.low <= shared.default <= spec.high
            assert spec.low < spec.high and spec.step > 0
            assert not spec.log or spec.low > 0


def test_every_table_entry_is_used():
    used = {name for entry in OPTIMIZER_ENTRIES.values() for name in entry.hyperparameters}
    assert used == set(RANGES)


@pytest.mark.parametrize("key", list(OPTIMIZER_ENTRIES))
def test_torch_call_template_is_valid_python_with_the_exposed_names(key):
    template = OPTIMIZER_ENTRIES[key].torch_call
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    assert fields == set(OPTIMIZER_ENTRIES[key].hyperparameters)
    code = template.format(**OPTIMIZER_ENTRIES[key].defaults())
    ast.parse(code)
    # Evaluate against a stand-in torch that records the calls.
    calls = []
    fake = {name: partial(lambda name, params, **kw: calls.append((name, kw)), name)
            for name in set(TORCH_CLASS.values()) | {"AdamW"}}  # fmt: skip
    eval(code, {"torch": SimpleNamespace(optim=SimpleNamespace(**fake)), "params": []})
    expected = [(TORCH_CLASS[key], _signature_defaults(OPTIMIZER_ENTRIES[key].factory))]
    if key == "muon":  # Muon for the matrices, AdamW with the same lr and decay for the rest
        expected.append(("AdamW", dict(lr=0.001, weight_decay=0.1)))
    assert calls == expected


@pytest.mark.parametrize("key", KEYS)
def test_flags_sit_where_torch_puts_them(key):
    parameters = inspect.signature(OPTIMIZERS[key]).parameters
    for name in KEYWORD_ONLY & set(parameters):
        kind = parameters[name].kind
        if (key, name) in POSITIONAL_FLAGS:
            assert kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        else:
            assert kind is inspect.Parameter.KEYWORD_ONLY, name
    # Every torch optimizer but Muon has maximize (torch 2.9's signatures; LBFGS has none either).
    assert ("maximize" in parameters) == (key != "muon")


def test_every_entry_is_offered_where_it_can_run():
    assert set(on_page("optimizers")) | set(on_page("mnist")) == set(OPTIMIZER_ENTRIES)
    # L-BFGS needs a closure (the trainer has none); Muon needs matrices (a point is a vector).
    assert "lbfgs" not in on_page("mnist") and "muon" not in on_page("optimizers")
    assert set(OPTIMIZERS) == set(OPTIMIZER_ENTRIES) - {"lbfgs"}
