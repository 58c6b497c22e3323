"""Save a trained MLP to ``.npz`` bytes and load it back, refusing anything malformed or hostile.

``save_model(params, bn_state, layer_sizes, activation, batch_norm)`` returns the bytes of a
``np.savez_compressed`` archive; ``load_model(data)`` returns a ``LoadedModel`` whose ``params`` and
``bn_state`` are exactly what ``core.mlp.predict_proba(params, x, activation=..., bn_state=...)``
takes (float32 arrays; ``bn_state[l]`` is a ``RunningStats`` or ``None``).

File format (version ``FORMAT_VERSION``): one array per tensor, named ``layer{l}_W`` (fan_in,
fan_out), ``layer{l}_b``, and for batch-norm hidden layers ``layer{l}_gamma``, ``layer{l}_beta``,
``layer{l}_running_mean``, ``layer{l}_running_var`` (all (fan_out,)); plus ``metadata``, a JSON
string stored as a 0-d numpy unicode array (never an object array, so no pickle is involved):
``{"format", "version", "layer_sizes", "activation", "activation_kwargs", "batch_norm"}``.

``load_model`` always uses ``np.load(..., allow_pickle=False)``, checks the size before parsing,
reads every array's header (dtype, shape) before its data, and raises ``ModelFileError(code)`` for
any problem; ``code`` is one of ``ERROR_CODES`` and the UI translates it. ``save_model`` raises
plain ``ValueError`` for inconsistent arguments (a programming error, not a file problem).
"""

import io
import itertools
import json
import math
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from core.activations import ACTIVATION_PARAMS, ACTIVATIONS
from core.batchnorm import RunningStats
from core.datasets import UnsupportedNpy, npy_header
from core.mnist_setup import MAX_LAYERS, MAX_WIDTH

ERROR_CODES = (
    "empty",  # no bytes at all
    "too_large",  # over MAX_BYTES, or the archive would unpack to over MAX_UNPACKED_BYTES
    "not_npz",  # not a NumPy .npz archive (another format, or a zip of non-.npy members)
    "corrupt",  # starts like a zip but cannot be read: truncated or damaged
    "bad_metadata",  # metadata missing, not a 0-d unicode string, not JSON, or wrong fields
    "bad_version",  # a format version this code does not read
    "unknown_activation",  # activation key not in ACTIVATIONS
    "bad_input_size",  # first layer size is not one the datasets produce
    "bad_output_size",  # last layer size is not the number of classes
    "too_wide",  # more hidden layers or wider ones than the MNIST page offers
    "missing_array",  # an array the architecture needs is absent
    "extra_array",  # an array the architecture does not have
    "bad_dtype",  # not float32/float64 (object arrays, i.e. pickles, land here unread)
    "bad_shape",  # an array's shape does not fit the layer sizes
    "non_finite",  # NaN or inf (or a float64 value beyond float32's range)
    "negative_var",  # a batch-norm running variance below zero
)

FORMAT_NAME = "deep-learning-playground/mlp"
FORMAT_VERSION = 1
MAX_BYTES = 50 * 1024 * 1024  # upload limit, checked before any parsing
# Bounds what a small compressed file may expand to (a "zip bomb"); a float64 model at the file
# limit is about 1.1× its compressed size, so 4× leaves room without allowing gigabytes.
MAX_UNPACKED_BYTES = 4 * MAX_BYTES
MAX_METADATA_CHARS = 10_000
# Flattened image sizes the loaders in core.datasets produce: 28×28 (MNIST, Fashion-MNIST) and
# scikit-learn's 8×8 digits.
INPUT_SIZES = (784, 64)
NUM_CLASSES = 10

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_BN_KEYS = ("gamma", "beta", "running_mean", "running_var")
_METADATA_KEYS = {
    "format",
    "version",
    "layer_sizes",
    "activation",
    "activation_kwargs",
    "batch_norm",
}


class ModelFileError(ValueError):
    """An uploaded model file is unusable; ``code`` is machine-readable (see ERROR_CODES)."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}" + (f": {detail}" if detail else ""))


class LoadedModel(NamedTuple):
    params: list[dict[str, np.ndarray]]  # core.mlp params, float32
    bn_state: list[RunningStats | None]  # running stats per layer, None where no batch norm
    layer_sizes: tuple[int, ...]
    activation: str  # an ACTIVATIONS key
    batch_norm: bool
    activation_kwargs: tuple[tuple[str, Any], ...] = ()  # as TrainConfig.activation_kwargs


def _array_names(layer_sizes: tuple[int, ...], batch_norm: bool) -> dict[str, tuple[int, ...]]:
    """Every array the architecture needs, in file order, with its shape."""
    names: dict[str, tuple[int, ...]] = {}
    last = len(layer_sizes) - 2
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(layer_sizes)):
        names[f"layer{i}_W"] = (fan_in, fan_out)
        names[f"layer{i}_b"] = (fan_out,)
        if batch_norm and i < last:
            for key in _BN_KEYS:
                names[f"layer{i}_{key}"] = (fan_out,)
    return names


def _kwargs_problem(activation: str, kwargs: Any) -> str | None:
    """Why ``kwargs`` are not valid parameters of ``ACTIVATIONS[activation]``, or None."""
    if not isinstance(kwargs, Mapping):
        return f"activation_kwargs must be a mapping, got {type(kwargs).__name__}"
    spec = ACTIVATION_PARAMS.get(activation, {})
    for name, value in kwargs.items():
        if name not in spec:
            return f"{activation} has no parameter {name!r}"
        if spec[name].kind == "choice":
            if value not in spec[name].options:
                return f"{name}={value!r} not in {spec[name].options}"
        elif isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name}={value!r} is not a number"
        elif not math.isfinite(value):
            return f"{name}={value!r} is not finite"
    try:
        ACTIVATIONS[activation](**kwargs)
    except (TypeError, ValueError) as e:
        return f"{activation}({kwargs}): {e}"
    return None


def save_model(
    params: list[dict[str, np.ndarray]],
    bn_state: list[RunningStats | None] | None,
    layer_sizes: list[int] | tuple[int, ...],
    activation: str,
    batch_norm: bool,
    *,
    activation_kwargs: Mapping[str, Any] | tuple[tuple[str, Any], ...] = (),
) -> bytes:
    """The model as ``.npz`` bytes that ``load_model`` reads back exactly (arrays keep their dtype)."""
    sizes = tuple(int(s) for s in layer_sizes)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown {activation=}")
    kwargs = dict(activation_kwargs)
    if (problem := _kwargs_problem(activation, kwargs)) is not None:
        raise ValueError(f"{activation_kwargs=}: {problem}")
    if sizes[0] not in INPUT_SIZES or sizes[-1] != NUM_CLASSES or min(sizes) < 1:
        raise ValueError(f"{layer_sizes=} must go from one of {INPUT_SIZES} to {NUM_CLASSES}")
    if len(params) != len(sizes) - 1:
        raise ValueError(f"{len(params)=} layers do not fit {layer_sizes=}")
    if bn_state is None:
        bn_state = [None] * len(params)
    if len(bn_state) != len(params):
        raise ValueError(f"{len(bn_state)=} must equal {len(params)=}")
    arrays: dict[str, np.ndarray] = {}
    for i, (layer, running) in enumerate(zip(params, bn_state, strict=True)):
        values = {"W": layer.get("W"), "b": layer.get("b")}
        if f"layer{i}_gamma" in _array_names(sizes, batch_norm):
            if running is None or "gamma" not in layer:
                raise ValueError(f"{batch_norm=} but layer {i} has no gamma or running stats")
            values |= {"gamma": layer["gamma"], "beta": layer.get("beta")}
            values |= {"running_mean": running.mean, "running_var": running.var}
        elif "gamma" in layer or running is not None:
            raise ValueError(f"{batch_norm=} but layer {i} has batch-norm parameters")
        for key, value in values.items():
            arrays[f"layer{i}_{key}"] = np.asarray(value)
    for name, shape in _array_names(sizes, batch_norm).items():
        a = arrays[name]
        if a.shape != shape or a.dtype not in (np.float32, np.float64):
            raise ValueError(f"{name}: {a.shape=} {a.dtype=}, expected {shape} float32/float64")
    metadata = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "layer_sizes": list(sizes),
        "activation": activation,
        "activation_kwargs": kwargs,
        "batch_norm": bool(batch_norm),
    }
    buffer = io.BytesIO()
    # np.array(str) is a 0-d '<U…' array: saved as plain characters, loadable without pickle.
    np.savez_compressed(buffer, metadata=np.array(json.dumps(metadata)), **arrays)
    return buffer.getvalue()


def _header(npz, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a member's .npy header, without reading its data."""
    try:
        return npy_header(npz, name)
    except UnsupportedNpy as e:  # 3.0 is for utf-8 field names: never a model tensor
        raise ModelFileError("bad_dtype", str(e)) from None


def _metadata(npz) -> dict[str, Any]:
    """The parsed metadata dict, with types and the format tag checked."""
    if "metadata" not in npz.files:
        raise ModelFileError("bad_metadata", "no metadata array")
    shape, dtype = _header(npz, "metadata")
    if shape != () or dtype.kind != "U" or dtype.itemsize // 4 > MAX_METADATA_CHARS:
        raise ModelFileError("bad_metadata", f"metadata is {dtype} {shape}, not a 0-d string")
    try:
        meta = json.loads(str(npz["metadata"]))
    except ValueError as e:
        raise ModelFileError("bad_metadata", f"not JSON: {e}") from None
    except RecursionError:  # a few hundred bytes of "[[[[…" nest deeper than the parser recurses
        raise ModelFileError("bad_metadata", "JSON nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError("bad_metadata", "not a model saved by this app")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version != FORMAT_VERSION:
        raise ModelFileError("bad_version", f"{version=}, this app reads {FORMAT_VERSION}")
    if set(meta) != _METADATA_KEYS:
        raise ModelFileError("bad_metadata", f"fields {sorted(meta)}")
    sizes = meta["layer_sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
    ):
        raise ModelFileError("bad_metadata", f"layer_sizes={sizes!r}")
    if not isinstance(meta["batch_norm"], bool):
        raise ModelFileError("bad_metadata", f"batch_norm={meta['batch_norm']!r}")
    if not isinstance(meta["activation"], str) or meta["activation"] not in ACTIVATIONS:
        raise ModelFileError("unknown_activation", f"activation={meta['activation']!r}")
    if (problem := _kwargs_problem(meta["activation"], meta["activation_kwargs"])) is not None:
        raise ModelFileError("bad_metadata", problem)
    if sizes[0] not in INPUT_SIZES:
        raise ModelFileError("bad_input_size", f"{sizes[0]} inputs, expected one of {INPUT_SIZES}")
    if sizes[-1] != NUM_CLASSES:
        raise ModelFileError("bad_output_size", f"{sizes[-1]} outputs, expected {NUM_CLASSES}")
    # The MNIST page's own limits, before any array is read: 784-60000-10 held 258 MB.
    hidden = sizes[1:-1]
    if len(hidden) > MAX_LAYERS or any(w > MAX_WIDTH for w in hidden):
        raise ModelFileError("too_wide", f"hidden layers {hidden}")
    return meta


def _open(data: bytes):
    """The NpzFile over ``data``; every member checked to be a .npy file of bounded size."""
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # any parse failure means the same thing to the user
        code = "corrupt" if data.startswith(_ZIP_MAGIC) else "not_npz"
        raise ModelFileError(code, f"{type(e).__name__}: {e}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):  # a single .npy array
        raise ModelFileError("not_npz", f"a single {type(npz).__name__}, not an archive")
    infos = npz.zip.infolist()
    names = [info.filename for info in infos]
    if not names or not all(n.endswith(".npy") for n in names) or len(set(names)) != len(names):
        npz.close()
        raise ModelFileError("not_npz", f"members {names[:5]}")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        npz.close()
        raise ModelFileError("too_large", f"unpacks to {unpacked} bytes")
    return npz


def _load(npz) -> LoadedModel:
    meta = _metadata(npz)
    sizes, batch_norm = tuple(meta["layer_sizes"]), meta["batch_norm"]
    expected = _array_names(sizes, batch_norm)
    present = set(npz.files) - {"metadata"}
    if missing := [n for n in expected if n not in present]:
        raise ModelFileError("missing_array", ", ".join(missing[:5]))
    if extra := sorted(present - set(expected)):
        raise ModelFileError("extra_array", ", ".join(extra[:5]))
    # Every header before any data: an object array is refused without being unpickled, and a
    # header promising a huge shape is refused before anything is allocated.
    for name, shape in expected.items():
        got_shape, dtype = _header(npz, name)
        if dtype.kind != "f" or dtype.itemsize not in (4, 8):
            raise ModelFileError("bad_dtype", f"{name}: {dtype}")
        if got_shape != shape:
            raise ModelFileError("bad_shape", f"{name}: {got_shape}, expected {shape}")
    arrays = {}
    for name in expected:
        # A float64 value beyond float32's range becomes inf here and is caught just below.
        with np.errstate(over="ignore"):
            a = npz[name].astype(np.float32)  # header checked above: no pickle
        if not np.isfinite(a).all():
            raise ModelFileError("non_finite", name)
        arrays[name] = a
    params, bn_state = [], []
    for i in range(len(sizes) - 1):
        layer = {"W": arrays[f"layer{i}_W"], "b": arrays[f"layer{i}_b"]}
        running = None
        if f"layer{i}_gamma" in arrays:
            layer |= {"gamma": arrays[f"layer{i}_gamma"], "beta": arrays[f"layer{i}_beta"]}
            running = RunningStats(
                arrays[f"layer{i}_running_mean"], arrays[f"layer{i}_running_var"]
            )
            if (running.var < 0).any():
                raise ModelFileError("negative_var", f"layer{i}_running_var")
        params.append(layer)
        bn_state.append(running)
    kwargs = tuple(meta["activation_kwargs"].items())
    return LoadedModel(params, bn_state, sizes, meta["activation"], batch_norm, kwargs)


def load_model(data: bytes) -> LoadedModel:
    """Parse and validate ``.npz`` bytes from ``save_model``; raise ``ModelFileError`` otherwise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ModelFileError("empty")
    if len(data) > MAX_BYTES:
        raise ModelFileError("too_large", f"{len(data)} bytes, limit {MAX_BYTES}")
    npz = _open(data)
    try:
        return _load(npz)
    except ModelFileError:
        raise
    # The central directory was fine but a member is damaged: a CRC mismatch, a broken deflate
    # stream, a member shorter than its header promises, or a malformed .npy header.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise ModelFileError("corrupt", f"{type(e).__name__}: {e}") from None
    finally:
        npz.close()
