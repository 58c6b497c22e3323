"""Two-dimensional loss surfaces for watching optimizers descend.

Every factory returns a ``Surface`` record. ``f(p)`` and ``grad(p)`` take points of shape
``(..., 2)`` (the last axis is ``(x, y)``) and return shapes ``(...)`` and ``(..., 2)``; they are
pure NumPy and mutate nothing. ``minima`` lists the global minima (empty if there is none),
``f_min`` is the value there (``None`` if unbounded or unknown), ``bounds`` is the plotting box
``((x_lo, x_hi), (y_lo, y_hi))``, and ``log_scale`` says the contour levels read best spaced
logarithmically in ``f - f_min``. Factories take the usual parameter names of the literature and
their defaults give the classic form.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # importing core.expressions loads sympy (~1 s); only typed formulas need it
    from core.expressions import CompiledExpression


class Surface(NamedTuple):
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    bounds: tuple[tuple[float, float], tuple[float, float]]
    log_scale: bool
    f_min: float | None = None
    name: str = ""


def _xy(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    if p.shape[-1:] != (2,):
        raise ValueError(f"points need a last axis of length 2, got {p.shape=}")
    return p[..., 0], p[..., 1]


def _stack(gx, gy) -> np.ndarray:
    """``_stack(gx, gy)`` for same-shape float arrays, without its ~6 us overhead."""
    # A race calls grad once per step on a few points, where np.stack's checks cost as much as
    # the whole gradient; copying into one preallocated array gives the identical numbers.
    out = np.empty((*np.shape(gx), 2))
    out[..., 0] = gx
    out[..., 1] = gy
    return out


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """Rosenbrock's banana valley ``(a - x)² + b (y - x²)²``, minimum 0 at ``(a, a²)``."""

    def f(p):
        x, y = _xy(p)
        return (a - x) ** 2 + b * (y - x**2) ** 2

    # The race calls grad once per step on a few points, so it is written for per-call cost:
    # 0-d array constants (NumPy converts a Python float operand on every call) and results
    # written into the output's columns. Same operations, same order: -2(a - x) - (4b·x)·r, 2b·r.
    a_, minus_2, b_4, b_2 = (np.array(v, dtype=float) for v in (a, -2.0, 4 * b, 2 * b))

    def grad(p):
        x, y = _xy(p)
        if x.ndim == 0:  # a single point: ufuncs would return scalars, which have no out=
            return grad(np.reshape(p, (1, 2)))[0]
        out = np.empty((*x.shape, 2))
        gx, gy = out[..., 0], out[..., 1]
        r = np.multiply(x, x)  # NumPy's x**2 is this product
        np.subtract(y, r, out=r)
        np.subtract(a_, x, out=gx)
        np.multiply(minus_2, gx, out=gx)
        bx = np.multiply(b_4, x)
        bx *= r
        gx -= bx
        np.multiply(b_2, r, out=gy)
        return out

    return Surface(
        f, grad, (-1.5, 2.5), ((a, a**2),), ((-2.0, 2.0), (-1.0, 3.0)), True, 0.0, "rosenbrock"
    )


def beale() -> Surface:
    """Beale's function, minimum 0 at ``(3, 0.5)`` with flat plateaus and steep walls."""
    c = (1.5, 2.25, 2.625)

    def f(p):
        x, y = _xy(p)
        return sum((ci - x + x * y ** (i + 1)) ** 2 for i, ci in enumerate(c))

    def grad(p):
        x, y = _xy(p)
        gx = np.zeros_like(x)
        gy = np.zeros_like(y)
        for i, ci in enumerate(c):
            k = i + 1
            r = ci - x + x * y**k
            gx = gx + 2 * r * (y**k - 1)
            gy = gy + 2 * r * k * x * y ** (k - 1)
        return _stack(gx, gy)

    return Surface(
        f, grad, (1.0, 1.5), ((3.0, 0.5),), ((-4.5, 4.5), (-4.5, 4.5)), True, 0.0, "beale"
    )


# Refined with sympy.nsolve at 30 digits from the literature's 6-digit values, so the gradient
# there is zero to machine precision.
_HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.2831859912861696),
    (3.5844283403304917, -1.8481265269644036),
)


def himmelblau() -> Surface:
    """Himmelblau's ``(x² + y - 11)² + (x + y² - 7)²`` with four minima of value 0."""

    def f(p):
        x, y = _xy(p)
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    def grad(p):
        x, y = _xy(p)
        u = x**2 + y - 11
        v = x + y**2 - 7
        return _stack(4 * x * u + 2 * v, 2 * u + 4 * y * v)

    return Surface(
        f, grad, (0.0, 0.0), _HIMMELBLAU_MINIMA, ((-5.0, 5.0), (-5.0, 5.0)), True, 0.0, "himmelblau"
    )


def booth() -> Surface:
    """Booth's quadratic ``(x + 2y - 7)² + (2x + y - 5)²``, minimum 0 at ``(1, 3)``."""

    def f(p):
        x, y = _xy(p)
        return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2

    def grad(p):
        x, y = _xy(p)
        u = x + 2 * y - 7
        v = 2 * x + y - 5
        return _stack(2 * u + 4 * v, 4 * u + 2 * v)

    return Surface(
        f, grad, (-8.0, -6.0), ((1.0, 3.0),), ((-10.0, 10.0), (-10.0, 10.0)), False, 0.0, "booth"
    )


def saddle() -> Surface:
    """The saddle ``x² - y²``: unbounded below, so no minimum; start just off the ridge."""

    def f(p):
        x, y = _xy(p)
        return x**2 - y**2

    def grad(p):
        x, y = _xy(p)
        return _stack(2 * x, -2 * y)

    # y0 slightly off 0: exactly on the ridge every gradient method would stall at the saddle.
    return Surface(f, grad, (1.5, 1e-3), (), ((-2.0, 2.0), (-2.0, 2.0)), False, None, "saddle")


def quadratic_bowl(condition_number: float = 10.0) -> Surface:
    """Ill-conditioned bowl ``0.5 (x² + κ y²)``; κ = ``condition_number`` is the Hessian's."""
    if condition_number <= 0:
        raise ValueError(f"need a positive condition number, got {condition_number=}")
    k = float(condition_number)

    def f(p):
        x, y = _xy(p)
        return 0.5 * (x**2 + k * y**2)

    def grad(p):
        x, y = _xy(p)
        return _stack(x, k * y)

    return Surface(
        f,
        grad,
        (-1.8, 1.0),
        ((0.0, 0.0),),
        ((-2.0, 2.0), (-2.0, 2.0)),
        False,
        0.0,
        "quadratic_bowl",
    )


def rastrigin(A: float = 10.0) -> Surface:
    """Rastrigin's ``2A + Σ (xᵢ² - A cos 2πxᵢ)``: a bowl full of local minima, global 0 at 0."""

    def f(p):
        x, y = _xy(p)
        return 2 * A + (x**2 - A * np.cos(2 * np.pi * x)) + (y**2 - A * np.cos(2 * np.pi * y))

    def grad(p):
        x, y = _xy(p)
        return _stack(
            2 * x + 2 * np.pi * A * np.sin(2 * np.pi * x),
            2 * y + 2 * np.pi * A * np.sin(2 * np.pi * y),
        )

    return Surface(
        f, grad, (-4.2, 3.6), ((0.0, 0.0),), ((-5.12, 5.12), (-5.12, 5.12)), False, 0.0, "rastrigin"
    )


def ackley(a: float = 20.0, b: float = 0.2, c: float = 2 * np.pi) -> Surface:
    """Ackley's function: nearly flat outer region, many ripples, a sharp global minimum 0 at 0."""

    def f(p):
        x, y = _xy(p)
        r = np.sqrt(0.5 * (x**2 + y**2))
        return -a * np.exp(-b * r) - np.exp(0.5 * (np.cos(c * x) + np.cos(c * y))) + np.e + a

    def grad(p):
        x, y = _xy(p)
        r = np.sqrt(0.5 * (x**2 + y**2))
        # The cone tip at the origin has no gradient; 0 is a valid subgradient there. The
        # np.where keeps 0/0 from ever being evaluated.
        safe_r = np.where(r > 0, r, 1.0)
        cone = np.where(r > 0, a * b * np.exp(-b * r) * 0.5 / safe_r, 0.0)
        ripple = 0.5 * c * np.exp(0.5 * (np.cos(c * x) + np.cos(c * y)))
        return _stack(cone * x + ripple * np.sin(c * x), cone * y + ripple * np.sin(c * y))

    return Surface(
        f, grad, (-4.0, 3.5), ((0.0, 0.0),), ((-5.0, 5.0), (-5.0, 5.0)), False, 0.0, "ackley"
    )


# Refined with sympy.nsolve at 30 digits from the literature's (±0.0898, ∓0.7126), f = -1.0316.
_CAMEL_X, _CAMEL_Y = 0.08984201310031806, -0.7126564030207396
_CAMEL_F_MIN = -1.0316284534898774


def six_hump_camel() -> Surface:
    """Six-hump camel ``(4 - 2.1x² + x⁴/3)x² + xy + (4y² - 4)y²``: two global minima."""

    def f(p):
        x, y = _xy(p)
        return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (4 * y**2 - 4) * y**2

    def grad(p):
        x, y = _xy(p)
        return _stack(8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3)

    return Surface(
        f,
        grad,
        (-1.5, -0.8),
        ((_CAMEL_X, _CAMEL_Y), (-_CAMEL_X, -_CAMEL_Y)),
        ((-2.0, 2.0), (-1.0, 1.0)),
        True,
        _CAMEL_F_MIN,
        "six_hump_camel",
    )


def surface_from_expression(
    expr: "CompiledExpression",
    start: tuple[float, float] = (1.5, 1.5),
    bounds: tuple[tuple[float, float], tuple[float, float]] = ((-2.0, 2.0), (-2.0, 2.0)),
) -> Surface:
    """Wrap a typed formula in ``x`` and ``y`` (from ``compile_expression``) as a Surface.

    Its minima are unknown, so ``minima`` is empty and ``f_min`` is None. Points where the formula
    is undefined give NaN or inf, never an exception. Raises
    ``ExpressionError("not_differentiable")`` if it was compiled without its gradient.
    """
    if tuple(expr.variables) != ("x", "y"):
        raise ValueError(f"a surface needs variables ('x', 'y'), got {expr.variables=}")
    if expr.grad is None:
        from core.expressions import ExpressionError

        raise ExpressionError("not_differentiable")

    def f(p):
        x, y = _xy(p)
        return expr.fn(x, y)

    def grad(p):
        x, y = _xy(p)
        return np.stack(expr.grad(x, y), axis=-1)

    return Surface(f, grad, tuple(start), (), tuple(bounds), False, None, expr.text)


SURFACES: dict[str, Callable[..., Surface]] = {
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "booth": booth,
    "saddle": saddle,
    "quadratic_bowl": quadratic_bowl,
    "rastrigin": rastrigin,
    "ackley": ackley,
    "six_hump_camel": six_hump_camel,
}
