"""tune_allocator: idempotent, a bool, harmless to NumPy results."""

import sys

import numpy as np

from core.memory import tune_allocator


def test_tune_allocator_is_idempotent_and_reports_a_bool():
    first = tune_allocator()
    assert isinstance(first, bool)
    assert tune_allocator() is first


def test_applies_on_glibc_linux():
    # glibc's libc.so.6 exports mallopt; elsewhere the call must be a silent no-op (False).
    import platform

    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert tune_allocator() is True
    else:
        assert tune_allocator() is False


def test_numpy_results_unchanged_after_tuning(rng):
    a = rng.standard_normal((300, 400))
    before = a @ a.T
    tune_allocator()
    for _ in range(3):  # freed and reallocated blocks come from the heap now
        np.testing.assert_array_equal(a @ a.T, before)
