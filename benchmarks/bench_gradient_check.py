"""Time the MNIST page's gradient check (core.network.gradient_check) on the networks the page allows.

Run from the repo root: ``python benchmarks/bench_gradient_check.py``. For each network, on 16
MNIST-shaped rows as the page uses, prints the median of ``--repeats`` checks in ms and the same as
a number of float64 forward passes of the whole network timed in the same run (that ratio does not
depend on how loaded the machine is). The largest network the page accepts is 784-1024×6-10 with
batch norm (core.mnist_setup.MAX_LAYERS × MAX_WIDTH), and the largest CNN 32@7×7 twice with batch
norm; the goal is well under 0.5 s there.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_deep_signals import _median_ms
from core.activations import ACTIVATIONS
from core.mnist_setup import MAX_LAYERS, MAX_WIDTH
from core.network import cnn, forward, gradient_check, init_params, mlp, worst_check

NETWORKS = {
    "784-128-10": mlp((784, 128, 10)),
    "784-64-32-10 BN": mlp((784, 64, 32, 10), batch_norm=True),
    "784-1024x6-10 BN": mlp((784, *[MAX_WIDTH] * MAX_LAYERS, 10), batch_norm=True),
    "CNN 8@5x5-16@5x5": cnn((28, 28)),
    "CNN 32@7x7-32@7x7 BN": cnn((28, 28), ((32, 7, 2), (32, 7, 3)), batch_norm=True),
}


def _bench(name: str, repeats: int) -> str:
    arch = NETWORKS[name]
    relu = ACTIVATIONS["relu"]()
    rng = np.random.default_rng(0)
    params = init_params(rng, arch)
    x, y = rng.random((16, *arch.input_shape)).astype(np.float32), rng.integers(0, 10, 16)
    p64 = [{k: v.astype(np.float64) for k, v in layer.items()} for layer in params]
    x64 = x.astype(np.float64)
    one = _median_ms(lambda: forward(arch, p64, x64, activation=relu, train=True), repeats)

    def check():
        return gradient_check(arch, params, x, y, activation=relu, rng=np.random.default_rng(0))

    ms = _median_ms(check, repeats)
    worst = worst_check(check())
    return (
        f"{name:>40}: {ms:8.1f} ms = {ms / one:5.1f} forward passes ({one:.2f} ms each); "
        f"worst {worst.name} of layer {worst.layer + 1}: {worst.rel:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name in NETWORKS:
        print(_bench(name, args.repeats), flush=True)


if __name__ == "__main__":
    main()
