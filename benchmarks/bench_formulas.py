"""Worst compile time of a typed formula: every hostile formula of the tests, plus refused ones.

Run from the repo root: ``python benchmarks/bench_formulas.py``. Each formula is compiled with
empty caches, ours and sympy's (as a fresh link would be), then its value and gradient are
evaluated once on the optimizers page's 120 × 120 grid; best of 3 per formula, in one warm process (the server's case;
the first compile of a process also pays sympy's own imports, printed separately), as wall-clock
and CPU time (the machine may be shared). Goal: < 1 s.
"""

import os
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
    "tanh(log(acos(5)))",  # sympy never finishes: stopped at COMPILE_SECONDS of CPU ('too_slow')
]
GRID = np.meshgrid(np.linspace(-2, 2, 120), np.linspace(-2, 2, 120))


def once(text: str) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds of a compile from empty caches, and its outcome."""
    _compiled.cache_clear()
    clear_cache()  # sympy's own memo of what it built before
    start, cpu = time.perf_counter(), time.thread_time()
    try:
        compiled = compile_expression(text)
        compiled.fn(*GRID)
        compiled.grad(*GRID)
        outcome = f"ok, {compiled.size} parts"
    except ExpressionError as err:
        outcome = f"refused: {err.code}"
    return time.perf_counter() - start, time.thread_time() - cpu, outcome


def main() -> None:
    first = once("x**2 + y")
    print(f"first compile of the process: {first[0]:.3f} s ({first[1]:.3f} s CPU)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    worst = (0.0, 0.0, "")
    for text in HOSTILE_FORMULAS + REFUSED:
        wall, cpu, outcome = min(once(text) for _ in range(3))
        print(f"{wall:6.3f} s {cpu:6.3f} s CPU  {outcome:20s}  {text[:60]}")
        worst = max(worst, (wall, cpu, text))
    print(f"worst: {worst[0]:.3f} s ({worst[1]:.3f} s CPU) for {worst[2]}")


if __name__ == "__main__":
    main()
