"""Uploaded MNIST-format files → a ``Dataset`` (train / validation / test), or a ``DatasetError``.

``dataset_from_uploads(files)`` takes ``(file name, bytes)`` pairs as a file uploader gives them:
either one Keras-style ``.npz`` (keys x_train, y_train, x_test, y_test) or the four IDX files of
MNIST's layout (raw or ``.gz``), told apart by their published names (``train`` / ``t10k`` or
``test``, ``images`` / ``labels`` or ``idx3`` / ``idx1``). The bytes are written to a temporary
folder and read by ``core.datasets``' own loaders, so an upload is checked exactly like a
downloaded file. Problems raise ``DatasetError(code, file, detail)`` with ``code`` in
``core.datasets.ERROR_CODES`` or ``UPLOAD_ERROR_CODES``; the page translates the code.

The last sixth of the training images becomes the validation split (MNIST's classic 50,000 /
10,000 split for 60,000); the test split is the uploaded one. No streamlit import: testable alone.
"""

import tempfile
from collections.abc import Sequence
from pathlib import Path

from core.datasets import (
    MAX_IMAGES,
    MAX_UNPACKED_BYTES,
    Dataset,
    DatasetError,
    Split,
    load_idx,
    load_npz,
)

NAME = "upload"
UPLOAD_ERROR_CODES = (
    "empty",  # a file with no bytes
    "file_set",  # not one .npz and not the four IDX files, or names that don't say which is which
    "too_few",  # too few training or test images to split and evaluate
    "image_size",  # images too large (or too small) for the page's network
)  # and core.datasets' "too_large": over MAX_UPLOAD_BYTES uploaded, or over full MNIST unpacked
MIN_TRAIN = 12  # 10 training + 2 validation images at least
# The uploaded bytes stay in memory as long as the uploader shows them (Streamlit keeps them), on
# top of the unpacked dataset: a class of 30 must fit in 2.7 GB. MNIST's own files are 11 MB.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SIDE = 64  # px; 784 inputs is MNIST, 64×64 = 4,096 still trains in a shared server's ticks
VAL_FRACTION = 1 / 6


def _role(name: str) -> tuple[str, str] | None:
    """("train" | "test", "images" | "labels") from an IDX file's name, or None if unclear."""
    low = name.lower()
    split = {"train" in low, "t10k" in low or "test" in low}
    kinds = {"images" in low or "idx3" in low, "labels" in low or "idx1" in low}
    if split != {True, False} or kinds != {True, False}:
        return None
    return (
        "train" if "train" in low else "test",
        "images" if "images" in low or "idx3" in low else "labels",
    )


def _validation_cut(train: Split, test: Split, name: str, image_shape: tuple) -> Dataset:
    """The last sixth of ``train`` as validation; sizes and image shape checked."""
    if len(train.y) < MIN_TRAIN or len(test.y) < 1:
        raise DatasetError("too_few", name, f"{len(train.y)} training, {len(test.y)} test images")
    if len(train.y) + len(test.y) > MAX_IMAGES:
        raise DatasetError("too_large", name, f"{len(train.y) + len(test.y)} images")
    rows, cols = image_shape
    if not (2 <= rows <= MAX_SIDE and 2 <= cols <= MAX_SIDE):
        raise DatasetError("image_size", name, f"{rows}×{cols}")
    cut = len(train.y) - max(1, round(len(train.y) * VAL_FRACTION))
    return Dataset(
        NAME,
        Split(train.x[:cut], train.y[:cut]),
        Split(train.x[cut:], train.y[cut:]),
        test,
        (int(rows), int(cols)),
    )


def dataset_from_uploads(files: Sequence[tuple[str, bytes]]) -> Dataset:
    """One .npz or four IDX files (name, bytes) → Dataset; DatasetError with a code otherwise."""
    names = [Path(name).name or "file" for name, _ in files]
    listed = ", ".join(names) or "–"
    for name, (_, content) in zip(names, files, strict=True):
        if len(content) == 0:
            raise DatasetError("empty", name)
    if (total := sum(len(content) for _, content in files)) > MAX_UPLOAD_BYTES:
        raise DatasetError("too_large", listed, f"{total} bytes uploaded")
    is_npz = [n.lower().endswith(".npz") for n in names]
    if not (len(files) == 1 and is_npz[0]) and not (len(files) == 4 and not any(is_npz)):
        raise DatasetError("file_set", listed, f"{len(files)} files")
    with tempfile.TemporaryDirectory(prefix="dlp-upload-") as folder:
        paths = []
        for i, (name, (_, content)) in enumerate(zip(names, files, strict=True)):
            # A numbered sub-folder per file: two uploads with the same name cannot overwrite.
            path = Path(folder) / str(i) / name
            path.parent.mkdir()
            path.write_bytes(content)
            paths.append(path)
        if len(paths) == 1:
            train, test = load_npz(paths[0])
            return _validation_cut(train, test, names[0], train.x.shape[1:])
        roles = {_role(n): p for n, p in zip(names, paths, strict=True)}
        wanted = {(s, k) for s in ("train", "test") for k in ("images", "labels")}
        if set(roles) != wanted:
            raise DatasetError("file_set", listed, "names do not say which file is which")
        # Read into memory (np.frombuffer over the bytes) before the folder is deleted.
        # The four files together unpack to at most what full MNIST needs.
        train = load_idx(roles["train", "images"], roles["train", "labels"])
        left = MAX_UNPACKED_BYTES - train.x.nbytes - len(train.y)
        test = load_idx(roles["test", "images"], roles["test", "labels"], max_bytes=left)
    if train.x.shape[1:] != test.x.shape[1:]:
        raise DatasetError(
            "bad_shape", listed, f"train {train.x.shape[1:]}, test {test.x.shape[1:]}"
        )
    return _validation_cut(train, test, listed, train.x.shape[1:])
