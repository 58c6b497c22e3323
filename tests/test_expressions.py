"""Typed formulas: values vs NumPy, gradients vs central differences, one test per hostile input."""

import ast
import warnings

import numpy as np
import pytest

from core.expressions import (
    ALLOWED_FUNCTIONS,
    MAX_LENGTH,
    ExpressionError,
    compile_expression,
    nonfinite_fraction,
)

# Independent NumPy reference for every whitelisted function, applied as name(u) (or name(u, 0.5)).
NUMPY_REFERENCE = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "asin": np.arcsin,
    "arccos": np.arccos,
    "acos": np.arccos,
    "arctan": np.arctan,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "exp": np.exp,
    "log": np.log,
    "ln": np.log,
    "log10": np.log10,
    "log2": np.log2,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "floor": np.floor,
    "ceil": np.ceil,
    "min": lambda u: np.minimum(u, 0.5),
    "max": lambda u: np.maximum(u, 0.5),
}
TWO_ARGUMENTS = {"min", "max"}

# Formula -> NumPy reference, over x, y in the sample box below.
FORMULAS = {
    "x**2 + 3*sin(y)": lambda x, y: x**2 + 3 * np.sin(y),
    "exp(-x)*cos(y)/2": lambda x, y: np.exp(-x) * np.cos(y) / 2,
    "sqrt(x**2 + y**2)": lambda x, y: np.sqrt(x**2 + y**2),
    "x^3 - 2.5e-1*y": lambda x, y: x**3 - 0.25 * y,
    "-x + +y - -1": lambda x, y: -x + y + 1,
    "tanh(x)*sinh(y) + cosh(x/3)": lambda x, y: np.tanh(x) * np.sinh(y) + np.cosh(x / 3),
    "pi*e*x": lambda x, y: np.pi * np.e * x,
    "log10(1 + x**2) + log2(1 + y**2)": lambda x, y: np.log10(1 + x**2) + np.log2(1 + y**2),
    "(1 - x)**2 + 100*(y - x**2)**2": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "x**y": lambda x, y: x**y,
    "arctan(x*y) / (1 + exp(-y))": lambda x, y: np.arctan(x * y) / (1 + np.exp(-y)),
    "7*x // 2 + 7*y % 3": lambda x, y: np.floor_divide(7 * x, 2) + np.mod(7 * y, 3),
    "max(x, y, 1) - min(2, y)": lambda x, y: np.maximum(np.maximum(x, y), 1) - np.minimum(2, y),
}


def sample(rng, n=300):
    # x > 0 keeps x**y real; values off the kinks of floor/min/max with probability 1.
    return rng.uniform(0.2, 2.0, n), rng.uniform(-1.5, 1.5, n)


def central_differences(fn, x, y, h=1e-6):
    return (fn(x + h, y) - fn(x - h, y)) / (2 * h), (fn(x, y + h) - fn(x, y - h)) / (2 * h)


def test_every_allowed_function_has_a_reference():
    assert set(ALLOWED_FUNCTIONS) == set(NUMPY_REFERENCE)


@pytest.mark.parametrize("name", ALLOWED_FUNCTIONS)
def test_each_function_matches_numpy_and_its_derivative(name, rng):
    text = f"{name}(u, 0.5)" if name in TWO_ARGUMENTS else f"{name}(u)"
    c = compile_expression(text, variables=("u",))
    u = rng.uniform(0.05, 0.95, 200)  # inside every domain (asin, acos, log), off integers
    u = u[np.abs(u - 0.5) > 1e-3]  # off the kink of min/max
    np.testing.assert_allclose(c.fn(u), NUMPY_REFERENCE[name](u), rtol=1e-13, atol=1e-15)
    (du,) = c.grad(u)
    h = 1e-6
    numeric = (NUMPY_REFERENCE[name](u + h) - NUMPY_REFERENCE[name](u - h)) / (2 * h)
    np.testing.assert_allclose(du, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("text", list(FORMULAS))
def test_formulas_evaluate_like_numpy(text, rng):
    x, y = sample(rng)
    c = compile_expression(text)
    np.testing.assert_allclose(c.fn(x, y), FORMULAS[text](x, y), rtol=1e-13)


@pytest.mark.parametrize("text", list(FORMULAS))
def test_gradients_match_central_differences(text, rng):
    x, y = sample(rng)
    if "//" in text:
        # keep the sample away from the jumps of floor and mod, where no derivative exists
        keep = (np.abs(7 * x / 2 - np.round(7 * x / 2)) > 1e-3) & (
            np.abs(7 * y / 3 - np.round(7 * y / 3)) > 1e-3
        )
        x, y = x[keep], y[keep]
    c = compile_expression(text)
    gx, gy = c.grad(x, y)
    nx, ny = central_differences(FORMULAS[text], x, y)
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gy, ny, rtol=1e-6, atol=1e-6)


def test_outputs_broadcast_to_the_inputs_shape():
    c = compile_expression("pi + 0*x")
    x = np.zeros((3, 4))
    assert c.fn(x, 1.0).shape == (3, 4)
    assert c.fn(2.0, 1.0).shape == ()
    gx, gy = compile_expression("x").grad(x, np.ones(4))
    assert gx.shape == gy.shape == (3, 4)
    np.testing.assert_array_equal(gy, 0.0)


def test_generic_variables_for_a_lambda_lr():
    epochs = np.arange(100)
    decay = compile_expression("0.95**epoch", variables=("epoch",))
    np.testing.assert_allclose(decay.fn(epochs), 0.95**epochs, rtol=1e-13)
    steps = compile_expression("epoch // 30", variables=("epoch",))  # torch's LambdaLR example
    np.testing.assert_array_equal(steps.fn(epochs), epochs // 30)
    with pytest.raises(ExpressionError) as err:
        compile_expression("x * epoch", variables=("epoch",))
    assert err.value.code == "unknown_name" and err.value.names == ("x",)


def test_latex_and_text_are_returned():
    c = compile_expression("  x**2 + 3*sin(y)  ")
    assert c.text == "x**2 + 3*sin(y)"
    assert c.latex == r"x^{2} + 3 \sin{\left(y \right)}"
    assert c.variables == ("x", "y")


def test_full_width_and_math_signs_are_read_as_ascii():
    c = compile_expression("（x＋1）×y − x÷2")
    assert c.fn(3.0, 2.0) == pytest.approx((3 + 1) * 2 - 3 / 2)


def test_unusable_variable_names_are_programming_errors():
    for bad in ["sin", "pi", "_x", "1a"]:
        with pytest.raises(ValueError, match="variable"):
            compile_expression("1", variables=(bad,))


# ---- refusals: one test per hostile or broken input ------------------------------------------


def refused(text: str, **kwargs) -> ExpressionError:
    with pytest.raises(ExpressionError) as err:
        compile_expression(text, **kwargs)
    assert isinstance(err.value, ValueError) and str(err.value)  # plain English for logs
    return err.value


def test_refuses_dunder_import():
    err = refused("__import__('os')")
    assert err.code == "forbidden" and err.names == ("__import__",)


def test_refuses_class_mro_walk():
    assert refused("().__class__.__mro__").code == "forbidden"


def test_refuses_lambda():
    assert refused("lambda: 1").code == "forbidden"


def test_refuses_attribute_access():
    err = refused("x.real")
    assert err.code == "forbidden" and err.position == 1


def test_refuses_comprehension():
    assert refused("[i for i in range(3)]").code == "forbidden"


def test_refuses_astronomical_power_before_computing_it():
    assert refused("9**9**9").code == "too_large"


def test_refuses_powers_whose_exact_value_is_huge_though_near_one():
    assert refused("(1 + 1/10**15)**(10**15)").code == "too_large"


def test_refuses_huge_constant_exponent_on_a_variable():
    assert refused("x**10**100").code == "too_large"


def test_refuses_constants_beyond_float_range():
    assert refused("10**300 * 10**300 * x").code == "too_large"
    assert refused("exp(1000) + x").code == "too_large"


def test_refuses_ten_thousand_characters():
    err = refused("x+" * 4999 + "x")
    assert err.code == "too_long" and len("x+" * 4999 + "x") > MAX_LENGTH


def test_refuses_deep_nesting():
    assert refused("-" * 300 + "x").code == "too_complex"


def test_refuses_open_call_with_a_string():
    assert refused("open('f')").code == "forbidden"


def test_refuses_unknown_functions_and_names_all_listed():
    err = refused("open(x) + foo + 2*bar")
    assert err.code == "unknown_name" and err.names == ("open", "foo", "bar")
    assert err.position == 1


def test_refuses_strings():
    assert refused("'x'").code == "forbidden"


def test_refuses_keyword_arguments():
    assert refused("sin(x=1)").code == "forbidden"


def test_refuses_booleans_comparisons_and_conditionals():
    for text in ["True", "x < y", "x if y else 1", "x and y", "x @ y", "x << 2"]:
        assert refused(text).code == "forbidden", text


def test_refuses_complex_literals():
    assert refused("2j*x").code == "not_real"
    assert refused("sqrt(-1)").code == "not_real"


def test_refuses_wrong_argument_counts_and_misuse_of_names():
    assert refused("sin(x, y)").code == "arity"
    assert refused("max(x)").code == "arity"
    assert refused("sin + x").code == "not_called"
    assert refused("x(2)").code == "not_a_function"


def test_refuses_empty_and_constant_division_by_zero():
    assert refused("   ").code == "empty"
    assert refused("x/0").code == "undefined"
    assert refused("log(0)").code == "undefined"
    # a - 0·floor(a/0) simplified to a: "x % 0" was accepted and drawn as x (issue #22 item 5).
    assert refused("x % 0").code == "undefined"
    assert refused("x % (y - y) + y").code == "undefined"


def test_syntax_error_reports_its_column():
    err = refused("x + * y")
    assert err.code == "syntax" and err.position == 5
    assert refused("  x + * y").position == 7  # columns of the text as typed
    assert refused("中文 +* x").position == 5  # characters, not UTF-8 bytes
    assert refused("sin(x").code == "syntax"


# ---- undefined points on a grid: NaN/inf, reported, never an exception or a warning -----------


def grid(n=21):
    return np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))


def test_division_by_zero_on_the_grid_is_reported():
    x, y = grid()  # y = 0 on exactly one row of 21
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = compile_expression("x/y").fn(x, y)
    assert nonfinite_fraction(values) == pytest.approx(1 / 21)
    assert np.all(np.isfinite(values[y != 0]))


def test_log_of_negatives_is_reported():
    x, y = grid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = compile_expression("log(x) + y").fn(x, y)
    assert nonfinite_fraction(values) == pytest.approx(np.mean(x <= 0))


def test_complex_results_become_nan():
    x, y = grid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = compile_expression("sqrt(-1 - x**2) + y")
        values = c.fn(x, y)
        gx, _ = c.grad(x, y)
    assert values.dtype == np.float64
    assert nonfinite_fraction(values) == 1.0 and nonfinite_fraction(gx) == 1.0


def test_nonfinite_fraction_of_empty_and_finite_arrays():
    assert nonfinite_fraction(np.array([])) == 0.0
    assert nonfinite_fraction(np.array([1.0, np.inf, np.nan, -np.inf])) == 0.75


def test_caret_is_a_power_with_the_precedence_of_double_star():
    c = compile_expression("x^3 - y")  # Python's ^ would give x ^ (3 - y)
    assert c.fn(2.0, 1.0) == 7.0
    err = refused("x^2 + * y")  # the caret became two characters internally
    assert err.position == 7


def test_floor_division_and_modulo_are_exact_for_whole_numbers_as_in_python():
    # sympy's floor(a/b) printed floor((1/49)*a): 49 // 49 gave 0, so a typed lambda
    # 1 / (1 + epoch // 49) differed from the int arithmetic torch runs it with.
    epochs = np.arange(100_000)
    for text in ("1 / (1 + epoch // 49)", "epoch % 7", "0.5 ** (epoch // 3)", "-epoch // 10"):
        compiled = compile_expression(text, variables=("epoch",))
        python = eval(f"lambda epoch: {text}")  # the reference: Python's own int arithmetic
        expected = np.array([python(int(e)) for e in epochs], dtype=float)
        np.testing.assert_array_equal(compiled.fn(epochs), expected, err_msg=text)
    assert r"\lfloor" in compile_expression("x // 3").latex
    assert refused("x // 0").code == "undefined"


def test_sympy_failures_become_the_pages_own_errors():
    # Issue #22 items 3 and 4: sympy raised TypeError differentiating x//y//x and
    # PrecisionExhausted rounding the constant below; both reached the page as crashes.
    floored = compile_expression("x//y//x", variables=("x", "y"))
    # The gradient is no longer sympy's: a floor is flat wherever it is not jumping.
    gx, gy = floored.grad(np.array([0.5, 3.0]), np.array([0.7, -2.0]))
    assert np.all(gx == 0) and np.all(gy == 0)
    assert refused("floor(sin(10**299)*10**250) + x").code == "too_large"


@pytest.mark.parametrize(
    "text",
    [
        "max(abs(x),abs(x-1),abs(y))",
        "max(abs(x),abs(x-1),abs(x-2),abs(x-3),abs(x-4))",
        "max(sin(x*y),cos(x-y),sin(x+y),cos(x*y),x,y,x*y,x-y,x+y,y-x)",
        "min(x**2, y**2, (x-1)**2) + max(x, y)",
    ],
)
def test_max_and_min_have_a_gradient_equal_to_finite_differences(text):
    # Issue #22 items 1 and 2: sympy's n-ary Max differentiated into Piecewise conditions that
    # NumPy refused ("invalid entry 0 in condlist"), and took minutes to lambdify from 5 arguments.
    compiled = compile_expression(text, variables=("x", "y"))
    x, y = np.meshgrid(np.linspace(-2.03, 2.11, 23), np.linspace(-1.97, 2.07, 19))
    f = compiled.fn
    for axis, analytic in enumerate(compiled.grad(x, y)):

        def central(h, axis=axis):
            dx, dy = (h, 0.0) if axis == 0 else (0.0, h)
            return (f(x + dx, y + dy) - f(x - dx, y - dy)) / (2 * h)

        # Where two arguments tie within the step, the differences see a kink: two step sizes
        # then disagree. Everywhere else the gradient must match them.
        smooth = np.abs(central(1e-5) - central(5e-6)) < 1e-6
        assert smooth.mean() > 0.9
        np.testing.assert_allclose(analytic[smooth], central(5e-6)[smooth], atol=1e-5)


def _ast_nodes(text: str) -> int:
    return sum(1 for _ in ast.walk(ast.parse(text.replace("^", "**"), mode="eval")))


def _balanced(terms: list[str], op: str = "+") -> str:
    """t1 op t2 op ... parenthesised as a balanced tree, to stay within the depth limit."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return f"({_balanced(terms[:half], op)}{op}{_balanced(terms[half:], op)})"


# Issue #22 item 1: formulas within every input limit whose sympy pipeline took seconds to minutes
# (symbolic gradients of n-ary and nested max/min, towers of powers, nested modulo). The work is now
# bounded by the formula's size: what sympy builds and prints has at most a few parts per node of
# the typed formula, and the gradient is evaluated node by node. Timings: benchmarks/bench_formulas.py.
HOSTILE_FORMULAS = [
    "max(abs(x),abs(x-1),abs(x-2),abs(x-3),abs(x-4))",
    "max(" + ",".join(f"abs(x-{i})" for i in range(30)) + ")",
    "max(" + ",".join(f"x**{i}" for i in range(40)) + ")",
    "max(" + ",".join(f"abs(x-{i})*abs(y-{i})" for i in range(20)) + ")",
    "max(min(max(min(max(min(max(min(max(min(x,y),x*y),x-y),x+y),sin(x)),cos(y)),x*x),y*y),exp(x)),exp(y))",
    "x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%(x%y)))))))))))))))))",
    "x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//(x//y)))))))))))))))))",
    "x**" * 15 + "x",
    "(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)**(x+y)",
    "sin(x)**sin(y)**cos(x)**cos(y)**tan(x)**tan(y)**exp(x)**exp(y)**log(x)**log(y)",
    "1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(1/(x+y)))))))))))))))))",
    "log(abs(" * 9 + "x*y" + "))" * 9,
    "acos(" * 9 + "x" + ")" * 9 + "+" + "asin(" * 9 + "y" + ")" * 9,
    "abs(abs(abs(abs(abs(x**2+y**2+1)-1)-2)-3)-4)*abs(abs(abs(abs(x*y-1)-2)-3)-4)",
    "(x*y+sin(x))**999999 + (x-y)**777777",
    "2*(3*(4*(5*(6*(7*(8*(9*(10*(11*(12*(13*(14*(15*(16*(17*(18*(x+y+1)))))))))))))))))",
    _balanced([f"floor(sin(10**{k})*10**{k - 1})" for k in range(20, 36)]) + "+x",
    _balanced([f"x//(sin(10**{k})*10**{k - 50})" for k in range(280, 296)]),
]


@pytest.mark.parametrize("text", HOSTILE_FORMULAS)
def test_hostile_formulas_build_a_bounded_expression_and_a_gradient(text):
    compiled = compile_expression(text)
    # A planted symbolic fold of max (a + b + |a - b|)/2 or a % b as a - b*floor(a/b) doubles at
    # every level: 10,389 parts for the 40-argument max, 2^18 for the nested modulo.
    assert compiled.size <= 4 * _ast_nodes(text)
    x, y = np.meshgrid(np.linspace(-2, 2, 41), np.linspace(-2, 2, 41))
    assert compiled.fn(x, y).shape == x.shape
    assert all(g.shape == x.shape for g in compiled.grad(x, y))


def test_a_formula_sympy_would_write_out_too_large_is_refused_naming_the_limit(monkeypatch):
    import core.expressions as expressions

    monkeypatch.setattr(expressions, "MAX_TREE", 10)
    text = "x*y + sin(x) + cos(y) + exp(x*y)"  # 12 parts: Add, Mul x y, sin x, cos y, exp Mul x y
    err = refused(text)
    assert err.code == "too_big" and err.limit == 10
    assert "more than 10 parts" in str(err)
    assert compile_expression("x*y + sin(x)").size == 6  # Add, Mul x y, sin x


@pytest.mark.parametrize("text", ["x**2 + 3*sin(y)", "max(x, y) * x % 3", "x**y - y**x"])
def test_the_gradient_is_exact_on_smooth_formulas(text, rng):
    c = compile_expression(text)
    x, y = sample(rng)
    for analytic, numeric in zip(c.grad(x, y), central_differences(c.fn, x, y), strict=True):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


def test_the_gradient_is_built_only_when_asked_for():
    assert compile_expression("epoch**2", variables=("epoch",), gradient=False).grad is None
    assert compile_expression("epoch**2", variables=("epoch",)).grad is not None


def test_a_formula_compiles_once_however_it_is_spaced():
    from core.expressions import _compiled

    _compiled.cache_clear()
    first = compile_expression("x**2 + y")
    second = compile_expression(" x^2+y ")
    assert _compiled.cache_info().misses == 1 and _compiled.cache_info().hits == 1
    assert first.fn is second.fn
    assert (first.text, second.text) == ("x**2 + y", "x^2+y")
    # Refusals are remembered too: the same hostile link costs one refusal.
    for _ in range(2):
        assert refused("floor(sin(10**299)*10**250) + x").code == "too_large"
    assert _compiled.cache_info().misses == 2


# Found by tests/test_expressions_fuzz.py (issue #22): each raised out of compile_expression or
# out of evaluating its result, or (the first) kept sympy busy for minutes.
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("tanh(log(acos(5)))", "too_slow"),  # sympy's evaluation of the constant never ends
        ("arcsin(sin(10**299))", "unprocessable"),  # TypeError comparing a relational
        ("floor(arctan(log2(0)))", "undefined"),  # an AccumBounds that NumPy cannot print
        ("sqrt((0.0/0.0))", "undefined"),  # sympy's float division raised ZeroDivisionError
    ],
)
def test_sympy_hangs_and_crashes_found_by_fuzzing_are_coded_refusals(text, code):
    err = refused(text)
    assert err.code == code
    if code == "too_slow":
        assert f"more than {err.limit} s" in str(err)


@pytest.mark.parametrize(
    "text",
    [
        "(ceil(asin(1e+300))//log(x))",  # NumPy's floor refused a complex constant: all NaN
        "max(log2((2.225073858507203e-309^23)), -x)",  # the gradient divided a Python 0.0
        "(log10(log(log2(0)))**floor(asin(0)))",
    ],
)
def test_formulas_that_raised_on_evaluation_give_nan_instead(text):
    c = compile_expression(text)
    x, y = np.meshgrid(np.linspace(-2, 2, 9), np.linspace(-2, 2, 9))
    assert c.fn(x, y).shape == x.shape
    assert all(g.shape == x.shape for g in c.grad(x, y))
