"""MLP: backprop vs central differences for every activation, with and without batch norm/dropout;
fused softmax cross-entropy; training reduces the loss; bookkeeping helpers. (The page's gradient
check runs on core.network: tests/test_network_gradient_check.py.)"""

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.mlp import (
    accuracy,
    backward,
    forward,
    init_bn_state,
    init_params,
    loss_and_grads,
    parameter_count,
    predict,
    predict_proba,
    softmax_cross_entropy,
)
from tests.numeric import numeric_grad

SIZES = [3, 5, 4, 3]
N = 6
# Points where an activation's derivative jumps; finite differences straddling one are meaningless.
KINKS = {
    "relu": [0.0],
    "leaky_relu": [0.0],
    "relu6": [0.0, 6.0],
    "hardtanh": [-1.0, 1.0],
    "hardsigmoid": [-3.0, 3.0],
    "elu": [0.0],
    "selu": [0.0],
    "softplus": [20.0],
}


def _net(seed, batch_norm=False):
    r = np.random.default_rng(seed)
    params = init_params(
        r, SIZES, initializer="xavier_normal", batch_norm=batch_norm, dtype=np.float64
    )
    # Non-trivial BN affine parameters and biases so that their gradients are exercised too.
    for p in params:
        p["b"] = r.normal(0, 0.3, p["b"].shape)
        if "gamma" in p:
            p["gamma"] = r.uniform(0.5, 1.5, p["gamma"].shape)
            p["beta"] = r.normal(0, 0.3, p["beta"].shape)
    x = r.normal(size=(N, SIZES[0]))
    y = r.integers(0, SIZES[-1], N)
    return params, x, y


def _numeric_grads(loss_fn, params):
    return [{key: numeric_grad(loss_fn, arr) for key, arr in layer.items()} for layer in params]


def _away_from_kinks(name, cache, margin=1e-3):
    return all(np.abs(z - k).min() > margin for z in cache.z for k in KINKS.get(name, []))


def _assert_grads_close(grads, numeric):
    for g, n in zip(grads, numeric, strict=True):
        assert g.keys() == n.keys()
        for key in g:
            np.testing.assert_allclose(g[key], n[key], rtol=1e-5, atol=1e-8, err_msg=key)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("dropout", [0.0, 0.3], ids=["no_dropout", "dropout"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_matches_central_differences(name, batch_norm, dropout):
    act = ACTIVATIONS[name]()
    # The first seed (deterministic) whose pre-activations all sit away from the kinks.
    for seed in range(100):
        params, x, y = _net(seed, batch_norm)

        def run(params=params, x=x, y=y):
            # The same seed every call gives the same dropout mask: the loss is a fixed function.
            return loss_and_grads(
                params, x, y, activation=act, rng=np.random.default_rng(99), dropout=dropout
            )

        _, grads, cache = run()
        if _away_from_kinks(name, cache):
            break
    else:
        pytest.fail("no seed keeps the pre-activations away from the kinks")
    if dropout:
        assert any((m == 0).any() for m in cache.masks)
    _assert_grads_close(grads, _numeric_grads(lambda: run()[0], params))


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("name", ["tanh", "relu", "gelu"])
def test_activation_grads_match_central_differences(name, batch_norm):
    """dLoss/d a_k equals the numeric input-gradient of the sub-network after hidden layer k."""
    act = ACTIVATIONS[name]()
    params, x, y = _net(3, batch_norm)
    logits, cache = forward(params, x, activation=act, train=True)
    _, dlogits = softmax_cross_entropy(logits, y)
    _, act_grads = backward(params, cache, dlogits, return_activation_grads=True)
    assert len(act_grads) == len(SIZES) - 2
    for k, a in enumerate(cache.a):
        tail = params[k + 1 :]
        a = a.copy()

        def loss_from_a(tail=tail, a=a):
            out, _ = forward(tail, a, activation=act, train=True)
            return softmax_cross_entropy(out, y)[0]

        numeric = _numeric_grads(loss_from_a, [{"a": a}])[0]["a"]
        np.testing.assert_allclose(act_grads[k], numeric, rtol=1e-5, atol=1e-9)


def test_softmax_cross_entropy_values_and_gradient():
    logits = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, 0.1]])
    labels = np.array([1, 0])
    loss, d = softmax_cross_entropy(logits, labels)
    p = np.exp(logits[1]) / np.exp(logits[1]).sum()
    assert loss == pytest.approx((np.log(3.0) - np.log(p[0])) / 2, rel=1e-12)
    numeric = _numeric_grads(lambda: softmax_cross_entropy(logits, labels)[0], [{"z": logits}])
    np.testing.assert_allclose(d, numeric[0]["z"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-15)  # rows of p − y sum to zero


def test_softmax_cross_entropy_loss_is_the_float32_mean():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (37, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 37)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    assert softmax_cross_entropy(logits, labels)[0] == float(-log_p[np.arange(37), labels].mean())


@pytest.mark.parametrize("batch_norm", [False, True])
def test_backward_into_given_arrays_equals_fresh_gradients(batch_norm):
    params, x, y = _net(3, batch_norm=batch_norm)
    logits, cache = forward(params, x, activation=ACTIVATIONS["tanh"](), train=True)
    dlogits = softmax_cross_entropy(logits, y)[1]
    fresh = backward(params, cache, dlogits)
    out = [{k: np.full_like(a, np.nan) for k, a in layer.items()} for layer in params]
    grads = backward(params, cache, dlogits, out=out)
    for g, o, f in zip(grads, out, fresh, strict=True):
        assert list(g) == list(f)
        for k in f:
            assert g[k] is o[k]
            np.testing.assert_array_equal(g[k], f[k])


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0], [-1000.0, 1000.0]], dtype=np.float32)
    loss, d = softmax_cross_entropy(logits, np.array([1, 1]))
    assert np.isfinite(loss) and np.isfinite(d).all() and d.dtype == np.float32
    assert loss == pytest.approx(500.0)  # -log p = 1000 for row 0, 0 for row 1


def test_weight_decay_adds_half_l2_to_loss_and_w_to_weight_grads():
    act = ACTIVATIONS["tanh"]()
    params, x, y = _net(4, batch_norm=True)
    l0, g0, _ = loss_and_grads(params, x, y, activation=act)
    l1, g1, _ = loss_and_grads(params, x, y, activation=act, weight_decay=0.1)
    assert l1 - l0 == pytest.approx(0.05 * sum((p["W"] ** 2).sum() for p in params), rel=1e-12)
    for p, a, b in zip(params, g0, g1, strict=True):
        np.testing.assert_allclose(b["W"] - a["W"], 0.1 * p["W"], rtol=1e-10, atol=1e-14)
        for key in set(p) - {"W"}:
            np.testing.assert_array_equal(a[key], b[key])


def _blobs(seed, n_per_class=60):
    r = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    x = np.concatenate([c + r.normal(size=(n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return x.astype(np.float32), y


@pytest.mark.parametrize(("batch_norm", "dropout"), [(False, 0.0), (True, 0.0), (False, 0.2)])
def test_loss_falls_and_toy_set_is_learned(batch_norm, dropout):
    x, y = _blobs(1)
    r = np.random.default_rng(2)
    params = init_params(r, [2, 32, 32, 3], batch_norm=batch_norm)
    act = ACTIVATIONS["relu"]()
    bn_state = init_bn_state(params)
    losses = []
    for _ in range(150):
        loss, grads, cache = loss_and_grads(
            params, x, y, activation=act, rng=r, dropout=dropout, bn_state=bn_state
        )
        bn_state = cache.bn_state
        params = [{k: p[k] - 0.1 * g[k] for k in p} for p, g in zip(params, grads, strict=True)]
        losses.append(loss)
    assert losses[-1] < 0.25 * losses[0]
    assert accuracy(params, x, y, activation=act, bn_state=bn_state) > 0.95
    assert params[0]["W"].dtype == np.float32


def test_forward_shapes_cache_and_dtype():
    r = np.random.default_rng(0)
    params = init_params(r, [7, 9, 8, 3], batch_norm=True)
    x = r.normal(size=(5, 7))  # float64 input is computed in the params' float32
    logits, cache = forward(params, x, activation=ACTIVATIONS["relu"](), train=True)
    assert logits.shape == (5, 3) and logits.dtype == np.float32
    assert [z.shape for z in cache.z] == [(5, 9), (5, 8)]
    np.testing.assert_array_equal(cache.a[0], np.maximum(cache.z[0], 0))
    assert cache.bn_state[-1] is None and cache.bn_state[0].mean.shape == (9,)
    assert not np.array_equal(cache.bn_state[0].mean, 0)  # train mode moved the running mean


def test_eval_mode_uses_running_stats_and_no_dropout():
    r = np.random.default_rng(0)
    params = init_params(r, [4, 6, 2], batch_norm=True)
    x = r.normal(size=(8, 4))
    act = ACTIVATIONS["relu"]()
    state = init_bn_state(params)
    _, c = forward(params, x, activation=act, train=True, bn_state=state)
    e1, ce = forward(params, x, activation=act, train=False, bn_state=c.bn_state, dropout=0.5)
    e2, _ = forward(params, x[:3], activation=act, train=False, bn_state=c.bn_state)
    np.testing.assert_allclose(e1[:3], e2, rtol=1e-6)  # rows independent of the rest of the batch
    assert all(a is b for a, b in zip(ce.bn_state, c.bn_state, strict=True))
    assert all(m is None for m in ce.masks)
    proba = predict_proba(params, x, activation=act, bn_state=c.bn_state)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        predict(params, x, activation=act, bn_state=c.bn_state), e1.argmax(1)
    )


def test_inverted_dropout_keeps_the_expected_activation():
    r = np.random.default_rng(0)
    params = init_params(r, [20, 2000, 2])
    x = r.normal(size=(50, 20))
    _, cache = forward(params, x, activation=ACTIVATIONS["relu"](), train=True, rng=r, dropout=0.4)
    mask = cache.masks[0]
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.6)}
    assert (mask == 0).mean() == pytest.approx(0.4, abs=0.01)
    np.testing.assert_array_equal(cache.inputs[1], cache.a[0] * mask)


def test_pure_functions_do_not_mutate_params():
    r = np.random.default_rng(0)
    params = init_params(r, [4, 6, 3], batch_norm=True)
    before = [{k: v.copy() for k, v in p.items()} for p in params]
    x, y = r.normal(size=(8, 4)), r.integers(0, 3, 8)
    act = ACTIVATIONS["elu"]()
    loss_and_grads(params, x, y, activation=act, weight_decay=0.1, rng=r, dropout=0.2)
    for p, b in zip(params, before, strict=True):
        for k in p:
            np.testing.assert_array_equal(p[k], b[k])


def test_init_params_layout_and_count():
    params = init_params(np.random.default_rng(0), [784, 128, 64, 10], batch_norm=True)
    assert [sorted(p) for p in params] == [["W", "b", "beta", "gamma"]] * 2 + [["W", "b"]]
    assert params[0]["W"].shape == (784, 128) and params[2]["W"].shape == (64, 10)
    assert not params[0]["b"].any() and (params[1]["gamma"] == 1).all()
    expected = 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 + 2 * (128 + 64)
    assert parameter_count(params) == expected
    assert init_bn_state(params)[2] is None


def test_init_params_uses_the_named_initializer():
    params = init_params(np.random.default_rng(0), [2000, 1000, 10], initializer="xavier_normal")
    assert params[0]["W"].std() == pytest.approx(np.sqrt(2 / 3000), rel=0.02)
    params = init_params(
        np.random.default_rng(0), [3, 4, 2], initializer="constant", init_kwargs={"val": 0.5}
    )
    assert all((p["W"] == 0.5).all() for p in params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer_sizes": [5]}, "layer_sizes"),
        ({"layer_sizes": [5, 0, 2]}, "layer_sizes"),
        ({"layer_sizes": [5, 2], "initializer": "nope"}, "initializer"),
    ],
)
def test_init_params_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        init_params(np.random.default_rng(0), **kwargs)


def test_forward_rejects_bad_dropout():
    params = init_params(np.random.default_rng(0), [3, 4, 2])
    act = ACTIVATIONS["relu"]()
    with pytest.raises(ValueError, match="dropout="):
        forward(params, np.ones((2, 3)), activation=act, train=True, dropout=1.0)
    with pytest.raises(ValueError, match="rng="):
        forward(params, np.ones((2, 3)), activation=act, train=True, dropout=0.5)


def test_matches_torch_autograd_with_batch_norm_gelu_and_weight_decay():
    # Reference values from torch 2.13.0 (float64): the same weights copied into
    # Sequential(Linear, BatchNorm1d, GELU, Linear, BatchNorm1d, GELU, Linear) in train mode,
    # loss = F.cross_entropy(out, y) + 0.5·0.01·Σ‖Linear.weight‖², then loss.backward().
    r = np.random.default_rng(0)
    params = init_params(r, [5, 7, 6, 3], batch_norm=True, dtype=np.float64)
    for p in params:
        p["b"] = r.normal(size=p["b"].shape)
        if "gamma" in p:
            p["gamma"] = r.uniform(0.5, 1.5, p["gamma"].shape)
            p["beta"] = r.normal(size=p["beta"].shape)
    x, y = r.normal(size=(8, 5)), r.integers(0, 3, 8)
    loss, grads, cache = loss_and_grads(
        params, x, y, activation=ACTIVATIONS["gelu"](), weight_decay=0.01
    )
    assert loss == pytest.approx(1.6240705561847977, rel=1e-12)
    torch_weight_grad = [  # net[0].weight.grad[:2, :3], shape (out, in): our W is its transpose
        [0.0406769859840762, 0.0018297169936529402, 0.027684601152968957],
        [-0.0063926361726312185, 0.004378127834530581, -0.004745771706709803],
    ]
    np.testing.assert_allclose(grads[0]["W"][:3, :2].T, torch_weight_grad, rtol=1e-10)
    np.testing.assert_allclose(
        grads[0]["gamma"][:3],
        [0.01074430382675708, 0.007125666588650242, 0.0036259911849064346],
        rtol=1e-10,
    )
    np.testing.assert_allclose(  # net[1].running_var[:3]
        cache.bn_state[0].var[:3],
        [1.1686939384981332, 1.0206847924955862, 0.9531381614336709],
        rtol=1e-12,
    )


def test_backward_from_an_eval_mode_cache_matches_central_differences():
    # Eval mode stores no slopes (backward recomputes f'), and batch norm uses running stats.
    act = ACTIVATIONS["softplus"]()
    params, x, y = _net(8, batch_norm=True)
    r = np.random.default_rng(1)
    state = [s and s._replace(var=r.uniform(0.5, 2.0, s.var.shape)) for s in init_bn_state(params)]

    def loss():
        logits, _ = forward(params, x, activation=act, train=False, bn_state=state)
        return softmax_cross_entropy(logits, y)[0]

    logits, cache = forward(params, x, activation=act, train=False, bn_state=state)
    assert cache.slope is None
    grads = backward(params, cache, softmax_cross_entropy(logits, y)[1])
    _assert_grads_close(grads, _numeric_grads(loss, params))
