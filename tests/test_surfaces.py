"""Surfaces: gradients vs central differences, known minima from the literature, vectorization."""

import numpy as np
import pytest

from core.expressions import ExpressionError, compile_expression
from core.surfaces import SURFACES, Surface, surface_from_expression

# Global minima as published (Jamil & Yang 2013, "A literature survey of benchmark functions for
# global optimization"; Himmelblau 1972), at the precision the literature gives them.
LITERATURE_MINIMA = {
    "rosenbrock": ([(1.0, 1.0)], 0.0),
    "beale": ([(3.0, 0.5)], 0.0),
    "himmelblau": (
        [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)],
        0.0,
    ),
    "booth": ([(1.0, 3.0)], 0.0),
    "saddle": ([], None),
    "quadratic_bowl": ([(0.0, 0.0)], 0.0),
    "rastrigin": ([(0.0, 0.0)], 0.0),
    "ackley": ([(0.0, 0.0)], 0.0),
    "six_hump_camel": ([(0.0898, -0.7126), (-0.0898, 0.7126)], -1.0316),
}

# f at one ordinary point, computed by hand from each published formula.
HAND_VALUES = {
    "rosenbrock": ((-1.5, 2.5), 2.5**2 + 100 * 0.25**2),
    "beale": ((0.0, 0.0), 1.5**2 + 2.25**2 + 2.625**2),
    "himmelblau": ((0.0, 0.0), 121.0 + 49.0),
    "booth": ((0.0, 0.0), 49.0 + 25.0),
    "saddle": ((1.0, 2.0), -3.0),
    "quadratic_bowl": ((1.0, 1.0), 0.5 * (1 + 10)),
    "rastrigin": ((0.5, 0.5), 20 + 2 * (0.25 + 10)),
    "ackley": ((1.0, 1.0), 20 * (1 - np.exp(-0.2))),  # both cosines are 1 at integers
    "six_hump_camel": ((1.0, 1.0), 4 - 2.1 + 1 / 3 + 1),
}


def test_registry_matches_literature_table():
    assert set(SURFACES) == set(LITERATURE_MINIMA) == set(HAND_VALUES)


@pytest.fixture(params=list(SURFACES))
def surface(request) -> Surface:
    return SURFACES[request.param]()


def random_points(rng, surface, n=200):
    (x0, x1), (y0, y1) = surface.bounds
    return np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=-1)


def central_difference(f, p, h=1e-6):
    e = np.eye(2) * h
    return np.stack([(f(p + e[i]) - f(p - e[i])) / (2 * h) for i in range(2)], axis=-1)


def test_grad_matches_central_differences(surface, rng):
    p = random_points(rng, surface)
    numeric = central_difference(surface.f, p)
    scale = 1 + np.abs(numeric)
    np.testing.assert_array_less(np.abs(surface.grad(p) - numeric) / scale, 1e-6)


def test_known_value_at_an_ordinary_point(surface):
    point, value = HAND_VALUES[surface.name]
    assert surface.f(np.array(point)) == pytest.approx(value, rel=1e-12)


def test_minima_match_the_literature(surface):
    published, f_min = LITERATURE_MINIMA[surface.name]
    assert len(surface.minima) == len(published)
    if f_min is None:
        assert surface.f_min is None
        return
    digits = 4 if surface.name == "six_hump_camel" else 12
    assert round(surface.f_min, digits) == pytest.approx(f_min, abs=10.0**-digits)
    for point in published:
        distances = [np.hypot(point[0] - m[0], point[1] - m[1]) for m in surface.minima]
        assert min(distances) < 1e-4  # the literature gives 4-6 digits


def test_f_and_grad_at_each_minimum(surface):
    for m in surface.minima:
        p = np.array(m)
        assert surface.f(p) == pytest.approx(surface.f_min, abs=1e-12)
        np.testing.assert_allclose(surface.grad(p), 0.0, atol=1e-9)
        # and it is a minimum: every nearby point is higher
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = p + 1e-3 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        assert np.all(surface.f(ring) > surface.f(p))


def test_start_and_minima_inside_bounds(surface):
    (x0, x1), (y0, y1) = surface.bounds
    for x, y in [surface.start, *surface.minima]:
        assert x0 <= x <= x1 and y0 <= y <= y1


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
def test_vectorized_over_leading_shapes(surface, rng, shape):
    p = random_points(rng, surface, n=int(np.prod(shape))).reshape((*shape, 2))
    values, grads = surface.f(p), surface.grad(p)
    assert values.shape == shape and grads.shape == (*shape, 2)
    flat = p.reshape(-1, 2)
    one_by_one = np.array([surface.f(q) for q in flat]).reshape(shape)
    np.testing.assert_allclose(values, one_by_one, rtol=1e-14)
    np.testing.assert_allclose(
        grads, np.array([surface.grad(q) for q in flat]).reshape(grads.shape)
    )


def test_grad_is_a_fresh_float_array_equal_to_stacked_partials(surface, rng):
    # grad writes both partials into one new array (no np.stack); it must own its memory,
    # hold float64 even for integer points, and agree with the partials evaluated one by one.
    p = random_points(rng, surface, n=6).reshape(3, 2, 2)
    g = surface.grad(p)
    assert g.dtype == np.float64 and g.flags.owndata and not np.shares_memory(g, p)
    for idx in np.ndindex(3, 2):
        np.testing.assert_allclose(g[idx], surface.grad(p[idx]), rtol=1e-14)
    assert surface.grad(np.array([1, 1])).dtype == np.float64


def test_points_need_two_coordinates(surface):
    with pytest.raises(ValueError, match=r"p\.shape"):
        surface.f(np.zeros(3))


def test_rosenbrock_parameters_move_the_minimum():
    s = SURFACES["rosenbrock"](a=2.0, b=10.0)
    assert s.minima == ((2.0, 4.0),)
    assert s.f(np.array([2.0, 4.0])) == 0.0
    np.testing.assert_array_equal(s.grad(np.array([2.0, 4.0])), [0.0, 0.0])


def test_quadratic_bowl_condition_number_is_the_hessian_ratio():
    s = SURFACES["quadratic_bowl"](condition_number=50.0)
    hessian = np.stack([central_difference(s.grad, np.array([0.3, -0.2]))[i] for i in range(2)])
    eig = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    assert eig.max() / eig.min() == pytest.approx(50.0, rel=1e-6)
    with pytest.raises(ValueError, match="condition_number"):
        SURFACES["quadratic_bowl"](condition_number=0.0)


def test_surface_from_expression_matches_builtin_rosenbrock(rng):
    typed = surface_from_expression(compile_expression("(1 - x)**2 + 100*(y - x**2)**2"))
    builtin = SURFACES["rosenbrock"]()
    p = random_points(rng, builtin).reshape(10, 20, 2)
    np.testing.assert_allclose(typed.f(p), builtin.f(p), rtol=1e-12)
    np.testing.assert_allclose(typed.grad(p), builtin.grad(p), rtol=1e-12, atol=1e-9)
    assert typed.minima == () and typed.f_min is None


def test_surface_from_expression_undefined_points_are_nan_not_errors():
    s = surface_from_expression(compile_expression("log(x) + y"))
    values = s.f(np.array([[-1.0, 0.0], [1.0, 2.0]]))
    assert np.isnan(values[0]) and values[1] == 2.0
    assert s.grad(np.array([1.0, 0.0])).shape == (2,)


def test_surface_from_expression_needs_x_and_y():
    with pytest.raises(ValueError, match="variables"):
        surface_from_expression(compile_expression("epoch", variables=("epoch",)))


def test_surface_from_expression_without_gradient_is_refused():
    c = compile_expression("x + y")
    with pytest.raises(ExpressionError) as err:
        surface_from_expression(c._replace(grad=None))
    assert err.value.code == "not_differentiable"
