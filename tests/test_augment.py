"""core.augment: identity, integer and half-pixel shifts, quarter turns against np.rot90, the
ranges and independence of the random draws, seeding, and the speed on a 1,000-image batch."""

import time

import numpy as np
import pytest

from core.augment import augment, transform
from core.datasets import to_float32


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, (6, 9, 7), dtype=np.uint8)


def _no_motion(n):
    return np.zeros(n), np.zeros((n, 2))


def test_identity_is_exactly_to_float32(images, rng):
    np.testing.assert_array_equal(
        augment(rng, images, max_shift=0, max_degrees=0), to_float32(images)
    )
    as_float = images.astype(np.float64) / 255
    out = transform(as_float, *_no_motion(len(images)))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, to_float32(as_float))


@pytest.mark.parametrize(("right", "down"), [(2, -1), (-3, 0), (0, 4), (1, 1)])
def test_an_integer_shift_is_a_zero_filled_shifted_copy(images, right, down):
    n, h, w = images.shape
    expected = np.zeros_like(images)
    # out[y, x] = image[y − down, x − right] where that pixel exists, else 0
    expected[:, max(down, 0) : h + min(down, 0), max(right, 0) : w + min(right, 0)] = images[
        :, max(-down, 0) : h - max(down, 0), max(-right, 0) : w - max(right, 0)
    ]
    shifts = np.tile([right, down], (n, 1))
    np.testing.assert_array_equal(transform(images, np.zeros(n), shifts), to_float32(expected))


def test_a_half_pixel_shift_averages_neighbours_with_zero_outside(images):
    n = len(images)
    out = transform(images, np.zeros(n), np.tile([0.5, 0.0], (n, 1))).reshape(images.shape)
    x = images.astype(np.float64)
    left = np.concatenate([np.zeros_like(x[..., :1]), x[..., :-1]], axis=-1)
    np.testing.assert_allclose(out, (x + left) / 2 / 255, rtol=1e-6)


@pytest.mark.parametrize(("angle", "quarter_turns"), [(90, 1), (-90, -1), (180, 2), (270, 3)])
def test_quarter_turns_are_np_rot90_counter_clockwise_on_screen(rng, angle, quarter_turns):
    # Row 0 at the top and y pointing down: +90° turns the top-right corner to the top-left, as
    # np.rot90 (from the first axis towards the second) and torchvision's rotate do.
    square = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    out = transform(square, np.full(3, angle), np.zeros((3, 2)))
    expected = to_float32(np.rot90(square, quarter_turns, axes=(1, 2)))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    corner = np.zeros((1, 8, 8), np.uint8)
    corner[0, 0, -1] = 255  # top right
    turned = transform(corner, [90], [[0, 0]]).reshape(8, 8)
    assert turned[0, 0] == pytest.approx(1.0)


def _centroid(image):
    """(x, y) centre of mass of one image."""
    h, w = image.shape
    mass = image.sum()
    return (image.sum(axis=0) @ np.arange(w)) / mass, (image.sum(axis=1) @ np.arange(h)) / mass


def test_draws_stay_in_range_and_differ_between_images():
    # One bright dot 6 px right of the centre of 29 × 29 images: the centre of mass of its
    # interpolated image is where it moved to, within ~0.01 px (bilinear weights of a turned grid are
    # not exactly a tent), so its shift and its turn about the centre can be read off.
    n, max_shift, max_degrees = 400, 2.0, 10.0
    dots = np.zeros((n, 29, 29), np.uint8)
    dots[:, 14, 20] = 255
    rng = np.random.default_rng(3)
    turned = augment(rng, dots, max_shift=0, max_degrees=max_degrees).reshape(dots.shape)
    angles = np.array([np.degrees(np.arctan2(14 - y, x - 14)) for x, y in map(_centroid, turned)])
    assert np.abs(angles).max() <= max_degrees + 0.2  # 0.2° is 0.02 px at 6 px
    assert np.abs(angles).max() > 0.9 * max_degrees  # the whole range is used
    assert (angles > 0).mean() == pytest.approx(0.5, abs=0.1)
    dots[:, 14, 20], dots[:, 14, 14] = 0, 255  # at the centre, a turn does not move it
    moved = augment(rng, dots, max_shift=max_shift, max_degrees=max_degrees).reshape(dots.shape)
    shifts = np.array([_centroid(im) for im in moved]) - 14
    assert np.abs(shifts).max() <= max_shift + 0.02
    assert np.abs(shifts).max(axis=0).min() > 0.9 * max_shift
    assert len(np.unique(np.round(shifts, 4), axis=0)) == n  # every image its own draw
    assert abs(np.corrcoef(shifts.T)[0, 1]) < 0.2  # the two axes drawn independently


def test_same_seed_same_output(images):
    a = augment(np.random.default_rng(11), images)
    b = augment(np.random.default_rng(11), images)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, augment(np.random.default_rng(12), images))


def test_inputs_are_not_mutated_and_the_output_is_float32(images, rng):
    before = images.copy()
    out = augment(rng, images)
    np.testing.assert_array_equal(images, before)
    assert out.dtype == np.float32 and out.shape == (6, 9 * 7)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_bad_arguments_raise(images, rng):
    with pytest.raises(ValueError, match="max_shift"):
        augment(rng, images, max_shift=-1)
    with pytest.raises(ValueError, match="N, H, W"):
        transform(images[0], [0.0], [[0.0, 0.0]])


def test_speed_of_a_1000_image_batch(rng):
    batch = rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8)
    augment(rng, batch)
    start = time.perf_counter()
    augment(rng, batch)
    print(f"augment: 1,000 images of 28×28 in {1e3 * (time.perf_counter() - start):.1f} ms")
