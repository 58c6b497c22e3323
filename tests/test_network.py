"""core.network: the MLP as layer records equals core.mlp bit for bit; shapes, parameter counts,
receptive fields and input windows against what the network actually computes; the CNN preset."""

import itertools

import numpy as np
import pytest

from core import mlp as one_loop
from core.activations import ACTIVATIONS
from core.datasets import builtin_mnist, to_float32
from core.mlp import softmax_cross_entropy
from core.mnist_setup import (
    CONV1_CHANNELS,
    CONV2_CHANNELS,
    KERNELS,
    Network,
    architecture,
    architecture_text,
    page_settings,
)
from core.network import (
    Activation,
    Architecture,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    backward,
    cnn,
    forward,
    init_params,
    input_window,
    layer_table,
    loss_and_grads,
    mlp,
    multiply_adds,
    output_shapes,
    parameter_count,
    predict_proba,
    receptive_fields,
    rows_per_pass,
    torch_modules,
)

RELU = ACTIVATIONS["relu"]()


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_the_mlp_as_layer_records_is_core_mlp_bit_for_bit(batch_norm, dropout):
    sizes = (784, 64, 32, 10)
    arch = mlp(sizes, batch_norm=batch_norm)
    records = init_params(np.random.default_rng(0), arch)
    loop = one_loop.init_params(np.random.default_rng(0), sizes, batch_norm=batch_norm)
    x = np.random.default_rng(1).random((16, 784), dtype=np.float32)
    y = np.arange(16) % 10
    kw = {"activation": RELU, "dropout": dropout}
    loss, grads, _ = loss_and_grads(arch, records, x, y, rng=np.random.default_rng(5), **kw)
    loss_loop, grads_loop, _ = one_loop.loss_and_grads(
        loop, x, y, rng=np.random.default_rng(5), **kw
    )
    assert loss == loss_loop
    ours = sorted((k, g.shape, g.tobytes()) for layer in grads for k, g in layer.items())
    theirs = sorted((k, g.shape, g.tobytes()) for layer in grads_loop for k, g in layer.items())
    assert ours == theirs
    assert parameter_count(records) == one_loop.parameter_count(loop)


def test_the_cnn_preset_is_convnetjs_mnist_demo():
    arch = cnn((28, 28))
    kinds = [type(layer).__name__ for layer in arch.layers]
    assert kinds == [
        "Conv2d", "Activation", "MaxPool2d", "Conv2d", "Activation", "MaxPool2d",
        "Flatten", "Dropout", "Linear",
    ]  # fmt: skip
    assert arch.layers[0] == Conv2d(8, 5, padding=2) and arch.layers[3] == Conv2d(16, 5, padding=2)
    shapes = output_shapes(arch)
    assert shapes[2] == (8, 14, 14) and shapes[5] == (16, 4, 4) and shapes[-1] == (10,)
    rows = layer_table(arch)
    # The tutorials' formula: k·k·C_in·C_out weights + C_out biases.
    assert [r.parameters for r in rows if r.parameters] == [
        5 * 5 * 1 * 8 + 8,
        5 * 5 * 8 * 16 + 16,
        16 * 4 * 4 * 10 + 10,
    ]
    assert sum(r.parameters for r in rows) == parameter_count(
        init_params(np.random.default_rng(0), arch)
    )
    assert [r.receptive_field for r in rows] == [5, 5, 6, 14, 14, 18, None, None, None]
    assert architecture_text(arch) == "8@5×5–16@5×5–10"
    assert architecture_text(arch, ascii_only=True) == "8c5x5-16c5x5-10"


ODD = Architecture(
    (2, 19, 17),
    (
        Conv2d(3, 3, stride=2, padding=1),
        Activation(),
        Conv2d(2, 3, dilation=2),
        MaxPool2d(2),
        AvgPool2d(2, stride=1),
    ),
)


def _pixels_it_depends_on(arch, params, layer, row, col):
    """Input pixels whose change moves output pixel (row, col) of ``layer`` (any channel): each
    pixel of a random input moved in turn through the real layers, in float64."""
    part = Architecture(arch.input_shape, arch.layers[: layer + 1])
    x0 = np.random.default_rng(2).normal(size=(1, *arch.input_shape))

    def pixel(x):
        out, _ = forward(part, params[: layer + 1], x, activation=RELU, train=False)
        return out[0, :, row, col]

    base = pixel(x0)
    hit = np.zeros(arch.input_shape[1:], dtype=bool)
    for c, i, j in itertools.product(*(range(n) for n in arch.input_shape)):
        x = x0.copy()
        x[0, c, i, j] += 5.0
        hit[i, j] |= not np.array_equal(pixel(x), base)
    return hit


@pytest.mark.parametrize(("layer", "row", "col"), [(0, 0, 0), (0, 3, 5), (2, 1, 1), (3, 0, 0)])
def test_input_window_holds_every_input_pixel_the_output_depends_on(layer, row, col):
    params = [
        {k: v.astype(np.float64) for k, v in p.items()}
        for p in init_params(np.random.default_rng(0), ODD)
    ]
    hit = _pixels_it_depends_on(ODD, params, layer, row, col)
    top, left, bottom, right = input_window(ODD, layer, row, col)
    rows, cols = np.nonzero(hit)
    assert rows.size  # the pixel depends on something
    assert top <= rows.min() and rows.max() < bottom and left <= cols.min() and cols.max() < right
    field = receptive_fields(ODD)[layer]
    assert bottom - top == right - left == field  # the window is the receptive field's square


def test_receptive_fields_of_stacked_layers():
    # 3×3 stride 2 → 3×3 dilation 2 (reach 5, jump 2) → pool 2 (jump 2) → avg 2 stride 1 (jump 4).
    assert receptive_fields(ODD) == [3, 3, 11, 13, 17]
    assert receptive_fields(mlp((784, 10))) == [None]


def test_torch_modules_name_each_layer_as_torch_does():
    arch = cnn((28, 28), batch_norm=True)
    mods = torch_modules(arch, "torch.nn.ReLU()", 0.25)
    assert mods[:4] == [
        "torch.nn.Conv2d(1, 8, kernel_size=5, padding=2)",
        "torch.nn.BatchNorm2d(8)",
        "torch.nn.ReLU()",
        "torch.nn.MaxPool2d(2)",
    ]
    assert mods[-3:] == [
        "torch.nn.Flatten()",
        "torch.nn.Dropout(p=0.25)",
        "torch.nn.Linear(256, 10)",
    ]
    assert torch_modules(mlp((64, 8, 10), batch_norm=True), "torch.nn.Tanh()", 0.0)[:2] == [
        "torch.nn.Linear(64, 8)",
        "torch.nn.BatchNorm1d(8)",
    ]
    assert torch_modules(ODD, "torch.nn.ReLU()", 0)[0] == (
        "torch.nn.Conv2d(2, 3, kernel_size=3, stride=2, padding=1)"
    )


def test_a_layer_that_does_not_fit_its_input_is_refused():
    with pytest.raises(ValueError, match="cannot take"):
        output_shapes(Architecture((784,), (Conv2d(4, 3),)))
    with pytest.raises(ValueError, match="leaves nothing"):
        output_shapes(Architecture((1, 4, 4), (Conv2d(4, 7),)))
    with pytest.raises(ValueError, match="no spatial layout"):
        input_window(cnn((28, 28)), 6, 0, 0)
    assert output_shapes(Architecture((1, 5, 5), (Flatten(), Linear(3)))) == [(25,), (3,)]


NET = Network((64,), "relu", "kaiming_uniform", 0.0, False, 64, 0, "adam", 1e-3, "none", {}, {})


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("image", [(28, 28), (8, 8)])
def test_page_settings_invert_every_architecture_the_page_builds(image, batch_norm):
    for c1, k1, c2, k2 in itertools.product(CONV1_CHANNELS, KERNELS, CONV2_CHANNELS, KERNELS):
        net = NET._replace(family="cnn", conv=((c1, k1), (c2, k2)), batch_norm=batch_norm)
        arch = architecture(image, net)
        settings = page_settings(arch)
        assert settings["family"] == "cnn" and settings["batch_norm"] == batch_norm
        c2_, k2_ = settings["conv"][1]
        assert settings["conv"][0] == (c1, k1) and c2_ == c2 and (k2_ == k2 or c2 == 0)
    for hidden in [(), (128,), (1024,) * 6]:
        arch = architecture(image, NET._replace(hidden=hidden, batch_norm=batch_norm))
        with_bn = batch_norm and bool(hidden)  # no hidden layer, no batch norm
        assert page_settings(arch) == {"family": "mlp", "hidden": hidden, "batch_norm": with_bn}
    assert page_settings(mlp((784, *[16] * 7, 10))) is None
    assert page_settings(cnn((28, 28), ((64, 5, 2),))) is None


@pytest.mark.parametrize("batch_norm", [False, True])
def test_backward_with_release_gives_the_same_grads_and_empties_the_cache(batch_norm):
    arch = cnn((12, 12), ((3, 3, 2), (4, 3, 2)), batch_norm=batch_norm)
    params = init_params(np.random.default_rng(0), arch)
    x = np.random.default_rng(1).random((6, 144), dtype=np.float32)
    kw = {"activation": RELU, "train": True, "rng": np.random.default_rng(2), "dropout": 0.2}
    logits, kept = forward(arch, params, x, **kw)
    _, dlogits = softmax_cross_entropy(logits, np.arange(6) % 10)
    want = backward(arch, params, kept, dlogits.copy())
    kw["rng"] = np.random.default_rng(2)
    _, released = forward(arch, params, x, **kw)
    got = backward(arch, params, released, dlogits.copy(), release=True)
    for mine, theirs in zip(got, want, strict=True):
        assert {k: g.tobytes() for k, g in mine.items()} == {
            k: g.tobytes() for k, g in theirs.items()
        }
    assert all(s is None for s in released.saved)
    assert all(a is None for a in released.inputs[1:]) and released.inputs[0] is not None


def test_predict_proba_of_uint8_images_converts_each_slice_as_a_batch():
    arch = cnn((28, 28))
    params = init_params(np.random.default_rng(0), arch)
    images = builtin_mnist().test.x[: 2 * rows_per_pass(arch) + 7]  # three slices, one short
    got = predict_proba(arch, params, images, activation=RELU)
    want = predict_proba(arch, params, to_float32(images), activation=RELU)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_batch_norm_after_a_conv_normalizes_each_channel_over_batch_and_positions():
    """torch's BatchNorm2d: per channel, the mean and biased variance over (N, H, W) normalize;
    the running variance takes the unbiased one (divisor N·H·W − 1)."""
    arch = Architecture((2, 6, 5), (Conv2d(3, 3, padding=1), BatchNorm()))
    params = init_params(np.random.default_rng(0), arch, dtype=np.float64)
    rng = np.random.default_rng(1)
    params[1] = {"gamma": rng.normal(size=3), "beta": rng.normal(size=3)}
    y, cache = forward(arch, params, rng.normal(size=(4, 60)), activation=RELU, train=True)
    z = cache.inputs[1]
    mean, var = z.mean(axis=(0, 2, 3)), z.var(axis=(0, 2, 3))
    expected = (z - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    gamma, beta = (params[1][k][:, None, None] for k in ("gamma", "beta"))
    np.testing.assert_allclose(y, gamma * expected + beta, rtol=1e-12, atol=1e-12)
    unbiased = var * z[:, 0].size / (z[:, 0].size - 1)
    np.testing.assert_allclose(cache.bn_state[1].mean, 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(cache.bn_state[1].var, 0.9 + 0.1 * unbiased, rtol=1e-12)


def test_multiply_adds_count_each_weight_layer_by_hand():
    # The preset: 28·28 positions × 8 filters × 1·5·5, 14·14 × 16 × 8·5·5, 16·4·4 × 10.
    rows = layer_table(cnn((28, 28)))
    assert [r.multiply_adds for r in rows if r.multiply_adds] == [156_800, 627_200, 2_560]
    assert multiply_adds(cnn((28, 28))) == 786_560
    assert multiply_adds(mlp((784, 128, 10))) == 784 * 128 + 128 * 10
    # Stride 2, padding 1, dilation 2 on 2×7×5: out ⌊(7+2−4−1)/2⌋+1 = 3 by ⌊(5+2−4−1)/2⌋+1 = 2.
    strided = Architecture((2, 7, 5), (Conv2d(4, 3, stride=2, padding=1, dilation=2),))
    assert multiply_adds(strided) == 4 * 3 * 2 * (2 * 3 * 3)
