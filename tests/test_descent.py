"""Descent paths: shapes, closed forms, divergence reporting, race == separate runs, lr search, maps."""

import numpy as np
import pytest

from core.descent import (
    LR_GRID,
    MAX_ABS_PARAM,
    MAX_LOSS,
    best_learning_rate,
    convergence_map,
    descend,
    race,
)
from core.expressions import compile_expression
from core.optimizers import OPTIMIZERS
from core.surfaces import SURFACES, surface_from_expression


def rosenbrock_python(x, y):
    """Published Rosenbrock (a=1, b=100) and its gradient with Python floats: a reference."""
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, (
        -2 * (1 - x) - 400 * x * (y - x * x),
        200 * (y - x * x),
    )


@pytest.mark.parametrize("name", list(SURFACES))
def test_path_shapes_and_records(name):
    surface = SURFACES[name]()
    path = descend(OPTIMIZERS["adam"](lr=0.01), surface, surface.start, 50)
    assert path.points.shape == (51, 2) and path.losses.shape == (51,)
    assert path.grads.shape == (50, 2) and path.updates.shape == (50, 2)
    assert path.diverged_at is None
    np.testing.assert_array_equal(path.points[0], surface.start)
    # allclose, not equal: NumPy may round transcendental functions differently for one point
    # and for an array (SIMD paths)
    np.testing.assert_allclose(path.losses, surface.f(path.points), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(path.grads, surface.grad(path.points[:-1]), rtol=1e-14, atol=1e-300)
    np.testing.assert_array_equal(path.updates, np.diff(path.points, axis=0))


def test_zero_steps_is_just_the_start():
    s = SURFACES["booth"]()
    path = descend(OPTIMIZERS["sgd"](lr=0.1), s, s.start, 0)
    assert path.points.shape == (1, 2) and path.grads.shape == (0, 2)
    assert race([OPTIMIZERS["sgd"](lr=0.1)], s, s.start, 0)[0].points.shape == (1, 1, 2)


def test_sgd_on_the_bowl_follows_the_closed_form():
    kappa, lr, steps = 10.0, 0.05, 100
    s = SURFACES["quadratic_bowl"](condition_number=kappa)
    path = descend(OPTIMIZERS["sgd"](lr=lr), s, s.start, steps)
    t = np.arange(steps + 1)
    x0, y0 = s.start
    expected = np.stack([x0 * (1 - lr) ** t, y0 * (1 - lr * kappa) ** t], axis=-1)
    np.testing.assert_allclose(path.points, expected, rtol=1e-12, atol=1e-300)


def test_sgd_lr_1_on_rosenbrock_stops_at_the_first_bad_point():
    s = SURFACES["rosenbrock"]()
    path = descend(OPTIMIZERS["sgd"](lr=1.0), s, s.start, 100)
    # reference: the same iteration with Python floats, stopped by the documented rule
    x, y = s.start
    expected = [(x, y)]
    while True:
        _, (gx, gy) = rosenbrock_python(x, y)
        x, y = x - gx, y - gy
        f, _ = rosenbrock_python(x, y)
        if max(abs(x), abs(y)) > MAX_ABS_PARAM or not f <= MAX_LOSS:
            break
        expected.append((x, y))
    d = len(expected)
    assert path.diverged_at == d == 2
    np.testing.assert_allclose(path.points[:d], expected, rtol=1e-14)
    assert np.isnan(path.points[d:]).all() and np.isnan(path.losses[d:]).all()
    assert np.isfinite(path.grads[:d]).all() and np.isnan(path.grads[d:]).all()
    assert np.isfinite(path.updates[: d - 1]).all() and np.isnan(path.updates[d - 1 :]).all()


def test_too_large_lr_on_the_bowl_diverges_when_the_closed_form_says():
    kappa, lr = 10.0, 0.25  # |1 - lr·κ| = 1.5 > 1: y grows by 1.5 per step
    s = SURFACES["quadratic_bowl"](condition_number=kappa)
    path = descend(OPTIMIZERS["sgd"](lr=lr), s, s.start, 200)
    t = np.arange(201)
    x, y = s.start[0] * (1 - lr) ** t, s.start[1] * (1 - lr * kappa) ** t
    f = 0.5 * (x**2 + kappa * y**2)
    bad = (np.maximum(abs(x), abs(y)) > MAX_ABS_PARAM) | (f > MAX_LOSS)
    assert path.diverged_at == int(np.argmax(bad)) > 10


def test_nan_from_an_undefined_formula_is_divergence():
    s = surface_from_expression(compile_expression("sqrt(x) + y**2"), start=(1.0, 1.0))
    # x1 = 1 - 3 · 1/(2·sqrt(1)) = -0.5, where sqrt is undefined
    path = descend(OPTIMIZERS["sgd"](lr=3.0), s, s.start, 10)
    assert path.diverged_at == 1
    assert np.isnan(path.points[1:]).all()


def test_a_start_outside_the_bounds_diverges_at_zero():
    s = SURFACES["booth"]()
    path = descend(OPTIMIZERS["sgd"](lr=0.1), s, (2 * MAX_ABS_PARAM, 0.0), 5)
    assert path.diverged_at == 0 and np.isnan(path.points).all()


def assert_same_path(a, b, steps: int):
    """A raced path equals the separately descended one to the rounding their code paths allow.

    Both do the same arithmetic in the same order, but a fused family raises its per-run arrays of
    β to the power t with np.power, which runs SIMD loops on some CPUs (AVX-512's differ from
    libm's pow by an ulp), where a separate run uses Python's pow. In 1 − β₂ᵗ that ulp grows by up
    to β₂ᵗ/(1 − β₂ᵗ) < 1/(1 − β₂) (1,000 for the largest β₂ here), and such differences can add
    up over every step. Each array is compared relative to its largest entry, since updates and
    gradients near a minimum are differences of nearly equal numbers.
    """
    assert a.diverged_at == b.diverged_at
    rtol = steps * np.finfo(float).eps / (1 - 0.999)
    for u, v in zip(a[:4], b[:4], strict=True):
        scale = np.nanmax(np.abs(v), initial=0.0)
        np.testing.assert_allclose(u, v, rtol=rtol, atol=rtol * scale, equal_nan=True)


@pytest.mark.parametrize(
    ("surface_name", "sgd_lr_1_diverges"), [("rosenbrock", True), ("ackley", False)]
)
def test_race_equals_separate_descend_calls(surface_name, sgd_lr_1_diverges):
    s = SURFACES[surface_name]()
    makers = [lambda f=f: f(lr=0.002) for f in OPTIMIZERS.values()]
    makers.append(lambda: OPTIMIZERS["sgd"](lr=1.0))  # one that diverges
    starts = np.array([s.start, (0.5, -0.5), (1.2, 1.1)])
    results = race([make() for make in makers], s, starts, 300)
    assert len(results) == len(makers)
    assert any(r.diverged_at.max() >= 0 for r in results) == sgd_lr_1_diverges
    for make, r in zip(makers, results, strict=True):
        assert r.points.shape == (301, 3, 2) and r.diverged_at.shape == (3,)
        for run in range(3):
            assert_same_path(r.path(run), descend(make(), s, starts[run], 300), 300)


def test_race_with_an_lr_column_equals_one_descend_per_lr():
    s = SURFACES["rosenbrock"]()
    lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    (r,) = race([OPTIMIZERS["adam"](lr=lrs[:, None])], s, np.tile(s.start, (5, 1)), 200)
    for i, lr in enumerate(lrs):
        assert_same_path(r.path(i), descend(OPTIMIZERS["adam"](lr=lr), s, s.start, 200), 200)


def test_race_rejects_badly_shaped_starts():
    s = SURFACES["booth"]()
    with pytest.raises(ValueError, match="starts"):
        race([OPTIMIZERS["sgd"]()], s, np.zeros((2, 3)), 5)


def test_best_learning_rate_on_the_bowl_matches_the_closed_form():
    kappa, steps = 10.0, 30
    s = SURFACES["quadratic_bowl"](condition_number=kappa)
    lrs = np.logspace(-3, 0, 16)
    (search,) = best_learning_rate([lambda lr: OPTIMIZERS["sgd"](lr=lr)], s, s.start, steps, lrs)
    x0, y0 = s.start
    x = x0 * (1 - lrs[:, None]) ** np.arange(steps + 1)
    y = y0 * (1 - kappa * lrs[:, None]) ** np.arange(steps + 1)
    f = 0.5 * (x**2 + kappa * y**2)
    diverged = ((np.maximum(abs(x), abs(y)) > MAX_ABS_PARAM) | (f > MAX_LOSS)).any(axis=1)
    np.testing.assert_array_equal(search.diverged_at >= 0, diverged)
    assert diverged.any() and not diverged.all()
    final = np.where(diverged, np.inf, f[:, -1])
    assert search.best_index == int(np.argmin(final))
    assert search.best_lr == lrs[search.best_index]
    np.testing.assert_allclose(search.final_losses[~diverged], f[~diverged, -1], rtol=1e-10)
    assert np.isnan(search.final_losses[diverged]).all()
    np.testing.assert_array_equal(search.lrs, lrs)
    assert search.steps == steps and "final loss" in search.criterion


def test_best_learning_rate_searches_every_optimizer_and_reports_all_diverged():
    s = SURFACES["rosenbrock"]()
    makers = [lambda lr, f=f: f(lr=lr) for f in OPTIMIZERS.values()]
    searches = best_learning_rate(makers, s, s.start, 100, lrs=LR_GRID[::3])
    assert len(searches) == len(OPTIMIZERS)
    for search in searches:
        assert search.best_lr is not None
        best = search.final_losses[search.best_index]
        assert best == np.nanmin(search.final_losses) and best < s.f(np.array(s.start))
    (hopeless,) = best_learning_rate(
        [lambda lr: OPTIMIZERS["sgd"](lr=lr)], s, s.start, 20, lrs=[10.0, 100.0]
    )
    assert hopeless.best_lr is None and hopeless.best_index is None
    assert (hopeless.diverged_at >= 0).all()


def first_reach(path, f_min, eps):
    hit = np.flatnonzero(path.losses - f_min < eps)
    return (
        int(hit[0]) if hit.size and (path.diverged_at is None or hit[0] < path.diverged_at) else -1
    )


def test_convergence_map_equals_per_cell_descents():
    s = SURFACES["rosenbrock"]()
    lrs, momenta, steps, eps = (
        np.array([1e-4, 5e-4, 2e-3, 3e-3]),
        np.array([0.0, 0.5, 0.9]),
        400,
        1e-2,
    )
    m = convergence_map(s, lrs, momenta, steps, eps)
    assert m.steps_to_reach.shape == m.diverged_at.shape == (3, 4)
    for i, mom in enumerate(momenta):
        for j, lr in enumerate(lrs):
            path = descend(OPTIMIZERS["sgd"](lr=lr, momentum=mom), s, s.start, steps)
            reach = first_reach(path, 0.0, eps)
            assert m.steps_to_reach[i, j] == reach
            if reach < 0:
                assert m.diverged_at[i, j] == (-1 if path.diverged_at is None else path.diverged_at)
    assert (m.steps_to_reach >= 0).any() and (m.steps_to_reach < 0).any()


def test_convergence_map_sanity_on_the_bowl():
    s = SURFACES["quadratic_bowl"](condition_number=10.0)
    m = convergence_map(s, lrs=[1e-6, 0.05, 1.0], momenta=[0.0, 0.5], steps=300, eps=1e-6)
    tiny, fine, huge = m.steps_to_reach.T
    assert (tiny == -1).all() and (m.diverged_at[:, 0] == -1).all()  # too slow, but stable
    assert (fine > 0).all()
    assert (huge == -1).all() and (m.diverged_at[:, 2] > 0).all()  # |1 - lr·κ| = 9
    assert m.eps == 1e-6 and m.steps == 300 and m.criterion == "loss"


def test_convergence_map_distance_criterion_and_bad_arguments():
    s = SURFACES["himmelblau"]()
    m = convergence_map(s, [0.01], [0.5], 500, eps=1e-3, criterion="distance")
    path = descend(OPTIMIZERS["sgd"](lr=0.01, momentum=0.5), s, s.start, 500)
    distance = np.min([np.hypot(*(path.points - np.array(point)).T) for point in s.minima], axis=0)
    assert m.steps_to_reach[0, 0] == int(np.flatnonzero(distance < 1e-3)[0])
    with pytest.raises(ValueError, match="minimum"):
        convergence_map(SURFACES["saddle"](), [0.1], [0.0], 10)
    with pytest.raises(ValueError, match="criterion"):
        convergence_map(s, [0.1], [0.0], 10, criterion="gradient")


# Members of one family with different settings, so the fused update carries per-run arrays:
# SGD with and without momentum, damped, decayed; Adam and AdamW; a schedule
# (never fused) and a second AMSGrad family.
FAMILY_MAKERS = [
    lambda: OPTIMIZERS["sgd"](lr=0.001),
    lambda: OPTIMIZERS["momentum"](lr=0.0005, dampening=0.3),
    lambda: OPTIMIZERS["sgd"](lr=0.0007, momentum=0.5, weight_decay=0.01),
    lambda: OPTIMIZERS["nesterov"](lr=0.0005),
    lambda: OPTIMIZERS["nesterov"](lr=0.0002, momentum=0.7),
    lambda: OPTIMIZERS["adam"](lr=0.02, betas=(0.8, 0.99), weight_decay=0.01),
    lambda: OPTIMIZERS["adamw"](lr=0.03),
    lambda: OPTIMIZERS["adam"](lr=0.01, amsgrad=True),
    lambda: OPTIMIZERS["adamw"](lr=0.01, amsgrad=True, weight_decay=0.1),
    lambda: OPTIMIZERS["rmsprop"](lr=0.01, momentum=0.5),
    lambda: OPTIMIZERS["rmsprop"](lr=0.003, alpha=0.9, momentum=0.2),
    lambda: OPTIMIZERS["nadam"](lr=0.01, momentum_decay=0.01),
    lambda: OPTIMIZERS["nadam"](lr=0.02),
    lambda: OPTIMIZERS["adam"](lr=lambda t: 0.02 / (1 + t)),
    lambda: OPTIMIZERS["adagrad"](lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
]


@pytest.mark.parametrize("surface_name", ["rosenbrock", "himmelblau"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared_update", "per_factory"])
def test_fused_families_equal_per_optimizer_descend(surface_name, shared, monkeypatch):
    import core.descent
    from core.descent import _families

    if not shared:  # no room for the shared update's tables: fusion by factory only
        monkeypatch.setattr(core.descent, "MAX_SHARED_TABLE", 0)
    s = SURFACES[surface_name]()
    starts = np.array([s.start, (0.5, -0.5)])
    optimizers = [make() for make in FAMILY_MAKERS]
    families = _families(optimizers, len(starts), 400)
    if shared:  # 3 sgd, 2 nesterov, adam, adamw, 2 nadam, adagrad; 2 amsgrad, 2 rmsprop; schedule
        assert sorted(len(m) for _, m in families) == [1, 2, 2, 10]
    else:  # sgd+momentum+decayed sgd, 2 nesterov, adam+adamw, 2 amsgrad, 2 rmsprop, 2 nadam
        assert sorted(len(m) for _, m in families) == [1, 1, 2, 2, 2, 2, 2, 3]
    results = race(optimizers, s, starts, 400)
    for make, r in zip(FAMILY_MAKERS, results, strict=True):
        assert r.state.step == 400
        for run in range(len(starts)):
            assert_same_path(r.path(run), descend(make(), s, starts[run], 400), 400)


def test_fused_race_returns_each_members_own_state():
    s = SURFACES["booth"]()
    optimizers = [OPTIMIZERS["adam"](lr=0.1), OPTIMIZERS["adamw"](lr=0.05)]
    fused = race(optimizers, s, s.start, 20)
    for opt, r in zip(optimizers, fused, strict=True):
        (alone,) = race([opt], s, s.start, 20)  # a family of one is not fused
        for x, y in zip(r.state, alone.state, strict=True):
            np.testing.assert_array_equal(x, y)


def test_fused_lr_columns_equal_one_descend_per_lr():
    s = SURFACES["rosenbrock"]()
    lrs = np.array([1e-3, 1e-2, 0.3])
    makers = [OPTIMIZERS["adam"], OPTIMIZERS["adamw"], OPTIMIZERS["sgd"], OPTIMIZERS["momentum"]]
    results = race([f(lr=lrs[:, None]) for f in makers], s, np.tile(s.start, (3, 1)), 300)
    for f, r in zip(makers, results, strict=True):
        for i, lr in enumerate(lrs):
            assert_same_path(r.path(i), descend(f(lr=float(lr)), s, s.start, 300), 300)


# RMSprop (plain), Adadelta and Adamax join the shared update; their rows of the special kinds
# ("max", "adadelta") are interleaved with others here, so _families must sort them into blocks.
# Some runs diverge: at step 1 (rmsprop lr 1e5, adamax lr 1e4) and mid-path (adadelta lr 1e3
# from (0.5, -0.5) at step 153 on Rosenbrock).
SHARED_KIND_MAKERS = [
    lambda: OPTIMIZERS["adamax"](lr=0.05),
    lambda: OPTIMIZERS["sgd"](lr=0.001),
    lambda: OPTIMIZERS["adadelta"](lr=1.0),
    lambda: OPTIMIZERS["rmsprop"](lr=0.01),
    lambda: OPTIMIZERS["adamax"](lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
    lambda: OPTIMIZERS["adam"](lr=0.05),
    lambda: OPTIMIZERS["adadelta"](lr=1e3, rho=0.8, eps=1e-5, weight_decay=0.01),
    lambda: OPTIMIZERS["rmsprop"](lr=0.003, alpha=0.9, eps=1e-6, weight_decay=0.01),
    lambda: OPTIMIZERS["nadam"](lr=0.02),
    lambda: OPTIMIZERS["rmsprop"](lr=1e5),
    lambda: OPTIMIZERS["adamax"](lr=1e4),
    lambda: OPTIMIZERS["adagrad"](lr=0.1),
    lambda: OPTIMIZERS["adadelta"](lr=1e3),
]


@pytest.mark.parametrize("surface_name", ["rosenbrock", "himmelblau"])
def test_rmsprop_adadelta_adamax_share_one_update_equal_to_descend(surface_name):
    from core.descent import _families

    s = SURFACES[surface_name]()
    starts = np.array([s.start, (0.5, -0.5)])
    optimizers = [make() for make in SHARED_KIND_MAKERS]
    families = _families(optimizers, len(starts), 400)
    assert [sorted(m) for _, m in families] == [list(range(len(optimizers)))]
    results = race(optimizers, s, starts, 400)
    diverged = [int(d) for r in results for d in r.diverged_at if d >= 0]
    assert 1 in diverged and (surface_name != "rosenbrock" or any(d > 1 for d in diverged))
    for make, r in zip(SHARED_KIND_MAKERS, results, strict=True):
        assert r.state.step == 400 and type(r.state) is type(make().init(s.start))
        for run in range(len(starts)):
            assert_same_path(r.path(run), descend(make(), s, starts[run], 400), 400)


def test_shared_kinds_return_their_own_state_and_lr_columns():
    s = SURFACES["rosenbrock"]()
    lrs = np.array([1e-3, 1e-1, 10.0])
    makers = [OPTIMIZERS["adadelta"], OPTIMIZERS["adamax"], OPTIMIZERS["rmsprop"]]
    results = race([f(lr=lrs[:, None]) for f in makers], s, np.tile(s.start, (3, 1)), 200)
    for f, r in zip(makers, results, strict=True):
        for i, lr in enumerate(lrs):
            opt = f(lr=float(lr))
            assert_same_path(r.path(i), descend(opt, s, s.start, 200), 200)
            if r.diverged_at[i] < 0:  # the state equals the one of 200 plain updates
                p, state = np.asarray(s.start, dtype=float), opt.init(np.asarray(s.start))
                for _ in range(200):
                    p, state = opt.update(p, s.grad(p), state)
                assert r.state.step == state.step == 200
                for x, y in zip(r.state[1:], state[1:], strict=True):
                    if x is None or y is None:
                        assert x is None and y is None
                    else:
                        np.testing.assert_allclose(np.asarray(x)[i], y, rtol=1e-12)


def test_a_whole_array_optimizer_races_each_run_as_its_own_point():
    # Adafactor scales its step by the RMS of the whole array: stacked as rows of one (R, 2)
    # array, the runs would share one RMS. The race and an lr search must equal lone descents.
    surface = SURFACES["rosenbrock"]()
    starts = np.array([[-1.5, 2.5], [0.5, -0.5], [1.5, 1.5]])
    opt = OPTIMIZERS["adafactor"](lr=0.05)
    (raced,) = race([opt], surface, starts, 40)
    for r, start in enumerate(starts):
        np.testing.assert_array_equal(raced.points[:, r], descend(opt, surface, start, 40).points)
    lrs = np.array([0.01, 0.1])
    (search,) = best_learning_rate(
        [lambda lr: OPTIMIZERS["adafactor"](lr=lr)], surface, starts[0], 30, lrs
    )
    for lr, final in zip(lrs, search.final_losses, strict=True):
        alone = descend(OPTIMIZERS["adafactor"](lr=float(lr)), surface, starts[0], 30)
        assert final == alone.losses[-1]
