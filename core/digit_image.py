"""Turn a hand-drawn digit into the 28×28 input an MNIST model expects, the way MNIST was made.

``prepare_drawn_digit(image)`` takes a canvas image (RGBA or RGB uint8 ``(H, W, 4|3)``) or a
grayscale array ``(H, W)`` in [0, 255] (integers, or floats above 1) or [0, 1] (floats), with
white ink on black, and returns a float32 ``(28, 28)`` array in [0, 1] (white ink on black), or
``None`` when there is no ink. The steps follow LeCun et al.'s description of MNIST: crop to the
ink's bounding box, scale with anti-aliasing (area averaging) preserving the aspect ratio so the
longer side is 20 px, then paste into 28×28 so the ink's centre of mass lands on pixel (14, 14).

Coordinates are pixel *indices* (row, column): the centre of mass is Σ i·ink / Σ ink, so a single
lit pixel at index 14 has its centre at 14. The real MNIST digits all have their centre of mass
within 0.5 px of (14, 14) in this convention (measured on the shipped test set), which is why
the target is 14 and not 13.5. Placement moves by whole pixels (the centre of mass is rounded), so
the result is within 0.5 px of (14, 14) (a tie between two placements takes the larger shift);
ink pushed past the frame's edge by that shift is cut off.
"""

import numpy as np

SIZE = 28  # MNIST's frame
BOX = 20  # the longer side of the ink's bounding box after scaling
CENTRE = 14.0  # target centre of mass (row and column index)
INK_FLOOR = 0.5 / 255  # a pixel counts as ink above this: half a grey level, so float noise doesn't
MIN_INK = 1.0  # below this much total ink (in fully-inked pixels) the canvas counts as empty
# ITU-R BT.601 luma weights, the ones PIL's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114])


def ink_intensity(image: np.ndarray) -> np.ndarray:
    """Ink per pixel in [0, 1] (float64, ``(H, W)``) from a canvas RGBA/RGB image or a grayscale array.

    RGBA: the larger of the luminance composited over black (luma · alpha) and, when some pixel is
    fully transparent (a transparent background), the alpha itself; so white strokes on an opaque
    black background and strokes of any colour on a transparent background both count as ink,
    while an opaque black background does not.
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise ValueError(f"expected (H, W), (H, W, 3) or (H, W, 4), got shape={a.shape}")
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"expected a numeric image, got dtype={a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
        raise ValueError("image values must be finite and in [0, 255] (or [0, 1])")
    is_unit = np.issubdtype(np.asarray(image).dtype, np.floating) and a.max() <= 1.0
    if not is_unit:
        a = a / 255.0
    if a.ndim == 2:
        return a
    luma = a[..., :3] @ _LUMA
    if a.shape[2] == 3:
        return luma
    alpha = a[..., 3]
    # Alpha is the drawing only on a transparent background; on an opaque one a half-transparent
    # stroke is just a dimmer stroke, which luma · alpha already measures.
    alpha_ink = alpha if (alpha == 0).any() else np.zeros_like(alpha)
    return np.clip(np.maximum(luma * alpha, alpha_ink), 0.0, 1.0)


def _area_weights(n: int, scale: float, m: int) -> np.ndarray:
    """``(m, n)`` matrix: output pixel i averages input [i/scale, (i+1)/scale) (area averaging).

    Each weight is the overlap of input pixel j with output pixel i's footprint, times ``scale``
    (one over the footprint's length); where the footprint runs past the input, the missing part
    counts as no ink, which anti-aliases the last row or column.
    """
    lo = np.arange(m)[:, None] / scale
    hi = (np.arange(m)[:, None] + 1) / scale
    j = np.arange(n)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap * scale


def fit_to_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale ``ink`` by area averaging, aspect ratio kept, so its longer side is ``box`` pixels."""
    h, w = ink.shape
    scale = box / max(h, w)
    # ceil with a little slack: 200 · 0.1 must give 20 pixels, not 21 from rounding error.
    mh, mw = (max(1, int(np.ceil(n * scale - 1e-9))) for n in (h, w))
    return _area_weights(h, scale, mh) @ ink @ _area_weights(w, scale, mw).T


def centre_of_mass(ink: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass in pixel-index coordinates; ``ink`` must have positive sum."""
    total = ink.sum()
    rows = float(ink.sum(axis=1) @ np.arange(ink.shape[0]) / total)
    cols = float(ink.sum(axis=0) @ np.arange(ink.shape[1]) / total)
    return rows, cols


def _whole_pixel_shift(com: float) -> int:
    """Whole-pixel move that brings ``com`` nearest to CENTRE; a tie moves the larger way.

    The shift is rounded to 1e-9 px first: summing rows and summing columns differ in the last bits,
    and a symmetric digit must be placed the same way along both axes.
    """
    return int(np.floor(round(CENTRE - com, 9) + 0.5))


def prepare_drawn_digit(image: np.ndarray) -> np.ndarray | None:
    """A drawn digit → float32 (28, 28) in [0, 1], MNIST-style; ``None`` if there is no ink."""
    ink = ink_intensity(image)
    if ink.sum() < MIN_INK:
        return None
    rows = np.flatnonzero((ink > INK_FLOOR).any(axis=1))
    cols = np.flatnonzero((ink > INK_FLOOR).any(axis=0))
    digit = fit_to_box(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    com_r, com_c = centre_of_mass(digit)
    top, left = _whole_pixel_shift(com_r), _whole_pixel_shift(com_c)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    h, w = digit.shape
    # Paste with the frame as a clip window: only the part of the digit inside 0..27 is kept.
    r0, r1 = max(top, 0), min(top + h, SIZE)
    c0, c1 = max(left, 0), min(left + w, SIZE)
    out[r0:r1, c0:c1] = digit[r0 - top : r1 - top, c0 - left : c1 - left]
    return np.clip(out, 0.0, 1.0)
