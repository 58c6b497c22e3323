"""gradient_check against known-correct and deliberately wrong derivatives; saturation intervals."""

import numpy as np
import pytest

import core.losses
from core.activations import ACTIVATION_PARAMS, ACTIVATIONS
from core.gradcheck import (
    central_difference,
    gradient_check,
    gradient_check_partials,
    low_gradient_intervals,
    step_sizes,
)
from core.losses import LOSS_KINDS, LOSSES, Loss, loss_gradient_check
from ui.activation_panels import FD_TOLERANCE

GRID = np.linspace(-6, 6, 401)  # contains 0 and ±3: the kinks of relu and hardsigmoid


def test_central_difference_of_a_cubic_is_exact_up_to_h_squared():
    x = np.array([-2.0, 0.5, 3.0])
    fd = central_difference(lambda z: z**3, x, 1e-3)
    # (x+h)³ − (x−h)³ = 6x²h + 2h³, so FD = 3x² + h² exactly.
    np.testing.assert_allclose(fd, 3 * x**2 + 1e-6, rtol=1e-9)


def test_correct_derivative_gives_a_tiny_gap():
    check = gradient_check(np.sin, np.cos, GRID)
    assert check.checked == GRID.size
    assert check.max_gap < 1e-9
    assert check.skipped_kinks == check.skipped_edges == 0


def test_wrong_derivative_is_caught_and_located():
    def wrong(z):
        return np.cos(z) + np.where(np.abs(z - 1.5) < 0.01, 1e-3, 0.0)

    check = gradient_check(np.sin, wrong, GRID)
    assert check.max_gap == pytest.approx(1e-3, rel=1e-4)
    assert abs(check.at - 1.5) < 0.01


@pytest.mark.parametrize("key", list(ACTIVATIONS))
def test_every_activation_passes_on_the_plotted_grid(key):
    act = ACTIVATIONS[key]()
    check = gradient_check(act.fn, act.grad, GRID)
    assert check.max_relative_gap < 1e-5, check  # O(h) where f″ jumps
    assert check.checked >= GRID.size - 2


def test_relu_kink_is_skipped_not_reported():
    act = ACTIVATIONS["relu"]()
    check = gradient_check(act.fn, act.grad, GRID)
    assert check.skipped_kinks == 1
    assert check.max_gap < 1e-9


def test_hardtanh_with_wide_range_params_skips_both_corners():
    spec = ACTIVATION_PARAMS["hardtanh"]
    act = ACTIVATIONS["hardtanh"](min_val=spec["min_val"].low, max_val=spec["max_val"].high)
    check = gradient_check(act.fn, act.grad, GRID)  # corners at −3 and 6 are both grid points
    assert check.skipped_kinks == 2


def test_domain_edge_is_skipped_and_steps_shrink_towards_it():
    x = np.linspace(0, 1, 101)
    h = step_sizes(x, low=0, high=1)
    assert h[0] == h[-1] == 0
    assert h[1] < h[50]
    check = gradient_check(np.log, lambda z: 1 / z, x, low=0)
    assert check.skipped_edges == 1
    assert check.max_relative_gap < 1e-7


@pytest.mark.parametrize(
    ("name", "x", "target", "low", "high"),
    [
        ("mse", GRID, 0.5, -np.inf, np.inf),
        ("mae", GRID, 0.0, -np.inf, np.inf),
        ("huber", GRID, 0.0, -np.inf, np.inf),
        ("bce", np.linspace(0, 1, 201), 1.0, 0.0, 1.0),
        ("bce_with_logits", GRID, 1.0, -np.inf, np.inf),
        ("cross_entropy", GRID, 1.0, -np.inf, np.inf),
        ("cross_entropy", GRID, 0.3, -np.inf, np.inf),
        ("kl_div", GRID, 0.3, -np.inf, np.inf),
        ("hinge", GRID, 1.0, -np.inf, np.inf),
        ("contrastive", np.linspace(0, 4, 201), 0.0, 0.0, np.inf),
    ],
)
def test_loss_curves_pass(name, x, target, low, high):
    check = loss_gradient_check(name, x, target, (low, high))
    assert check.max_relative_gap < FD_TOLERANCE, check  # O(h) where f″ jumps (contrastive)
    expected = x.size * (2 if LOSS_KINDS[name] == "multiclass" else 1)  # every class's partial
    assert check.checked + check.skipped_kinks + check.skipped_edges == expected


@pytest.mark.parametrize("column", [0, 1])
@pytest.mark.parametrize("factor", [3.0, 1.001])
@pytest.mark.parametrize("name", ["cross_entropy", "kl_div"])
def test_the_loss_page_check_fails_with_any_single_gradient_column_scaled(
    monkeypatch, name, column, factor
):
    real = LOSSES[name]

    def planted(**params):
        loss = real(**params)

        def grad(y_true, y_pred):
            g = loss.grad(y_true, y_pred).copy()
            g[:, column] *= factor
            return g

        return Loss(loss.value, grad)

    monkeypatch.setitem(core.losses.LOSSES, name, planted)
    check = loss_gradient_check(name, GRID, 0.3)
    assert not check.max_relative_gap < FD_TOLERANCE, check


def test_gradient_check_partials_checks_each_coordinate():
    points = np.stack([GRID, GRID[::-1]], axis=1)

    def fn(rows):
        return np.sin(rows[:, 0]) * rows[:, 1]

    def right(rows):
        return np.stack([np.cos(rows[:, 0]) * rows[:, 1], np.sin(rows[:, 0])], axis=1)

    assert gradient_check_partials(fn, right, points).max_relative_gap < 1e-8
    for j in (0, 1):

        def wrong(rows, j=j):
            g = right(rows)
            g[:, j] *= 1.01
            return g

        assert gradient_check_partials(fn, wrong, points).max_relative_gap > 1e-3


def test_non_finite_values_give_nan_not_an_exception():
    check = gradient_check(lambda z: np.exp(z * 1e3), lambda z: 1e3 * np.exp(z * 1e3), GRID)
    assert np.isnan(check.max_gap)


def test_sigmoid_saturation_intervals_match_the_analytic_threshold():
    z = np.linspace(-10, 10, 2001)
    g = ACTIVATIONS["sigmoid"]().grad(z)
    # σ′ = s(1 − s) = 0.05  ⇔  s = (1 − √0.8)/2, z = log(s / (1 − s)).
    s = (1 - np.sqrt(0.8)) / 2
    z0 = np.log(s / (1 - s))
    (a, b), (c, d) = low_gradient_intervals(z, g, 0.05)
    assert a == -10 and d == 10
    assert abs(b - z0) <= 0.01 and abs(c + z0) <= 0.01


def test_intervals_on_hand_made_mask_and_bad_threshold():
    x = np.arange(6.0)
    assert low_gradient_intervals(x, [0, 1, 1, 0, 0, 1], 0.5) == [(0.0, 0.0), (3.0, 4.0)]
    assert low_gradient_intervals(x, np.ones(6), 0.5) == []
    with pytest.raises(ValueError, match="threshold=0"):
        low_gradient_intervals(x, np.ones(6), 0)
