"""Deep signals: statistics vs direct recomputation, dead/saturated shares on constructed inputs,
explosion reported (not raised), the symmetry of constant init, and a short training run."""

import numpy as np
import pytest

from core.activations import ACTIVATIONS, Activation
from core.deep_signals import (
    SATURATION_THRESHOLD,
    at_depth,
    at_lr,
    measure,
    measure_network,
    output_limits,
    peak_slope,
    plain_network,
    plain_networks,
    short_training,
    symmetry_experiment,
)
from core.mlp import backward, forward, init_params, loss_and_grads, softmax_cross_entropy

RELU, TANH = ACTIVATIONS["relu"](), ACTIVATIONS["tanh"]()


def _data(seed=0, n=64, d=20, classes=4):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)).astype(np.float32), r.integers(0, classes, n)


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_forward_stats_match_a_direct_recomputation(name):
    x, y = _data()
    act = ACTIVATIONS[name]()
    s = measure(
        np.random.default_rng(5), x, y, depth=4, width=32, activation=act,
        initializer="kaiming_normal", bins=20, hist_range=2.0,
    )  # fmt: skip
    # Same seed -> same weights: rebuild the network independently of measure().
    params = init_params(
        np.random.default_rng(5), [20, 32, 32, 32, 32, 4], initializer="kaiming_normal"
    )
    _, cache = forward(params, x, activation=act, train=True)
    assert s.exploded_at is None and s.z_hist.shape == (4, 20)
    for k, (z, a) in enumerate(zip(cache.z, cache.a, strict=True)):
        assert s.z_mean[k] == pytest.approx(z.mean(), rel=1e-4, abs=1e-6)
        assert s.z_std[k] == pytest.approx(z.std(), rel=1e-4)
        assert s.a_std[k] == pytest.approx(a.std(), rel=1e-4)
        expected, _ = np.histogram(np.clip(z, -2.0, 2.0), bins=np.linspace(-2.0, 2.0, 21))
        np.testing.assert_array_equal(s.z_hist[k], expected)
        assert s.a_hist[k].sum() == 64 * 32
    if name == "relu":
        np.testing.assert_allclose(
            s.dead_fraction, [np.all(z <= 0, axis=0).mean() for z in cache.z]
        )
        assert np.isnan(s.saturated_fraction).all()  # ReLU is unbounded above: no saturation
    else:
        lo, hi = (-1.0, 1.0) if name == "tanh" else (0.0, 1.0)
        np.testing.assert_allclose(s.a_edges[[0, -1]], [lo, hi])


def test_gradient_stats_match_loss_and_grads():
    x, y = _data()
    s = measure(
        np.random.default_rng(2), x, y, depth=3, width=16, activation=TANH,
        initializer="xavier_uniform", lr=0.05,
    )  # fmt: skip
    params = init_params(
        np.random.default_rng(2), [20, 16, 16, 16, 4], initializer="xavier_uniform"
    )
    loss, grads, _ = loss_and_grads(params, x, y, activation=TANH)
    assert s.loss == pytest.approx(loss, rel=1e-6)
    g = np.array([np.linalg.norm(gi["W"]) for gi in grads])
    w = np.array([np.linalg.norm(p["W"]) for p in params])
    np.testing.assert_allclose(s.weight_grad_norm, g, rtol=1e-4)
    # ||W_new − W|| / ||W|| after one explicit SGD step
    step = [
        np.linalg.norm((p["W"] - 0.05 * gi["W"]) - p["W"])
        for p, gi in zip(params, grads, strict=True)
    ]
    np.testing.assert_allclose(s.update_ratio, np.array(step) / w, rtol=1e-3)
    assert s.activation_grad_norm.shape == s.activation_grad_std.shape == (3,)
    assert (s.activation_grad_norm > 0).all()


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "gelu"])
def test_slopes_from_one_pass_measure_what_separate_fn_and_grad_measure(name, batch_norm):
    x, y = _data()
    act = ACTIVATIONS[name]()
    params = plain_network(
        np.random.default_rng(4), 20, depth=4, width=32, n_classes=4, initializer="xavier_normal"
    )
    fused = measure_network(params, x, y, activation=act, batch_norm=batch_norm)
    separate = measure_network(
        params, x, y, activation=Activation(act.fn, act.grad), batch_norm=batch_norm
    )
    for field, value in separate._asdict().items():
        np.testing.assert_array_equal(getattr(fused, field), value, err_msg=field)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_prebuilt_read_only_network_gives_exactly_what_measure_draws(batch_norm):
    x, y = _data()
    kw = {"initializer": "xavier_normal", "init_kwargs": {"gain": 1.5}}
    drawn = measure(
        np.random.default_rng(3), x, y, depth=5, width=32, activation=TANH, batch_norm=batch_norm,
        lr=0.1, **kw,
    )  # fmt: skip
    params = plain_network(np.random.default_rng(3), 20, depth=5, width=32, n_classes=4, **kw)
    for layer in params:
        for array in layer.values():
            array.flags.writeable = False
    prebuilt = measure_network(params, x, y, activation=TANH, batch_norm=batch_norm, lr=0.1)
    for name, value in drawn._asdict().items():
        np.testing.assert_array_equal(getattr(prebuilt, name), value, err_msg=name)
    # The batch norm measure_network adds is the one init_params(batch_norm=True) builds.
    reference = init_params(
        np.random.default_rng(3), [20, *[32] * 5, 4], batch_norm=batch_norm, **kw
    )
    loss, grads, cache = loss_and_grads(reference, x, y, activation=TANH)
    assert prebuilt.loss == loss
    np.testing.assert_allclose(prebuilt.z_std, [z.std() for z in cache.z], rtol=1e-5)
    np.testing.assert_allclose(
        prebuilt.weight_grad_norm, [np.linalg.norm(g["W"]) for g in grads], rtol=1e-5
    )


def test_vanishing_signals_keep_their_size_where_float32_squares_underflow():
    # N(0, 0.01²) weights shrink a ReLU signal ~18x per layer: from layer 16 on its entries are
    # below 1e-19, whose float32 squares underflow (< 1.2e-38), yet the statistics must stay exact.
    x, y = _data(n=64, d=32)
    kw = {"depth": 20, "width": 64, "activation": RELU, "initializer": "normal"}
    s = measure(np.random.default_rng(1), x, y, init_kwargs={"std": 0.01}, **kw)
    params = init_params(
        np.random.default_rng(1), [32, *[64] * 20, 4], initializer="normal",
        init_kwargs={"std": 0.01},
    )  # fmt: skip
    logits, cache = forward(params, x, activation=RELU, train=True)
    _, dlogits = softmax_cross_entropy(logits, y)
    _, act_grads = backward(params, cache, dlogits, return_activation_grads=True)
    assert s.a_std[-1] < 1e-22 and s.exploded_at is None
    f64 = [v.astype(np.float64) for v in (*cache.a, *act_grads)]
    np.testing.assert_allclose(s.a_std, [v.std() for v in f64[:20]], rtol=1e-6)
    np.testing.assert_allclose(s.activation_grad_std, [v.std() for v in f64[20:]], rtol=1e-6)
    norms = [np.linalg.norm(v) for v in f64[20:]]
    np.testing.assert_allclose(s.activation_grad_norm, norms, rtol=1e-6)
    assert s.activation_grad_norm.min() < 1e-20


@pytest.mark.parametrize(
    ("initializer", "init_kwargs"),
    [("kaiming_normal", {}), ("trunc_normal", {"std": 2.0}), ("orthogonal", {"gain": 1.3})],
)
def test_every_depth_of_a_stack_is_the_network_plain_network_draws(initializer, init_kwargs):
    # trunc_normal rejects a variable number of draws and orthogonal draws a matrix for its QR:
    # the stack must follow the rng exactly as one init_params call does.
    kw = {"width": 12, "n_classes": 3, "initializer": initializer, "init_kwargs": init_kwargs}
    stack = plain_networks(np.random.default_rng(7), 5, max_depth=6, **kw)
    for depth in range(1, 7):
        expected = plain_network(np.random.default_rng(7), 5, depth=depth, **kw)
        got = at_depth(stack, depth)
        assert len(got) == len(expected) == depth + 1
        for layer, reference in zip(got, expected, strict=True):
            assert list(layer) == list(reference)
            for key in layer:
                np.testing.assert_array_equal(layer[key], reference[key])
    with pytest.raises(ValueError, match="depth="):
        at_depth(stack, 7)


def test_measure_network_refuses_batch_norm_layers():
    x, y = _data()
    params = init_params(np.random.default_rng(0), [20, 8, 4], batch_norm=True)
    with pytest.raises(ValueError, match="plain network"):
        measure_network(params, x, y, activation=RELU)


def test_at_lr_is_measuring_at_that_lr():
    x, y = _data()
    kw = {"depth": 3, "width": 16, "activation": TANH, "initializer": "xavier_uniform"}
    fast = measure(np.random.default_rng(2), x, y, lr=0.05, **kw)
    slow = at_lr(fast, 0.001)
    reference = measure(np.random.default_rng(2), x, y, lr=0.001, **kw)
    for name, value in reference._asdict().items():
        np.testing.assert_array_equal(getattr(slow, name), value, err_msg=name)
    np.testing.assert_allclose(fast.update_ratio, 50 * slow.update_ratio, rtol=1e-12)


def test_all_negative_pre_activations_make_every_relu_unit_dead():
    x = np.abs(_data()[0]) + 0.1  # positive inputs times negative constant weights: z < 0
    s = measure(
        np.random.default_rng(0), x, np.zeros(64, int), depth=3, width=8, activation=RELU,
        initializer="constant", init_kwargs={"val": -0.5}, n_classes=3,
    )  # fmt: skip
    np.testing.assert_array_equal(s.dead_fraction, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(s.weight_grad_norm[:3], 0.0)  # dead units learn nothing
    alive = measure(
        np.random.default_rng(0), x, np.zeros(64, int), depth=3, width=8, activation=RELU,
        initializer="constant", init_kwargs={"val": 0.5}, n_classes=3,
    )  # fmt: skip
    np.testing.assert_array_equal(alive.dead_fraction, [0.0, 0.0, 0.0])


def test_saturated_share_on_constructed_inputs():
    # Constant weights 1 make z = row sum for every unit: rows summing to ±0.05 sit in tanh's
    # linear part, rows summing to ±10 deep in its flat tails (1 − tanh²(10) ≈ 8e-9).
    x = np.repeat([[0.025, 0.025], [-0.025, -0.025], [5.0, 5.0], [-5.0, -5.0]], 8, axis=0)
    s = measure(
        np.random.default_rng(0), x, np.zeros(32, int), depth=1, width=6, activation=TANH,
        initializer="constant", init_kwargs={"val": 1.0}, n_classes=2,
    )  # fmt: skip
    assert s.saturated_fraction[0] == 0.5
    assert s.dead_fraction[0] == 0.0  # saturated is not dead: f' is tiny, not exactly zero


def test_saturation_threshold_for_tanh_and_sigmoid():
    assert peak_slope(TANH) == pytest.approx(1.0) and output_limits(TANH) == (-1.0, 1.0)
    sigmoid = ACTIVATIONS["sigmoid"]()
    assert peak_slope(sigmoid) == pytest.approx(0.25) and output_limits(sigmoid) == (0.0, 1.0)
    assert output_limits(RELU) is None
    assert output_limits(ACTIVATIONS["relu6"]()) == (0.0, 6.0)
    # tanh: 1 − t² < 0.01 exactly when |t| > sqrt(0.99)
    assert SATURATION_THRESHOLD == 0.01


def test_exploding_network_is_reported_not_raised():
    x, y = _data(n=32)
    # std 1 weights on 64 inputs multiply the scale by ~sqrt(64/2) = 5.7 per ReLU layer, so float32
    # overflows (3.4e38) after about 50 layers.
    s = measure(
        np.random.default_rng(0), x, y, depth=60, width=64, activation=RELU,
        initializer="normal", init_kwargs={"std": 1.0},
    )  # fmt: skip
    k = s.exploded_at
    assert k is not None and 20 < k < 60
    assert s.z_std.shape == s.dead_fraction.shape == (k,) and s.z_hist.shape[0] == k
    assert np.isfinite(s.z_std).all() and s.z_std[-1] > 1e30
    assert s.weight_grad_norm.size == 0 and np.isnan(s.loss)
    assert at_lr(s, 0.1).update_ratio.size == 0


def test_tame_network_does_not_explode():
    x, y = _data(n=32)
    s = measure(
        np.random.default_rng(0), x, y, depth=60, width=64, activation=RELU,
        initializer="kaiming_normal",
    )  # fmt: skip
    assert s.exploded_at is None and s.z_std.shape == (60,)
    assert 0.1 < s.z_std[-1] < 10 and s.weight_grad_norm.shape == (61,)


def test_batch_norm_keeps_pre_activations_standardized():
    x, y = _data()
    s = measure(
        np.random.default_rng(0), x, y, depth=10, width=32, activation=RELU,
        initializer="normal", init_kwargs={"std": 1.0}, batch_norm=True,
    )  # fmt: skip
    assert s.exploded_at is None
    np.testing.assert_allclose(s.z_std, 1.0, atol=1e-3)
    np.testing.assert_allclose(s.z_mean, 0.0, atol=1e-5)


@pytest.mark.parametrize("init_kwargs", [{"val": 0.3}, {"val": 0.0}])
def test_constant_init_keeps_hidden_units_identical(init_kwargs):
    x, y = _data(n=40, d=5, classes=3)
    res = symmetry_experiment(
        np.random.default_rng(0), x, y, initializer="constant", init_kwargs=init_kwargs,
        activation=TANH, steps=15, hidden_sizes=(8, 8), lr=0.5,
    )  # fmt: skip
    assert res.spread.shape == res.loss.shape == (16,)
    assert (res.spread == 0).all()
    if init_kwargs["val"]:
        assert res.loss[-1] < res.loss[0]  # it does train, yet every unit stays a copy


def test_random_init_breaks_the_symmetry():
    x, y = _data(n=40, d=5, classes=3)
    res = symmetry_experiment(
        np.random.default_rng(0), x, y, initializer="xavier_normal", activation=TANH, steps=15,
        hidden_sizes=(8, 8), lr=0.5, layer=1,
    )  # fmt: skip
    assert (res.spread > 0).all() and res.spread[-1] != res.spread[0]


def test_short_training_reduces_loss_and_reports_divergence():
    r = np.random.default_rng(0)
    centres = r.normal(0, 3, (3, 10))
    y = r.integers(0, 3, 300)
    x = (centres[y] + r.normal(size=(300, 10))).astype(np.float32)
    kw = {"depth": 3, "width": 32, "activation": RELU, "initializer": "kaiming_normal"}
    curve = short_training(np.random.default_rng(1), x, y, lr=0.05, steps=150, **kw)
    assert curve.diverged_at is None and curve.loss.shape == (150,)
    assert curve.loss[-20:].mean() < 0.2 * curve.loss[:5].mean()
    bad = short_training(np.random.default_rng(1), x * 1e3, y, lr=1e3, steps=150, **kw)
    assert bad.diverged_at is not None and bad.loss.shape == (bad.diverged_at,)


@pytest.mark.parametrize(("depth", "width"), [(0, 4), (3, 0)])
def test_invalid_shapes_raise(depth, width):
    x, y = _data()
    with pytest.raises(ValueError, match="depth="):
        measure(
            np.random.default_rng(0), x, y, depth=depth, width=width, activation=RELU,
            initializer="kaiming_normal",
        )  # fmt: skip
