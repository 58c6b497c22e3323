"""Worst compile time of a typed formula: every hostile formula of the tests, plus refused ones.

Run from the repo root: ``python benchmarks/bench_formulas.py``. Each formula is compiled with empty
caches (ours and sympy's) (as a fresh link would be), then its value and gradient are evaluated once on the
optimizers page's 120 × 120 grid; best of 3 per formula, in one warm process (the server's case;
the first compile of a process also pays sympy's own imports, printed separately). Goal: < 1 s.
"""

import sys
import time
from pathlib import Path

import numpy as np
from sympy.core.cache import clear_cache

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.expressions import ExpressionError, _compiled, compile_expression
from tests.test_expressions import HOSTILE_FORMULAS

REFUSED = [
    "floor(sin(10**299)*10**250) + x",  # sympy's precision escalation, then 'too_large'
    "(floor(sin(10**150)*10**149)+(floor(sin(10**151)*10**150)+floor(sin(10**152)*10**151)))+x",
    "(1+1/10**15)**(10**15)*x",
    "x**(2**4000)",
]
GRID = np.meshgrid(np.linspace(-2, 2, 120), np.linspace(-2, 2, 120))


def once(text: str) -> tuple[float, str]:
    _compiled.cache_clear()
    clear_cache()  # sympy's own memo of what it built before
    start = time.perf_counter()
    try:
        compiled = compile_expression(text)
        compiled.fn(*GRID)
        compiled.grad(*GRID)
        outcome = f"ok, {compiled.size} parts"
    except ExpressionError as err:
        outcome = f"refused: {err.code}"
    return time.perf_counter() - start, outcome


def main() -> None:
    first, _ = once("x**2 + y")
    print(f"first compile of the process: {first:.3f} s")
    worst = (0.0, "")
    for text in HOSTILE_FORMULAS + REFUSED:
        seconds = min(once(text)[0] for _ in range(3))
        outcome = once(text)[1]
        print(f"{seconds:6.3f} s  {outcome:20s}  {text[:70]}")
        worst = max(worst, (seconds, text))
    print(f"worst: {worst[0]:.3f} s for {worst[1]}")


if __name__ == "__main__":
    main()
