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
