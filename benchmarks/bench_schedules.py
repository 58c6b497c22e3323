"""Time every schedule over 100,000 steps against a per-step Python loop doing the same formula.

Run from the repo root: ``python benchmarks/bench_schedules.py``. Both sides are measured in the same
run (best of 5); the loop side is plain Python + ``math`` mirroring torch's per-step recursion, so
it also cross-checks the values (max relative difference printed). Goal: < 50 ms per schedule.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.schedules import SCHEDULES, reduce_lr_on_plateau

N = 100_000
LR = 0.1


def _loop_plain(step):
    """Per-step loop: lr_t = step(t, lr_{t-1})."""
    out, lr = [LR], LR
    for t in range(1, N):
        lr = step(t, lr)
        out.append(lr)
    return out


def _cos_recursive(t, lr, T=30_000):
    if (t - 1 - T) % (2 * T) == 0:
        return lr + LR * (1 - math.cos(math.pi / T)) / 2
    return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * lr


def _warm_restarts_loop():
    out, T_cur, T_i = [], 0, 1000
    for _ in range(N):
        out.append(LR * (1 + math.cos(math.pi * T_cur / T_i)) / 2)
        T_cur += 1
        if T_cur >= T_i:
            T_cur, T_i = 0, T_i * 2
    return out


def _cyclic_loop(base=0.01, top=0.1, up=2000.0):
    out = []
    for t in range(N):
        cycle = math.floor(1 + t / (2 * up))
        x = 1.0 + t / (2 * up) - cycle
        scale = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
        out.append(base + (top - base) * scale / (2.0 ** (cycle - 1)))
    return out


def _one_cycle_loop(top=0.1):
    start, peak, end = top / 25, top, top / 25 / 1e4
    warm = 0.3 * N - 1
    out = []
    for t in range(N):
        a, b, s, e = (start, peak, 0, warm) if t <= warm else (peak, end, warm, N - 1)
        out.append(b + (a - b) / 2.0 * (math.cos(math.pi * (t - s) / (e - s)) + 1))
    return out


def _sequential_loop():
    out, lr = [], LR * 0.1
    for t in range(N):
        if t == 1000:
            lr = LR
        elif 0 < t < 1000:
            lr = lr * (1 + 0.9 / (1000 * 0.1 + (t - 1) * 0.9))
        elif t > 1000:
            lr = _cos_recursive(t - 1000, lr, T=N)
        out.append(lr)
    return out


# name -> (kwargs for the registry factory, per-step Python loop with the same formula)
CASES = {
    "constant_lr": (
        {"total_iters": 50_000},
        lambda: [LR / 3 if t < 50_000 else LR for t in range(N)],
    ),
    "linear_lr": (
        {"total_iters": 50_000},
        lambda: [LR * (1 / 3 + (2 / 3) * min(t, 50_000) / 50_000) for t in range(N)],
    ),
    "step_lr": (
        {"step_size": 10_000, "gamma": 0.5},
        lambda: _loop_plain(lambda t, lr: lr * 0.5 if t % 10_000 == 0 else lr),
    ),
    "multi_step_lr": (
        {"milestones": [30_000, 60_000, 90_000]},
        lambda: _loop_plain(lambda t, lr: lr * 0.1 if t in (30_000, 60_000, 90_000) else lr),
    ),
    "exponential_lr": ({"gamma": 0.9999}, lambda: _loop_plain(lambda t, lr: lr * 0.9999)),
    "polynomial_lr": (
        {"total_iters": 80_000, "power": 2.0},
        lambda: _loop_plain(
            lambda t, lr: (
                lr if t > 80_000 else lr * ((1 - t / 80_000) / (1 - (t - 1) / 80_000)) ** 2.0
            )
        ),
    ),
    "cosine_annealing_lr": ({"T_max": 30_000}, lambda: _loop_plain(_cos_recursive)),
    "cosine_annealing_warm_restarts": ({"T_0": 1000, "T_mult": 2}, _warm_restarts_loop),
    "cyclic_lr": ({"base_lr": 0.01, "max_lr": 0.1, "mode": "triangular2"}, _cyclic_loop),
    "one_cycle_lr": ({"max_lr": 0.1, "total_steps": N}, _one_cycle_loop),
    "sequential_lr": (
        {
            "schedulers": [
                ("linear_lr", {"start_factor": 0.1, "total_iters": 1000}),
                ("cosine_annealing_lr", {"T_max": N}),
            ],
            "milestones": [1000],
        },
        _sequential_loop,
    ),
    "lambda_lr": ({"lr_lambda": lambda e: 0.9999**e}, lambda: [LR * 0.9999**t for t in range(N)]),
    "multiplicative_lr": (
        {"lr_lambda": lambda e: 0.9999},
        lambda: _loop_plain(lambda t, lr: lr * 0.9999),
    ),
}


def best_of(fn, repeats=5):
    """Fastest wall time of ``repeats`` calls, and the last result."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    t = np.arange(N)
    print(
        f"{'schedule':32s} {'numpy ms':>9s} {'loop ms':>9s} {'speed-up':>9s} {'max rel diff':>13s}"
    )
    for name, (kwargs, loop) in CASES.items():
        fast, curve = best_of(lambda: SCHEDULES[name](lr=LR, **kwargs)(t))  # noqa: B023
        slow, ref = best_of(loop, repeats=3)
        ref = np.asarray(ref)
        diff = np.max(np.abs(curve - ref) / np.maximum(np.abs(ref), 1e-12))
        flag = "" if fast < 0.05 else "  (over 50 ms goal)"
        print(
            f"{name:32s} {fast * 1e3:9.2f} {slow * 1e3:9.2f} {slow / fast:8.1f}x {diff:13.1e}{flag}"
        )
    losses = 1 + np.random.default_rng(0).standard_normal(N) * 0.01 + np.exp(-t / 1e4)
    plat, _ = best_of(lambda: reduce_lr_on_plateau(LR, losses, patience=100))
    print(f"{'reduce_lr_on_plateau (needs a loop)':32s} {plat * 1e3:9.2f}")


if __name__ == "__main__":
    main()
