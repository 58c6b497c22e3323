"""core.network.gradient_check, the MNIST page's badge: it passes on the real backprop and fails,
naming the tensor, for each bug planted in a copy of backprop (issue #23's list: bias gradients ×2,
last W ×1.5, first W ×1.001, batch-norm dγ ×2, the activation's slope ignored; and for convolutions,
issue #24: a conv's dW or db off, max-pool's gradient sent to the wrong place)."""

import numpy as np
import pytest

import core.network
from core.activations import ACTIVATIONS, Activation
from core.mnist_setup import MAX_LAYERS, MAX_WIDTH
from core.network import (
    CHECK_BUDGET,
    GRADIENT_OK,
    Architecture,
    BatchNorm,
    Conv2d,
    Linear,
    cnn,
    gradient_check,
    init_params,
    mlp,
    worst_check,
)

# MNIST-shaped: a third of the pixels are blank in every image (their weights get gradient exactly
# 0, which is what let the old 12-sample check pass a wrong backprop).
NETS = {
    "784-128-10": mlp((784, 128, 10)),
    "784-64-32-10 BN": mlp((784, 64, 32, 10), batch_norm=True),
    "cnn 4@3-pool2-6@5-pool3": cnn((12, 12), ((4, 3, 2), (6, 5, 3))),
    "cnn BN 4@3-pool2": cnn((12, 12), ((4, 3, 2),), batch_norm=True),
}


def _problem(name):
    arch = NETS[name]
    r = np.random.default_rng(1)
    params = init_params(r, arch)
    x = r.random((16, *arch.input_shape)).astype(np.float32)
    x.reshape(16, -1)[:, : x[0].size // 3] = 0.0
    return params, x, r.integers(0, 10, 16)


def _check(name, activation="relu", per_tensor=None):
    params, x, y = _problem(name)
    act = ACTIVATIONS[activation]()
    return gradient_check(
        NETS[name],
        params,
        x,
        y,
        activation=act,
        rng=np.random.default_rng(0),
        per_tensor=per_tensor,
    )


def _failed(checks):
    return {(c.layer, c.name) for c in checks if not c.rel < GRADIENT_OK}


def _planted(monkeypatch, change):
    """Backprop with ``change(grads)`` applied to what the real one returns."""
    real = core.network.backward

    def wrong(*args, **kwargs):
        return change(real(*args, **kwargs))

    monkeypatch.setattr(core.network, "backward", wrong)


def _scaled(grads, layers, key, factor):
    return [
        {k: g * factor if (i in layers and k == key) else g for k, g in layer.items()}
        for i, layer in enumerate(grads)
    ]


def _indices(name, kind):
    return [i for i, layer in enumerate(NETS[name].layers) if isinstance(layer, kind)]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("name", NETS)
def test_the_real_backprop_passes_for_every_tensor(name, activation):
    checks = _check(name, activation)
    params, _, _ = _problem(name)
    assert [(c.layer, c.name) for c in checks] == [
        (i, key) for i, p in enumerate(params) for key in p
    ]  # every W, b, γ, β
    assert all(c.checked == 3 for c in checks)  # small networks: 3 entries each
    # A bias feeding batch norm has gradient 0 in exact arithmetic: its check compares round-off
    # (summed over every position of a feature map) with the floor, and passes by less.
    feeds_bn = {i for i in _indices(name, BatchNorm)}
    noise = [c for c in checks if c.name == "b" and c.layer + 1 in feeds_bn]
    assert worst_check([c for c in checks if c not in noise]).rel < 1e-6
    assert all(c.rel < GRADIENT_OK / 5 for c in noise)


def test_a_relu_exactly_at_its_kink_is_checked_against_both_one_sided_slopes(monkeypatch):
    """A 3×3 filter over the blank border gives its bias, 0 at the start, so a whole region of
    ReLUs sits exactly at the kink: the central difference there is half of one side's slope
    and backprop's (torch's) slope 0 is a subgradient. Checked: the bias passes, and a bias
    gradient outside the two slopes still fails."""
    name = "cnn 4@3-pool2-6@5-pool3"
    checks = {(c.layer, c.name): c for c in _check(name)}
    assert checks[0, "b"].rel < GRADIENT_OK
    _planted(monkeypatch, lambda g: _scaled(g, {0}, "b", 1.5))
    assert _failed(_check(name)) == {(0, "b")}


# One entry per tensor is what the largest network gets; the bugs must show there too.
PER_TENSOR = pytest.mark.parametrize("per_tensor", [None, 1])


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_bias_gradients_doubled_fail_at_the_last_bias(monkeypatch, name, per_tensor):
    _planted(monkeypatch, lambda g: _scaled(g, range(len(g)), "b", 2.0))
    failed = _failed(_check(name, per_tensor=per_tensor))
    # Biases feeding batch norm have gradient 0 (the batch mean removes them): 2 × 0 is still right.
    assert (len(NETS[name].layers) - 1, "b") in failed and all(key == "b" for _, key in failed)


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_last_weights_times_1_5_fail_there(monkeypatch, name, per_tensor):
    last = len(NETS[name].layers) - 1
    _planted(monkeypatch, lambda g: _scaled(g, {last}, "W", 1.5))
    assert _failed(_check(name, per_tensor=per_tensor)) == {(last, "W")}


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_first_weights_times_1_001_fail_there(monkeypatch, name, per_tensor):
    _planted(monkeypatch, lambda g: _scaled(g, {0}, "W", 1.001))
    checks = _check(name, per_tensor=per_tensor)
    assert _failed(checks) == {(0, "W")}
    assert worst_check(checks).rel == pytest.approx(0.001 / 2.001, rel=1e-3)


@PER_TENSOR
@pytest.mark.parametrize("name", ["784-64-32-10 BN", "cnn BN 4@3-pool2"])
def test_batch_norm_dgamma_doubled_fails_at_every_gamma(monkeypatch, name, per_tensor):
    real = core.network.batch_norm_backward

    def wrong(dy, cache):
        dx, dgamma, dbeta = real(dy, cache)
        return dx, 2 * dgamma, dbeta

    monkeypatch.setattr(core.network, "batch_norm_backward", wrong)
    failed = _failed(_check(name, per_tensor=per_tensor))
    assert failed == {(i, "gamma") for i in _indices(name, BatchNorm)}


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_the_activation_slope_ignored_fails_below_the_last_layer(monkeypatch, name, per_tensor):
    real = core.network.value_and_grad

    def flat_slope(activation, z):
        a, slope = real(activation, z)
        return a, np.ones_like(slope)

    monkeypatch.setattr(core.network, "value_and_grad", flat_slope)
    failed = _failed(_check(name, per_tensor=per_tensor))
    assert (0, "W") in failed
    assert not {key for layer, key in failed if layer == len(NETS[name].layers) - 1}  # output


@PER_TENSOR
def test_a_conv_bias_gradient_off_fails_there(monkeypatch, per_tensor):
    name = "cnn 4@3-pool2-6@5-pool3"
    second = _indices(name, Conv2d)[1]
    _planted(monkeypatch, lambda g: _scaled(g, {second}, "b", 1.01))
    assert _failed(_check(name, per_tensor=per_tensor)) == {(second, "b")}


@PER_TENSOR
def test_max_pool_gradient_to_the_wrong_element_fails_below_it(monkeypatch, per_tensor):
    real = core.network.conv.max_pool2d_backward

    def shifted(cache, dy):
        return np.roll(real(cache, dy), 1, axis=-1)  # each window's gradient one pixel off

    monkeypatch.setattr(core.network.conv, "max_pool2d_backward", shifted)
    name = "cnn 4@3-pool2-6@5-pool3"
    failed = _failed(_check(name, per_tensor=per_tensor))
    assert (0, "W") in failed
    assert not {key for layer, key in failed if layer == len(NETS[name].layers) - 1}


def test_a_non_finite_loss_is_reported_as_nan():
    params, x, y = _problem("784-128-10")
    params[-1]["W"] = np.full_like(params[-1]["W"], np.inf)
    with np.errstate(all="ignore"):
        checks = gradient_check(
            NETS["784-128-10"],
            params,
            x,
            y,
            activation=ACTIVATIONS["relu"](),
            rng=np.random.default_rng(0),
        )
    assert np.isnan(worst_check(checks).rel)


def test_the_largest_network_costs_about_the_budget_in_forward_passes(monkeypatch):
    """Counted, not timed (the server is shared): the matmul work of every forward pass the check
    makes on 784-1024×6-10 with batch norm, in whole-network passes."""
    arch = mlp((784, *[MAX_WIDTH] * MAX_LAYERS, 10), batch_norm=True)
    r = np.random.default_rng(0)
    params = init_params(r, arch)
    x, y = r.random((16, 784)), r.integers(0, 10, 16)
    whole = 16 * sum(p["W"].size for p in params if "W" in p)
    work = []
    real = core.network.forward

    def counted(a: Architecture, ps, xs, **kwargs):
        work.append(len(xs) * sum(p["W"].size for p in ps if "W" in p))
        return real(a, ps, xs, **kwargs)

    monkeypatch.setattr(core.network, "forward", counted)
    checks = gradient_check(arch, params, x, y, activation=ACTIVATIONS["relu"](), rng=r)
    assert len(checks) == 4 * MAX_LAYERS + 2 and all(c.checked == 1 for c in checks)
    assert worst_check(checks).rel < GRADIENT_OK
    assert sum(work) / whole <= CHECK_BUDGET  # the old 12-sample check made 25 whole passes
    assert sum(isinstance(layer, Linear) for layer in arch.layers) == MAX_LAYERS + 1


@pytest.mark.parametrize("batch_norm", [False, True])
def test_weight_decay_is_in_the_checked_loss_and_gradient(batch_norm):
    r = np.random.default_rng(0)
    arch = mlp([6, 16, 16, 4], batch_norm=batch_norm)
    params = init_params(r, arch)  # float32 in, float64 inside
    x, y = r.normal(size=(10, 6)), r.integers(0, 4, 10)
    before = [{k: v.copy() for k, v in p.items()} for p in params]
    tanh = ACTIVATIONS["tanh"]()
    checks = gradient_check(arch, params, x, y, activation=tanh, rng=r, weight_decay=1e-2)
    assert all(0 <= c.rel < 1e-6 for c in checks)
    for p, b in zip(params, before, strict=True):  # nudged entries are put back
        for k in p:
            np.testing.assert_array_equal(p[k], b[k])


def test_a_wrong_activation_derivative_fails_below_the_last_layer():
    r = np.random.default_rng(0)
    arch = mlp([6, 16, 4])
    params = init_params(r, arch)
    x, y = r.normal(size=(10, 6)), r.integers(0, 4, 10)
    tanh = ACTIVATIONS["tanh"]()
    wrong = Activation(tanh.fn, lambda z: 1.5 * tanh.grad(z))
    checks = gradient_check(arch, params, x, y, activation=wrong, rng=r)
    assert {(c.layer, c.name) for c in checks if c.rel > 1e-2} == {(0, "W"), (0, "b")}
