"""Data augmentation for image batches: small random shifts and rotations, vectorised over the batch.

``transform(images, angles_deg, shifts)`` rotates each image of an ``(N, H, W)`` batch about its
centre ``((W − 1)/2, (H − 1)/2)`` by its angle in degrees, counter-clockwise as displayed (row 0 at
the top, y pointing down; torchvision's ``rotate`` and PIL's convention), then shifts it by its
``(right, down)`` pixels (torchvision's ``translate`` order). ``augment(rng, images)`` draws those per
image and calls it. Both sample one inverse-affine grid for the whole batch with bilinear
interpolation and zero fill outside the image, and return float32 ``(N, H·W)`` converted by
``core.datasets.to_float32`` itself, so they drop in where the training loop calls it and the
identity transform gives exactly its output. uint8 (0–255) or float images; nothing is mutated.
"""

import numpy as np

from core.datasets import to_float32


def transform(images: np.ndarray, angles_deg, shifts) -> np.ndarray:
    """Each image rotated by ``angles_deg[i]`` (N,) and shifted by ``shifts[i]`` = (right, down)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected a batch of images (N, H, W), got {images.shape=}")
    n, h, w = images.shape
    radians = np.deg2rad(np.asarray(angles_deg, dtype=np.float64)).reshape(n, 1, 1)
    cos, sin = np.cos(radians).astype(np.float32), np.sin(radians).astype(np.float32)
    shifts = np.asarray(shifts, dtype=np.float32).reshape(n, 2, 1, 1)
    cx, cy = np.float32((w - 1) / 2), np.float32((h - 1) / 2)
    # Undo the shift, then the rotation (the inverse of the forward map x' = x·cos + y·sin,
    # y' = −x·sin + y·cos, which turns counter-clockwise on screen since y points down).
    u = np.arange(w, dtype=np.float32) - cx - shifts[:, 0]  # (N, 1, W)
    v = np.arange(h, dtype=np.float32)[:, None] - cy - shifts[:, 1]  # (N, H, 1)
    # In place where it can be: fresh (N, H, W) temporaries cost more than the arithmetic.
    xs = u * cos - v * sin
    ys = u * sin + v * cos
    # Clipped to one pixel outside the image, a far source lands on the zero border with weight 1.
    np.clip(np.add(xs, cx, out=xs), -1, w, out=xs)
    np.clip(np.add(ys, cy, out=ys), -1, h, out=ys)
    x0, y0 = np.floor(xs), np.floor(ys)
    wx, wy = np.subtract(xs, x0, out=xs), np.subtract(ys, y0, out=ys)
    # Zeros one pixel before and two after each axis: the corners x0 ∈ [−1, W] and x0 + 1 both index
    # it, so the four corners are flat offsets of one index array.
    padded = np.zeros((n, h + 3, w + 3), np.float32)
    padded[:, 1 : h + 1, 1 : w + 1] = images
    row = w + 3
    at = y0.astype(np.intp)
    at += np.arange(1, n * (h + 3), h + 3)[:, None, None]  # image i's padded row y0 + 1
    at *= row
    at += x0.astype(np.intp)
    at += 1
    flat = padded.ravel()
    top, top_right = flat.take(at), flat.take(at + 1)
    at += row
    bottom, bottom_right = flat.take(at), flat.take(at + 1)
    top += wx * (top_right - top)
    bottom += wx * (bottom_right - bottom)
    top += wy * (bottom - top)
    return to_float32(top)


def augment(
    rng: np.random.Generator, images: np.ndarray, *, max_shift: float = 2, max_degrees: float = 10.0
) -> np.ndarray:
    """``transform`` with per-image angles uniform in ±max_degrees and sub-pixel shifts uniform in
    ±max_shift pixels along each axis, drawn from ``rng`` only."""
    if not (max_shift >= 0 and max_degrees >= 0):
        raise ValueError(f"need {max_shift=} >= 0 and {max_degrees=} >= 0")
    n = len(images)
    angles = rng.uniform(-max_degrees, max_degrees, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2))
    return transform(images, angles, shifts)
