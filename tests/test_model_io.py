"""Model files: exact round trips, and every ModelFileError code from a file crafted to cause it.

Bad files are written here with numpy and zipfile directly (not with save_model), so a bug in
save_model cannot hide a bug in load_model. Most are crafted in version 1's format (MLPs saved
before convolutions, still read: a teacher's saved files keep working), whose checks are the
reader's checks of either version; version 2's own fields (the layer records) have cases of their
own, and every round trip goes through save_model's version 2.
"""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest

from core import model_io
from core.activations import ACTIVATIONS
from core.batchnorm import RunningStats
from core.datasets import Dataset, Split, to_float32
from core.mlp import init_bn_state, init_params
from core.model_io import (
    ERROR_CODES,
    FORMAT_NAME,
    FORMAT_VERSION,
    LoadedModel,
    ModelFileError,
    load_model,
    save_model,
)
from core.network import Architecture, Conv2d, cnn, describe, mlp, predict_proba
from core.network import init_bn_state as net_bn_state
from core.network import init_params as net_params
from core.training import TrainConfig, init_train_state, train_for

SIZES = (64, 12, 10)


def _model(rng, sizes=SIZES, batch_norm=False, dtype=np.float32):
    """Random version 1 (core.mlp) params with non-trivial biases, BN affine and running stats."""
    params = init_params(rng, sizes, batch_norm=batch_norm, dtype=dtype)
    return _moved(rng, params, init_bn_state(params), dtype)


def _moved(rng, params, bn_state, dtype):
    """Every tensor and running stat moved away from its init value (in place) by random draws."""
    for layer in params:
        for key in layer:
            layer[key] = layer[key] + rng.normal(size=layer[key].shape).astype(dtype)
    bn_state = [
        None
        if s is None
        else RunningStats(
            rng.normal(size=s.mean.shape).astype(dtype),
            rng.uniform(0.1, 3.0, size=s.var.shape).astype(dtype),
        )
        for s in bn_state
    ]
    return params, bn_state


def _arrays(rng, sizes=SIZES, batch_norm=False):
    """The file's arrays by name, built by hand from the documented format."""
    params, bn_state = _model(rng, sizes, batch_norm)
    arrays = {}
    for i, (layer, running) in enumerate(zip(params, bn_state, strict=True)):
        for key, value in layer.items():
            arrays[f"layer{i}_{key}"] = value
        if running is not None:
            arrays[f"layer{i}_running_mean"] = running.mean
            arrays[f"layer{i}_running_var"] = running.var
    return arrays


def _meta(sizes=SIZES, batch_norm=False, **changes):
    """Version 1's metadata."""
    meta = {
        "format": FORMAT_NAME,
        "version": 1,
        "layer_sizes": list(sizes),
        "activation": "relu",
        "activation_kwargs": {},
        "batch_norm": batch_norm,
    }
    return meta | changes


def _npz(arrays, meta=None, metadata=None) -> bytes:
    """An .npz with ``arrays`` and the metadata JSON (or a raw ``metadata`` array)."""
    if metadata is None and meta is not None:
        metadata = np.array(json.dumps(meta))
    extra = {} if metadata is None else {"metadata": metadata}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **extra)  # pickles object arrays: allow_pickle=True
    return buffer.getvalue()


def _file(rng, *, batch_norm=False, sizes=SIZES, drop=(), add=None, meta=None) -> bytes:
    arrays = _arrays(rng, sizes, batch_norm)
    for name in drop:
        del arrays[name]
    arrays |= add or {}
    return _npz(arrays, _meta(sizes, batch_norm) if meta is None else meta)


def _zip(members: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():  # zipfile warns about the duplicate names crafted below
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(buffer, "w") as z:
            for name, content in items:
                z.writestr(name, content)
    return buffer.getvalue()


def _code(data) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(data)
    assert info.value.code in ERROR_CODES
    return info.value.code


# ---------------------------------------------------------------- round trips


def _network(rng, arch, dtype=np.float32):
    """Random network params with non-trivial biases, BN affine and running stats."""
    params = net_params(rng, arch, dtype=dtype)
    return _moved(rng, params, net_bn_state(params), dtype)


ARCHITECTURES = {
    "64-12-10": mlp((64, 12, 10)),
    "784-16-8-10 BN": mlp((784, 16, 8, 10), batch_norm=True),
    "64-10": mlp((64, 10)),
    "cnn 8@5-16@5": cnn((28, 28)),
    "cnn BN 4@3 on 8×8": cnn((8, 8), ((4, 3, 2),), batch_norm=True),
}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_round_trip_is_exact_and_predicts_identically(rng, name):
    arch = ARCHITECTURES[name]
    params, bn_state = _network(rng, arch)
    loaded = load_model(save_model(arch, params, bn_state, "tanh"))
    assert isinstance(loaded, LoadedModel)
    assert loaded.architecture == arch
    assert loaded.activation == "tanh"
    assert loaded.activation_kwargs == ()
    assert len(loaded.params) == len(params)
    for got, want in zip(loaded.params, params, strict=True):
        assert list(got) == list(want)  # same keys in the same order as init_params
        for key in want:
            assert got[key].dtype == np.float32
            np.testing.assert_array_equal(got[key], want[key])
    for got, want in zip(loaded.bn_state, bn_state, strict=True):
        if want is None:
            assert got is None
        else:
            assert isinstance(got, RunningStats)
            np.testing.assert_array_equal(got.mean, want.mean)
            np.testing.assert_array_equal(got.var, want.var)
    x = rng.random((7, *arch.input_shape), dtype=np.float32)
    act = ACTIVATIONS["tanh"]()
    want_p = predict_proba(arch, params, x, activation=act, bn_state=bn_state)
    got_p = predict_proba(arch, loaded.params, x, activation=act, bn_state=loaded.bn_state)
    np.testing.assert_array_equal(got_p, want_p)


def test_a_version_1_file_loads_as_the_same_network(rng):
    """A file saved before convolutions (tensors numbered per linear layer) predicts as it did."""
    sizes = (64, 12, 10)
    params, bn_state = _model(rng, sizes, batch_norm=True)
    loaded = load_model(_npz(_arrays(np.random.default_rng(0), sizes, True), _meta(sizes, True)))
    arch = mlp(sizes, batch_norm=True)
    assert loaded.architecture == arch
    ref = _arrays(np.random.default_rng(0), sizes, True)
    np.testing.assert_array_equal(loaded.params[0]["W"], ref["layer0_W"])
    np.testing.assert_array_equal(loaded.params[1]["gamma"], ref["layer0_gamma"])
    np.testing.assert_array_equal(loaded.bn_state[1].var, ref["layer0_running_var"])
    np.testing.assert_array_equal(loaded.params[4]["W"], ref["layer1_W"])
    del params, bn_state


def test_round_trip_without_bn_state_argument(rng):
    arch = mlp(SIZES)
    params, _ = _network(rng, arch)
    loaded = load_model(save_model(arch, params, None, "relu"))
    assert loaded.bn_state == [None] * len(arch.layers)


def test_float64_params_load_as_float32(rng):
    arch = mlp((64, 5, 10), batch_norm=True)
    params, bn_state = _network(rng, arch, dtype=np.float64)
    loaded = load_model(save_model(arch, params, bn_state, "relu"))
    for got, want in zip(loaded.params, params, strict=True):
        for key in want:
            assert got[key].dtype == np.float32
            np.testing.assert_array_equal(got[key], want[key].astype(np.float32))
    assert loaded.bn_state[1].var.dtype == np.float32


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_key_round_trips(rng, activation):
    arch = mlp(SIZES)
    params, _ = _network(rng, arch)
    assert load_model(save_model(arch, params, None, activation)).activation == activation


def test_activation_kwargs_round_trip_and_change_predictions(rng):
    arch = mlp(SIZES)
    params, _ = _network(rng, arch)
    data = save_model(arch, params, None, "leaky_relu", activation_kwargs={"negative_slope": 0.3})
    loaded = load_model(data)
    assert loaded.activation_kwargs == (("negative_slope", 0.3),)
    x = rng.normal(size=(5, 64)).astype(np.float32)
    act = ACTIVATIONS["leaky_relu"](**dict(loaded.activation_kwargs))
    p = predict_proba(arch, loaded.params, x, activation=act)
    np.testing.assert_array_equal(p, predict_proba(arch, params, x, activation=act))
    default = predict_proba(arch, params, x, activation=ACTIVATIONS["leaky_relu"]())
    assert not np.allclose(p, default)  # the kwargs matter, so dropping them would be a bug


def test_file_holds_plain_arrays_and_a_unicode_metadata_string(rng):
    arch = ARCHITECTURES["cnn BN 4@3 on 8×8"]
    params, bn_state = _network(rng, arch)
    data = save_model(arch, params, bn_state, "relu")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert npz["metadata"].shape == ()
        assert npz["metadata"].dtype.kind == "U"
        meta = json.loads(str(npz["metadata"]))
        assert meta == _meta_v2(arch)
        names = [f"layer{i}_{k}" for i, p in enumerate(params) for k in p]
        names += ["layer1_running_mean", "layer1_running_var"]
        assert sorted(npz.files) == sorted(["metadata", *names])
        assert all(npz[name].dtype == np.float32 for name in npz.files if name != "metadata")
        assert npz["layer0_W"].shape == (4, 1, 3, 3)  # torch's (out, in, kH, kW)
        np.testing.assert_array_equal(npz["layer1_running_var"], bn_state[1].var)


def _meta_v2(arch: Architecture, **changes):
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input_shape": list(arch.input_shape),
        "layers": [describe(layer) for layer in arch.layers],
        "activation": "relu",
        "activation_kwargs": {},
    }
    return meta | changes


def _arrays_v2(rng, arch):
    params, bn_state = _network(rng, arch)
    arrays = {f"layer{i}_{k}": v for i, p in enumerate(params) for k, v in p.items()}
    for i, running in enumerate(bn_state):
        if running is not None:
            arrays |= {f"layer{i}_running_mean": running.mean, f"layer{i}_running_var": running.var}
    return arrays


def test_hand_written_file_loads(rng):
    """A file written from the documented format (not by save_model) is read back."""
    arch = ARCHITECTURES["cnn BN 4@3 on 8×8"]
    arrays = _arrays_v2(rng, arch)
    loaded = load_model(_npz(arrays, _meta_v2(arch)))
    np.testing.assert_array_equal(loaded.params[0]["W"], arrays["layer0_W"])
    np.testing.assert_array_equal(loaded.bn_state[1].mean, arrays["layer1_running_mean"])


def test_fortran_order_and_big_endian_float64_load(rng):
    arrays = _arrays(rng)
    arrays["layer0_W"] = np.asfortranarray(arrays["layer0_W"])
    arrays["layer1_W"] = arrays["layer1_W"].astype(">f8")
    loaded = load_model(_npz(arrays, _meta()))
    np.testing.assert_array_equal(loaded.params[0]["W"], arrays["layer0_W"])
    np.testing.assert_array_equal(loaded.params[3]["W"], arrays["layer1_W"].astype(np.float32))
    assert loaded.params[3]["W"].dtype == np.float32


def test_trained_state_round_trips(rng):
    """What the MNIST page will save: TrainState.params / bn_state after real steps with batch norm."""
    # A small synthetic 8×8 dataset (uint8 images, labels 0..9), as the loaders return it.
    splits = [
        Split(rng.integers(0, 256, (n, 8, 8), dtype=np.uint8), rng.integers(0, 10, n))
        for n in (96, 32, 32)
    ]
    data = Dataset("synthetic", *splits, (8, 8))
    for arch in (mlp((64, 16, 10), batch_norm=True), cnn((8, 8), ((4, 3, 2),), batch_norm=True)):
        config = TrainConfig(architecture=arch, activation="elu", batch_size=32)
        state, _ = train_for(init_train_state(rng, data, config), data, config, max_steps=5)
        assert state.step == 5
        assert not np.array_equal(state.bn_state[1].var, np.ones_like(state.bn_state[1].var))
        loaded = load_model(save_model(arch, state.params, state.bn_state, "elu"))
        x = to_float32(data.test.x)
        act = ACTIVATIONS["elu"]()
        np.testing.assert_array_equal(
            predict_proba(arch, loaded.params, x, activation=act, bn_state=loaded.bn_state),
            predict_proba(arch, state.params, x, activation=act, bn_state=state.bn_state),
        )


def test_bytearray_and_memoryview_accepted(rng):
    arch = mlp(SIZES)
    params, _ = _network(rng, arch)
    data = save_model(arch, params, None, "relu")
    assert load_model(bytearray(data)).architecture == arch
    assert load_model(memoryview(data)).architecture == arch


# ---------------------------------------------------------------- every error code


def _metadata_object_array(rng):
    return _npz(_arrays(rng), metadata=np.array([_meta()], dtype=object))


def _float64_overflow(rng):
    arrays = _arrays(rng)
    arrays["layer0_W"] = arrays["layer0_W"].astype(np.float64)
    arrays["layer0_W"][0, 0] = 1e300  # finite in float64, inf in float32
    return _npz(arrays, _meta())


def _with(rng, name, fn):
    arrays = _arrays(rng, batch_norm=True)
    arrays[name] = fn(arrays[name])
    return _npz(arrays, _meta(batch_norm=True))


def _nan(a):
    a = a.copy()
    a.flat[1] = np.nan
    return a


def _neg(a):
    a = a.copy()
    a[2] = -0.5
    return a


_CNN = cnn((28, 28))
_CONV_ONLY = Architecture((1, 8, 8), (Conv2d(4, 3), *cnn((6, 6), ()).layers))


def _conv_record(**changes):
    return {"kind": "conv2d", "out_channels": 8, "kernel_size": 5, "stride": 1, "padding": 2,
            "dilation": 1} | changes  # fmt: skip


# Each code maps to builders of bytes that must raise exactly that code (called with a seeded rng).
CASES = {
    "empty": [lambda rng: b""],
    "too_large": [lambda rng: b"PK\x03\x04" + bytes(model_io.MAX_BYTES)],
    "not_npz": [
        lambda rng: b"hello, this is text",
        lambda rng: _zip({"readme.txt": b"hello"}),
        lambda rng: _npy(np.zeros(3)),
        lambda rng: _zip({}),
        # Two members of the same name: which one a reader sees is ambiguous.
        lambda rng: _zip(
            [("metadata.npy", _npy(np.array("{}"))), ("metadata.npy", _npy(np.array("{}")))]
        ),
    ],
    "corrupt": [
        lambda rng: _file(rng)[:-1],
        lambda rng: _file(rng)[: len(_file(rng)) // 2],
        lambda rng: _file(rng)[:30],
        lambda rng: _zip({"metadata.npy": b"not an npy header"}),
    ],
    "bad_metadata": [
        # Version 2's layer records: unknown kinds, fields that are not positive ints, layers that
        # do not fit together, the wrong fields for the version.
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[{"kind": "lstm", "hidden": 8}])),
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[{"kind": "conv2d", "out_channels": 8}])),
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[_conv_record(kernel_size=2.5)])),
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[_conv_record(padding=-1)])),
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[_conv_record(kernel_size=99)])),
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[_conv_record(), {"kind": "linear"}])),
        lambda rng: _npz({}, _meta_v2(_CNN, layers="conv")),
        lambda rng: _npz({}, _meta_v2(_CNN, layers=[])),
        lambda rng: _npz({}, _meta_v2(_CNN, input_shape=[1, 28.0, 28])),
        lambda rng: _npz({}, _meta_v2(_CNN, layer_sizes=[784, 10])),
        lambda rng: _npz({}, _meta(version=2)),
        lambda rng: _npz(_arrays(rng)),
        lambda rng: _npz(_arrays(rng), metadata=np.array("{not json")),
        lambda rng: _npz(_arrays(rng), metadata=np.array([json.dumps(_meta())])),
        lambda rng: _npz(
            _arrays(rng), metadata=np.frombuffer(json.dumps(_meta()).encode(), np.uint8)
        ),
        lambda rng: _npz(
            _arrays(rng), metadata=np.array(json.dumps(_meta()).encode())
        ),  # bytes 'S'
        _metadata_object_array,
        lambda rng: _npz(_arrays(rng), metadata=np.array(json.dumps([1, 2]))),
        lambda rng: _npz(_arrays(rng), _meta(format="keras")),
        lambda rng: _npz(_arrays(rng), {k: v for k, v in _meta().items() if k != "batch_norm"}),
        lambda rng: _npz(_arrays(rng), _meta(comment="hi")),
        lambda rng: _npz(_arrays(rng), _meta(batch_norm="no")),
        lambda rng: _npz(_arrays(rng), _meta(layer_sizes=[64, 12.0, 10])),
        lambda rng: _npz(_arrays(rng), _meta(layer_sizes=[64, True, 10])),
        lambda rng: _npz(_arrays(rng), _meta(layer_sizes=[64, 0, 10])),
        lambda rng: _npz(_arrays(rng), _meta(layer_sizes=[64])),
        lambda rng: _npz(_arrays(rng), _meta(layer_sizes="64-12-10")),
        lambda rng: _npz(_arrays(rng), _meta(activation_kwargs={"negative_slope": 0.1})),
        lambda rng: _npz(_arrays(rng), _meta(activation="elu", activation_kwargs={"alpha": "1"})),
        lambda rng: _npz(
            _arrays(rng), _meta(activation="gelu", activation_kwargs={"approximate": "erf"})
        ),
        lambda rng: _npz(_arrays(rng), _meta(activation="elu", activation_kwargs=[["alpha", 1.0]])),
        lambda rng: _npz(
            _arrays(rng), _meta(activation="hardtanh", activation_kwargs={"min_val": 2.0})
        ),  # min_val above the default max_val: the factory itself refuses it
        # Valid JSON, but longer than MAX_METADATA_CHARS: refused from the header, before reading.
        lambda rng: _npz(_arrays(rng), metadata=np.array(json.dumps(_meta()) + " " * 20_000)),
    ],
    "bad_version": [
        lambda rng: _npz(_arrays(rng), _meta(version=FORMAT_VERSION + 1)),
        lambda rng: _npz(_arrays(rng), _meta(version=0)),
        lambda rng: _npz(_arrays(rng), _meta(version="1")),
        lambda rng: _npz(_arrays(rng), {k: v for k, v in _meta().items() if k != "version"}),
    ],
    "unknown_activation": [
        lambda rng: _npz(_arrays(rng), _meta(activation="swish_v9")),
        lambda rng: _npz(_arrays(rng), _meta(activation=None)),
    ],
    "bad_input_size": [
        lambda rng: _file(rng, sizes=(100, 12, 10), meta=_meta(sizes=(100, 12, 10))),
    ],
    "bad_output_size": [
        lambda rng: _file(rng, sizes=(64, 12, 9), meta=_meta(sizes=(64, 12, 9))),
    ],
    # Issue #22 item 9: refused from the metadata, before any array is read (784-60000-10 held
    # 258 MB in load_model before the page refused the width).
    "too_wide": [
        # A convolution of 64 filters, or a third block: more than the page's settings build.
        lambda rng: _npz({}, _meta_v2(cnn((28, 28), ((64, 5, 2),)))),
        lambda rng: _npz({}, _meta_v2(cnn((28, 28), ((8, 3, 2), (8, 3, 2), (8, 3, 1))))),
        # Layers that fit together but are not an MLP or the page's CNN (no pooling).
        lambda rng: _npz({}, _meta_v2(_CONV_ONLY)),
        lambda rng: _npz({}, _meta(sizes=(784, 60000, 10))),
        lambda rng: _npz({}, _meta(sizes=(784, *[16] * 7, 10))),
        lambda rng: _file(rng, sizes=(64, 1025, 10), meta=_meta(sizes=(64, 1025, 10))),
    ],
    "missing_array": [
        lambda rng: _npz(
            {k: v for k, v in _arrays_v2(rng, _CNN).items() if k != "layer3_W"}, _meta_v2(_CNN)
        ),
        lambda rng: _file(rng, drop=["layer1_b"]),
        lambda rng: _file(rng, batch_norm=True, drop=["layer0_running_var"]),
        # Metadata says batch norm, the arrays were saved without it.
        lambda rng: _npz(_arrays(rng), _meta(batch_norm=True)),
    ],
    "extra_array": [
        lambda rng: _file(rng, add={"optimizer_state": np.zeros(3, np.float32)}),
        lambda rng: _npz(_arrays(rng, batch_norm=True), _meta(batch_norm=False)),
    ],
    "bad_dtype": [
        lambda rng: _with(rng, "layer0_W", lambda a: a.astype(np.int32)),
        lambda rng: _with(rng, "layer0_b", lambda a: a.astype(np.float16)),
        lambda rng: _with(rng, "layer1_W", lambda a: a.astype(np.complex64)),
        lambda rng: _with(rng, "layer0_gamma", lambda a: a.astype(object)),
    ],
    "bad_shape": [
        # A conv weight in the MLP's (fan_in, fan_out) order instead of torch's (out, in, kH, kW).
        lambda rng: _npz(
            _arrays_v2(rng, _CNN) | {"layer0_W": np.zeros((1, 8, 5, 5), np.float32)},
            _meta_v2(_CNN),
        ),
        lambda rng: _with(rng, "layer0_W", lambda a: a.T.copy()),
        lambda rng: _with(rng, "layer1_b", lambda a: a[None, :]),
        lambda rng: _with(rng, "layer0_beta", lambda a: a[:-1]),
        lambda rng: _with(rng, "layer0_running_mean", lambda a: a[0]),
    ],
    "non_finite": [
        lambda rng: _with(rng, "layer0_W", _nan),
        lambda rng: _with(rng, "layer1_b", lambda a: a * np.float32(np.inf)),
        lambda rng: _with(rng, "layer0_running_var", _nan),
        _float64_overflow,
    ],
    "negative_var": [
        lambda rng: _with(rng, "layer0_running_var", _neg),
    ],
}


def _npy(a: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, a)
    return buffer.getvalue()


def test_every_code_has_cases():
    assert set(CASES) == set(ERROR_CODES)
    assert len(set(ERROR_CODES)) == len(ERROR_CODES)


@pytest.mark.parametrize("code", ERROR_CODES)
def test_error_code_from_crafted_file(code):
    assert CASES[code], f"no crafted file for {code=}"
    for i, make in enumerate(CASES[code]):
        data = make(np.random.default_rng(i))
        assert _code(data) == code, f"case {i} of {code=}"


def test_error_is_a_value_error_with_the_code():
    with pytest.raises(ValueError, match=r"^empty$"):
        load_model(b"")


def test_size_is_checked_before_parsing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("np.load called on an oversized file")

    monkeypatch.setattr(np, "load", refuse)
    assert _code(b"x" * (model_io.MAX_BYTES + 1)) == "too_large"


def test_zip_bomb_refused_from_the_central_directory(rng, monkeypatch):
    data = _file(rng)
    assert load_model(data).architecture == mlp(SIZES)
    monkeypatch.setattr(model_io, "MAX_UNPACKED_BYTES", 1000)
    assert _code(data) == "too_large"


def test_huge_declared_shape_refused_before_reading(rng):
    """A header claiming 10^12 floats is refused by shape, never allocated."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    arrays = {k: _npy(v) for k, v in _arrays(rng).items()}
    arrays["layer0_W"] = buffer.getvalue()  # header only, no data
    members = {f"{k}.npy": v for k, v in arrays.items()}
    members["metadata.npy"] = _npy(np.array(json.dumps(_meta())))
    assert _code(_zip(members)) == "bad_shape"


def test_zero_running_var_is_legal(rng):
    """A running variance of exactly 0 is legal (a dead unit); eps keeps the division finite."""
    arrays = _arrays(rng, batch_norm=True)
    arrays["layer0_running_var"][:] = 0.0
    loaded = load_model(_npz(arrays, _meta(batch_norm=True)))
    x = rng.random((3, 64), dtype=np.float32)
    act = ACTIVATIONS["relu"]()
    p = predict_proba(
        loaded.architecture, loaded.params, x, activation=act, bn_state=loaded.bn_state
    )
    assert np.isfinite(p).all()


# ---------------------------------------------------------------- hostile files: never unpickled

UNPICKLED: list[str] = []


def _mark(what: str) -> str:
    UNPICKLED.append(what)
    return what


class _Payload:
    """Unpickling this calls _mark: the test sees whether load_model ever unpickled anything."""

    def __init__(self, what: str):
        self.what = what

    def __reduce__(self):
        return (_mark, (self.what,))


@pytest.mark.parametrize("name", ["layer0_W", "layer1_b", "metadata", "surprise"])
def test_object_array_refused_without_unpickling(rng, name):
    UNPICKLED.clear()
    arrays = _arrays(rng)
    hostile = np.empty(arrays.get(name, np.zeros(1)).shape, dtype=object)
    hostile.flat[0] = _Payload(name)
    if name == "metadata":
        data = _npz(arrays, metadata=hostile)
    else:
        data = _npz(arrays | {name: hostile}, _meta())
    # The payload really is a pickle that runs code when loaded with allow_pickle=True.
    with np.load(io.BytesIO(data), allow_pickle=True) as npz:
        npz[name]
    assert UNPICKLED == [name]
    UNPICKLED.clear()
    code = _code(data)
    assert code == {"metadata": "bad_metadata", "surprise": "extra_array"}.get(name, "bad_dtype")
    assert UNPICKLED == []


def test_raw_pickle_refused_without_unpickling():
    import pickle

    UNPICKLED.clear()
    assert _code(pickle.dumps(_Payload("raw"))) == "not_npz"
    assert UNPICKLED == []


# ---------------------------------------------------------------- damaged files


@pytest.mark.parametrize("fraction", [0.05, 0.25, 0.5, 0.75, 0.95, 0.999])
def test_truncated_file_is_corrupt(rng, fraction):
    arch = mlp(SIZES, batch_norm=True)
    data = save_model(arch, *_network(rng, arch), "relu")
    assert _code(data[: int(len(data) * fraction)]) == "corrupt"


def test_flipped_bytes_inside_a_member_are_corrupt(rng):
    arch = mlp((784, 32, 10))
    data = bytearray(save_model(arch, *_network(rng, arch), "relu"))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("layer0_W.npy")
    # Local header is 30 bytes + name + extra; damage the middle of the compressed data.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    assert _code(bytes(data)) == "corrupt"


def test_load_rejects_non_bytes():
    with pytest.raises(ValueError, match="expected bytes"):
        load_model("model.npz")


# ---------------------------------------------------------------- save_model argument checks


@pytest.mark.parametrize(
    "change",
    [
        {"activation": "swish_v9"},
        {"architecture": mlp((64, 13, 10))},
        {"architecture": mlp((100, 12, 10))},
        {"architecture": mlp((64, 12, 9))},
        {"architecture": mlp((64, 12, 12, 10))},
        {"architecture": mlp(SIZES, batch_norm=True)},
        {"architecture": cnn((8, 8), ((4, 3, 2),))},
        {"activation_kwargs": {"alpha": 2.0}},
        {"bn_state": [None]},
    ],
)
def test_save_refuses_inconsistent_arguments(rng, change):
    arch = mlp(SIZES)
    params, bn_state = _network(rng, arch)
    args = {"architecture": arch, "params": params, "bn_state": bn_state, "activation": "relu"}
    with pytest.raises(ValueError):
        save_model(**(args | change))


def test_save_refuses_running_stats_where_there_is_no_batch_norm(rng):
    arch = mlp(SIZES, batch_norm=True)
    params, bn_state = _network(rng, arch)
    with pytest.raises(ValueError, match="running stats"):
        save_model(mlp(SIZES), [p for p in params if "gamma" not in p], bn_state[1:], "relu")


def test_save_mutates_nothing(rng):
    arch = cnn((8, 8), ((4, 3, 2),), batch_norm=True)
    params, bn_state = _network(rng, arch)
    before = [{k: v.copy() for k, v in layer.items()} for layer in params]
    save_model(arch, params, bn_state, "relu")
    for layer, old in zip(params, before, strict=True):
        for key in old:
            np.testing.assert_array_equal(layer[key], old[key])


def test_metadata_nested_thousands_deep_is_a_model_file_error(rng):
    # A few hundred bytes of "[[[[…" made json.loads raise RecursionError, not a ModelFileError.
    deep = np.array("[" * 4000 + "]" * 4000)
    assert _code(_npz(_arrays(rng), metadata=deep)) == "bad_metadata"
