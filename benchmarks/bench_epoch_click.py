"""How long "One epoch" holds a session: the click, then each live tick until the epoch ends.

Run from the repo root: ``python benchmarks/bench_epoch_click.py [--train 7000]``. The issue's worst
case: six hidden layers of 1024 units (the page's maximum) and batch size 1, on the built-in MNIST
split the page trains on by default. The click trains ``ui.mnist_settings.EPOCH_BUDGET`` seconds;
each later tick trains the fair-share budget of one trainer (``ui.fair_share.tick_plan``), so the
longest tick is the one that ends the epoch and evaluates the validation split. Goal: every click
and tick < 2 s. ``--train`` shortens the epoch (the ticks, not their length, depend on it).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.datasets import Split, builtin_mnist
from core.network import mlp
from core.session import Session, configure, epoch, tick
from core.training import TrainConfig
from ui.fair_share import tick_plan
from ui.mnist_settings import EPOCH_BUDGET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=7000, help="training images (7000: default)")
    args = parser.parse_args()
    data = builtin_mnist()
    data = data._replace(train=Split(data.train.x[: args.train], data.train.y[: args.train]))
    config = TrainConfig(architecture=mlp((784, *[1024] * 6, 10)), batch_size=1, lr=0.01)
    arch = ("mnist_builtin", args.train, config.architecture, config.initializer, 0)
    s = configure(Session("bench"), data, config, arch, "bench")
    budget = tick_plan(1).budget
    start = time.perf_counter()
    s = epoch(s, data, config, EPOCH_BUDGET)
    click = time.perf_counter() - start
    print(f"click: {click:.2f} s, {s.train.step} steps, still running: {s.running}")
    ticks = []
    while s.running:
        start = time.perf_counter()
        s = tick(s, data, config, time_budget=budget)
        ticks.append(time.perf_counter() - start)
    print(
        f"{len(ticks)} ticks of {budget:.2f} s budget to the epoch's end ({s.train.step} steps): "
        f"median {np.median(ticks):.2f} s, longest {max(ticks, default=0):.2f} s "
        f"(the last, with the evaluation: {ticks[-1] if ticks else 0:.2f} s)"
    )
    print(f"worst: {max([click, *ticks]):.2f} s (goal < 2 s); epoch {s.train.epoch} done")


if __name__ == "__main__":
    main()
