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
gives the C order where a caller needs it. The columns take ``C·kH·kW·OH·OW·N`` numbers: evaluate
a large set in batches.
"""

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def output_size(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """⌊(n + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1, as torch's Conv2d docs."""
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs: the input's shape, its columns and the hyperparameters."""

    x_shape: tuple[int, int, int, int]
    cols: np.ndarray  # (C·kH·kW, OH·OW·N), rows in (c, i, j) order, columns in (oh, ow, n) order
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


def _im2col(x, kernel_size, out_hw, stride, padding, dilation, dtype) -> np.ndarray:
    """Columns ``(C·kH·kW, OH·OW·N)``: entry ((c, i, j), (oh, ow, n)) is the padded
    ``x[n, c, oh·s + i·d, ow·s + j·d]``, so one GEMM with the flattened weight is the conv."""
    n, c, h, w = x.shape
    padded = _batch_last((n, c, h + 2 * padding, w + 2 * padding), dtype, zeros=True)
    padded[:, :, padding : padding + h, padding : padding + w] = x
    span = dilation * (kernel_size - 1) + 1
    windows = sliding_window_view(padded, (span, span), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride, ::dilation, ::dilation]  # (N, C, OH, OW, kH, kW)
    cols = np.empty((c, kernel_size, kernel_size, *out_hw, n), dtype)
    np.copyto(cols, windows.transpose(1, 4, 5, 2, 3, 0))
    return cols.reshape(c * kernel_size * kernel_size, -1)


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
    cols = _im2col(x, kernel_size, out_hw, stride, padding, dilation, dtype)
    y = weight.reshape(out_c, -1).astype(dtype, copy=False) @ cols  # (O, OH·OW·N)
    if bias is not None:
        y += bias.astype(dtype, copy=False)[:, None]
    y = y.reshape(out_c, *out_hw, x.shape[0]).transpose(3, 0, 1, 2)
    return y, ConvCache(x.shape, cols, stride, padding, dilation) if keep_cache else None


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
    dtype = cache.cols.dtype
    # A view when dy is batch-last, as conv2d's output and every backward here return it.
    dy_mat = dy.transpose(1, 2, 3, 0).reshape(out_c, -1)  # (O, OH·OW·N)
    if out_weight is None:
        dweight = (dy_mat @ cache.cols.T).reshape(weight.shape)
    elif out_weight.flags.c_contiguous:
        # Into a matrix view of out_weight; reshaping a non-contiguous array would give a copy.
        np.matmul(dy_mat, cache.cols.T, out=out_weight.reshape(out_c, -1))
        dweight = out_weight
    else:
        raise ValueError("out_weight must be C-contiguous")
    dbias = np.add.reduce(dy_mat, axis=1, out=out_bias)
    if not need_dx:
        return None, dweight, dbias
    dcols = weight.reshape(out_c, -1).astype(dtype, copy=False).T @ dy_mat
    n, c, h, w = cache.x_shape
    p, s, d = cache.padding, cache.stride, cache.dilation
    out_hw = dy.shape[2:]
    dpadded = _batch_last((n, c, h + 2 * p, w + 2 * p), dcols.dtype, zeros=True)
    parts = dcols.reshape(c, kernel_size * kernel_size, *out_hw, n).transpose(1, 4, 0, 2, 3)
    _scatter(_offset_views(dpadded, kernel_size, out_hw, s, d), parts, overlap=True)
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
