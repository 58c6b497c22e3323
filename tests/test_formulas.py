"""ui.formulas.stacked: a chain of statements becomes one line each, never split inside brackets."""

import re

import pytest

import ui.formulas as formulas
from ui.formulas import stacked

EVERY_FORMULA = [
    (table, key, latex)
    for table in dir(formulas)
    if table.endswith("_FORMULAS")
    for key, latex in getattr(formulas, table).items()
]


def test_a_chain_of_statements_is_one_line_each():
    assert stacked(r"a = 1,\ b = 2, \quad c = 3; \qquad d = 4") == (
        r"\begin{gathered}a = 1 \\ b = 2 \\ c = 3 \\ d = 4\end{gathered}"
    )


@pytest.mark.parametrize(
    "latex",
    [
        r"f(z) = \operatorname{clip}(z,\ \min,\ \max)",
        r"x \in [a,\ b]",
        r"\text{a,\ b}",
        r"y = \left(1,\ 2\right)",
        r"\max(0, z)",
        r"g(x,\, y)",
    ],
)
def test_commas_inside_brackets_or_with_a_thin_space_stay(latex):
    assert stacked(latex) == latex


@pytest.mark.parametrize(("table", "key", "latex"), EVERY_FORMULA, ids=lambda v: str(v)[:30])
def test_every_line_of_a_registry_formula_has_its_brackets_closed(table, key, latex):
    body = stacked(latex).removeprefix(r"\begin{gathered}").removesuffix(r"\end{gathered}")
    for line in re.split(r" \\\\ (?![^{]*\\end\{cases\})", body):
        for opening, closing in (r"\(", r"\)"), (r"\{", r"\}"), (r"\\left\b", r"\\right\b"):
            assert len(re.findall(opening, line)) == len(re.findall(closing, line)), line


def test_the_conv_formulas_with_a_layers_numbers():
    assert stacked(formulas.CONV_SUM) == formulas.CONV_SUM  # one statement, one line
    size = stacked(formulas.conv_output_size(28, 5, 1, 2, 1))
    general, numbers = size.removeprefix(r"\begin{gathered}").split(r" \\ ")
    assert "n + 2p - d" in general
    assert numbers.startswith(r"n_\text{out} = \left\lfloor \frac{28 + 2 \cdot 2 - 1 \cdot (5 - 1)")
    assert numbers.endswith(r"\right\rfloor + 1 = 28\end{gathered}")
    assert formulas.conv_output_size(14, 3, 2, 0, 2).endswith("= 5")  # ⌊(14 − 4 − 1)/2⌋ + 1
    # A negative term in parentheses; the sum is the bias plus the products' total.
    shown = formulas.conv_sum_numbers(3, 14, 7, -0.05, 1.25)
    assert shown.startswith("y[3, 14, 7] = ")
    assert r"\underbrace{(-0.0500)}_{b_{3}}" in shown and shown.endswith("= 1.2000")
