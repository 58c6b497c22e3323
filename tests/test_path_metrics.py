"""Path summaries against hand-computed values on surfaces whose paths have closed forms."""

import numpy as np
import pytest

import core.path_metrics as metrics
from core.descent import descend
from core.expressions import compile_expression
from core.optimizers import OPTIMIZERS
from core.surfaces import SURFACES, surface_from_expression


def test_sgd_on_the_bowl_reaches_the_target_when_the_closed_form_says():
    kappa, lr, eps = 10.0, 0.05, 1e-3
    s = SURFACES["quadratic_bowl"](condition_number=kappa)
    path = descend(OPTIMIZERS["sgd"](lr=lr), s, s.start, 300)
    t = np.arange(301)
    x0, y0 = s.start
    f = 0.5 * ((x0 * (1 - lr) ** t) ** 2 + kappa * (y0 * (1 - lr * kappa) ** t) ** 2)
    summary = metrics.summarize(path, s, eps)
    assert summary.reached_at == int(np.flatnonzero(f < eps)[0])
    assert summary.final_loss == pytest.approx(f[-1], rel=1e-9)
    assert summary.distance_to_minimum == pytest.approx(np.hypot(*path.points[-1]), rel=1e-12)
    assert summary.diverged_at is None and summary.last_finite == 300


def test_diverged_path_reports_the_last_finite_point():
    s = SURFACES["rosenbrock"]()
    path = descend(OPTIMIZERS["sgd"](lr=0.01), s, s.start, 50)
    summary = metrics.summarize(path, s, 1e-3)
    assert summary.diverged_at == path.diverged_at is not None
    assert summary.last_finite == path.diverged_at - 1
    assert summary.final_loss == path.losses[path.diverged_at - 1]
    assert summary.reached_at is None


def test_no_minimum_means_no_target_and_no_distance():
    s = SURFACES["saddle"]()
    summary = metrics.summarize(descend(OPTIMIZERS["adam"](lr=0.01), s, s.start, 20), s, 1e-3)
    assert summary.distance_to_minimum is None and summary.reached_at is None


def test_custom_surface_without_f_min_has_no_target():
    s = surface_from_expression(compile_expression("x**2 + y**2"))
    summary = metrics.summarize(descend(OPTIMIZERS["sgd"](lr=0.1), s, s.start, 10), s, 1e-3)
    assert summary.reached_at is None and summary.final_loss > 0


def test_left_box_at_is_the_first_step_outside_the_map():
    s = surface_from_expression(compile_expression("-x"))  # a constant slope towards +x
    path = descend(OPTIMIZERS["sgd"](lr=0.25), s, (0.0, 0.0), 20)  # x = 0.25 t
    (_, x_hi), _ = s.bounds
    assert metrics.left_box_at(path, s.bounds) == int(x_hi / 0.25) + 1
    bowl = SURFACES["quadratic_bowl"]()
    assert (
        metrics.left_box_at(descend(OPTIMIZERS["sgd"](lr=0.1), bowl, bowl.start, 20), bowl.bounds)
        is None
    )


def test_effective_step_of_sgd_is_its_lr_and_adam_scales_per_coordinate():
    s = SURFACES["quadratic_bowl"]()
    sgd_path = descend(OPTIMIZERS["sgd"](lr=0.03), s, s.start, 5)
    np.testing.assert_allclose(metrics.effective_step(sgd_path, 2), [0.03, 0.03], rtol=1e-12)
    adam_path = descend(OPTIMIZERS["adam"](lr=0.1), s, s.start, 5)
    # Adam's first step is lr * sign(g) per coordinate (m_hat / sqrt(v_hat) = g / |g|).
    g = s.grad(np.asarray(s.start))
    np.testing.assert_allclose(metrics.effective_step(adam_path, 0), 0.1 / np.abs(g), rtol=1e-6)
    with pytest.raises(ValueError, match="step="):
        metrics.effective_step(adam_path, 5)


def test_finite_step_is_false_from_the_step_that_diverges():
    s = SURFACES["rosenbrock"]()
    path = descend(OPTIMIZERS["sgd"](lr=0.01), s, s.start, 50)
    k = path.diverged_at
    assert metrics.finite_step(path, 0)
    assert not metrics.finite_step(path, k - 1)  # its update lands on the non-finite point
    assert [metrics.finite_step(path, i) for i in range(k - 1)] == [True] * (k - 1)


def test_clamp_start():
    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    assert metrics.clamp_start((0.5, 0.5), bounds) == ((0.5, 0.5), False)
    assert metrics.clamp_start((9.0, -5.0), bounds) == ((2.0, -1.0), True)


def test_loss_grid_rows_are_y():
    s = SURFACES["rosenbrock"]()
    xs, ys, z = metrics.loss_grid(s, 5)
    assert z.shape == (5, 5)
    assert z[1, 3] == s.f(np.array([xs[3], ys[1]]))
    with pytest.raises(ValueError, match="resolution="):
        metrics.loss_grid(s, 1)
