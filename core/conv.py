"""2-D convolution and pooling over NCHW batches, as ``torch.nn.functional`` computes them.

Names, argument order, shapes and results follow ``torch.nn.functional.conv2d``, ``max_pool2d`` and
``avg_pool2d``. Inputs are ``(N, C, H, W)``. A conv weight is ``(out_channels, in_channels, kH, kW)``
exactly as torch's ``Conv2d.weight``, and the bias is ``(out_channels,)``. The MLP's dense ``W`` is
the other way round, ``(fan_in, fan_out)`` used as ``x @ W`` (core/mlp.py). Kernel size, stride,
padding and dilation are single ints (square kernels, the same step along both axes). Pools have no
padding and floor the output size, as torch's defaults: rows and columns that no whole window
reaches are dropped and get zero gradient.

Every forward returns ``(out, cache)``; the matching backward takes the cache and dLoss/d``out``.
With ``keep_cache=False`` (eval passes) the cache is ``None`` and nothing is kept for backward.
Nothing passed in is mutated. Computation runs in ``x``'s dtype (float32 or float64).

Every array returned is an NCHW view of batch-last ``(C, H, W, N)`` memory (cuda-convnet's layout).
The GEMM ``weight (O, C·kH·kW) @ columns (C·kH·kW, OH·OW·N)`` writes that order, a backward that
gets its ``dy`` in it reads it as a matrix without a copy, and every window copy, scatter and pool
step then runs over whole rows of N·W numbers instead of W, which is what makes them cheap next to
the GEMMs. A network of these layers never transposes an activation; ``np.ascontiguousarray``
gives the C order where a caller needs it. The columns (C·kH·kW numbers per output pixel) are built
one band of output rows at a time into a buffer of about ``BAND_BYTES``, for the forward GEMM and
again, from the padded input a conv keeps, for the weight gradient: each band is read from cache,
and the whole columns are never held (a network's memory is its feature maps).

``conv2d_terms`` writes one output of a convolution out term by term from the definition (window,
kernel, their products, bias), for the page that shows it and checks conv2d against it.
"""

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

BAND_BYTES = 2**20  # im2col's columns are built this much at a time (about one core's L2 cache)


def output_size(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """⌊(n + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1, as torch's Conv2d docs."""
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs: the input's shape, the input zero-padded (its columns are
    built again from it, band by band) and the hyperparameters."""

    x_shape: tuple[int, int, int, int]
    padded: np.ndarray  # (N, C, H + 2·padding, W + 2·padding), batch-last
    stride: int
    padding: int
    dilation: int


class PoolCache(NamedTuple):
    """What a pool's backward needs; ``argmax`` (max-pool only) is each window's winning offset."""

    x_shape: tuple[int, int, int, int]
    kernel_size: int
    stride: int
    argmax: np.ndarray | None  # (N, C, OH, OW), row-major offset i·kernel_size + j in the window


def _output_hw(x_shape, kernel_size: int, stride: int, padding=0, dilation=1) -> tuple[int, int]:
    """``(OH, OW)`` of a 4-D input; ValueError for a bad hyperparameter or a too small input."""
    if len(x_shape) != 4:
        raise ValueError(f"expected an (N, C, H, W) input, got {x_shape=}")
    for name, value, low in (
        ("kernel_size", kernel_size, 1), ("stride", stride, 1),
        ("padding", padding, 0), ("dilation", dilation, 1),
    ):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name}={value!r} must be an int >= {low}")
    oh, ow = (output_size(n, kernel_size, stride, padding, dilation) for n in x_shape[2:])
    if oh < 1 or ow < 1:
        raise ValueError(f"input {x_shape} too small for {kernel_size=}, {padding=}, {dilation=}")
    return oh, ow


def _batch_last(shape, dtype, *, zeros: bool = False) -> np.ndarray:
    """An NCHW array of ``shape`` laid out as (C, H, W, N), uninitialised unless ``zeros``."""
    n, c, h, w = shape
    return (np.zeros if zeros else np.empty)((c, h, w, n), dtype).transpose(3, 0, 1, 2)


def _offset_views(a: np.ndarray, kernel_size: int, out_hw, stride: int, dilation: int = 1):
    """For each kernel offset (i, j) in row-major order: the view of ``a``'s last two axes at that
    offset of every window, ``a[..., i·d + s·(0 … OH−1), j·d + s·(0 … OW−1)]``."""
    oh, ow = out_hw
    for i in range(kernel_size):
        for j in range(kernel_size):
            r, c = i * dilation, j * dilation
            yield a[
                ..., r : r + stride * (oh - 1) + 1 : stride, c : c + stride * (ow - 1) + 1 : stride
            ]


def _scatter(views: Iterator[np.ndarray], parts, overlap: bool) -> None:
    """Write each of ``parts`` into its view; add instead where windows overlap."""
    for view, part in zip(views, parts, strict=True):
        if overlap:
            view += part
        else:  # every position is in one window at most: a plain write, no read of the zeros
            np.copyto(view, part)


def _padded(x: np.ndarray, padding: int, dtype) -> np.ndarray:
    """``x`` with ``padding`` zeros around each image, batch-last."""
    n, c, h, w = x.shape
    padded = _batch_last((n, c, h + 2 * padding, w + 2 * padding), dtype, zeros=True)
    padded[:, :, padding : padding + h, padding : padding + w] = x
    return padded


def _column_bands(padded, kernel_size, out_hw, stride, dilation):
    """im2col one band of output rows at a time: yields ``(rows, cols)``, ``rows`` a slice of the
    output rows and ``cols`` of shape ``(C·kH·kW, len(rows)·OW·N)``, whose entry ((c, i, j),
    (oh, ow, n)) is the padded ``x[n, c, oh·s + i·d, ow·s + j·d]``: one GEMM with the flattened
    weight gives those rows of the conv. Every band reuses one buffer of about ``BAND_BYTES``,
    which the GEMM then reads from cache; the whole columns (C·kH·kW numbers per output pixel,
    29 MB for the CNN preset's two convs at batch 128) are never held."""
    n, c = padded.shape[:2]
    oh, ow = out_hw
    span = dilation * (kernel_size - 1) + 1
    windows = sliding_window_view(padded, (span, span), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride, ::dilation, ::dilation]  # (N, C, OH, OW, kH, kW)
    windows = windows.transpose(1, 4, 5, 2, 3, 0)  # (C, kH, kW, OH, OW, N)
    row_size = c * kernel_size * kernel_size * ow * n
    step = int(np.clip(BAND_BYTES // (row_size * padded.itemsize), 1, oh))
    buffer = np.empty(row_size * step, padded.dtype)
    for first in range(0, oh, step):
        rows = slice(first, min(first + step, oh))
        # The buffer's first numbers, so that a short last band is contiguous too.
        band = buffer[: row_size * (rows.stop - first)].reshape(*windows.shape[:3], -1, ow, n)
        np.copyto(band, windows[:, :, :, rows])
        yield rows, band.reshape(c * kernel_size * kernel_size, -1)


def _row_band(a: np.ndarray, rows: slice) -> np.ndarray:
    """Output rows ``rows`` of a C-contiguous ``(O, OH, OW, N)`` array as an ``(O, rows·OW·N)``
    matrix view (each of its O rows is contiguous), for a GEMM to read or write in place."""
    band = a[:, rows].reshape(len(a), -1)
    assert np.may_share_memory(band, a), "a band must be a view"  # reshape copies where it must
    return band


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    keep_cache: bool = True,
) -> tuple[np.ndarray, ConvCache | None]:
    """``(y, cache)`` with y of shape ``(N, out_channels, OH, OW)``; ``bias=None`` adds none."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else weight.dtype
    out_c, in_c, kernel_size, kw = weight.shape
    out_hw = _output_hw(x.shape, kernel_size, stride, padding, dilation)
    if kw != kernel_size or in_c != x.shape[1]:
        raise ValueError(f"need a square kernel over x's channels, got {weight.shape=}, {x.shape=}")
    padded = _padded(x, padding, dtype)
    w_mat = weight.reshape(out_c, -1).astype(dtype, copy=False)
    y = np.empty((out_c, *out_hw, x.shape[0]), dtype)  # (O, OH, OW, N): batch-last
    for rows, cols in _column_bands(padded, kernel_size, out_hw, stride, dilation):
        np.matmul(w_mat, cols, out=_row_band(y, rows))
    if bias is not None:
        y += bias.astype(dtype, copy=False)[:, None, None, None]
    cache = ConvCache(x.shape, padded, stride, padding, dilation) if keep_cache else None
    return y.transpose(3, 0, 1, 2), cache


def conv2d_backward(
    weight: np.ndarray,
    cache: ConvCache,
    dy: np.ndarray,
    *,
    need_dx: bool = True,
    out_weight: np.ndarray | None = None,
    out_bias: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(dx, dweight, dbias)`` from dLoss/dy; dx is None with ``need_dx=False`` (a first layer).

    ``out_weight`` / ``out_bias`` (C-contiguous, shaped like weight and bias) receive the gradients
    and are returned in their place.
    """
    out_c, _, kernel_size, _ = weight.shape
    dtype = cache.padded.dtype
    n, c, h, w = cache.x_shape
    p, s, d = cache.padding, cache.stride, cache.dilation
    out_hw = dy.shape[2:]
    # No copy when dy is batch-last, as conv2d's output and every backward here return it.
    dy_t = np.ascontiguousarray(dy.transpose(1, 2, 3, 0))  # (O, OH, OW, N)
    dy_mat = dy_t.reshape(out_c, -1)  # (O, OH·OW·N)
    if out_weight is None:
        dweight = np.zeros(weight.shape, np.result_type(dy, dtype))
    elif out_weight.flags.c_contiguous:
        # Into a matrix view of out_weight; reshaping a non-contiguous array would give a copy.
        dweight = out_weight
        dweight.fill(0)
    else:
        raise ValueError("out_weight must be C-contiguous")
    # dweight = dy @ columnsᵀ, summed over the bands of output rows.
    dw_mat = dweight.reshape(out_c, -1)
    band_grad = np.empty_like(dw_mat)
    for rows, cols in _column_bands(cache.padded, kernel_size, out_hw, s, d):
        dw_mat += np.matmul(_row_band(dy_t, rows), cols.T, out=band_grad)
    dbias = np.add.reduce(dy_mat, axis=1, out=out_bias)
    if not need_dx:
        return None, dweight, dbias
    # The columns' gradient Wᵀ @ dy, one kernel offset (i, j) at a time: its C rows
    # W[:, :, i, j]ᵀ @ dy are added into the windows' positions while they are still in cache. The
    # whole (C·kH·kW, OH·OW·N) gradient would be as large as the columns (20 MB for the preset's
    # second conv at batch 128) and be written and read back through memory.
    w_cast = weight.astype(dtype, copy=False)
    per_offset = np.ascontiguousarray(w_cast.reshape(out_c, c, -1).transpose(2, 1, 0))
    part = np.empty((c, dy_mat.shape[1]), np.result_type(w_cast, dy_mat))  # (C, OH·OW·N)
    dpadded = _batch_last((n, c, h + 2 * p, w + 2 * p), part.dtype, zeros=True)
    part_nchw = part.reshape(c, *out_hw, n).transpose(3, 0, 1, 2)
    for w_offset, view in zip(
        per_offset, _offset_views(dpadded, kernel_size, out_hw, s, d), strict=True
    ):
        np.matmul(w_offset, dy_mat, out=part)
        view += part_nchw
    return dpadded[:, :, p : p + h, p : p + w], dweight, dbias


def _pool_setup(x, kernel_size, stride) -> tuple[np.ndarray, int, tuple[int, int]]:
    """``x`` as an array, the stride (torch's default: the kernel size) and ``(OH, OW)``."""
    x = np.asarray(x)
    stride = kernel_size if stride is None else stride
    return x, stride, _output_hw(x.shape, kernel_size, stride)


def max_pool2d(
    x: np.ndarray, kernel_size: int, stride: int | None = None, *, keep_cache: bool = True
) -> tuple[np.ndarray, PoolCache | None]:
    """``(y, cache)``: the max of each window; stride None means ``kernel_size``, as torch."""
    x, stride, out_hw = _pool_setup(x, kernel_size, stride)
    n, c = x.shape[:2]
    views = _offset_views(x, kernel_size, out_hw, stride)
    y = _batch_last((n, c, *out_hw), x.dtype)
    np.copyto(y, next(views))
    argmax = None
    if keep_cache:
        argmax = np.zeros_like(y, dtype=np.min_scalar_type(kernel_size**2 - 1))
        greater = np.empty_like(y, dtype=bool)
        step = np.empty_like(argmax)
    for offset, view in enumerate(views, start=1):
        if keep_cache:
            # Strictly greater: a tie keeps the earlier offset, so the first maximum in row-major
            # window order wins, as torch's CPU kernel. Offsets only grow, so the last offset that
            # beat the running max is the running maximum of (beat · offset): no masked writes,
            # which cost several times as much.
            np.greater(view, y, out=greater)
            np.maximum(
                argmax, np.multiply(greater, argmax.dtype.type(offset), out=step), out=argmax
            )
        np.maximum(y, view, out=y)
    return y, PoolCache(x.shape, kernel_size, stride, argmax) if keep_cache else None


def max_pool2d_backward(cache: PoolCache, dy: np.ndarray) -> np.ndarray:
    """dLoss/dx: each window's gradient goes whole to its one argmax, never split between ties."""
    k, s = cache.kernel_size, cache.stride
    dx = _batch_last(cache.x_shape, dy.dtype, zeros=True)
    parts = (dy * (cache.argmax == offset) for offset in range(k * k))
    _scatter(_offset_views(dx, k, dy.shape[2:], s), parts, overlap=s < k)
    return dx


def avg_pool2d(
    x: np.ndarray, kernel_size: int, stride: int | None = None, *, keep_cache: bool = True
) -> tuple[np.ndarray, PoolCache | None]:
    """``(y, cache)``: the mean of each window; stride None means ``kernel_size``, as torch."""
    x, stride, out_hw = _pool_setup(x, kernel_size, stride)
    views = _offset_views(x, kernel_size, out_hw, stride)
    y = _batch_last((*x.shape[:2], *out_hw), x.dtype)
    np.copyto(y, next(views))
    for view in views:
        y += view
    y *= y.dtype.type(1 / kernel_size**2)
    return y, PoolCache(x.shape, kernel_size, stride, None) if keep_cache else None


def avg_pool2d_backward(cache: PoolCache, dy: np.ndarray) -> np.ndarray:
    """dLoss/dx: each window's gradient shared equally by its kernel_size² inputs."""
    k, s = cache.kernel_size, cache.stride
    dx = _batch_last(cache.x_shape, dy.dtype, zeros=True)
    share = dy * dy.dtype.type(1 / k**2)
    _scatter(_offset_views(dx, k, dy.shape[2:], s), [share] * (k * k), overlap=s < k)
    return dx


# ---------------------------------------------------------------- one output, from the definition


class ConvTerms(NamedTuple):
    """One output ``y[c, i, j]`` of a convolution written out term by term (float64)."""

    window: np.ndarray  # (C_in, kH, kW): x[c', s·i + d·u − p, s·j + d·v − p], 0 in the padding
    kernel: np.ndarray  # (C_in, kH, kW): weight[c]
    products: np.ndarray  # window · kernel, elementwise
    bias: float
    value: float  # bias + products.sum()
    rows: np.ndarray  # (kH,) the input rows read, s·i + d·u − p; < 0 or ≥ H in the padding
    cols: np.ndarray  # (kW,) the input columns read

    def agrees_with(self, y: float, rtol: float = 1e-4) -> bool:
        """Whether a computed output ``y`` equals this sum to float32 rounding: within ``rtol``
        of the sum of the terms' sizes (their rounding errors add up, whatever their signs)."""
        scale = float(np.abs(self.products).sum()) + abs(self.bias)
        return bool(abs(float(y) - self.value) <= rtol * scale + 1e-7)


def conv2d_terms(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    out_channel: int,
    row: int,
    col: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> ConvTerms:
    """Output ``(out_channel, row, col)`` of ``conv2d`` on one example ``x`` of shape (C, H, W),
    from the definition y[c,i,j] = b_c + Σ_{c',u,v} W[c,c',u,v]·x[c', s·i+d·u−p, s·j+d·v−p]
    (x is 0 outside the image). Written without conv2d's columns or GEMM, so that the MNIST page
    can check the feature map conv2d made against it."""
    x = np.asarray(x, dtype=np.float64)
    c_in, h, w = x.shape
    out_c, _, k, _ = weight.shape
    out_h, out_w = (output_size(n, k, stride, padding, dilation) for n in (h, w))
    if not (0 <= out_channel < out_c and 0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"no output {(out_channel, row, col)=} in {(out_c, out_h, out_w)}")
    rows = stride * row + dilation * np.arange(k) - padding
    cols = stride * col + dilation * np.arange(k) - padding
    window = np.zeros((c_in, k, k))
    for u, r in enumerate(rows):
        for v, q in enumerate(cols):
            if 0 <= r < h and 0 <= q < w:
                window[:, u, v] = x[:, r, q]
    kernel = np.asarray(weight[out_channel], dtype=np.float64)
    products = window * kernel
    b = 0.0 if bias is None else float(bias[out_channel])
    return ConvTerms(window, kernel, products, b, b + float(products.sum()), rows, cols)
