"""prepare_drawn_digit against the real MNIST digits (made by the same recipe) and exact references."""

import numpy as np
import pytest

from core.datasets import builtin_mnist
from core.digit_image import (
    CENTRE,
    SIZE,
    centre_of_mass,
    fit_to_box,
    ink_intensity,
    prepare_drawn_digit,
)


@pytest.fixture(scope="module")
def mnist_digits() -> np.ndarray:
    return builtin_mnist().test.x[:120]


def _on_canvas(digit: np.ndarray, factor: int, top: int, left: int, shape=(420, 380)) -> np.ndarray:
    """``digit`` upscaled ``factor``× nearest-neighbour, pasted at (top, left) on a black canvas."""
    canvas = np.zeros(shape, dtype=np.uint8)
    big = np.kron(digit, np.ones((factor, factor), dtype=np.uint8))
    canvas[top : top + big.shape[0], left : left + big.shape[1]] = big
    return canvas


def _rgba(gray: np.ndarray) -> np.ndarray:
    """White ink on an opaque black background, as the canvas returns it."""
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def _bbox_long_side(img: np.ndarray) -> int:
    rows = np.flatnonzero(img.any(axis=1))
    cols = np.flatnonzero(img.any(axis=0))
    return int(max(np.ptp(rows), np.ptp(cols))) + 1


def test_real_mnist_digits_follow_the_recipe(mnist_digits):
    # The reference itself: every MNIST digit has a 20-px bounding box and its centre of mass
    # within 0.5 px of pixel index 14 — the convention the module documents.
    for digit in mnist_digits:
        assert _bbox_long_side(digit) == 20
        com = centre_of_mass(digit.astype(float))
        assert max(abs(com[0] - CENTRE), abs(com[1] - CENTRE)) <= 0.5 + 1e-9


@pytest.mark.parametrize(
    ("factor", "top", "left"), [(10, 37, 51), (7, 0, 0), (3, 300, 250), (1, 5, 9)]
)
def test_upscaled_mnist_digit_comes_back_unchanged(mnist_digits, factor, top, left):
    # A digit blown up k× by nearest neighbour and moved anywhere must come back pixel for pixel:
    # area averaging over k×k blocks undoes the blow-up exactly, and the centre of mass rounds to
    # the same whole-pixel placement MNIST used.
    for digit in mnist_digits:
        out = prepare_drawn_digit(_on_canvas(digit, factor, top, left))
        np.testing.assert_allclose(out, digit / 255.0, atol=1e-6)


def test_rgba_and_gray_give_the_same_result(mnist_digits):
    gray = _on_canvas(mnist_digits[0], 10, 20, 30)
    expected = prepare_drawn_digit(gray)
    np.testing.assert_array_equal(prepare_drawn_digit(_rgba(gray)), expected)
    np.testing.assert_allclose(prepare_drawn_digit(gray / 255.0), expected, atol=1e-7)
    np.testing.assert_array_equal(prepare_drawn_digit(gray.astype(np.float64)), expected)
    # Ink carried only by alpha: black (or red) strokes on a transparent background.
    for color in ((0, 0, 0), (255, 0, 0)):
        rgba = np.zeros((*gray.shape, 4), dtype=np.uint8)
        rgba[..., :3] = color
        rgba[..., 3] = gray
        np.testing.assert_allclose(prepare_drawn_digit(rgba), expected, atol=1e-6)


def test_ink_of_rgba_canvas():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 3] = 255  # opaque black background: no ink
    rgba[0, 0] = (255, 255, 255, 255)
    rgba[0, 1] = (255, 255, 255, 128)  # half-transparent white over black
    np.testing.assert_allclose(ink_intensity(rgba), [[1, 128 / 255], [0, 0]], atol=1e-12)
    np.testing.assert_allclose(ink_intensity(rgba[..., :3]), [[1, 1], [0, 0]], atol=1e-12)


def test_area_averaging_matches_supersampling(rng):
    # Scale 2/3 done another way: blow up 2× by nearest neighbour, then average 3×3 blocks.
    ink = rng.random((30, 21))
    reference = np.kron(ink, np.ones((2, 2))).reshape(20, 3, 14, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(fit_to_box(ink), reference, atol=1e-12)


def test_off_centre_digit_is_moved_to_the_centre(mnist_digits):
    corner = _on_canvas(mnist_digits[3], 10, 0, 0, shape=(600, 600))
    far = _on_canvas(mnist_digits[3], 10, 320, 320, shape=(600, 600))
    np.testing.assert_array_equal(prepare_drawn_digit(corner), prepare_drawn_digit(far))


def _assert_centred(out: np.ndarray) -> None:
    com = centre_of_mass(out.astype(np.float64))
    assert abs(com[0] - CENTRE) <= 0.5 + 1e-6 and abs(com[1] - CENTRE) <= 0.5 + 1e-6, com


def test_dot_becomes_a_centred_round_blob():
    yy, xx = np.mgrid[:280, :280]
    disc = ((yy - 60) ** 2 + (xx - 200) ** 2 <= 10.5**2).astype(np.uint8) * 255  # rows 50..70
    assert _bbox_long_side(disc) == 21
    out = prepare_drawn_digit(disc)
    _assert_centred(out)
    assert _bbox_long_side(out > 0) == 20
    np.testing.assert_allclose(out, out.T, atol=1e-6)  # the disc stays symmetric
    # Area averaging conserves ink: total ink scales with the area factor (20 / 21)².
    assert out.sum() == pytest.approx((disc > 0).sum() * (20 / 21) ** 2, rel=1e-5)


@pytest.mark.parametrize("vertical", [False, True])
def test_thin_line_keeps_its_coverage(vertical):
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[100, 40:240] = 255  # 1 px thick, 200 px long
    if vertical:
        canvas = canvas.T
    out = prepare_drawn_digit(canvas)
    out = out.T if vertical else out
    # Scale 0.1: the line covers a tenth of one output row, so that row holds 0.1 along 20 px.
    # Its centre of mass (9.5) is a tie between two placements, so the columns may start at 4 or 5.
    (row,) = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out[row])
    assert row == 14
    assert len(cols) == 20 and np.ptp(cols) == 19 and cols[0] in (4, 5)
    np.testing.assert_allclose(out[row, cols], 0.1, atol=1e-6)
    _assert_centred(out)


def test_very_wide_stroke():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[90:190, 15:265] = 255  # 100 × 250 block of ink
    out = prepare_drawn_digit(canvas)
    expected = np.zeros((SIZE, SIZE), dtype=np.float32)
    # 8 × 20 after scaling by 20 / 250; its centre (3.5, 9.5) is a tie both ways, so it moves the
    # larger way: to rows 11..18 and columns 5..24, centre of mass (14.5, 14.5).
    expected[11:19, 5:25] = 1.0
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_all_ink_canvas():
    out = prepare_drawn_digit(np.full((280, 280), 255, dtype=np.uint8))
    assert out.sum() == pytest.approx(400.0)
    assert _bbox_long_side(out > 0) == 20
    _assert_centred(out)


def test_empty_and_nearly_empty_canvas_give_none():
    assert prepare_drawn_digit(np.zeros((280, 280), dtype=np.uint8)) is None
    assert prepare_drawn_digit(_rgba(np.zeros((280, 280), dtype=np.uint8))) is None
    faint = np.zeros((280, 280), dtype=np.uint8)
    faint[5, 5] = 200  # less than one fully inked pixel
    assert prepare_drawn_digit(faint) is None


def test_output_dtype_shape_range_and_centre(rng):
    for _ in range(20):
        canvas = np.zeros((280, 280), dtype=np.uint8)
        r, c = rng.integers(0, 200, size=2)
        h, w = rng.integers(5, 80, size=2)
        canvas[r : r + h, c : c + w] = rng.integers(0, 256, size=(h, w))
        out = prepare_drawn_digit(canvas)
        assert out.dtype == np.float32 and out.shape == (SIZE, SIZE)
        assert out.min() >= 0.0 and out.max() <= 1.0
        _assert_centred(out)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((5,)),
        np.zeros((5, 5, 2)),
        np.zeros((0, 5)),
        np.full((5, 5), -1.0),
        np.full((5, 5), 256.0),
        np.full((5, 5), np.nan),
        np.array([["a"]]),
    ],
)
def test_invalid_images_raise(bad):
    with pytest.raises(ValueError):
        prepare_drawn_digit(bad)
