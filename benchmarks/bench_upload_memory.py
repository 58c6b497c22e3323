"""A class of 30 sessions each uploading the largest accepted MNIST file: peak RSS of the process.

Run from the repo root: ``python benchmarks/bench_upload_memory.py [--sessions 30]``. The largest
file the upload accepts: 60,000 + 10,000 28×28 images with int64 labels (the unpacked limit, 55 MB)
in an .npz of just under the 20 MB upload limit (real MNIST compresses to 11 MB). Each simulated
session holds what a real one holds after its upload: the uploaded bytes (Streamlit's uploaded-file
manager keeps them while the uploader shows the file) and the Dataset that
``ui.mnist_upload.dataset_from_uploads`` returns (kept in the session's state). The app's modules
are imported first, so the baseline is the server's. Also prints how much larger a hostile file
(the issue's 0.95 MB of zeros declaring 1,041,667 images) grows the process: it is refused from
its headers. Goal: peak under Streamlit Community Cloud's 2.7 GB.
"""

import argparse
import io
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit  # noqa: F401  (the server's baseline)
import sympy  # noqa: F401

from core.datasets import MAX_IMAGES, MAX_UNPACKED_BYTES, DatasetError
from ui.mnist_upload import MAX_UPLOAD_BYTES, dataset_from_uploads


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def largest_file(folder: Path) -> Path:
    """70,000 images with int64 labels (the unpacked limit) in an .npz just under the upload
    limit: the first images random (incompressible), the rest blank."""
    rng = np.random.default_rng(0)
    path = folder / "mnist.npz"
    n_train = MAX_IMAGES - 10_000
    x_train = np.zeros((n_train, 28, 28), np.uint8)
    noisy = (MAX_UPLOAD_BYTES - 2_000_000) // 784
    x_train[:noisy] = rng.integers(0, 256, (noisy, 28, 28), dtype=np.uint8)
    np.savez_compressed(
        path,
        x_train=x_train,
        y_train=rng.integers(0, 10, n_train).astype(np.int64),
        x_test=np.zeros((10_000, 28, 28), np.uint8),
        y_test=rng.integers(0, 10, 10_000).astype(np.int64),
    )
    assert path.stat().st_size <= MAX_UPLOAD_BYTES
    return path


def hostile_file() -> bytes:
    """The issue's kind of file: x_train declares 1,041,667 images over 0.95 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, shape, data in [
            ("x_train", (1_041_667, 28, 28), bytes(950_000)),
            ("y_train", (2,), bytes(2)),
            ("x_test", (2, 28, 28), bytes(2 * 784)),
            ("y_test", (2,), bytes(2)),
        ]:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "|u1", "fortran_order": False, "shape": shape}
            )
            z.writestr(f"{name}.npy", header.getvalue() + data)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = largest_file(Path(folder))
        size = path.stat().st_size
        base = rss_mb()
        print(
            f"largest accepted file: {size / 1e6:.1f} MB, unpacks to {MAX_UNPACKED_BYTES / 1e6:.1f} MB"
        )
        print(f"baseline RSS (app modules imported): {base:.0f} MB")
        before = rss_mb()
        try:
            dataset_from_uploads([("mnist.npz", hostile_file())])
        except DatasetError as err:
            print(f"hostile 1,041,667-image npz: refused ({err.code}), +{rss_mb() - before:.1f} MB")
        sessions = []
        start = time.perf_counter()
        for i in range(args.sessions):
            upload = path.read_bytes()  # each visitor's own copy, as the uploader holds it
            sessions.append((upload, dataset_from_uploads([("mnist.npz", upload)])))
            if (i + 1) % 10 == 0:
                print(f"{i + 1:3d} sessions: RSS {rss_mb():.0f} MB, peak {peak_mb():.0f} MB")
        print(f"{args.sessions} uploads in {time.perf_counter() - start:.1f} s")
        print(f"peak RSS: {peak_mb():.0f} MB (goal < 2700 MB)")


if __name__ == "__main__":
    main()
