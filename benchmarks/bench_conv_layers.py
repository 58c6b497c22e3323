"""Time each layer of the CNN preset (forward + backward) against its GEMMs alone, one BLAS thread.

Run from the repo root: ``python benchmarks/bench_conv_layers.py [--repeats 30]``. The preset
(issue #24): conv 8@5×5 pad 2 on 1×28×28 → ReLU → max-pool 2 → conv 16@5×5 pad 2 → ReLU →
max-pool 3 → dense 10, batch 128, float32. Each layer runs forward then backward on the input and
output gradient a real pass gives it (the first conv computes no dx, as a first layer needs none).
The floor is the same GEMMs alone: the matmuls of the same shapes and layouts on ready operands,
measured in the same run, interleaved with the layers. Printed: the median ms of each, the ratio
per layer and over the whole preset (goal ≤ 2×), and the BLAS kernel threadpoolctl reports.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._blas_threads import thread_settings
from core.activations import ACTIVATIONS
from core.conv import conv2d, conv2d_backward, max_pool2d, max_pool2d_backward
from core.initializers import conv_weight
from core.memory import tune_allocator

BATCH = 128
GOAL = 2.0


def _gradient(rng, y):
    """A random dLoss/dy laid out as backward gets it: batch-last for an NCHW activation."""
    if y.ndim != 4:
        return rng.standard_normal(y.shape, dtype=np.float32)
    n, c, h, w = y.shape
    return rng.standard_normal((c, h, w, n), dtype=np.float32).transpose(3, 0, 1, 2)


def _conv_layer(rng, x, out_channels, need_dx):
    """A conv 5×5 pad 2 layer's step and its GEMMs, and its output for the next layer."""
    weight = conv_weight("kaiming_uniform", rng, out_channels, x.shape[1], 5)
    bias = np.zeros(out_channels, np.float32)
    y, _ = conv2d(x, weight, bias, padding=2)
    dy = _gradient(rng, y)

    def step():
        conv2d_backward(weight, conv2d(x, weight, bias, padding=2)[1], dy, need_dx=need_dx)

    # The columns the layer builds band by band, here whole and ready.
    w_mat = weight.reshape(out_channels, -1)
    cols = rng.standard_normal((w_mat.shape[1], y[:, 0].size), dtype=np.float32)
    dy_mat = rng.standard_normal((out_channels, cols.shape[1]), dtype=np.float32)

    def gemms():
        w_mat @ cols  # forward
        dy_mat @ cols.T  # dweight
        if need_dx:
            w_mat.T @ dy_mat  # the columns' gradient

    return step, gemms, y


def _gemm_free_layer(forward, backward, x, rng):
    """A layer without GEMMs: its step and its output."""
    y = forward(x)[0]
    dy = _gradient(rng, y)

    def step():
        backward(forward(x)[1], dy)

    return step, y


def _layers(rng):
    """``(name, step, gemms)`` for every layer of the preset, fed by one real forward pass."""
    relu = ACTIVATIONS["relu"]()

    def relu_forward(z):
        return relu.fn(z), z

    def relu_backward(z, dy):
        return dy * relu.grad(z)

    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    layers = []
    for out_channels, pool, need_dx in ((8, 2, False), (16, 3, True)):
        conv, gemms, x = _conv_layer(rng, x, out_channels, need_dx)
        name = f"conv {out_channels}@5×5 pad 2" + ("" if need_dx else " (no dx)")
        relu_step, x = _gemm_free_layer(relu_forward, relu_backward, x, rng)
        pool_step, x = _gemm_free_layer(
            lambda x, k=pool: max_pool2d(x, k), max_pool2d_backward, x, rng
        )
        layers += [
            (name, conv, gemms),
            ("ReLU", relu_step, None),
            (f"max-pool {pool}", pool_step, None),
        ]
    w = rng.standard_normal((x[0].size, 10), dtype=np.float32)
    dz = rng.standard_normal((BATCH, 10), dtype=np.float32)
    flat = np.ascontiguousarray(x.reshape(BATCH, -1))

    def dense_step(h):
        h @ w  # forward
        h.T @ dz  # dweight
        dz @ w.T  # dx

    # The layer flattens the batch-last pooled maps itself; its GEMMs get them flat already.
    layers.append(("dense 10", lambda: dense_step(x.reshape(BATCH, -1)), lambda: dense_step(flat)))
    return layers


def _median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    tune_allocator()  # as the app does (ui/shell.py): temporaries reused, not mapped afresh
    for heading in thread_settings("1"):
        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        kernels = ", ".join(
            f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
            f"threads={i['num_threads']}"
            for i in blas
        )
        print(f"{heading}; BLAS: {kernels}")
        layers = _layers(np.random.default_rng(0))
        layer_times = {i: [] for i in range(len(layers))}
        gemm_times = {i: [] for i, (_, _, g) in enumerate(layers) if g is not None}
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped below
            for i, (_, step, gemms) in enumerate(layers):
                layer_times[i].append(_timed(step))
                if gemms is not None:
                    gemm_times[i].append(_timed(gemms))
        total = gemm_total = 0.0
        for i, (name, _, _) in enumerate(layers):
            ms = _median_ms(layer_times[i][1:])
            total += ms
            line = f"{name:>26}: {ms:6.2f} ms"
            if i in gemm_times:
                floor = _median_ms(gemm_times[i][1:])
                gemm_total += floor
                line += f"   GEMMs alone {floor:6.2f} ms   ratio {ms / floor:4.2f}×"
            print(line)
        verdict = "≤" if total / gemm_total <= GOAL else ">"
        print(
            f"{'whole preset':>26}: {total:6.2f} ms   GEMMs alone {gemm_total:6.2f} ms   "
            f"ratio {total / gemm_total:4.2f}× ({verdict} goal {GOAL}×)"
        )


if __name__ == "__main__":
    main()
