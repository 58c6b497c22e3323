"""Time the descent engine against a plain per-step Python loop measured in the same run.

Run from the repo root: ``python benchmarks/bench_descent.py``. Prints the BLAS/threadpool info,
then median times over several rounds for
  1. 10 optimizers x 2,000 steps on Rosenbrock via ``race`` vs the scalar Python loop
     (for each optimizer, for each step: the gradient and update with Python floats),
  2. the same with a 31-value lr grid per optimizer (310 runs), where vectorization pays,
  3. a 60 x 60 x 500-step ``convergence_map``.
The scalar loop's final points are checked against ``race`` so both do the same work.
"""

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.descent import MAX_ABS_PARAM, MAX_LOSS, _families, convergence_map, race
from core.memory import tune_allocator
from core.optimizers import OPTIMIZERS, Optimizer
from core.surfaces import SURFACES

STEPS = 2000
# lrs at which each optimizer makes progress on Rosenbrock without diverging
LRS = {
    "sgd": 1e-3,
    "momentum": 1e-3,
    "nesterov": 1e-3,
    "adagrad": 0.1,
    "rmsprop": 0.01,
    "adadelta": 1.0,
    "adam": 0.05,
    "adamw": 0.05,
    "nadam": 0.05,
    "adamax": 0.05,
}


def rosenbrock(x, y):
    r = y - x * x
    return (1 - x) ** 2 + 100 * r * r, -2 * (1 - x) - 400 * x * r, 200 * r


def scalar_descent(name, lr, x, y, steps):
    """The seed tutorial's loop: Python floats, one step at a time, torch's default settings."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    state = [0.0] * 6  # two coordinates x three buffers
    path = [(x, y)]
    for t in range(1, steps + 1):
        _, gx, gy = rosenbrock(x, y)
        p = [x, y]
        for i, g in enumerate((gx, gy)):
            a, b, c = state[3 * i : 3 * i + 3]
            if name in ("sgd", "momentum", "nesterov"):
                if name == "sgd":
                    d = g
                else:
                    a = g if t == 1 else 0.9 * a + g
                    d = g + 0.9 * a if name == "nesterov" else a
            elif name == "adagrad":
                a += g * g
                d = g / (math.sqrt(a) + 1e-10)
            elif name == "rmsprop":
                a = 0.99 * a + (1 - 0.99) * g * g
                d = g / (math.sqrt(a) + eps)
            elif name == "adadelta":
                a = 0.9 * a + (1 - 0.9) * g * g
                d = math.sqrt(b + 1e-6) / math.sqrt(a + 1e-6) * g
                b = 0.9 * b + (1 - 0.9) * d * d
            elif name == "adamax":
                a = b1 * a + (1 - b1) * g
                b = max(b2 * b, abs(g) + eps)
                d = a / b / (1 - b1**t)
            else:  # adam, adamw, nadam
                a = b1 * a + (1 - b1) * g
                b = b2 * b + (1 - b2) * g * g
                v_hat = b / (1 - b2**t)
                if name == "nadam":
                    mu = b1 * (1 - 0.5 * 0.96 ** (t * 4e-3))
                    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * 4e-3))
                    c = (c if t > 1 else 1.0) * mu  # running product of mu
                    m_hat = mu_next * a / (1 - c * mu_next) + (1 - mu) * g / (1 - c)
                else:
                    m_hat = a / (1 - b1**t)
                d = m_hat / (math.sqrt(v_hat) + eps)
                if name == "adamw":
                    p[i] *= 1 - lr * 1e-2
            state[3 * i : 3 * i + 3] = a, b, c
            p[i] -= lr * d
        x, y = p
        f, _, _ = rosenbrock(x, y)
        if not (max(abs(x), abs(y)) <= MAX_ABS_PARAM and f <= MAX_LOSS):
            break
        path.append((x, y))
    return path


def check_same_work(raced, scalar_paths, check_steps=10):
    """Assert both computed the same paths; return a summary line.

    The first ``check_steps`` points must agree to 1e-9. Later, last-bit differences of operation
    order (NumPy vs Python floats) can grow where a method bounces chaotically across the valley,
    so only the divergence step and the largest deviation are reported.
    """
    same_divergence, deviation = 0, 0.0
    for r, runs in zip(raced, scalar_paths, strict=True):
        for i, path in enumerate(runs):
            path = np.array(path)
            n = min(check_steps, len(path))
            np.testing.assert_allclose(r.points[:n, i], path[:n], rtol=1e-9)
            d = r.diverged_at[i]
            same_divergence += (STEPS + 1 if d < 0 else d) == len(path)
            k = min(len(path), STEPS + 1 if d < 0 else d)
            deviation = max(deviation, float(np.abs(r.points[:k, i] - path[:k]).max()))
    runs = sum(len(p) for p in scalar_paths)
    return (
        f"same work: first {check_steps} points equal to 1e-9, divergence step equal in "
        f"{same_divergence}/{runs} runs, largest deviation {deviation:.2g}"
    )


def median_time(fn, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    print(f"glibc allocator tuned (core.memory.tune_allocator): {tune_allocator()}")
    print("threadpoolctl.threadpool_info():")
    for info in threadpool_info():
        keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer")
        print("  ", {k: info.get(k) for k in keys})
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}")

    surface = SURFACES["rosenbrock"]()
    names = list(LRS)

    def race_once(lr_scale=1.0, runs=1):
        scale = np.broadcast_to(np.asarray(lr_scale, dtype=float).reshape(-1, 1), (runs, 1))
        optimizers = [OPTIMIZERS[n](lr=LRS[n] * scale) for n in names]
        return race(optimizers, surface, np.tile(surface.start, (runs, 1)), STEPS)

    def scalar_once(lr_scales=(1.0,)):
        return [
            [scalar_descent(n, LRS[n] * s, *surface.start, STEPS) for s in lr_scales] for n in names
        ]

    # 1. one run per optimizer
    t_race, raced = median_time(race_once, 7)
    t_scalar, paths = median_time(scalar_once, 5)
    agree = check_same_work(raced, paths)
    print(f"\n1. {len(names)} optimizers x {STEPS} steps on Rosenbrock, one run each")
    print(f"   race:               {t_race * 1e3:8.1f} ms (goal < 100 ms)")
    print(f"   scalar Python loop: {t_scalar * 1e3:8.1f} ms")
    print(f"   scalar / race:      {t_scalar / t_race:8.2f}x")
    print(f"   {agree}")
    families = _families([OPTIMIZERS[n](lr=LRS[n]) for n in names], 1, STEPS)
    print(
        f"   {len(families)} fused updates per step: {[len(m) for _, m in families]} optimizers each"
    )
    # The engine's own share: the same race with a one-line SGD update and no state.
    bare = [Optimizer(lambda p: None, lambda p, g, s: (p - 1e-3 * g, s))] * len(names)
    t_bare, _ = median_time(lambda: race(bare, surface, surface.start, STEPS), 7)
    print(
        f"   race with {len(names)} bare one-line updates (engine overhead): {t_bare * 1e3:.1f} ms"
    )
    one = [Optimizer(lambda p: None, lambda p, g, s: (p - 1e-3 * g, s))]
    starts = np.tile(surface.start, (len(names), 1))
    t_one, _ = median_time(lambda: race(one, surface, starts, STEPS), 7)
    print(
        f"   race with one bare update for all runs (loop + surface gradient): {t_one * 1e3:.1f} ms"
    )

    # 2. an lr grid per optimizer: each lr above times 1e-4 ... 1e2 (the larger ones diverge)
    grid = np.logspace(-4, 2, 31)
    t_race_grid, raced = median_time(lambda: race_once(grid, len(grid)), 3)
    t_scalar_grid, paths = median_time(lambda: scalar_once(grid), 3)
    agree_grid = check_same_work(raced, paths)
    total = len(names) * len(grid)
    print(f"\n2. the same with {len(grid)} lrs per optimizer ({total} runs)")
    print(f"   race:               {t_race_grid * 1e3:8.1f} ms")
    print(f"   scalar Python loop: {t_scalar_grid * 1e3:8.1f} ms")
    print(f"   scalar / race:      {t_scalar_grid / t_race_grid:8.2f}x")
    print(f"   {agree_grid}")

    # 3. convergence map, SGD with momentum
    lrs, momenta = np.logspace(-5, -2.5, 60), np.linspace(0.0, 0.99, 60)
    print("\n3. convergence_map 60 momenta x 60 lrs x 500 steps on Rosenbrock")
    cases = [
        (1e-2, "eps = 1e-2 (a run stops once converged)"),
        (0.0, "eps = 0 (all 500 steps run)"),
    ]
    for eps, label in cases:
        t_map, m = median_time(lambda eps=eps: convergence_map(surface, lrs, momenta, 500, eps), 3)
        reached, diverged = (m.steps_to_reach >= 0).sum(), (m.diverged_at >= 0).sum()
        print(f"   {label}: {t_map * 1e3:.1f} ms ({reached} cells reached, {diverged} diverged)")


if __name__ == "__main__":
    main()
