"""Constant fits under MSE / MAE / Huber vs numpy and a bounded scalar minimiser of the loss."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from core.losses import huber
from core.robust_fit import fit_constant, huber_location, outlier_sample


@pytest.fixture
def sample():
    return outlier_sample(np.random.default_rng(3), n=41, outlier_share=0.25, outlier_offset=15.0)[
        0
    ]


@pytest.mark.parametrize("delta", [0.1, 0.5, 1.0, 3.0])
def test_huber_estimate_minimises_the_mean_huber_loss(sample, delta):
    loss = huber(delta)
    reference = minimize_scalar(
        lambda c: loss.value(sample, np.full_like(sample, c)),
        bounds=(sample.min(), sample.max()),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
    estimate, iterations, converged = huber_location(sample, delta)
    assert converged and iterations < 200
    assert estimate == pytest.approx(reference, abs=1e-6)
    # First-order condition of the M-estimate.
    assert abs(np.sum(np.clip(sample - estimate, -delta, delta))) < 1e-8


def test_mean_and_median(sample):
    fit = fit_constant(sample)
    assert fit.mean == pytest.approx(np.mean(sample))
    assert fit.median == np.median(sample)


def test_huber_tends_to_mean_and_median_at_the_extremes(sample):
    assert huber_location(sample, delta=1e3)[0] == pytest.approx(np.mean(sample), abs=1e-12)
    assert huber_location(sample, delta=1e-6)[0] == pytest.approx(np.median(sample), abs=1e-5)


def test_outliers_drag_the_mean_not_the_median_and_huber_in_between():
    data, _ = outlier_sample(np.random.default_rng(0), n=50, outlier_share=0.3, outlier_offset=20)
    fit = fit_constant(data, delta=1.0)
    assert fit.mean > 5
    assert abs(fit.median) < 1.5
    assert fit.median < fit.huber < fit.mean


def test_outlier_sample_counts_and_is_reproducible():
    a, out = outlier_sample(np.random.default_rng(7), n=20, outlier_share=0.25)
    b, _ = outlier_sample(np.random.default_rng(7), n=20, outlier_share=0.25)
    np.testing.assert_array_equal(a, b)
    assert out.sum() == 5
    assert outlier_sample(np.random.default_rng(7), n=20, outlier_share=0.0)[1].sum() == 0


@pytest.mark.parametrize(
    ("call", "quoted"),
    [
        (lambda: huber_location([1.0, 2.0], delta=0), "delta=0"),
        (lambda: fit_constant([]), "x.size=0"),
        (lambda: outlier_sample(np.random.default_rng(0), n=0), "n=0"),
        (lambda: outlier_sample(np.random.default_rng(0), outlier_share=1.5), "outlier_share=1.5"),
    ],
)
def test_invalid_arguments_raise_quoting_the_value(call, quoted):
    with pytest.raises(ValueError, match=quoted):
        call()


def test_non_convergence_is_reported_not_raised(sample):
    estimate, iterations, converged = huber_location(sample, delta=0.5, max_iter=1)
    assert not converged and iterations == 1 and np.isfinite(estimate)
