"""Time the initialization page's recompute on its largest network: depth 50 × width 512, batch 256.

Run from the repo root: ``python benchmarks/bench_deep_signals.py`` (``--help`` for options).
Prints the BLAS in use (threadpoolctl), the time of one float32 512×512 matmul on the batch as a
same-run reference, then for several activations the median of ``--repeats`` runs (7) of: drawing
the weights, the forward pass (as ``measure_network`` runs it), the backward pass, and the two
recomputes a visitor waits for when one setup's signals are not cached:

- **cold**: the network must be drawn (initializer, its parameters, width or seed changed): the
  page draws every depth at once (``plain_networks``) and measures one (``measure_network``);
- **warm**: the page's ``st.cache_resource`` still holds the drawn networks (depth, activation,
  batch norm or data changed): ``measure_network`` on the read-only cached weights. An lr change
  re-measures nothing (``at_lr``).

The goal is < 300 ms per recompute; 150 matmuls (3 per layer) are the floor, printed as "matmul
floor". A change of depth, width, seed or data recomputes both setups when A and B are compared, so
the visitor waits twice as long then. Figures and Streamlit's own work are not included. The last
column counts minor page faults per warm call: fresh ~0.5 MB arrays are mmap'ed and returned to the
OS by glibc on every call, and touching them again costs ~150 ms here;
``core.memory.tune_allocator()`` (called in main, as app.py does) keeps them in the heap, and
``--no-tune-allocator`` shows the difference.
"""

import argparse
import os
import resource
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._blas_threads import add_threads_option, thread_settings
from core.activations import ACTIVATIONS
from core.datasets import builtin_mnist
from core.deep_signals import at_depth, measure_network, plain_networks
from core.memory import tune_allocator
from core.mlp import backward, forward, softmax_cross_entropy

DEPTH, WIDTH, BATCH, CLASSES = 50, 512, 256, 10
GOAL_MS = 300
CASES = [("relu", "kaiming_normal"), ("tanh", "xavier_normal"), ("gelu", "kaiming_normal")]


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _verdict(ms: float) -> str:
    return f"{ms:4.0f} {'<' if ms < GOAL_MS else '≥'} {GOAL_MS}"


def _draw(x, initializer):
    """Every depth of the page's deepest network at once, as its ``st.cache_resource`` holds it."""
    return plain_networks(
        np.random.default_rng(0), x.shape[1], max_depth=DEPTH, width=WIDTH, n_classes=CLASSES,
        initializer=initializer,
    )  # fmt: skip


def _cold(x, y, activation, initializer):
    """The page's recompute when the drawn networks are not cached: draw, then measure one depth."""
    return measure_network(at_depth(_draw(x, initializer), DEPTH), x, y, activation=activation)


def _run_cases(x, y, repeats: int) -> None:
    h = np.ones((BATCH, WIDTH), np.float32)
    w = np.ones((WIDTH, WIDTH), np.float32)
    matmul = _median_ms(partial(np.matmul, h, w), repeats)
    print(f"one ({BATCH}×{WIDTH}) @ ({WIDTH}×{WIDTH}) float32 matmul: {matmul:.2f} ms")
    print(f"matmul floor (3 per layer × {DEPTH} layers): {3 * DEPTH * matmul:.0f} ms")
    print("ms; stats = warm − forward − backward (a difference of medians, so noisy)")
    print(
        f"{'activation':<10} {'draw':>6} {'forward':>8} {'backward':>9} {'stats':>6}"
        f" {'cold':>6} {'warm':>6} {'page faults':>12}"
    )
    verdicts = []
    for name, initializer in CASES:
        act = ACTIVATIONS[name]()
        params = at_depth(_draw(x, initializer), DEPTH)
        for layer in params:  # as the page caches them
            for array in layer.values():
                array.flags.writeable = False
        logits, cache = forward(params, x, activation=act, train=True)
        _, dlogits = softmax_cross_entropy(logits, y)
        t_draw = _median_ms(partial(_draw, x, initializer), repeats)
        t_fwd = _median_ms(partial(forward, params, x, activation=act, train=True), repeats)
        t_bwd = _median_ms(
            partial(backward, params, cache, dlogits, return_activation_grads=True), repeats
        )
        del logits, cache, dlogits
        t_cold = _median_ms(partial(_cold, x, y, act, initializer), repeats)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t_warm = _median_ms(partial(measure_network, params, x, y, activation=act), repeats)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) // repeats
        print(
            f"{name:<10} {t_draw:6.0f} {t_fwd:8.0f} {t_bwd:9.0f} {t_warm - t_fwd - t_bwd:6.0f}"
            f" {t_cold:6.0f} {t_warm:6.0f} {faults:12d}"
        )
        verdicts.append(f"{name} cold {_verdict(t_cold)}, warm {_verdict(t_warm)}")
    print("goal, one setup recomputed (ms):", "; ".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per median (default 7)")
    parser.add_argument(
        "--no-tune-allocator", action="store_true", help="leave glibc's malloc settings alone"
    )
    add_threads_option(parser)
    args = parser.parse_args()
    tuned = False if args.no_tune_allocator else tune_allocator()
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
    for setting in thread_settings(args.threads):
        print(f"\n== {setting} ==")
        _run_cases(x, y, args.repeats)


if __name__ == "__main__":
    main()
