"""core.mlp.gradient_check, the MNIST page's badge: it passes on the real backprop and fails, naming
the tensor, for each bug planted in a copy of backprop (the issue's list: bias gradients ×2, last
W ×1.5, first W ×1.001, batch-norm dγ ×2, the activation's slope ignored)."""

import numpy as np
import pytest

import core.mlp
from core.activations import ACTIVATIONS
from core.mlp import CHECK_BUDGET, GRADIENT_OK, gradient_check, init_params, worst_check
from core.mnist_setup import MAX_LAYERS, MAX_WIDTH

# MNIST-shaped: 784 inputs of which a third are blank in every image (their weights get gradient
# exactly 0, which is what let the old 12-sample check pass a wrong backprop).
NETS = {"784-128-10": ((784, 128, 10), False), "784-64-32-10 BN": ((784, 64, 32, 10), True)}


def _problem(name):
    sizes, batch_norm = NETS[name]
    r = np.random.default_rng(1)
    params = init_params(r, sizes, batch_norm=batch_norm)
    x = r.random((16, sizes[0])).astype(np.float32)
    x[:, : sizes[0] // 3] = 0.0
    return params, x, r.integers(0, 10, 16)


def _check(name, activation="relu", per_tensor=None):
    params, x, y = _problem(name)
    act = ACTIVATIONS[activation]()
    return gradient_check(
        params, x, y, activation=act, rng=np.random.default_rng(0), per_tensor=per_tensor
    )


def _failed(checks):
    return {(c.layer, c.name) for c in checks if not c.rel < GRADIENT_OK}


def _planted(monkeypatch, change):
    """Backprop with ``change(grads, params, cache)`` applied to what the real one returns."""
    real = core.mlp.backward

    def wrong(params, cache, dlogits, **kwargs):
        return change(real(params, cache, dlogits, **kwargs), params, cache)

    monkeypatch.setattr(core.mlp, "backward", wrong)


def _scaled(grads, layers, key, factor):
    return [
        {k: g * factor if (i in layers and k == key) else g for k, g in layer.items()}
        for i, layer in enumerate(grads)
    ]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("name", NETS)
def test_the_real_backprop_passes_for_every_tensor(name, activation):
    checks = _check(name, activation)
    sizes, batch_norm = NETS[name]
    hidden = len(sizes) - 2
    assert len(checks) == (4 if batch_norm else 2) * hidden + 2  # every W, b, γ, β
    assert all(c.checked == 3 for c in checks)  # small networks: 3 entries each
    assert worst_check(checks).rel < 1e-6


# One entry per tensor is what the largest network gets; the bugs must show there too.
PER_TENSOR = pytest.mark.parametrize("per_tensor", [None, 1])


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_bias_gradients_doubled_fail_at_the_last_bias(monkeypatch, name, per_tensor):
    _planted(monkeypatch, lambda g, p, c: _scaled(g, range(len(g)), "b", 2.0))
    failed = _failed(_check(name, per_tensor=per_tensor))
    last = len(NETS[name][0]) - 2
    # Biases feeding batch norm have gradient 0 (the batch mean removes them): 2 × 0 is still right.
    assert (last, "b") in failed and all(key == "b" for _, key in failed)


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_last_weights_times_1_5_fail_there(monkeypatch, name, per_tensor):
    _planted(monkeypatch, lambda g, p, c: _scaled(g, {len(g) - 1}, "W", 1.5))
    assert _failed(_check(name, per_tensor=per_tensor)) == {(len(NETS[name][0]) - 2, "W")}


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_first_weights_times_1_001_fail_there(monkeypatch, name, per_tensor):
    _planted(monkeypatch, lambda g, p, c: _scaled(g, {0}, "W", 1.001))
    checks = _check(name, per_tensor=per_tensor)
    assert _failed(checks) == {(0, "W")}
    assert worst_check(checks).rel == pytest.approx(0.001 / 2.001, rel=1e-3)


@PER_TENSOR
def test_batch_norm_dgamma_doubled_fails_at_every_gamma(monkeypatch, per_tensor):
    real = core.mlp.batch_norm_backward

    def wrong(dy, cache):
        dx, dgamma, dbeta = real(dy, cache)
        return dx, 2 * dgamma, dbeta

    monkeypatch.setattr(core.mlp, "batch_norm_backward", wrong)
    failed = _failed(_check("784-64-32-10 BN", per_tensor=per_tensor))
    assert failed == {(0, "gamma"), (1, "gamma")}


@PER_TENSOR
@pytest.mark.parametrize("name", NETS)
def test_the_activation_slope_ignored_fails_below_the_last_layer(monkeypatch, name, per_tensor):
    real = core.mlp.backward

    def wrong(params, cache, dlogits, **kwargs):
        flat = cache._replace(slope=[np.ones_like(s) for s in cache.slope])
        return real(params, flat, dlogits, **kwargs)

    monkeypatch.setattr(core.mlp, "backward", wrong)
    failed = _failed(_check(name, per_tensor=per_tensor))
    assert (0, "W") in failed
    assert not {key for layer, key in failed if layer == len(NETS[name][0]) - 2}  # output layer


def test_a_non_finite_loss_is_reported_as_nan():
    params, x, y = _problem("784-128-10")
    params[1]["W"] = np.full_like(params[1]["W"], np.inf)
    with np.errstate(all="ignore"):
        checks = gradient_check(
            params, x, y, activation=ACTIVATIONS["relu"](), rng=np.random.default_rng(0)
        )
    assert np.isnan(worst_check(checks).rel)


def test_the_largest_network_costs_about_the_budget_in_forward_passes(monkeypatch):
    """Counted, not timed (the server is shared): the matmul work of every forward pass the check
    makes on 784-1024×6-10 with batch norm, in whole-network passes."""
    sizes = (784, *[MAX_WIDTH] * MAX_LAYERS, 10)
    r = np.random.default_rng(0)
    params = init_params(r, sizes, batch_norm=True)
    x, y = r.random((16, 784)), r.integers(0, 10, 16)
    whole = 16 * sum(p["W"].size for p in params)
    work = []
    real = core.mlp.forward

    def counted(ps, xs, **kwargs):
        work.append(len(xs) * sum(p["W"].size for p in ps))
        return real(ps, xs, **kwargs)

    monkeypatch.setattr(core.mlp, "forward", counted)
    checks = gradient_check(params, x, y, activation=ACTIVATIONS["relu"](), rng=r)
    assert len(checks) == 4 * MAX_LAYERS + 2 and all(c.checked == 1 for c in checks)
    assert worst_check(checks).rel < GRADIENT_OK
    assert sum(work) / whole <= CHECK_BUDGET  # the old 12-sample check made 25 whole passes
