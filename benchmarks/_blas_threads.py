"""The ``--threads`` option the benchmarks share: run with the default BLAS pool, one thread, or both.

One thread is how the app computes (one BLAS thread per request, app.py); the default pool is what
a student's own script gets. A busy machine makes a multi-threaded BLAS spin against other
processes, so the one-thread numbers are also the steadier ones.
"""

import argparse
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

CHOICES = ("default", "1", "both")


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", choices=CHOICES, default="both",
        help="BLAS threads: the default pool, one thread, or both in turn (default both)",
    )  # fmt: skip


def thread_settings(choice: str) -> Iterator[str]:
    """For each setting ``choice`` asks for, a heading; the loop body runs under that setting."""
    if choice in ("default", "both"):
        yield "default BLAS pool"
    if choice in ("1", "both"):
        with threadpool_limits(1):
            yield "BLAS limited to 1 thread, as the app computes"
