"""Fuzz the formula fields (issue #22): formulas generated from the whitelist grammar either compile
or are refused with a code the pages translate, and what compiles evaluates, with its gradient, on
the page's grid without an exception (NaN and inf are allowed: the page reports them)."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.expressions import (
    _FUNCTIONS,
    ERROR_MESSAGES,
    ExpressionError,
    compile_expression,
)
from ui.i18n import LANGUAGES, translate

NUMBERS = st.one_of(
    st.integers(0, 12).map(str),
    st.integers(0, 10**320).map(str),  # past float range and the exact-size bound
    st.floats(0, 1e308, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "0.5", "1e-300", "1e300", "pi", "e", "10**299"]),
)
BINARY = ["+", "-", "*", "/", "//", "%", "**", "^"]


def formulas(variables: tuple[str, ...]) -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(variables), NUMBERS)

    def extend(inner):
        calls = [
            st.tuples(st.just(name), st.lists(inner, min_size=n or 2, max_size=n or 6))
            for name, (_, _, n) in _FUNCTIONS.items()
        ]
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
            st.tuples(st.sampled_from(["-", "+"]), inner).map("".join),
            st.one_of(calls).map(lambda c: f"{c[0]}({', '.join(c[1])})"),
        )

    return st.recursive(leaves, extend, max_leaves=40)


FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 120)),  # more for a hunt, e.g. 5000
    deadline=3000,  # ms per formula, generous for a loaded machine: the budget is < 1 s
    derandomize=not __import__("os").environ.get(
        "FUZZ_N"
    ),  # the same formulas every run: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow],
)


def compiled_or_refusal(text, variables, gradient, area):
    try:
        return compile_expression(text, variables, gradient=gradient)
    except ExpressionError as err:
        assert err.code in ERROR_MESSAGES
        # The page has a sentence for it, in both languages (not the key echoed back).
        key = f"{area}.{err.code}"
        for language in LANGUAGES:
            assert translate(language, key, limit=err.limit) != key
        return None


@FUZZ
@given(formulas(("x", "y")))
def test_a_typed_surface_compiles_or_is_refused_and_evaluates_on_the_grid(text):
    c = compiled_or_refusal(text, ("x", "y"), True, "optimizers.errors")
    if c is None:
        return
    x, y = np.meshgrid(np.linspace(-2, 2, 120), np.linspace(-2, 2, 120))
    assert c.fn(x, y).shape == x.shape
    assert [g.shape for g in c.grad(x, y)] == [x.shape, x.shape]
    assert c.fn(1.5, 1.5).shape == ()  # the race evaluates single points too


@FUZZ
@given(formulas(("epoch",)))
def test_a_lambda_lr_compiles_or_is_refused_and_evaluates_on_the_steps(text):
    c = compiled_or_refusal(text, ("epoch",), False, "schedules.expr")
    if c is None:
        return
    assert c.grad is None
    assert c.fn(np.arange(1001)).shape == (1001,)
