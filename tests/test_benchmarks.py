"""Every benchmark script still imports: a renamed or removed core function breaks a script that
no other test runs (class_load has its own smoke test; the others take minutes to run)."""

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


# A leading underscore marks a module the scripts share, not a script of its own.
@pytest.mark.parametrize("name", [s for s in SCRIPTS if not s.startswith("_")])
def test_benchmark_script_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)), f"benchmarks/{name}.py has no main()"
