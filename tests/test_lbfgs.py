"""L-BFGS (core.optimizers.lbfgs, run by core.descent) against a reference ported from torch's
``torch/optim/lbfgs.py`` (torch 2.x: the step loop, the two-loop recursion with ro = 1/ys and
one buffer, ``_strong_wolfe`` and ``_cubic_interpolate`` from minFunc), plus what a class
should see: a quasi-Newton method solving Rosenbrock in a handful of steps."""

import math

import numpy as np
import pytest

from core.descent import best_learning_rate, descend, race
from core.optimizers import OPTIMIZER_ENTRIES, ClosureOptimizer, lbfgs, make
from core.surfaces import SURFACES

# ---------------------------------------------------------------------------------------------
# The reference: torch's algorithm over NumPy vectors, its state a dict as in torch


def ref_cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    xmin_bound, xmax_bound = bounds if bounds is not None else sorted((x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def ref_strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    max_ls = 25
    d_norm = np.max(np.abs(d))
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new @ d
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = ref_cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new @ d
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = ref_cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new @ d
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def ref_lbfgs_step(x, closure, state, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                   tolerance_change=1e-9, history_size=100, line_search_fn=None):  # fmt: skip
    """One torch ``LBFGS.step(closure)`` on the flat parameter vector ``x``; returns new x."""
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    state.setdefault("func_evals", 0)
    state.setdefault("n_iter", 0)
    loss, flat_grad = closure(x)
    current_evals = 1
    state["func_evals"] += 1
    if np.max(np.abs(flat_grad)) <= tolerance_grad:
        return x
    d, t = state.get("d"), state.get("t")
    old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
    H_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
    prev_loss = state.get("prev_loss")
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        state["n_iter"] += 1
        if state["n_iter"] == 1:
            d, old_dirs, old_stps, ro, H_diag = -flat_grad, [], [], [], 1
        else:
            y = flat_grad - prev_flat_grad
            s = d * t
            ys = y @ s
            if ys > 1e-10:
                if len(old_dirs) == history_size:
                    old_dirs.pop(0)
                    old_stps.pop(0)
                    ro.pop(0)
                old_dirs.append(y)
                old_stps.append(s)
                ro.append(1.0 / ys)
                H_diag = ys / (y @ y)
            num_old = len(old_dirs)
            al = [None] * history_size
            q = -flat_grad
            for i in range(num_old - 1, -1, -1):
                al[i] = (old_stps[i] @ q) * ro[i]
                q = q - al[i] * old_dirs[i]
            d = r = q * H_diag
            for i in range(num_old):
                be_i = (old_dirs[i] @ r) * ro[i]
                r = r + (al[i] - be_i) * old_stps[i]
            d = r
        prev_flat_grad = flat_grad.copy()
        prev_loss = loss
        t = min(1.0, 1.0 / np.sum(np.abs(flat_grad))) * lr if state["n_iter"] == 1 else lr
        gtd = flat_grad @ d
        if gtd > -tolerance_change:
            break
        ls_func_evals = 0
        if line_search_fn is not None:
            loss, flat_grad, t, ls_func_evals = ref_strong_wolfe(
                lambda x0, step, direction: closure(x0 + step * direction),
                x, t, d, loss, flat_grad, gtd,
            )  # fmt: skip
            x = x + t * d
            opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
        else:
            x = x + t * d
            if n_iter != max_iter:
                loss, flat_grad = closure(x)
                opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        state["func_evals"] += ls_func_evals
        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            break
        if np.max(np.abs(d * t)) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
            break
    state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                 prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)  # fmt: skip
    return x


def ref_run(surface, start, steps, **kwargs):
    """Every step's point, the evaluations done by each step's end, every evaluated point."""
    visited = []

    def closure(x):
        visited.append(x.copy())
        return float(surface.f(x)), np.asarray(surface.grad(x), dtype=float)

    x, state, points, evals = np.asarray(start, dtype=float), {}, [], [0]
    points.append(x)
    for _ in range(steps):
        x = ref_lbfgs_step(x, closure, state, **kwargs)
        points.append(x)
        evals.append(state["func_evals"])
    return np.array(points), np.array(evals), np.array(visited)


# ---------------------------------------------------------------------------------------------

CASES = [
    ("rosenbrock", {}),
    ("rosenbrock", dict(line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(lr=0.5, max_iter=7, history_size=3, line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(lr=0.3, max_iter=5, max_eval=4, history_size=2)),
    ("himmelblau", dict(line_search_fn="strong_wolfe", tolerance_change=1e-6)),
    ("beale", dict(lr=0.1, max_iter=10)),
    ("beale", dict(line_search_fn="strong_wolfe", history_size=5)),
]


@pytest.mark.parametrize(("surface_name", "kwargs"), CASES)
def test_steps_and_evaluations_match_torchs_algorithm(surface_name, kwargs):
    surface = SURFACES[surface_name]()
    points, evals, visited = ref_run(surface, surface.start, 8, **kwargs)
    path = descend(lbfgs(**kwargs), surface, surface.start, 8)
    assert path.diverged_at is None
    # The same operations in the same order (ro = 1/ys kept, as torch): equal bit for bit.
    np.testing.assert_array_equal(path.points, points)
    np.testing.assert_array_equal(path.evaluations, evals)
    np.testing.assert_array_equal(path.visited, visited)


def test_strong_wolfe_solves_rosenbrock_in_a_handful_of_steps():
    surface = SURFACES["rosenbrock"]()
    path = descend(make("lbfgs", line_search_fn="strong_wolfe"), surface, (-1.5, 2.5), 5)
    np.testing.assert_allclose(path.points[-1], [1.0, 1.0], atol=1e-4)
    # Each step counts every evaluation of f inside it: far more than one per step.
    assert path.evaluations[1] > 5 and len(path.visited) == path.evaluations[-1]


def test_first_iterate_is_a_gradient_step_scaled_by_the_gradients_l1_norm():
    # torch's first step length is min(1, 1/|g|_1)·lr along -g. At (-1.5, 2.5) on Rosenbrock
    # g = (-2(1 - x) - 400x(y - x²), 200(y - x²)) = (145, 50), |g|_1 = 195.
    surface = SURFACES["rosenbrock"]()
    path = descend(lbfgs(max_iter=1), surface, (-1.5, 2.5), 1)
    np.testing.assert_allclose(path.points[1], [-1.5 - 145 / 195, 2.5 - 50 / 195], rtol=1e-14)
    assert path.evaluations.tolist() == [0, 1]  # max_iter = 1: no evaluation after the move


def test_a_quadratic_is_solved_in_one_step():
    # With exact curvature pairs, L-BFGS with a line search solves a 2-D quadratic in a few
    # iterations of the first step.
    surface = SURFACES["quadratic_bowl"]()
    opt = lbfgs(line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)
    path = descend(opt, surface, surface.start, 1)
    np.testing.assert_allclose(path.points[1], surface.minima[0], atol=1e-9)


def test_max_eval_bounds_the_evaluations_of_a_step_without_line_search():
    surface = SURFACES["rosenbrock"]()
    path = descend(lbfgs(lr=0.01, max_iter=50, max_eval=7), surface, surface.start, 4)
    assert np.all(np.diff(path.evaluations) == 7)


def test_race_and_lr_search_run_each_run_as_its_own_descent():
    surface = SURFACES["rosenbrock"]()
    starts = np.array([[-1.5, 2.5], [0.0, 0.0]])
    opt = lbfgs(line_search_fn="strong_wolfe")
    (raced,) = race([make("adam", lr=0.1), opt][1:], surface, starts, 3)
    for r, start in enumerate(starts):
        alone = descend(opt, surface, start, 3)
        np.testing.assert_array_equal(raced.path(r).points, alone.points)
        np.testing.assert_array_equal(raced.path(r).evaluations, alone.evaluations)
    mixed = race([make("adam", lr=0.1), opt], surface, starts, 3)
    assert mixed[0].evaluations is None and mixed[1].evaluations is not None
    (search,) = best_learning_rate([lambda lr: lbfgs(lr=lr)], surface, starts[0], 3, [0.1, 1.0])
    for lr, final in zip([0.1, 1.0], search.final_losses, strict=True):
        assert final == descend(lbfgs(lr=lr), surface, starts[0], 3).losses[-1]


def test_the_registry_entry_builds_a_closure_optimizer_for_the_surfaces_page_only():
    entry = OPTIMIZER_ENTRIES["lbfgs"]
    assert entry.closure and entry.pages == ("optimizers",)
    assert isinstance(make("lbfgs", **entry.defaults()), ClosureOptimizer)
    with pytest.raises(ValueError, match="line_search_fn"):
        lbfgs(line_search_fn="backtracking")
