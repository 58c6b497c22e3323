"""Time ``core.deep_signals.measure`` on the largest page-4 network: depth 50 × width 512, batch 256.

Run from the repo root: ``python benchmarks/bench_deep_signals.py``. Prints the BLAS in use
(threadpoolctl), the time of one float32 512×512 matmul on the batch as a same-run reference, then
for several activations the median of 5 runs of: building the weights, the forward pass, the
backward pass, and the whole ``measure`` call (init + forward + backward + statistics). The goal is
< 300 ms for forward + backward + statistics; 150 matmuls are the floor, printed as "matmul floor".
The last column counts minor page faults per ``measure`` call: fresh ~0.5 MB arrays are mmap'ed and
returned to the OS by glibc on every call, and touching them again costs ~150 ms here;
``core.memory.tune_allocator()`` (called in main, as app.py does) keeps them in the heap, and
``--no-tune-allocator`` shows the difference.
"""

import os
import resource
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.activations import ACTIVATIONS
from core.datasets import builtin_mnist
from core.deep_signals import measure
from core.memory import tune_allocator
from core.mlp import backward, forward, init_params, softmax_cross_entropy

DEPTH, WIDTH, BATCH, REPEATS = 50, 512, 256, 5
CASES = [("relu", "kaiming_normal"), ("tanh", "xavier_normal"), ("gelu", "kaiming_normal")]


def _median_ms(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _run_cases(x, y) -> None:
    h = np.ones((BATCH, WIDTH), np.float32)
    w = np.ones((WIDTH, WIDTH), np.float32)
    matmul = _median_ms(partial(np.matmul, h, w))
    print(f"one ({BATCH}×{WIDTH}) @ ({WIDTH}×{WIDTH}) float32 matmul: {matmul:.2f} ms")
    print(f"matmul floor (3 per layer × {DEPTH} layers): {3 * DEPTH * matmul:.0f} ms")
    print(
        f"{'activation':<10} {'init':>8} {'forward':>8} {'backward':>9} {'measure':>8}  (ms)"
        f"{'page faults':>58}"
    )
    sizes = [x.shape[1], *([WIDTH] * DEPTH), 10]
    for name, initializer in CASES:
        act = ACTIVATIONS[name]()
        rng = np.random.default_rng(0)
        params = init_params(rng, sizes, initializer=initializer)
        logits, cache = forward(params, x, activation=act, train=True)
        _, dlogits = softmax_cross_entropy(logits, y)
        t_init = _median_ms(partial(init_params, rng, sizes, initializer=initializer))
        t_fwd = _median_ms(partial(forward, params, x, activation=act, train=True))
        t_bwd = _median_ms(partial(backward, params, cache, dlogits, return_activation_grads=True))
        run = partial(
            measure, rng, x, y, depth=DEPTH, width=WIDTH, activation=act, initializer=initializer
        )
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t_all = _median_ms(run)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) // REPEATS
        print(
            f"{name:<10} {t_init:8.0f} {t_fwd:8.0f} {t_bwd:9.0f} {t_all:8.0f}"
            f"   forward+backward+stats = measure − init ≈ {t_all - t_init:4.0f} ms (goal < 300)"
            f"{faults:10d}"
        )


def main() -> None:
    tuned = False if "--no-tune-allocator" in sys.argv[1:] else tune_allocator()
    print(f"glibc allocator tuned (core.memory.tune_allocator): {tuned}")
    for pool in threadpool_info():
        print(
            f"BLAS: {pool['internal_api']} {pool.get('version')} "
            f"({pool.get('architecture')}), {pool['num_threads']} threads"
        )
    print(f"CPUs: {os.cpu_count()}, load average: {os.getloadavg()}")
    data = builtin_mnist()
    x = (data.train.x[:BATCH].reshape(BATCH, -1) / 255.0).astype(np.float32)
    y = data.train.y[:BATCH]
    print("\n== default BLAS threads ==")
    _run_cases(x, y)
    # A busy machine makes multi-threaded BLAS spin against other processes; one thread shows
    # the cost without that contention.
    print("\n== BLAS limited to 1 thread ==")
    with threadpool_limits(1):
        _run_cases(x, y)


if __name__ == "__main__":
    main()
