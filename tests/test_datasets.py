"""Dataset loaders: tiny IDX/npz files written here for every error path; the shipped split."""

import gzip
import hashlib
import io
import os
import struct
import tomllib
import tracemalloc
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.datasets import (
    BUILTIN_DIR,
    DATASETS,
    ERROR_CODES,
    IDX_NAMES,
    IMAGES_MAGIC,
    MAX_IMAGES,
    MAX_UNPACKED_BYTES,
    MNIST_FILES,
    DatasetError,
    KnownFile,
    _read_bytes,
    builtin_mnist,
    cached_fashion_mnist,
    cached_mnist,
    load_digits_8x8,
    load_idx,
    load_npz,
    parse_idx,
    stratified_split,
    to_float32,
)
from ui.mnist_upload import dataset_from_uploads


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    """IDX encoding written independently of the loader: struct big-endian header + raw bytes."""
    magic = magic if magic is not None else {3: 2051, 1: 2049}[arr.ndim]
    return struct.pack(f">{1 + arr.ndim}I", magic, *arr.shape) + arr.astype(np.uint8).tobytes()


@pytest.fixture
def tiny(tmp_path):
    """Five 28×28 images with labels, as .gz IDX files."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    y = np.array([3, 0, 9, 1, 3], dtype=np.uint8)
    img, lab = tmp_path / "img.gz", tmp_path / "lab.gz"
    img.write_bytes(gzip.compress(idx_bytes(x)))
    lab.write_bytes(gzip.compress(idx_bytes(y)))
    return x, y, img, lab


def write(path: Path, data: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    y = np.array([0, 5, 9, 2], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    split = load_idx(
        write(tmp_path / f"i{suffix}", idx_bytes(x), gz),
        write(tmp_path / f"l{suffix}", idx_bytes(y), gz),
    )
    np.testing.assert_array_equal(split.x, x)
    np.testing.assert_array_equal(split.y, y)
    assert split.x.dtype == np.uint8 and split.x.shape == (4, 28, 28)
    assert split.y.dtype == np.int64
    assert not split.x.flags.writeable and not split.y.flags.writeable


def test_missing_file(tiny, tmp_path):
    _, _, _, lab = tiny
    with pytest.raises(DatasetError) as e:
        load_idx(tmp_path / "nope.gz", lab)
    assert e.value.code == "missing" and e.value.path.endswith("nope.gz")
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_body(tmp_path, gz):
    x = np.zeros((3, 28, 28), np.uint8)
    data = idx_bytes(x)[:-10]
    lab = write(tmp_path / "l", idx_bytes(np.zeros(3, np.uint8)), False)
    with pytest.raises(DatasetError) as e:
        load_idx(write(tmp_path / ("i.gz" if gz else "i"), data, gz), lab)
    assert e.value.code == "truncated"


def test_truncated_gzip_stream(tiny, tmp_path):
    _, _, img, lab = tiny
    cut = tmp_path / "cut.gz"
    cut.write_bytes(img.read_bytes()[:-40])  # a download cut off mid-stream
    with pytest.raises(DatasetError) as e:
        load_idx(cut, lab)
    assert e.value.code == "truncated"


TWO_IMAGES = idx_bytes(np.zeros((2, 28, 28), np.uint8))
TWO_LABELS = idx_bytes(np.zeros(2, np.uint8))


@pytest.mark.parametrize(
    ("images", "labels", "code"),
    [
        pytest.param(
            struct.pack(">II", 2051, 3),
            idx_bytes(np.zeros(3, np.uint8)),
            "truncated",
            id="truncated_header",
        ),
        # labels file passed as images: magic 2049 where 2051 is expected
        pytest.param(TWO_LABELS, TWO_IMAGES, "bad_magic", id="wrong_magic"),
        pytest.param(TWO_IMAGES + b"\0" * 7, TWO_LABELS, "bad_shape", id="extra_bytes"),
        pytest.param(
            idx_bytes(np.zeros((3, 28, 28), np.uint8)),
            idx_bytes(np.zeros(4, np.uint8)),
            "label_mismatch",
            id="count_mismatch",
        ),
        pytest.param(
            TWO_IMAGES, idx_bytes(np.array([1, 10], np.uint8)), "bad_label", id="label_out_of_range"
        ),
    ],
)
def test_malformed_plain_files_are_refused_with_their_code(tmp_path, images, labels, code):
    with pytest.raises(DatasetError) as e:
        load_idx(write(tmp_path / "i", images, False), write(tmp_path / "l", labels, False))
    assert e.value.code == code


def test_not_gzip(tmp_path):
    lab = write(tmp_path / "l", idx_bytes(np.zeros(2, np.uint8)), False)
    with pytest.raises(DatasetError) as e:
        load_idx(write(tmp_path / "i.gz", b"this is not gzip data at all", False), lab)
    assert e.value.code == "bad_format"


def test_checksum_by_file_or_content(tiny):
    x, _, img, lab = tiny
    raw = gzip.decompress(img.read_bytes())
    good_file = KnownFile(img.name, sha256=hashlib.sha256(img.read_bytes()).hexdigest())
    good_content = KnownFile(img.name, content_sha256=hashlib.sha256(raw).hexdigest())
    for known in (good_file, good_content):
        np.testing.assert_array_equal(load_idx(img, lab, known={img.name: known}).x, x)
    bad = KnownFile(img.name, sha256="0" * 64, content_sha256="1" * 64)
    with pytest.raises(DatasetError) as e:
        load_idx(img, lab, known={img.name: bad})
    assert e.value.code == "checksum" and e.value.path == str(img)


def npz_file(path, n_train=6, n_test=4, **override):
    rng = np.random.default_rng(3)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez_compressed(path, **arrays)
    return arrays


def test_npz_roundtrip(tmp_path):
    arrays = npz_file(tmp_path / "m.npz")
    train, test = load_npz(tmp_path / "m.npz")
    np.testing.assert_array_equal(train.x, arrays["x_train"])
    np.testing.assert_array_equal(test.y, arrays["y_test"])
    assert not train.x.flags.writeable


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"y_test": None}, "bad_format"),
        ({"y_train": np.zeros(5, np.uint8)}, "label_mismatch"),
        ({"x_train": np.zeros((6, 28, 28), np.float32)}, "bad_shape"),
        ({"x_test": np.zeros((4, 14, 14), np.uint8)}, "bad_shape"),
        ({"y_test": np.array([0, 1, 2, 11], np.uint8)}, "bad_label"),
    ],
)
def test_npz_errors(tmp_path, override, code):
    npz_file(tmp_path / "m.npz", **override)
    with pytest.raises(DatasetError) as e:
        load_npz(tmp_path / "m.npz")
    assert e.value.code == code


def test_npz_damaged_and_missing(tmp_path):
    npz_file(tmp_path / "m.npz")
    damaged = tmp_path / "d.npz"
    damaged.write_bytes((tmp_path / "m.npz").read_bytes()[:200])
    with pytest.raises(DatasetError) as e:
        load_npz(damaged)
    assert e.value.code in ("bad_format", "truncated")
    with pytest.raises(DatasetError) as e:
        load_npz(tmp_path / "absent.npz")
    assert e.value.code == "missing"
    known = {"m.npz": KnownFile("m.npz", sha256="f" * 64)}
    with pytest.raises(DatasetError) as e:
        load_npz(tmp_path / "m.npz", known=known)
    assert e.value.code == "checksum"


def test_error_codes_are_listed():
    # Every code the tests above provoke is one the UI has to translate.
    for code in ("missing", "truncated", "bad_magic", "bad_shape", "checksum", "label_mismatch"):
        assert code in ERROR_CODES


def test_shipped_files_match_readme_hashes():
    # Independent of the loader: hash the decompressed files directly.
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        content = gzip.decompress((BUILTIN_DIR / name).read_bytes())
        assert hashlib.sha256(content).hexdigest() == MNIST_FILES[name].content_sha256


def test_every_idx_file_is_known_by_its_content():
    # Mirrors re-gzip the files: without a content hash a faithful copy would fail the check.
    assert all(MNIST_FILES[name].content_sha256 for name in IDX_NAMES)


def test_builtin_split_sizes_stratified_disjoint():
    d = builtin_mnist()
    assert d.name == "mnist_builtin" and d.image_shape == (28, 28)
    assert [len(s.y) for s in (d.train, d.val, d.test)] == [7000, 1000, 2000]
    # Class counts of the shipped split (README): each part keeps these proportions to ±1.
    counts = np.array([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    for part, frac in ((d.train, 0.7), (d.val, 0.1), (d.test, 0.2)):
        assert np.all(np.abs(np.bincount(part.y, minlength=10) - frac * counts) <= 1)
        assert part.x.dtype == np.uint8 and not part.x.flags.writeable
    # Disjoint and complete: the multiset of images equals the shipped 10k.
    raw = gzip.decompress((BUILTIN_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())[16:]
    shipped = Counter(raw[i : i + 784] for i in range(0, len(raw), 784))
    parts = Counter(im.tobytes() for s in (d.train, d.val, d.test) for im in s.x)
    assert parts == shipped
    all_y = np.concatenate([d.train.y, d.val.y, d.test.y])
    np.testing.assert_array_equal(np.bincount(all_y), counts)


def test_builtin_deterministic_and_seeded():
    a, b, c = builtin_mnist(seed=0), builtin_mnist(seed=0), builtin_mnist(seed=1)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.y, c.train.y)


def test_builtin_is_the_shipped_data():
    # Every image in the split appears, with its label, in the raw shipped file.
    raw = gzip.decompress((BUILTIN_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())[16:]
    lab = gzip.decompress((BUILTIN_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())[8:]
    x = np.frombuffer(raw, np.uint8).reshape(-1, 784)
    y = np.frombuffer(lab, np.uint8)
    lookup = {x[i].tobytes(): y[i] for i in range(len(y))}
    d = builtin_mnist()
    for i in range(0, 2000, 97):
        assert lookup[d.test.x[i].tobytes()] == d.test.y[i]


def test_stratified_split_exact_sizes(rng):
    y = rng.integers(0, 3, 101)
    parts = stratified_split(y, (50, 20, 31), rng)
    assert [len(p) for p in parts] == [50, 20, 31]
    assert len(np.unique(np.concatenate(parts))) == 101
    with pytest.raises(ValueError, match="sizes"):
        stratified_split(y, (100, 2), rng)


def test_digits_8x8():
    from sklearn.datasets import load_digits

    d = load_digits_8x8()
    assert d.image_shape == (8, 8)
    assert sum(len(s.y) for s in (d.train, d.val, d.test)) == 1797
    assert d.train.x.dtype == np.uint8 and d.train.x.max() == 255
    ref = load_digits()
    # Independent scaling: 0..16 ink counts → round(v · 255 / 16); the split holds each image once.
    scaled = Counter(np.rint(im * 255 / 16).astype(np.uint8).tobytes() for im in ref.images)
    assert Counter(im.tobytes() for s in (d.train, d.val, d.test) for im in s.x) == scaled


def test_to_float32():
    x = np.array([[[0, 255], [51, 102]]], np.uint8)
    out = to_float32(x)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0, 1, 0.2, 0.4]], rtol=1e-6)


def write_full(folder: Path, n_train=30, n_test=8, seed=4):
    """Four IDX .gz files in MNIST's names with random content; returns the known-hash table."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train).astype(np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test).astype(np.uint8),
    ]
    known = {}
    for name, arr in zip(IDX_NAMES, arrays, strict=True):
        data = gzip.compress(idx_bytes(arr))
        (folder / name).write_bytes(data)
        known[name] = KnownFile(name, len(data), hashlib.sha256(data).hexdigest())
    return arrays, known


def test_cached_mnist(tmp_path):
    assert cached_mnist(tmp_path) is None  # nothing downloaded
    arrays, known = write_full(tmp_path / "mnist")
    d = cached_mnist(tmp_path, known=known, val_size=10)
    np.testing.assert_array_equal(d.train.x, arrays[0][:20])
    np.testing.assert_array_equal(d.val.y, arrays[1][20:])
    np.testing.assert_array_equal(d.test.x, arrays[2])
    assert not d.train.x.flags.writeable
    # The real published hashes reject these fake files.
    with pytest.raises(DatasetError) as e:
        cached_mnist(tmp_path, val_size=10)
    assert e.value.code == "checksum"


def test_cached_mnist_prefers_verified_npz(tmp_path):
    (tmp_path / "mnist").mkdir()
    path = tmp_path / "mnist" / "mnist.npz"
    arrays = npz_file(path)
    known = {
        "mnist.npz": KnownFile("mnist.npz", sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    }
    d = cached_mnist(tmp_path, known=known, val_size=2)
    np.testing.assert_array_equal(d.val.x, arrays["x_train"][4:])
    np.testing.assert_array_equal(d.test.y, arrays["y_test"])


def test_fashion_only_when_present(tmp_path):
    assert cached_fashion_mnist(tmp_path) is None
    write_full(tmp_path / "fashion-mnist")
    with pytest.raises(DatasetError) as e:  # random files do not match Fashion-MNIST's MD5s
        cached_fashion_mnist(tmp_path)
    assert e.value.code == "checksum"


@pytest.mark.parametrize("key", ["mnist_builtin", "digits_8x8"])
def test_registry_offline_entries_load(key, tmp_path):
    d = DATASETS[key](tmp_path, 0)
    assert d.train.x.ndim == 3 and len(d.val.y) > 0 and len(d.test.y) > 0


@pytest.mark.parametrize("key", ["mnist", "fashion_mnist"])
def test_registry_download_entries_absent(key, tmp_path):
    assert DATASETS[key](tmp_path, 0) is None


def test_a_header_whose_size_overflows_int64_is_a_dataset_error():
    # 2³¹ × 2³¹ × 4 bytes: np.prod wrapped around to 0 and the reshape raised a bare ValueError.
    # 2³¹ images are now refused as more than full MNIST before the size is even computed.
    data = struct.pack(">IIII", IMAGES_MAGIC, 2**31, 2**31, 4)
    with pytest.raises(DatasetError) as raised:
        parse_idx(data, IMAGES_MAGIC)
    assert raised.value.code == "too_large"
    data = struct.pack(">IIII", IMAGES_MAGIC, 1000, 2**31, 2**31)
    with pytest.raises(DatasetError) as raised:
        parse_idx(data, IMAGES_MAGIC)
    assert raised.value.code == "truncated"


# ---------------------------------------------------------------- issue #22 item 9: bounded unpacking


def _lying_npz(path: Path, n_images: int) -> Path:
    """An .npz whose x_train header declares ``n_images`` 28×28 images over 16 bytes of data (a
    zip member's .npy header is all NumPy reads before allocating the declared shape)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (n_images, 28, 28)}
    )
    small = {k: np.zeros(2, np.uint8) for k in ("y_train", "y_test")} | {
        "x_test": np.zeros((2, 28, 28), np.uint8)
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", header.getvalue() + bytes(16))
        for name, a in small.items():
            buffer = io.BytesIO()
            np.save(buffer, a)
            z.writestr(f"{name}.npy", buffer.getvalue())
    return path


def _peak_bytes(fn, *args) -> tuple[int, str]:
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as raised:
            fn(*args)
        return tracemalloc.get_traced_memory()[1], raised.value.code
    finally:
        tracemalloc.stop()


def test_an_npz_declaring_a_million_images_is_refused_before_anything_is_allocated(tmp_path):
    # The 0.95 MB upload was accepted as 1,041,667 images and held 935 MB.
    path = _lying_npz(tmp_path / "bomb.npz", 1_041_667)
    peak, code = _peak_bytes(load_npz, path)
    assert code == "too_large"
    assert peak < 1_000_000  # the declared shape alone is 817 MB


def test_an_npz_over_full_mnist_in_images_or_in_bytes_is_refused(tmp_path):
    npz_file(
        tmp_path / "many.npz",
        x_train=np.zeros((MAX_IMAGES, 2, 2), np.uint8),
        y_train=np.zeros(MAX_IMAGES, np.uint8),
    )  # 70,000 + 4 test images
    with pytest.raises(DatasetError, match="too_large"):
        load_npz(tmp_path / "many.npz")
    npz_file(tmp_path / "ok.npz")  # 6 + 4 images of 784 bytes, ~8 kB unpacked
    load_npz(tmp_path / "ok.npz", max_bytes=10_000)
    with pytest.raises(DatasetError, match="too_large"):
        load_npz(tmp_path / "ok.npz", max_bytes=7_000)
    assert MAX_UNPACKED_BYTES >= 70_000 * 784 + 70_000 * 8  # full MNIST itself fits


def test_a_gz_is_decompressed_only_up_to_the_limit(tmp_path):
    x = np.zeros((2_000, 28, 28), np.uint8)  # 1.5 MB of zeros, 1.5 kB compressed
    path = write(tmp_path / "img.gz", idx_bytes(x), gz=True)
    peak, code = _peak_bytes(_read_bytes, path, 100_000)
    assert code == "too_large" and peak < 400_000
    assert len(_read_bytes(path, 2_000 * 784 + 16)) == 2_000 * 784 + 16


def test_an_idx_header_declaring_more_than_full_mnist_is_refused(tmp_path):
    data = struct.pack(">IIII", IMAGES_MAGIC, MAX_IMAGES + 1, 2, 2) + bytes(4 * (MAX_IMAGES + 1))
    with pytest.raises(DatasetError, match="too_large"):
        parse_idx(data, IMAGES_MAGIC)


def test_four_idx_uploads_together_hold_at_most_full_mnist(tmp_path):
    def files(n_train, n_test, side=2):
        made = []
        for split, n in (("train", n_train), ("t10k", n_test)):
            x, y = np.zeros((n, side, side), np.uint8), np.zeros(n, np.uint8)
            made += [
                (f"{split}-images-idx3-ubyte.gz", gzip.compress(idx_bytes(x))),
                (f"{split}-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(y))),
            ]
        return made

    assert dataset_from_uploads(files(60_000, 10_000)).test.x.shape == (10_000, 2, 2)
    with pytest.raises(DatasetError, match="too_large"):
        dataset_from_uploads(files(60_000, 10_001))
    # 60,000 training images of 30×30 are 54 MB: the test files get only what is left.
    with pytest.raises(DatasetError, match="too_large"):
        dataset_from_uploads(files(60_000, 10_000, side=30))


def test_uploads_over_the_upload_limit_are_refused_unread_and_streamlit_accepts_no_more():
    from core.model_io import MAX_BYTES
    from ui.mnist_upload import MAX_UPLOAD_BYTES

    with pytest.raises(DatasetError, match="too_large"):
        dataset_from_uploads([("mnist.npz", bytes(MAX_UPLOAD_BYTES + 1))])
    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"] * 1024 * 1024
    assert max(MAX_BYTES, MAX_UPLOAD_BYTES) <= limit < 200 * 1024 * 1024  # Streamlit's default


@pytest.mark.parametrize("layout", ["npz", "idx"])
def test_a_corrupt_cached_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch, layout):
    # Issue #22 item 10: a corrupt cached mnist.npz was re-hashed on every rerun of the page.
    import core.datasets

    folder = tmp_path / "mnist"
    if layout == "npz":
        folder.mkdir()
        npz_file(folder / "mnist.npz")
        known = {"mnist.npz": KnownFile("mnist.npz", sha256="0" * 64)}  # never matches
    else:
        write_full(folder)
        known = {n: KnownFile(n, content_sha256="0" * 64) for n in IDX_NAMES}
    hashed, reads = [], []
    monkeypatch.setattr(core.datasets, "sha256_hex", lambda data: hashed.append(1) or "x")
    real_read = core.datasets._read_bytes
    monkeypatch.setattr(core.datasets, "_read_bytes", lambda *a: reads.append(1) or real_read(*a))
    for _ in range(3):
        with pytest.raises(DatasetError, match="checksum"):
            cached_mnist(tmp_path, known=known)
    assert len(hashed) == 1 and len(reads) <= 2  # the first load only
    changed = folder / ("mnist.npz" if layout == "npz" else IDX_NAMES[0])
    os.utime(changed, ns=(0, changed.stat().st_mtime_ns + 10**9))  # the file was replaced
    with pytest.raises(DatasetError, match="checksum"):
        cached_mnist(tmp_path, known=known)
    assert len(hashed) == 2
