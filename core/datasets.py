"""Image-classification datasets as read-only uint8 arrays, split into train / validation / test.

Every loader returns a ``Dataset(name, train, val, test, image_shape)`` whose splits are
``Split(x, y)``: ``x`` uint8 of shape ``(n, rows, cols)`` (0 = background, 255 = ink), ``y`` int64
labels ``0..9``. Arrays are marked read-only so a cached dataset can be shared by every caller;
``to_float32`` converts one batch at a time (``x / 255`` flattened to ``(n, rows * cols)``), which
keeps full MNIST at about 55 MB of uint8 instead of 220 MB of float32.

File problems raise ``DatasetError(code, path, detail)``; ``code`` is one of ``ERROR_CODES`` and the
UI translates it. IDX: big-endian int32 magic (2051 images, 2049 labels), int32 dims, raw bytes.
"""

import functools
import gzip
import hashlib
import math
import os
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

ERROR_CODES = (
    "missing",  # file does not exist
    "truncated",  # fewer bytes than the header promises (or a cut-off .gz)
    "bad_magic",  # not an IDX file of the expected kind
    "bad_shape",  # dims / array shapes / extra bytes do not fit
    "bad_format",  # not a readable .gz / .npz, or .npz without the expected keys
    "bad_label",  # a label outside 0..9
    "checksum",  # sha256 differs from the published value
    "label_mismatch",  # image and label counts differ
    "too_large",  # over MAX_IMAGES images, or unpacks to over MAX_UNPACKED_BYTES (seen unpacked)
)

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"
NUM_CLASSES = 10
MAX_IMAGES = 70_000  # full MNIST: 60,000 training and 10,000 test images
# What full MNIST needs unpacked (uint8 images, labels up to int64, headers): no file may unpack to
# more. Checked against the sizes a file declares before anything is unpacked, and while
# decompressing a .gz (a 1 MB upload of zeros declared a million images: 935 MB held).
MAX_UNPACKED_BYTES = MAX_IMAGES * (28 * 28 + 8) + 64 * 1024


class DatasetError(ValueError):
    """A dataset file is missing or malformed; ``code`` is machine-readable (see ERROR_CODES)."""

    def __init__(self, code: str, path: os.PathLike | str, detail: str = ""):
        self.code, self.path, self.detail = code, str(path), detail
        super().__init__(f"{code}: {path}" + (f" ({detail})" if detail else ""))


class KnownFile(NamedTuple):
    """Published facts about one file: a match on either sha256 verifies it."""

    name: str
    size: int | None = None  # bytes as published (for progress bars)
    sha256: str | None = None  # of the file as published (the .gz / .npz bytes)
    content_sha256: str | None = None  # of the decompressed content (.gz only)


class Split(NamedTuple):
    x: np.ndarray  # uint8 (n, rows, cols), read-only
    y: np.ndarray  # int64 (n,), read-only


class Dataset(NamedTuple):
    name: str
    train: Split
    val: Split
    test: Split
    image_shape: tuple[int, int]


# Values from data/mnist/README.md (original LeCun files; Keras mnist.npz). The train images'
# content sha256 is not there: it was computed from a copy whose MD5 is the one published for the
# decompressed file (6bbc9ace898e44ae57da46a324031adb), so a re-gzipped copy of it is accepted too.
MNIST_FILES: dict[str, KnownFile] = {
    f.name: f
    for f in (
        KnownFile(
            "train-images-idx3-ubyte.gz",
            9_912_422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        KnownFile(
            "train-labels-idx1-ubyte.gz",
            28_881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        KnownFile(
            "t10k-images-idx3-ubyte.gz",
            1_648_877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        KnownFile(
            "t10k-labels-idx1-ubyte.gz",
            4_542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
        KnownFile(
            "mnist.npz",
            11_490_434,
            "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        ),
    )
}
IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# Fashion-MNIST publishes MD5s of its .gz files (zalandoresearch/fashion-mnist README, the same
# values torchvision checks); we hold no sha256 for it, so these are compared with hashlib.md5.
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}


# ---------------------------------------------------------------- reading and checking files


def _read_bytes(path: Path, max_bytes: int = MAX_UNPACKED_BYTES) -> bytes:
    """Whole file, transparently gunzipped when the name ends in .gz; DatasetError('too_large')
    as soon as it would pass ``max_bytes``, before reading more."""
    if not path.is_file():
        raise DatasetError("missing", path)
    if path.suffix != ".gz":
        if path.stat().st_size > max_bytes:
            raise DatasetError("too_large", path, f"{path.stat().st_size} bytes")
        return path.read_bytes()
    try:
        with gzip.open(path) as stream:
            data = stream.read(max_bytes + 1)  # decompresses only this far
    except EOFError as e:  # the gzip stream ends early: a cut-off download
        raise DatasetError("truncated", path, str(e)) from None
    except (OSError, zlib.error) as e:
        raise DatasetError("bad_format", path, str(e)) from None
    if len(data) > max_bytes:
        raise DatasetError("too_large", path, f"unpacks to over {max_bytes} bytes")
    return data


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of a bytes object."""
    return hashlib.sha256(data).hexdigest()


# Verdicts of file_matches per (path, size, mtime, known): a corrupt cached mnist.npz was re-hashed
# on every rerun of the page (0.29 s for 150 MB), since a failed load is not cached by the UI.
_VERDICTS: dict[tuple, bool] = {}
MAX_VERDICTS = 64


def _verdict_key(path: Path, known: KnownFile) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, known)


def remembered_verdict(path: Path, known: KnownFile) -> bool | None:
    """What ``file_matches`` found for this very file (same size and mtime), None if not yet."""
    return _VERDICTS.get(_verdict_key(path, known))


def file_matches(path: Path, known: KnownFile, content: bytes | None = None) -> bool:
    """True when the file's bytes or its decompressed ``content`` match a published sha256;
    remembered until the file changes."""
    key = _verdict_key(path, known)
    if key in _VERDICTS:
        return _VERDICTS[key]
    verdict = known.sha256 is not None and sha256_hex(path.read_bytes()) == known.sha256
    if not verdict and known.content_sha256 is not None:
        if content is None:
            content = _read_bytes(path)
        verdict = sha256_hex(content) == known.content_sha256
    if len(_VERDICTS) >= MAX_VERDICTS:
        del _VERDICTS[next(iter(_VERDICTS))]  # the oldest
    _VERDICTS[key] = verdict
    return verdict


def parse_idx(data: bytes, magic: int, path: os.PathLike | str = "<bytes>") -> np.ndarray:
    """Read-only uint8 view of IDX ``data`` with the header's dims (no copy)."""
    ndim = {IMAGES_MAGIC: 3, LABELS_MAGIC: 1}[magic]
    if len(data) < 4:
        raise DatasetError("truncated", path, f"{len(data)} header bytes")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DatasetError("bad_magic", path, f"magic {found}, expected {magic}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError("truncated", path, f"{len(data)} header bytes")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if dims[0] > MAX_IMAGES:
        raise DatasetError("too_large", path, f"{dims[0]} items, at most {MAX_IMAGES}")
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise DatasetError("bad_shape", path, f"dims {dims}")
    # Python's exact product: np.prod wraps around in int64 for a header such as 2³¹ × 2³¹ × 4.
    expected = header + math.prod(dims)
    if len(data) < expected:
        raise DatasetError("truncated", path, f"{len(data)} bytes, header promises {expected}")
    if len(data) > expected:
        raise DatasetError("bad_shape", path, f"{len(data) - expected} bytes after the data")
    # frombuffer over immutable bytes is already read-only; no copy of the 47 MB image block.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _check_pair(x: np.ndarray, y: np.ndarray, path: os.PathLike | str) -> Split:
    """Validate images/labels and return a read-only Split with int64 labels."""
    if x.ndim != 3 or x.dtype != np.uint8 or y.ndim != 1:
        raise DatasetError("bad_shape", path, f"images {x.shape} {x.dtype}, labels {y.shape}")
    if len(x) != len(y):
        raise DatasetError("label_mismatch", path, f"{len(x)} images, {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise DatasetError("bad_label", path, f"labels in [{y.min()}, {y.max()}]")
    y = y.astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return Split(x, y)


def load_idx(
    images_path: os.PathLike | str,
    labels_path: os.PathLike | str,
    *,
    known: Mapping[str, KnownFile] | None = None,
    max_bytes: int = MAX_UNPACKED_BYTES,
) -> Split:
    """Images and labels from two IDX files (.gz or raw); sha256-checked if ``known`` lists them.
    Both together unpack to at most ``max_bytes``."""
    paths = Path(images_path), Path(labels_path)
    for p in paths:  # a file already found corrupt is refused before it is read again
        if known is not None and p.name in known and remembered_verdict(p, known[p.name]) is False:
            raise DatasetError("checksum", p)
    images = _read_bytes(paths[0], max_bytes)
    contents = [images, _read_bytes(paths[1], max_bytes - len(images))]
    if known is not None:
        for p, content in zip(paths, contents, strict=True):
            if p.name in known and not file_matches(p, known[p.name], content):
                raise DatasetError("checksum", p)
    x = parse_idx(contents[0], IMAGES_MAGIC, paths[0])
    y = parse_idx(contents[1], LABELS_MAGIC, paths[1])
    return _check_pair(x, y, paths[1])


class UnsupportedNpy(ValueError):
    """A .npy format version other than 1.0 and 2.0."""


def npy_header(npz, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the .npy header of member ``name`` of an open NpzFile, without reading
    its data; ValueError for a damaged header, UnsupportedNpy for another format version."""
    with npz.zip.open(name + ".npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:  # 3.0 only exists for utf-8 field names of structured dtypes
            raise UnsupportedNpy(f"{name}: .npy format {version}")
    return shape, dtype


_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _check_npz_sizes(npz, path: Path, max_bytes: int) -> None:
    """Refuse, from the zip directory and the .npy headers alone, an archive that would unpack to
    over ``max_bytes`` or hold over MAX_IMAGES images. (NumPy allocates the header's shape before
    reading, and zipfile never reads past a member's declared size.)"""
    declared = sum(info.file_size for info in npz.zip.infolist())
    if declared > max_bytes:
        raise DatasetError("too_large", path, f"unpacks to {declared} bytes")
    headers = {k: npy_header(npz, k) for k in _NPZ_KEYS}
    needed = sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    images = sum(headers[k][0][0] if headers[k][0] else 0 for k in ("x_train", "x_test"))
    if needed > max_bytes or images > MAX_IMAGES:
        raise DatasetError("too_large", path, f"{images} images, {needed} bytes")


def load_npz(
    path: os.PathLike | str,
    *,
    known: Mapping[str, KnownFile] | None = None,
    max_bytes: int = MAX_UNPACKED_BYTES,
) -> tuple[Split, Split]:
    """``(train, test)`` from a Keras-style .npz with keys x_train, y_train, x_test, y_test,
    unpacking to at most ``max_bytes``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError("missing", path)
    if known is not None and path.name in known and not file_matches(path, known[path.name]):
        raise DatasetError("checksum", path)
    if not zipfile.is_zipfile(path):
        # np.load would read a plain .npy (or a pickle header) whole, whatever its size.
        raise DatasetError("bad_format", path, "not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = set(_NPZ_KEYS) - set(f.files)
            if missing:
                raise DatasetError("bad_format", path, f"missing keys {sorted(missing)}")
            _check_npz_sizes(f, path, max_bytes)
            arrays = {k: f[k] for k in _NPZ_KEYS}
    except DatasetError:
        raise
    except EOFError as e:
        raise DatasetError("truncated", path, str(e)) from None
    # A damaged archive surfaces as any of these, depending on where the damage is.
    except (OSError, ValueError, zlib.error, zipfile.BadZipFile) as e:
        raise DatasetError("bad_format", path, f"{type(e).__name__}: {e}") from None
    for k in ("x_train", "x_test"):
        if arrays[k].dtype != np.uint8:
            raise DatasetError("bad_shape", path, f"{k} dtype {arrays[k].dtype}")
    train = _check_pair(arrays["x_train"], arrays["y_train"], path)
    test = _check_pair(arrays["x_test"], arrays["y_test"], path)
    if train.x.shape[1:] != test.x.shape[1:]:
        raise DatasetError("bad_shape", path, f"{train.x.shape} vs {test.x.shape}")
    return train, test


# ---------------------------------------------------------------- splitting


def stratified_split(
    y: np.ndarray, sizes: tuple[int, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Disjoint index arrays of the given ``sizes`` whose class proportions follow ``y``'s."""
    sizes = tuple(int(s) for s in sizes)
    if any(s < 0 for s in sizes) or sum(sizes) > len(y):
        raise ValueError(f"{sizes=} for {len(y)} samples")
    classes, counts = np.unique(y, return_counts=True)
    # Largest-remainder allocation per split: each split gets round(size * share) of every class,
    # fixed up so the per-split totals are exact and no class is over-drawn.
    take = np.zeros((len(sizes), len(classes)), dtype=np.int64)
    left = counts.copy()
    for i, size in enumerate(sizes):
        quota = size * counts / counts.sum()
        take[i] = np.minimum(np.floor(quota).astype(np.int64), left)
        order = np.argsort(-(quota - np.floor(quota)), kind="stable")
        j = 0
        while take[i].sum() < size:
            c = order[j % len(order)]
            if take[i, c] < left[c]:
                take[i, c] += 1
            j += 1
        left -= take[i]
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for c_i, c in enumerate(classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        bounds = np.concatenate([[0], np.cumsum(take[:, c_i])])
        for i in range(len(sizes)):
            parts[i].append(idx[bounds[i] : bounds[i + 1]])
    return [rng.permutation(np.concatenate(p)) for p in parts]


def _subset(split: Split, idx: np.ndarray) -> Split:
    x, y = split.x[idx], split.y[idx]
    x.setflags(write=False)
    y.setflags(write=False)
    return Split(x, y)


def _split_three(
    name: str, x: np.ndarray, y: np.ndarray, sizes: tuple[int, int, int], seed: int
) -> Dataset:
    whole = Split(x, y)
    train, val, test = stratified_split(y, sizes, np.random.default_rng(seed))
    return Dataset(
        name, _subset(whole, train), _subset(whole, val), _subset(whole, test), x.shape[1:]
    )


# ---------------------------------------------------------------- datasets


@functools.cache
def _builtin_test_split() -> Split:
    """The shipped MNIST test split, sha256-verified once per process."""
    return load_idx(
        BUILTIN_DIR / "t10k-images-idx3-ubyte.gz",
        BUILTIN_DIR / "t10k-labels-idx1-ubyte.gz",
        known=MNIST_FILES,
    )


def builtin_mnist(*, sizes: tuple[int, int, int] = (7000, 1000, 2000), seed: int = 0) -> Dataset:
    """The 10,000 shipped real MNIST digits split stratified into train / validation / test."""
    whole = _builtin_test_split()
    return _split_three("mnist_builtin", whole.x, whole.y, sizes, seed)


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # only this loader needs scikit-learn

    d = load_digits()
    # 0..16 ink counts → 0..255 so the same to_float32 (x / 255) serves every dataset.
    x = np.rint(d.images * (255 / 16)).astype(np.uint8)
    return x, d.target.astype(np.int64)


def load_digits_8x8(*, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2), seed: int = 0):
    """scikit-learn's 1,797 8×8 digits, scaled to uint8 0..255, split stratified."""
    x, y = _digits_arrays()
    sizes = [round(f * len(y)) for f in fractions]
    sizes[0] = len(y) - sizes[1] - sizes[2]
    return _split_three("digits_8x8", x, y, tuple(sizes), seed)


def _full_from_dir(
    name: str, folder: Path, known: Mapping[str, KnownFile] | None, val_size: int
) -> Dataset | None:
    """Train (minus the last ``val_size`` as validation) and the official test split, or None."""
    npz = folder / "mnist.npz"
    if known is not None and npz.is_file():
        train, test = load_npz(npz, known=known)
    elif all((folder / n).is_file() for n in IDX_NAMES):
        train = load_idx(folder / IDX_NAMES[0], folder / IDX_NAMES[1], known=known)
        test = load_idx(folder / IDX_NAMES[2], folder / IDX_NAMES[3], known=known)
    else:
        return None
    if not 0 < val_size < len(train.y):
        raise ValueError(f"{val_size=} for {len(train.y)} training images")
    # The classic 50k/10k split (the last 10,000 training images as validation, as in Nielsen's
    # mnist.pkl.gz): slices are views, so full MNIST is never copied.
    cut = len(train.y) - val_size
    tr = Split(train.x[:cut], train.y[:cut])
    va = Split(train.x[cut:], train.y[cut:])
    return Dataset(name, tr, va, test, train.x.shape[1:])


def cached_mnist(
    data_dir: os.PathLike | str,
    *,
    known: Mapping[str, KnownFile] = MNIST_FILES,
    val_size: int = 10_000,
) -> Dataset | None:
    """Full MNIST from ``data_dir/mnist`` (mnist.npz or the four IDX files), verified; else None."""
    return _full_from_dir("mnist", Path(data_dir) / "mnist", known, val_size)


def cached_fashion_mnist(data_dir: os.PathLike | str, *, val_size: int = 10_000) -> Dataset | None:
    """Fashion-MNIST from ``data_dir/fashion-mnist`` when its four IDX files exist, else None."""
    folder = Path(data_dir) / "fashion-mnist"
    if not all((folder / n).is_file() for n in IDX_NAMES):
        return None
    for n in IDX_NAMES:
        if hashlib.md5(
            (folder / n).read_bytes(), usedforsecurity=False
        ).hexdigest() != FASHION_MD5.get(n):
            raise DatasetError("checksum", folder / n)
    return _full_from_dir("fashion_mnist", folder, None, val_size)


def to_float32(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One batch of uint8 images → float32 ``x / 255`` of shape ``(n, rows * cols)`` (into ``out``)."""
    flat = x.reshape(len(x), math.prod(x.shape[1:]))
    if out is None:
        out = np.empty(flat.shape, dtype=np.float32)
    # The exact cast, then times the float32 reciprocal in place: the numbers of one uint8 × float32
    # multiply, at about half its cost (NumPy casts that mixed loop in small buffered chunks).
    np.copyto(out, flat, casting="unsafe")
    out *= np.float32(1 / 255)
    return out


def _builtin_loader(data_dir, seed):
    return builtin_mnist(seed=seed)


def _digits_loader(data_dir, seed):
    return load_digits_8x8(seed=seed)


def _mnist_loader(data_dir, seed):
    return cached_mnist(data_dir)


def _fashion_loader(data_dir, seed):
    return cached_fashion_mnist(data_dir)


# Display key → loader(data_dir, seed) -> Dataset | None (None: files not downloaded).
DATASETS: dict[str, Callable[[os.PathLike | str, int], Dataset | None]] = {
    "mnist_builtin": _builtin_loader,
    "digits_8x8": _digits_loader,
    "mnist": _mnist_loader,
    "fashion_mnist": _fashion_loader,
}
