"""Training speed and accuracy of core.training, measured against references in the same run.

Run from the repo root: ``python benchmarks/bench_training.py [--rounds 7]``.

1. Speed: one epoch of a 784-128-10 ReLU MLP, batch 128, float32, on MNIST-shaped data (the shipped
   real digits' training part repeated to 60,000 images), with SGD (lr 0.1, no momentum) and Adam
   (lr 1e-3). References: scikit-learn's ``MLPClassifier`` (same architecture, float32 input,
   alpha=0, ``partial_fit`` = one epoch) and the matmul floor (the forward + backward GEMMs alone,
   at the same shapes, on this BLAS). Rounds are interleaved and medians reported (the goals), with
   the ratios of each timing's fastest round and the load average beside them; each round is
   one more epoch for every model, so after the rounds the test accuracies are compared too.
   Goals: engine ≤ 0.65× scikit-learn, ≤ 1.6× the floor, test accuracy within 1 point. The rounds
   run with the default BLAS pool and again with one BLAS thread (``--threads``), as the app
   trains: one thread per request (app.py).
2. Accuracy: 784-256-128-10 with Adam, 10 epochs, on the built-in split (goal ≥ 94% on its
   held-out test part); sklearn 8×8 digits (goal ≥ 95% test accuracy).
3. Memory: peak RSS of loading full-size MNIST (60k + 10k, written here from the shipped digits in
   the layout ``cached_mnist`` reads) and training on it, above a bare ``import numpy``
   (goal ≤ 150 MB), measured in a fresh subprocess.

glibc returns the step's ~400 kB temporaries to the OS and maps them again each step (about 25% of
an SGD epoch here); ``core.memory.tune_allocator()`` (called below, as app.py does) keeps them in the
heap. ``--no-tune-allocator`` measures without it; the memory check runs both ways. Timings on a
shared machine are noisy: compare within one run.
"""

import argparse
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._blas_threads import add_threads_option, thread_settings
from core.activations import ACTIVATIONS
from core.datasets import (
    IDX_NAMES,
    Dataset,
    Split,
    builtin_mnist,
    load_digits_8x8,
    to_float32,
)
from core.memory import tune_allocator
from core.network import mlp
from core.training import TrainConfig, evaluate, init_train_state, train, train_for

N_TRAIN = 60_000
BATCH = 128


def blas_info() -> str:
    from threadpoolctl import threadpool_info

    return "; ".join(
        f"{i['internal_api']} {i.get('version')} {i.get('architecture')} threads={i['num_threads']}"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    )


def mnist_shaped() -> Dataset:
    """The built-in training digits repeated to 60,000 rows; built-in val and test unchanged."""
    d = builtin_mnist()
    reps = np.arange(N_TRAIN) % len(d.train.y)
    x, y = d.train.x[reps], d.train.y[reps]
    x.setflags(write=False)
    y.setflags(write=False)
    return Dataset("mnist_shaped", Split(x, y), d.val, d.test, d.image_shape)


def matmul_floor(rng: np.random.Generator, sizes=(784, 128, 10)) -> float:
    """Seconds for one epoch's forward + backward GEMMs alone (no bias, activation or update)."""
    d_in, d_h, d_out = sizes
    w1 = rng.standard_normal((d_in, d_h), dtype=np.float32)
    w2 = rng.standard_normal((d_h, d_out), dtype=np.float32)
    batches = [BATCH] * (N_TRAIN // BATCH) + ([N_TRAIN % BATCH] if N_TRAIN % BATCH else [])
    inputs = {n: rng.random((n, d_in), dtype=np.float32) for n in set(batches)}
    t0 = time.perf_counter()
    for n in batches:
        x = inputs[n]
        h = x @ w1  # forward
        logits = h @ w2
        dw2 = h.T @ logits  # backward (logits stand in for dlogits: same shape)
        dh = logits @ w2.T
        dw1 = x.T @ dh
    del dw1, dw2
    return time.perf_counter() - t0


def sklearn_model(solver: str, lr: float):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(128,),
        activation="relu",
        solver=solver,
        alpha=0.0,
        batch_size=BATCH,
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
        random_state=0,
    )


def speed(rounds: int) -> dict:
    data = mnist_shaped()
    x32 = to_float32(data.train.x)  # sklearn gets float32 input prepared outside the timing
    x_test = to_float32(data.test.x)
    act = ACTIVATIONS["relu"]()
    settings = {"sgd": 0.1, "adam": 1e-3}
    configs = {
        name: TrainConfig(
            architecture=mlp((784, 128, 10)),
            initializer="xavier_uniform",  # sklearn's Glorot-uniform weights
            optimizer=name,
            lr=lr,
            batch_size=BATCH,
        )
        for name, lr in settings.items()
    }
    states = {n: init_train_state(np.random.default_rng(0), data, c) for n, c in configs.items()}
    models = {n: sklearn_model(n, lr) for n, lr in settings.items()}
    times = {k: [] for k in ("engine_sgd", "sklearn_sgd", "engine_adam", "sklearn_adam", "floor")}
    rng = np.random.default_rng(1)
    for r in range(rounds):
        for name in settings:
            t0 = time.perf_counter()
            states[name], m = train_for(states[name], data, configs[name], until_epoch_end=True)
            times[f"engine_{name}"].append(time.perf_counter() - t0)
            assert m.epochs and m.diverged_at is None
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models[name].partial_fit(x32, data.train.y, classes=np.arange(10))
            times[f"sklearn_{name}"].append(time.perf_counter() - t0)
        times["floor"].append(matmul_floor(rng))
        print(
            f"  round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items())
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    out = {"median_seconds": med}
    for name in settings:
        e, s = med[f"engine_{name}"], med[f"sklearn_{name}"]
        acc_engine = evaluate(
            configs[name].architecture, states[name].params, states[name].bn_state, data.test, act
        )[1]
        acc_sklearn = float(models[name].score(x_test, data.test.y))
        out[name] = {
            "engine_s": e,
            "sklearn_s": s,
            "ratio_vs_sklearn": e / s,
            "ratio_vs_floor": e / med["floor"],
            "best_ratio_vs_sklearn": best[f"engine_{name}"] / best[f"sklearn_{name}"],
            "best_ratio_vs_floor": best[f"engine_{name}"] / best["floor"],
            "test_acc_engine": acc_engine,
            "test_acc_sklearn": acc_sklearn,
            "epochs": rounds,
        }
    return out


def accuracy_goals() -> dict:
    cfg = TrainConfig(
        architecture=mlp((784, 256, 128, 10)), optimizer="adam", lr=1e-3, batch_size=128
    )
    data = builtin_mnist()
    act = ACTIVATIONS["relu"]()
    t0 = time.perf_counter()
    state = list(train(np.random.default_rng(0), data, cfg, epochs=10))[-1][0]
    mnist_acc = evaluate(cfg.architecture, state.params, state.bn_state, data.test, act)[1]
    mnist_s = time.perf_counter() - t0
    digits = load_digits_8x8()
    cfg8 = TrainConfig(architecture=mlp((64, 128, 10)), optimizer="adam", lr=3e-3, batch_size=32)
    state8 = list(train(np.random.default_rng(0), digits, cfg8, epochs=40))[-1][0]
    digits_acc = evaluate(cfg8.architecture, state8.params, state8.bn_state, digits.test, act)[1]
    return {
        "builtin_mnist_784_256_128_10_adam_10ep_test_acc": mnist_acc,
        "builtin_mnist_seconds": mnist_s,
        "digits_8x8_64_128_10_adam_40ep_test_acc": digits_acc,
    }


def write_full_mnist(folder: Path) -> dict:
    """Full-size MNIST files (60k/10k rows of real digits, repeated) and their sha256 table."""
    whole = builtin_mnist()
    xs = np.concatenate([whole.train.x, whole.val.x, whole.test.x])
    ys = np.concatenate([whole.train.y, whole.val.y, whole.test.y])
    folder.mkdir(parents=True, exist_ok=True)
    known = {}
    for n, (img, lab) in ((N_TRAIN, IDX_NAMES[:2]), (10_000, IDX_NAMES[2:])):
        reps = np.arange(n) % len(ys)
        for name, arr in ((img, xs[reps]), (lab, ys[reps].astype(np.uint8))):
            header = struct.pack(f">{1 + arr.ndim}I", 2051 if arr.ndim == 3 else 2049, *arr.shape)
            blob = gzip.compress(header + arr.tobytes(), compresslevel=1)
            (folder / name).write_bytes(blob)
            known[name] = [len(blob), hashlib.sha256(blob).hexdigest()]
    return known


# VmHWM (this process's peak RSS) rather than ru_maxrss: Linux carries ru_maxrss over exec from
# the parent, which holds the 60k float32 copy for scikit-learn.
CHILD = r"""
import json, sys
import numpy as np
def peak_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
base = peak_kb()
sys.path.insert(0, sys.argv[1])
from core.memory import tune_allocator
tuned = tune_allocator() if sys.argv[4] == "1" else False
from core.datasets import KnownFile, cached_mnist
from core.training import TrainConfig, init_train_state, train_for
from core.network import mlp
known = {k: KnownFile(k, v[0], v[1]) for k, v in json.loads(sys.argv[3]).items()}
d = cached_mnist(sys.argv[2], known=known)
after_load = peak_kb()
cfg = TrainConfig(architecture=mlp((784, 128, 10)))
state = init_train_state(np.random.default_rng(0), d, cfg)
state, m = train_for(state, d, cfg, max_steps=200)
from core.training import evaluate
from core.activations import ACTIVATIONS
evaluate(cfg.architecture, state.params, state.bn_state, d.val, ACTIVATIONS["relu"]())
peak = peak_kb()
print(json.dumps({"rows": [len(d.train.y), len(d.val.y), len(d.test.y)], "tuned": tuned,
                  "load_mb": (after_load - base) / 1024, "peak_mb": (peak - base) / 1024}))
"""


def memory(tuned: bool) -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as tmp:
        known = write_full_mnist(Path(tmp) / "mnist")
        out = subprocess.run(
            [sys.executable, "-c", CHILD, root, tmp, json.dumps(known), "1" if tuned else "0"],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout)


def report_speed(rounds: int) -> None:
    print(f"  one epoch, 784-128-10, batch {BATCH}, float32, {N_TRAIN} rows, medians:")
    load_before = os.getloadavg()[0]
    res = speed(rounds)
    # Other processes on the cores slow a multi-threaded BLAS far more than the Python parts, so
    # a loaded machine distorts every ratio; the load says how far to trust this run.
    print(f"  load average (1 min) before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    print(f"  matmul floor: {res['median_seconds']['floor']:.3f} s")
    for name in ("sgd", "adam"):
        r = res[name]
        ok_sk = r["ratio_vs_sklearn"] <= 0.65
        ok_fl = r["ratio_vs_floor"] <= 1.6
        ok_acc = abs(r["test_acc_engine"] - r["test_acc_sklearn"]) <= 0.01
        print(
            f"  {name}: engine {r['engine_s']:.3f} s, sklearn {r['sklearn_s']:.3f} s "
            f"→ {r['ratio_vs_sklearn']:.2f}× sklearn ({'PASS' if ok_sk else 'FAIL'} ≤ 0.65), "
            f"{r['ratio_vs_floor']:.2f}× floor ({'PASS' if ok_fl else 'FAIL'} ≤ 1.6)"
        )
        print(
            f"        best rounds: {r['best_ratio_vs_sklearn']:.2f}× sklearn, "
            f"{r['best_ratio_vs_floor']:.2f}× floor (each timing's fastest round)"
        )
        print(
            f"        test acc after {r['epochs']} epochs: engine {r['test_acc_engine']:.4f}, "
            f"sklearn {r['test_acc_sklearn']:.4f} ({'PASS' if ok_acc else 'FAIL'} within 1 pt)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--no-tune-allocator", action="store_true")
    add_threads_option(parser)
    args = parser.parse_args()
    import sklearn

    tuned = False if args.no_tune_allocator else tune_allocator()
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}")
    print(f"BLAS: {blas_info()}")
    print(f"glibc allocator tuned (core.memory.tune_allocator): {tuned}")
    print("Memory (full-size MNIST, subprocess):")
    for tune in (False, True):
        mem = memory(tune)
        print(
            f"  tune_allocator {mem['tuned']!s:5}: rows {mem['rows']}, load +{mem['load_mb']:.0f} MB, "
            f"peak +{mem['peak_mb']:.0f} MB (goal <= 150 MB above bare numpy: "
            f"{'PASS' if mem['peak_mb'] <= 150 else 'FAIL'})"
        )
    for setting in thread_settings(args.threads):
        # The floor is measured under the same setting as the engine and scikit-learn.
        print(f"Speed with the {setting} ({blas_info()}):")
        report_speed(args.rounds)
    if not args.skip_accuracy:
        acc = accuracy_goals()
        a = acc["builtin_mnist_784_256_128_10_adam_10ep_test_acc"]
        b = acc["digits_8x8_64_128_10_adam_40ep_test_acc"]
        print("Accuracy:")
        print(
            f"  built-in MNIST, 784-256-128-10 Adam, 10 epochs: held-out test {a:.4f} "
            f"({'PASS' if a >= 0.94 else 'FAIL'} ≥ 0.94; {acc['builtin_mnist_seconds']:.1f} s)"
        )
        print(
            f"  8×8 digits, 64-128-10 Adam: test {b:.4f} ({'PASS' if b >= 0.95 else 'FAIL'} ≥ 0.95)"
        )


if __name__ == "__main__":
    main()
