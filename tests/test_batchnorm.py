"""Batch norm: backward vs central differences, running stats vs the hand formula, eval mode."""

import numpy as np
import pytest

from core.batchnorm import (
    RunningStats,
    batch_norm_backward,
    batch_norm_forward,
    init_running_stats,
)
from tests.numeric import numeric_grad

N, D = 6, 4


@pytest.fixture
def case():
    r = np.random.default_rng(5)
    x = r.normal(1.0, 2.0, (N, D))
    gamma = r.uniform(0.5, 1.5, D)
    beta = r.normal(size=D)
    running = RunningStats(r.normal(size=D), r.uniform(0.5, 2.0, D))
    dy = r.normal(size=(N, D))  # a random upstream gradient: loss = sum(dy * y)
    return x, gamma, beta, running, dy


@pytest.mark.parametrize("train", [True, False])
def test_backward_matches_central_differences(case, train):
    x, gamma, beta, running, dy = case

    def loss():
        return float((dy * batch_norm_forward(x, gamma, beta, running, train=train)[0]).sum())

    _, cache, _ = batch_norm_forward(x, gamma, beta, running, train=train)
    dx, dgamma, dbeta = batch_norm_backward(dy, cache)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, numeric_grad(loss, gamma), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, numeric_grad(loss, beta), rtol=1e-6, atol=1e-8)


def test_train_output_is_standardized(case):
    x, _, _, running, _ = case
    y, _, _ = batch_norm_forward(x, np.ones(D), np.zeros(D), running, train=True)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    # biased variance normalizes: var(y) = var / (var + eps), just under 1
    var = x.var(axis=0)
    np.testing.assert_allclose(y.var(axis=0), var / (var + 1e-5), rtol=1e-12)


def test_running_stats_update_matches_hand_formula(case):
    x, gamma, beta, running, _ = case
    _, _, new = batch_norm_forward(x, gamma, beta, running, train=True, momentum=0.1)
    mean = x.sum(axis=0) / N
    unbiased = ((x - mean) ** 2).sum(axis=0) / (N - 1)
    np.testing.assert_allclose(new.mean, 0.9 * running.mean + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(new.var, 0.9 * running.var + 0.1 * unbiased, rtol=1e-12)


def test_running_stats_match_torch_sequence():
    # torch 2.13.0: bn = torch.nn.BatchNorm1d(2).double(); bn.train(); bn(x) for x = arange(8).
    # reshape(4, 2)**2 / 10, then for x + 1 -> bn.running_mean.tolist() == [0.366, 0.499],
    # bn.running_var.tolist() == [1.3065333333333333, 1.6612].
    x = np.arange(8.0).reshape(4, 2) ** 2 / 10
    stats = init_running_stats(2, dtype=np.float64)
    for batch in (x, x + 1):
        _, _, stats = batch_norm_forward(batch, np.ones(2), np.zeros(2), stats, train=True)
    np.testing.assert_allclose(stats.mean, [0.366, 0.499], rtol=1e-12)
    np.testing.assert_allclose(stats.var, [1.3065333333333333, 1.6612], rtol=1e-12)


def test_eval_uses_running_stats_and_inputs_are_not_mutated(case):
    x, gamma, beta, running, _ = case
    before = (x.copy(), running.mean.copy(), running.var.copy())
    y, _, same = batch_norm_forward(x, gamma, beta, running, train=False)
    np.testing.assert_allclose(
        y, gamma * (x - running.mean) / np.sqrt(running.var + 1e-5) + beta, rtol=1e-12
    )
    assert same is running
    batch_norm_forward(x, gamma, beta, running, train=True)
    for a, b in zip(before, (x, running.mean, running.var), strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_stays_float32():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    one, zero = np.ones(3, np.float32), np.zeros(3, np.float32)
    y, cache, stats = batch_norm_forward(x, one, zero, init_running_stats(3), train=True)
    assert y.dtype == stats.mean.dtype == stats.var.dtype == np.float32
    assert all(g.dtype == np.float32 for g in batch_norm_backward(y, cache))


def test_single_sample_in_train_mode_raises():
    with pytest.raises(ValueError, match="n=1"):
        batch_norm_forward(
            np.ones((1, 3)), np.ones(3), np.zeros(3), init_running_stats(3), train=True
        )
