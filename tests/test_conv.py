"""core.conv against loop references written from the definitions, and its backward against
central differences in float64; plus ties, preallocated outputs, dtypes and no mutation."""

import math

import numpy as np
import pytest

from core.conv import (
    avg_pool2d,
    avg_pool2d_backward,
    conv2d,
    conv2d_backward,
    conv2d_terms,
    max_pool2d,
    max_pool2d_backward,
    output_size,
)
from tests.numeric import numeric_grad

# ------------------------------------------------ references: one output position at a time


def _positions(n: int, span: int, stride: int) -> range:
    """Start of every window of ``span`` that fits in ``n`` cells, stepping by ``stride``."""
    return range(0, n - span + 1, stride)


def naive_conv2d(x, weight, bias, stride, padding, dilation):
    """y[n, o, r, q] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · x_pad[n, c, r·s + i·d, q·s + j·d]."""
    n, c, h, w = x.shape
    out_c, _, k, _ = weight.shape
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    xp[:, :, padding : padding + h, padding : padding + w] = x
    span = dilation * (k - 1) + 1
    rows, cols = _positions(xp.shape[2], span, stride), _positions(xp.shape[3], span, stride)
    y = np.zeros((n, out_c, len(rows), len(cols)))
    for b in range(n):
        for o in range(out_c):
            for a, r in enumerate(rows):
                for e, q in enumerate(cols):
                    patch = xp[b, :, r : r + span : dilation, q : q + span : dilation]
                    y[b, o, a, e] = bias[o] + np.sum(weight[o] * patch)
    return y


def _pool_windows(x, k, stride):
    """Yield ``(out index, window slices)`` of every pooling window, row-major."""
    n, c, h, w = x.shape
    for b in range(n):
        for ch in range(c):
            for a, r in enumerate(_positions(h, k, stride)):
                for e, q in enumerate(_positions(w, k, stride)):
                    yield (b, ch, a, e), (b, ch, slice(r, r + k), slice(q, q + k))


def naive_pool(x, k, stride, reduce):
    oh, ow = len(_positions(x.shape[2], k, stride)), len(_positions(x.shape[3], k, stride))
    y = np.zeros((*x.shape[:2], oh, ow))
    for out, window in _pool_windows(x, k, stride):
        y[out] = reduce(x[window])
    return y


def naive_max_pool_backward(x, k, stride, dy):
    """The whole window gradient to np.argmax's pick: the first maximum in row-major order."""
    dx = np.zeros_like(x)
    for out, (b, ch, rs, qs) in _pool_windows(x, k, stride):
        i, j = divmod(int(np.argmax(x[b, ch, rs, qs])), k)
        dx[b, ch, rs.start + i, qs.start + j] += dy[out]
    return dx


# (N, C, H, W, out_channels, kernel_size, stride, padding, dilation)
CONV_CASES = [
    (2, 3, 7, 5, 4, 3, 1, 0, 1),
    (2, 3, 7, 5, 4, 3, 2, 1, 1),
    (3, 2, 7, 5, 3, 3, 1, 2, 1),
    (2, 3, 7, 5, 2, 3, 1, 1, 2),
    (2, 2, 8, 7, 3, 2, 2, 2, 2),
    (1, 3, 6, 5, 2, 4, 3, 1, 1),
    (2, 1, 5, 5, 2, 5, 1, 0, 1),  # one output pixel
    (2, 4, 5, 6, 3, 1, 1, 0, 1),  # 1×1 kernel
]
CONV_IDS = [f"N{c[0]}C{c[1]}{c[2]}x{c[3]}O{c[4]}k{c[5]}s{c[6]}p{c[7]}d{c[8]}" for c in CONV_CASES]
# (N, C, H, W, kernel_size, stride): stride ≠ kernel, overlapping, gaps, sizes the windows don't fill
POOL_CASES = [
    (2, 3, 6, 6, 2, None),
    (2, 2, 14, 14, 3, None),  # 14 = 3·4 + 2: the last two rows and columns are dropped
    (2, 2, 7, 5, 2, 1),
    (1, 3, 7, 8, 3, 2),
    (2, 2, 9, 7, 2, 3),
    (2, 1, 5, 4, 1, 1),
]
POOL_IDS = [f"N{c[0]}C{c[1]}{c[2]}x{c[3]}k{c[4]}s{c[5]}" for c in POOL_CASES]


def _conv_inputs(case, rng):
    n, c, h, w, out_c, k, s, p, d = case
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((out_c, c, k, k))
    bias = rng.standard_normal(out_c)
    return x, weight, bias, {"stride": s, "padding": p, "dilation": d}


# ------------------------------------------------------------------------------- output_size


def torch_docs_size(n, k, s=1, p=0, d=1):
    """H_out = ⌊(H_in + 2·padding − dilation·(kernel_size − 1) − 1) / stride + 1⌋ (Conv2d docs)."""
    return math.floor((n + 2 * p - d * (k - 1) - 1) / s + 1)


@pytest.mark.parametrize("n", [1, 5, 7, 14, 28])
@pytest.mark.parametrize(("k", "s", "p", "d"), [(1, 1, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1),
                                                (5, 1, 2, 1), (3, 3, 0, 1), (2, 2, 2, 2),
                                                (3, 2, 0, 3)])  # fmt: skip
def test_output_size_is_the_torch_docs_formula(n, k, s, p, d):
    assert output_size(n, k, s, p, d) == torch_docs_size(n, k, s, p, d)


def test_output_size_known_values():
    assert output_size(28, 5, padding=2) == 28  # the preset keeps 28×28
    assert output_size(14, 3, stride=3) == 4  # floor: 14 = 3·4 + 2
    assert output_size(28, 2, stride=2) == 14
    assert output_size(7, 3, stride=2, padding=1) == 4
    assert output_size(7, 3, dilation=2) == 3


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_output_size_matches_conv2d_shapes(case, rng):
    n, _, h, w, out_c, k, s, p, d = case
    x, weight, bias, kw = _conv_inputs(case, rng)
    y, _ = conv2d(x, weight, bias, **kw)
    assert y.shape == (n, out_c, output_size(h, k, s, p, d), output_size(w, k, s, p, d))


# ------------------------------------------------------------------------------------ forward


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_the_loop_reference(case, rng):
    x, weight, bias, kw = _conv_inputs(case, rng)
    y, _ = conv2d(x, weight, bias, **kw)
    expected = naive_conv2d(x, weight, bias, kw["stride"], kw["padding"], kw["dilation"])
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_without_bias_and_without_cache(rng):
    x, weight, bias, kw = _conv_inputs(CONV_CASES[1], rng)
    y, cache = conv2d(x, weight, None, keep_cache=False, **kw)
    assert cache is None
    np.testing.assert_allclose(y, conv2d(x, weight, bias, **kw)[0] - bias[:, None, None])


@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pools_match_the_loop_reference(case, rng):
    n, c, h, w, k, s = case
    x = rng.standard_normal((n, c, h, w))
    stride = k if s is None else s
    np.testing.assert_array_equal(max_pool2d(x, k, s)[0], naive_pool(x, k, stride, np.max))
    np.testing.assert_allclose(avg_pool2d(x, k, s)[0], naive_pool(x, k, stride, np.mean))
    assert max_pool2d(x, k, s, keep_cache=False)[1] is None
    assert avg_pool2d(x, k, s, keep_cache=False)[1] is None


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_terms_sum_to_every_output_of_conv2d(case, rng):
    x, weight, bias, kw = _conv_inputs(case, rng)
    y, _ = conv2d(x, weight, bias, **kw)
    for out_channel, row, col in np.ndindex(*y.shape[1:]):
        terms = conv2d_terms(x[-1], weight, bias, out_channel, row, col, **kw)
        assert terms.value == pytest.approx(y[-1, out_channel, row, col], rel=1e-12, abs=1e-12)
        assert terms.agrees_with(y[-1, out_channel, row, col])
        np.testing.assert_array_equal(terms.products, terms.window * terms.kernel)


def test_conv2d_terms_by_hand_in_a_padded_corner():
    # 1 channel, 3×3 input 1…9, 2×2 kernel of ones, padding 1: output (0, 0) reads input rows and
    # columns −1 and 0, so only x[0, 0] = 1 is in the image; output (1, 1) reads 1 + 2 + 4 + 5.
    x = np.arange(1.0, 10.0).reshape(1, 3, 3)
    weight, bias = np.ones((1, 1, 2, 2)), np.array([0.5])
    corner = conv2d_terms(x, weight, bias, 0, 0, 0, padding=1)
    np.testing.assert_array_equal(corner.window, [[[0, 0], [0, 1]]])
    np.testing.assert_array_equal(corner.rows, [-1, 0])
    assert corner.value == 1.5
    inner = conv2d_terms(x, weight, bias, 0, 1, 1, padding=1)
    assert inner.value == 0.5 + 1 + 2 + 4 + 5
    # Stride 2, dilation 2, padding 1: output (1, 0) reads rows 1, 3 and columns −1, 1 of which
    # only x[1, 1] = 5 is in the image.
    strided = conv2d_terms(x, weight, None, 0, 1, 0, stride=2, padding=1, dilation=2)
    np.testing.assert_array_equal(strided.rows, [1, 3])
    np.testing.assert_array_equal(strided.cols, [-1, 1])
    assert strided.value == 5 and strided.bias == 0.0


def test_conv2d_terms_notice_a_wrong_output_and_refuse_a_missing_one(rng):
    x, weight, bias, kw = _conv_inputs(CONV_CASES[3], rng)
    y, _ = conv2d(x, weight, bias, **kw)
    terms = conv2d_terms(x[0], weight, bias, 0, 1, 1, **kw)
    assert terms.agrees_with(np.float32(y[0, 0, 1, 1]))  # float32 rounding passes
    assert not terms.agrees_with(y[0, 0, 1, 1] * 1.01 + 1e-3)
    with pytest.raises(ValueError, match="no output"):
        conv2d_terms(x[0], weight, bias, 0, y.shape[2], 0, **kw)


# ----------------------------------------------------------------- backward vs central differences


def assert_grad_close(analytic, numeric):
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def _conv_grads(case, rng):
    """Analytic and numeric (dx, dweight, dbias) of sum(conv2d(x) · R) at a random point."""
    x, weight, bias, kw = _conv_inputs(case, rng)
    y, cache = conv2d(x, weight, bias, **kw)
    r = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(conv2d(x, weight, bias, keep_cache=False, **kw)[0] * r))

    analytic = conv2d_backward(weight, cache, r)
    numeric = [numeric_grad(loss, a) for a in (x, weight, bias)]
    return analytic, numeric


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_backward_matches_central_differences(case, rng):
    for analytic, numeric in zip(*_conv_grads(case, rng), strict=True):
        assert_grad_close(analytic, numeric)


def test_the_gradient_check_fails_a_planted_bug(rng):
    (dx, dweight, dbias), (nx, nweight, nbias) = _conv_grads(CONV_CASES[3], rng)
    with pytest.raises(AssertionError):
        assert_grad_close(dweight * 1.01, nweight)
    with pytest.raises(AssertionError):
        assert_grad_close(dx[:, ::-1], nx)  # images swapped within the batch
    with pytest.raises(AssertionError):
        assert_grad_close(dbias + 1e-4, nbias)


@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
@pytest.mark.parametrize(
    ("forward", "backward"), [(max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)]
)
def test_pool_backward_matches_central_differences(case, forward, backward, rng):
    n, c, h, w, k, s = case
    # Normal draws are ~1e-2 apart in a window, far beyond the step 1e-6: no kink is crossed.
    x = rng.standard_normal((n, c, h, w))
    y, cache = forward(x, k, s)
    r = rng.standard_normal(y.shape)
    dx = backward(cache, r)
    assert_grad_close(dx, numeric_grad(lambda: float(np.sum(forward(x, k, s)[0] * r)), x))


@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_max_pool_ties_send_the_whole_gradient_to_the_first_maximum(case, rng):
    n, c, h, w, k, s = case
    stride = k if s is None else s
    # Few distinct values: most windows hold ties, some are all equal.
    x = rng.integers(0, 3, (n, c, h, w)).astype(np.float64)
    x[0, 0] = 1.0
    y, cache = max_pool2d(x, k, s)
    dy = rng.standard_normal(y.shape)
    dx = max_pool2d_backward(cache, dy)
    np.testing.assert_allclose(dx, naive_max_pool_backward(x, k, stride, dy), rtol=1e-12)


def test_an_all_equal_window_gives_its_first_element_everything():
    x = np.ones((1, 1, 4, 6))
    _, cache = max_pool2d(x, 2)
    dy = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    dx = max_pool2d_backward(cache, dy)
    expected = np.zeros_like(x)
    expected[0, 0, ::2, ::2] = dy[0, 0]
    np.testing.assert_array_equal(dx, expected)
    # A planted bug: splitting the gradient among the tied elements is caught.
    split = np.kron(dy, np.ones((2, 2))) / 4
    assert not np.allclose(split, expected)


# ---------------------------------------------------------------- layouts, dtypes, outputs, inputs


def test_backward_does_not_depend_on_the_memory_layout_of_dy(rng):
    x, weight, bias, kw = _conv_inputs(CONV_CASES[2], rng)
    y, cache = conv2d(x, weight, bias, **kw)
    dy = rng.standard_normal(y.shape)  # C order, unlike conv2d's own output
    assert not np.shares_memory(dy, y)
    for a, b in zip(
        conv2d_backward(weight, cache, dy),
        conv2d_backward(weight, cache, np.asfortranarray(dy)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_out_weight_and_out_bias_are_written_and_returned(rng):
    x, weight, bias, kw = _conv_inputs(CONV_CASES[4], rng)
    y, cache = conv2d(x, weight, bias, **kw)
    dy = rng.standard_normal(y.shape)
    dx, dweight, dbias = conv2d_backward(weight, cache, dy)
    out_weight, out_bias = np.full_like(weight, np.nan), np.full_like(bias, np.nan)
    dx2, dweight2, dbias2 = conv2d_backward(
        weight, cache, dy, out_weight=out_weight, out_bias=out_bias
    )
    assert dweight2 is out_weight and dbias2 is out_bias
    np.testing.assert_array_equal(out_weight, dweight)
    np.testing.assert_array_equal(out_bias, dbias)
    np.testing.assert_array_equal(dx2, dx)
    none, dweight3, _ = conv2d_backward(weight, cache, dy, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dweight3, dweight)
    with pytest.raises(ValueError, match="C-contiguous"):
        conv2d_backward(weight, cache, dy, out_weight=np.zeros(weight.shape[::-1]).T)


def test_inputs_are_never_mutated(rng):
    x, weight, bias, kw = _conv_inputs(CONV_CASES[3], rng)
    y, cache = conv2d(x, weight, bias, **kw)
    dy = rng.standard_normal(y.shape)
    arrays = (x, weight, bias, dy)
    before = [a.copy() for a in arrays]
    conv2d_backward(weight, cache, dy)
    for forward, backward in ((max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)):
        p, pool_cache = forward(x, 2, 1)
        backward(pool_cache, np.ones_like(p))
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_stays_float32(rng):
    x, weight, bias, kw = _conv_inputs(CONV_CASES[1], rng)
    x, weight, bias = (a.astype(np.float32) for a in (x, weight, bias))
    y, cache = conv2d(x, weight, bias, **kw)
    grads = conv2d_backward(weight, cache, np.ones_like(y))
    pooled = [f(y, 2) for f in (max_pool2d, avg_pool2d)]
    pool_grads = [max_pool2d_backward(pooled[0][1], np.ones_like(pooled[0][0]))]
    pool_grads.append(avg_pool2d_backward(pooled[1][1], np.ones_like(pooled[1][0])))
    outputs = [y, *grads, *(p for p, _ in pooled), *pool_grads]
    assert all(a.dtype == np.float32 for a in outputs), [a.dtype for a in outputs]
    np.testing.assert_allclose(
        y, naive_conv2d(x, weight, bias, kw["stride"], kw["padding"], 1), rtol=1e-4, atol=1e-5
    )
    # uint8 images are computed in the weight's dtype
    images = rng.integers(0, 256, (2, weight.shape[1], 6, 6), dtype=np.uint8)
    assert conv2d(images, weight, bias)[0].dtype == np.float32


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
        ({"dilation": 1.5}, "dilation"),
        ({"dilation": 4}, "too small"),
    ],
)
def test_bad_hyperparameters_raise(kw, match, rng):
    x, weight, bias = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), None
    with pytest.raises(ValueError, match=match):
        conv2d(x, weight, bias, **kw)


def test_mismatched_shapes_raise(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    with pytest.raises(ValueError, match="channels"):
        conv2d(x, rng.standard_normal((3, 4, 3, 3)), None)
    with pytest.raises(ValueError, match="N, C, H, W"):
        max_pool2d(x[0], 2)
    with pytest.raises(ValueError, match="too small"):
        avg_pool2d(x, 6)
