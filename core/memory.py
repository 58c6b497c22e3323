"""Process-wide allocator tuning for the NumPy engine: one call, safe anywhere.

``tune_allocator()`` asks glibc's malloc to keep freed memory instead of returning it to the OS.
By default glibc serves every block above ~128 kB (adaptively up to 32 MB) with a fresh ``mmap``
and trims the heap top on ``free``; a training step or a deep forward pass allocates and frees
0.1–1 MB temporaries thousands of times, so each one costs page faults on first touch. Raising
``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (what ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` do at start-up, but settable in a running process) lets those blocks
be reused from the heap. The cost is that freed memory stays mapped: peak RSS is unchanged, RSS
after the peak may stay near it.

The call is idempotent, never raises, and does nothing (returns False) where glibc's ``mallopt``
is unavailable (macOS, Windows, musl).
"""

import ctypes
import ctypes.util
import sys

# glibc <malloc.h>: parameter numbers of mallopt().
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Blocks up to 512 MB come from the heap (glibc caps M_MMAP_THRESHOLD at HEAP_MAX/2 = 32 MB on
# 64-bit for its *dynamic* threshold, but an explicit value up to that cap is accepted; larger
# values make mallopt fail, so the largest accepted one is used); the heap top is trimmed only
# above 1 GB of free space.
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024

_applied: bool | None = None


def tune_allocator() -> bool:
    """Keep freed blocks in glibc's heap (no mmap/munmap per temporary); True if it applied."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no libc or not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error; both settings must take for the effect.
    ok_mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok_trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _applied = ok_mmap and ok_trim
    return _applied
