"""Save a trained network to ``.npz`` bytes and load it back, refusing anything malformed or hostile.

``save_model(architecture, params, bn_state, activation)`` returns the bytes of a
``np.savez_compressed`` archive; ``load_model(data)`` returns a ``LoadedModel`` whose ``params`` and
``bn_state`` are exactly what ``core.network.predict_proba(architecture, params, x, activation=...,
bn_state=...)`` takes (float32 arrays; ``bn_state[l]`` is a ``RunningStats`` or ``None``).

File format (version ``FORMAT_VERSION``): one array per tensor, named ``layer{l}_{name}`` after the
layer's index in the architecture and the tensor's key (``W``, ``b``, ``gamma``, ``beta``, with
shapes as ``core.network.parameter_shapes``), plus ``layer{l}_running_mean`` and
``layer{l}_running_var`` for a batch-norm layer; and ``metadata``, a JSON string stored as a 0-d
numpy unicode array (never an object array, so no pickle is involved): ``{"format", "version",
"input_shape", "layers", "activation", "activation_kwargs"}``, each layer as
``core.network.describe`` writes it (``{"kind": "conv2d", "out_channels": 8, ...}``). Version 1
files (MLPs saved before convolutions: ``layer_sizes`` and ``batch_norm``, tensors numbered per
linear layer) are read too.

``load_model`` always uses ``np.load(..., allow_pickle=False)``, checks the size before parsing,
reads every array's header (dtype, shape) before its data, and raises ``ModelFileError(code)`` for
any problem; ``code`` is one of ``ERROR_CODES`` and the UI translates it. Only architectures the
MNIST page can build are accepted (``core.mnist_setup.page_settings``). ``save_model`` raises plain
``ValueError`` for inconsistent arguments (a programming error, not a file problem).
"""

import io
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
from core.mnist_setup import page_settings
from core.network import (
    LAYER_KINDS,
    Architecture,
    BatchNorm,
    Linear,
    describe,
    mlp,
    output_shapes,
    parameter_shapes,
)

ERROR_CODES = (
    "empty",  # no bytes at all
    "too_large",  # over MAX_BYTES, or the archive would unpack to over MAX_UNPACKED_BYTES
    "not_npz",  # not a NumPy .npz archive (another format, or a zip of non-.npy members)
    "corrupt",  # starts like a zip but cannot be read: truncated or damaged
    "bad_metadata",  # metadata missing, not a 0-d unicode string, not JSON, or wrong fields
    "bad_version",  # a format version this code does not read
    "unknown_activation",  # activation key not in ACTIVATIONS
    "bad_input_size",  # the input shape is not one the datasets produce
    "bad_output_size",  # the last layer's size is not the number of classes
    "too_wide",  # an architecture the MNIST page does not offer (more or wider layers)
    "missing_array",  # an array the architecture needs is absent
    "extra_array",  # an array the architecture does not have
    "bad_dtype",  # not float32/float64 (object arrays, i.e. pickles, land here unread)
    "bad_shape",  # an array's shape does not fit the layer sizes
    "non_finite",  # NaN or inf (or a float64 value beyond float32's range)
    "negative_var",  # a batch-norm running variance below zero
)

FORMAT_NAME = "deep-learning-playground/mlp"  # the name since version 1, when all were MLPs
FORMAT_VERSION = 2
MAX_BYTES = 50 * 1024 * 1024  # upload limit, checked before any parsing
# Bounds what a small compressed file may expand to (a "zip bomb"); a float64 model at the file
# limit is about 1.1× its compressed size, so 4× leaves room without allowing gigabytes.
MAX_UNPACKED_BYTES = 4 * MAX_BYTES
MAX_METADATA_CHARS = 10_000
# Flattened image sizes the loaders in core.datasets produce: 28×28 (MNIST, Fashion-MNIST) and
# scikit-learn's 8×8 digits, as rows of pixels (an MLP) or one-channel images (a CNN).
INPUT_SIZES = (784, 64)
INPUT_SHAPES = ((784,), (64,), (1, 28, 28), (1, 8, 8))
MAX_LAYER_RECORDS = 64  # far more than the page builds; bounds the work before the page's check
NUM_CLASSES = 10

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_BN_KEYS = ("gamma", "beta", "running_mean", "running_var")
_METADATA_KEYS = {"format", "version", "input_shape", "layers", "activation", "activation_kwargs"}
_V1_KEYS = {"format", "version", "layer_sizes", "activation", "activation_kwargs", "batch_norm"}


class ModelFileError(ValueError):
    """An uploaded model file is unusable; ``code`` is machine-readable (see ERROR_CODES)."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}" + (f": {detail}" if detail else ""))


class LoadedModel(NamedTuple):
    params: list[dict[str, np.ndarray]]  # core.network params, float32
    bn_state: list[RunningStats | None]  # running stats per layer, None where no batch norm
    architecture: Architecture
    activation: str  # an ACTIVATIONS key
    activation_kwargs: tuple[tuple[str, Any], ...] = ()  # as TrainConfig.activation_kwargs


def _array_names(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every array the architecture needs, in file order, with its shape."""
    names: dict[str, tuple[int, ...]] = {}
    for i, shapes in enumerate(parameter_shapes(arch)):
        for key, shape in shapes.items():
            names[f"layer{i}_{key}"] = shape
        if "gamma" in shapes:
            for key in ("running_mean", "running_var"):
                names[f"layer{i}_{key}"] = shapes["gamma"]
    return names


def _v1_names(arch: Architecture) -> dict[str, str]:
    """Version 1's name of each array: its tensors were numbered per linear layer, with a hidden
    layer's batch norm under the number of the linear layer before it."""
    names, linear = {}, -1
    for name in _array_names(arch):
        index, key = name.removeprefix("layer").split("_", 1)
        layer = arch.layers[int(index)]
        linear += isinstance(layer, Linear) and key == "W"
        names[name] = f"layer{linear}_{key}"
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
    architecture: Architecture,
    params: list[dict[str, np.ndarray]],
    bn_state: list[RunningStats | None] | None,
    activation: str,
    *,
    activation_kwargs: Mapping[str, Any] | tuple[tuple[str, Any], ...] = (),
) -> bytes:
    """The model as ``.npz`` bytes that ``load_model`` reads back exactly (arrays keep their dtype)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown {activation=}")
    kwargs = dict(activation_kwargs)
    if (problem := _kwargs_problem(activation, kwargs)) is not None:
        raise ValueError(f"{activation_kwargs=}: {problem}")
    if tuple(architecture.input_shape) not in INPUT_SHAPES:
        raise ValueError(f"{architecture.input_shape=} is not one of {INPUT_SHAPES}")
    if output_shapes(architecture)[-1] != (NUM_CLASSES,):
        raise ValueError(f"{architecture=} does not end in {NUM_CLASSES} outputs")
    if len(params) != len(architecture.layers):
        raise ValueError(f"{len(params)=} does not fit {len(architecture.layers)} layers")
    bn_state = [None] * len(params) if bn_state is None else bn_state
    if len(bn_state) != len(params):
        raise ValueError(f"{len(bn_state)=} must equal {len(params)=}")
    arrays: dict[str, np.ndarray] = {}
    for i, (layer, running) in enumerate(zip(params, bn_state, strict=True)):
        if (running is None) != (not isinstance(architecture.layers[i], BatchNorm)):
            raise ValueError(f"layer {i}: running stats {running is not None}, but {layer=}")
        values = dict(layer)
        if running is not None:
            values |= {"running_mean": running.mean, "running_var": running.var}
        for key, value in values.items():
            arrays[f"layer{i}_{key}"] = np.asarray(value)
    expected = _array_names(architecture)
    if set(arrays) != set(expected):
        raise ValueError(f"arrays {sorted(arrays)} do not fit the architecture's {list(expected)}")
    for name, shape in expected.items():
        a = arrays[name]
        if a.shape != shape or a.dtype not in (np.float32, np.float64):
            raise ValueError(f"{name}: {a.shape=} {a.dtype=}, expected {shape} float32/float64")
    metadata = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input_shape": list(architecture.input_shape),
        "layers": [describe(layer) for layer in architecture.layers],
        "activation": activation,
        "activation_kwargs": kwargs,
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
    """The parsed metadata dict, with the format tag and the version checked."""
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
    if isinstance(version, bool) or not isinstance(version, int) or version not in (1, 2):
        raise ModelFileError("bad_version", f"{version=}, this app reads 1 and {FORMAT_VERSION}")
    if set(meta) != (_V1_KEYS if version == 1 else _METADATA_KEYS):
        raise ModelFileError("bad_metadata", f"fields {sorted(meta)}")
    if not isinstance(meta["activation"], str) or meta["activation"] not in ACTIVATIONS:
        raise ModelFileError("unknown_activation", f"activation={meta['activation']!r}")
    if (problem := _kwargs_problem(meta["activation"], meta["activation_kwargs"])) is not None:
        raise ModelFileError("bad_metadata", problem)
    return meta


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _v1_architecture(meta: dict[str, Any]) -> Architecture:
    sizes = meta["layer_sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(map(_is_count, sizes)):
        raise ModelFileError("bad_metadata", f"layer_sizes={sizes!r}")
    if not isinstance(meta["batch_norm"], bool):
        raise ModelFileError("bad_metadata", f"batch_norm={meta['batch_norm']!r}")
    return mlp(sizes, batch_norm=meta["batch_norm"])


def _layer(record: Any) -> Any:
    """A layer record from its description: every field a positive int (a padding may be 0, a
    pool's stride None)."""
    if not isinstance(record, dict) or record.get("kind") not in LAYER_KINDS:
        raise ModelFileError("bad_metadata", f"layer {str(record)[:80]}")
    fields = {k: v for k, v in record.items() if k != "kind"}
    if not all(
        _is_count(v) or (k == "stride" and v is None) or (k == "padding" and v == 0 and _is_int(v))
        for k, v in fields.items()
    ):
        raise ModelFileError("bad_metadata", f"layer {str(record)[:80]}")
    try:
        return LAYER_KINDS[record["kind"]](**fields)
    except TypeError as e:
        raise ModelFileError("bad_metadata", f"layer {str(record)[:80]}: {e}") from None


def _architecture(meta: dict[str, Any]) -> Architecture:
    """The architecture the metadata describes, if the MNIST page can build it."""
    if meta["version"] == 1:
        arch = _v1_architecture(meta)
    else:
        shape, layers = meta["input_shape"], meta["layers"]
        if not isinstance(shape, list) or not all(map(_is_count, shape)):
            raise ModelFileError("bad_metadata", f"input_shape={str(shape)[:80]}")
        if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYER_RECORDS:
            raise ModelFileError("bad_metadata", f"layers={str(layers)[:80]}")
        arch = Architecture(tuple(shape), tuple(_layer(record) for record in layers))
    if arch.input_shape not in INPUT_SHAPES:
        raise ModelFileError(
            "bad_input_size", f"{arch.input_shape}, expected one of {INPUT_SHAPES}"
        )
    # Each layer checked to fit the one before, sizes only: nothing is allocated yet.
    try:
        out = output_shapes(arch)[-1]
    except ValueError as e:
        raise ModelFileError("bad_metadata", str(e)) from None
    if out != (NUM_CLASSES,):
        raise ModelFileError("bad_output_size", f"{out} outputs, expected {NUM_CLASSES}")
    # The MNIST page's own limits, before any array is read: 784-60000-10 held 258 MB.
    if page_settings(arch) is None:
        raise ModelFileError("too_wide", f"{len(arch.layers)} layers the page does not offer")
    return arch


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
    arch = _architecture(meta)
    expected = _array_names(arch)
    stored = _v1_names(arch) if meta["version"] == 1 else {name: name for name in expected}
    present = set(npz.files) - {"metadata"}
    if missing := [stored[n] for n in expected if stored[n] not in present]:
        raise ModelFileError("missing_array", ", ".join(missing[:5]))
    if extra := sorted(present - set(stored.values())):
        raise ModelFileError("extra_array", ", ".join(extra[:5]))
    # Every header before any data: an object array is refused without being unpickled, and a
    # header promising a huge shape is refused before anything is allocated.
    for name, shape in expected.items():
        got_shape, dtype = _header(npz, stored[name])
        if dtype.kind != "f" or dtype.itemsize not in (4, 8):
            raise ModelFileError("bad_dtype", f"{stored[name]}: {dtype}")
        if got_shape != shape:
            raise ModelFileError("bad_shape", f"{stored[name]}: {got_shape}, expected {shape}")
    arrays = {}
    for name in expected:
        # A float64 value beyond float32's range becomes inf here and is caught just below.
        with np.errstate(over="ignore"):
            a = npz[stored[name]].astype(np.float32)  # header checked above: no pickle
        if not np.isfinite(a).all():
            raise ModelFileError("non_finite", stored[name])
        arrays[name] = a
    params, bn_state = [], []
    for i, shapes in enumerate(parameter_shapes(arch)):
        params.append({key: arrays[f"layer{i}_{key}"] for key in shapes})
        running = None
        if "gamma" in shapes:
            running = RunningStats(
                arrays[f"layer{i}_running_mean"], arrays[f"layer{i}_running_var"]
            )
            if (running.var < 0).any():
                raise ModelFileError("negative_var", stored[f"layer{i}_running_var"])
        bn_state.append(running)
    kwargs = tuple(meta["activation_kwargs"].items())
    return LoadedModel(params, bn_state, arch, meta["activation"], kwargs)


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
