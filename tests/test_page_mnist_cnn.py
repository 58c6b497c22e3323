"""Inside the CNN on the MNIST page, in AppTest: every layer's maps, one convolution output worked
out and checked against the feature map (and the check failing when conv2d is wrong), a pixel
chosen with the inputs, a drawn digit; English and Chinese."""

import numpy as np
import pytest

import core.conv
from core.datasets import builtin_mnist
from tests.apptest import run_page
from tests.test_page_mnist import as_canvas, drawn, figure, typed_array
from ui.i18n import translate
from ui.mnist_cnn_views import clicked_pixel

PAGE = "pages/mnist.py"
CONV2 = 3  # the preset's layers: conv, ReLU, max-pool, conv, ReLU, max-pool, flatten, …


def badges(at, color: str) -> list[str]:
    """The text of every badge of ``color`` (st.badge is markdown ":green-badge[...]")."""
    start = f":{color}-badge["
    return [m.value.removeprefix(start) for m in at.markdown if m.value.startswith(start)]


def check_badge(at, language: str = "en") -> tuple[str, str]:
    """(colour, text) of the sum check's badge."""
    words = {
        "green": translate(language, "mnist.cnn.check_ok").split("b + Σ")[0],
        "orange": translate(language, "mnist.cnn.check_bad").split("b + Σ")[0],
    }
    found = [
        (color, text)
        for color, start in words.items()
        for text in badges(at, color)
        if start in text
    ]
    assert len(found) == 1, found
    return found[0]


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_layers_maps_and_a_checked_output_in_both_languages(language):
    at = run_page(PAGE, language, mn_arch="cnn")
    assert not at.exception and not at.error
    assert translate(language, "mnist.cnn.heading") in [h.value for h in at.subheader]
    maps = figure(at, "_mn_fig_cnn_maps")
    titles = [a["text"] for a in maps["layout"]["annotations"]]
    relu = translate(language, "activations.names.relu")

    def title(layer, n, side):
        return translate(language, "mnist.cnn.maps_title", layer=layer, n=n, h=side, w=side)

    conv, pool = "mnist.cnn.conv", "mnist.cnn.max_pool"
    assert titles == [
        translate(language, "mnist.cnn.input_title", h=28, w=28),
        title(translate(language, conv, i=1), 8, 28),
        title(relu, 8, 28),
        title(translate(language, pool, k=2), 8, 14),
        title(translate(language, conv, i=2), 16, 14),
        title(relu, 16, 14),
        title(translate(language, pool, k=3), 16, 4),
    ]
    assert check_badge(at, language)[0] == "green"
    # The default pixel: conv 1, map 0, the middle; its 5×5 field and the sums written out.
    field = figure(at, "mn_fig_cnn_field")
    assert field["layout"]["title"]["text"] == translate(
        language, "mnist.cnn.field_title", layer=translate(language, conv, i=1), c=0, i=14, j=14
    )
    grids = figure(at, "mn_fig_cnn_terms")["data"][:3]
    assert [np.asarray(typed_array(tr["z"])).shape for tr in grids] == [(5, 5)] * 3
    formulas = [f.value.strip("$\n") for f in at.latex]
    assert any(f.startswith("y[c, i, j] = b_c") for f in formulas)
    assert any(f.startswith("y[0, 14, 14] = ") for f in formulas)
    assert any(f.endswith(r"\right\rfloor + 1 = 28\end{gathered}") for f in formulas)


def test_an_mlp_has_no_cnn_view():
    at = run_page(PAGE)
    assert not at.exception and not at.error
    assert translate("en", "mnist.cnn.heading") not in [h.value for h in at.subheader]


def test_a_pixel_chosen_with_the_inputs_is_worked_out():
    at = run_page(PAGE, mn_arch="cnn")
    at.button(key="_mn_step").click().run()
    at.selectbox(key="mn_cnn_layer").set_value(CONV2).run()
    # Another layer starts at the middle of its first map.
    pixel = [at.number_input(key=k).value for k in ("mn_cnn_channel", "mn_cnn_row", "mn_cnn_col")]
    assert pixel == [0, 7, 7]
    at.number_input(key="mn_cnn_channel").set_value(5)
    at.number_input(key="mn_cnn_row").set_value(3)
    at.number_input(key="mn_cnn_col").set_value(9).run()
    assert not at.exception and not at.error
    field = figure(at, "mn_fig_cnn_field")
    assert field["layout"]["title"]["text"] == "Receptive field of conv 2[5, 3, 9]"
    square = field["layout"]["shapes"][1]
    assert (square["x0"], square["y0"], square["x1"], square["y1"]) == (11.5, -0.5, 25.5, 13.5)
    assert translate(
        "en", "mnist.cnn.field_caption", top=0, bottom=13, left=12, right=25, size=14
    ) in captions(at)
    assert translate("en", "mnist.cnn.field_padding") not in captions(at)
    terms = figure(at, "mn_fig_cnn_terms")
    assert [np.asarray(typed_array(tr["z"])).shape for tr in terms["data"][:3]] == [(5, 47)] * 3
    assert translate(
        "en",
        "mnist.cnn.window_maps",
        top=1,
        bottom=5,
        left=7,
        right=11,
        n=8,
        k=5,
        prev="max-pool 2×2",
    ) in captions(at)
    color, text = check_badge(at)
    assert color == "green" and "conv 2 computed" in text
    maps = figure(at, "_mn_fig_cnn_maps")
    assert len(maps["layout"]["shapes"]) == 1  # the chosen pixel, framed in conv 2's maps
    # Row 0: the window reaches into the padding above the image.
    at.number_input(key="mn_cnn_row").set_value(0).run()
    assert translate("en", "mnist.cnn.field_padding") in captions(at)
    assert translate("en", "mnist.cnn.window_padding", last=13) in captions(at)
    assert check_badge(at)[0] == "green"


def _offset(conv2d):
    def wrong(x, weight, bias, **kw):
        y, cache = conv2d(x, weight, bias, **kw)
        return y + 0.01, cache

    return wrong


def _flipped(conv2d):  # a true convolution (kernel turned 180°) instead of torch's correlation
    def wrong(x, weight, bias, **kw):
        return conv2d(x, weight[..., ::-1, ::-1], bias, **kw)

    return wrong


@pytest.mark.parametrize("plant", [_offset, _flipped], ids=["offset", "flipped-kernel"])
def test_a_bug_planted_in_conv2d_fails_the_shown_check(monkeypatch, plant):
    monkeypatch.setattr(core.conv, "conv2d", plant(core.conv.conv2d))
    at = run_page(PAGE, mn_arch="cnn")
    assert not at.exception and not at.error
    color, text = check_badge(at)
    assert color == "orange" and "Mismatch: b + Σ W·x =" in text


def test_a_drawn_digit_goes_through_the_network():
    # In English: AppTest maps a segmented control's value through its format_func outside the
    # run, where the language is the default one.
    at = run_page(PAGE, mn_arch="cnn")
    at.segmented_control(key="mn_cnn_source").set_value("drawn").run()
    assert translate("en", "mnist.cnn.nothing_drawn") in [i.value for i in at.info]
    assert any(c.startswith("Test image 0 is a") for c in captions(at))  # until then: a test image
    seven = builtin_mnist().test.x[0]
    at.session_state["_mn_canvas"] = drawn(as_canvas(seven))
    at.run()
    assert not at.exception and not at.error
    assert any(c.startswith("The digit you drew; the network reads it as") for c in captions(at))
    assert at.number_input(key="mn_cnn_digit").disabled
    shown = typed_array(figure(at, "_mn_fig_cnn_maps")["data"][0]["z"])[:28, :28]
    np.testing.assert_allclose(shown, at.session_state["_mn_drawn"], atol=1e-6)
    assert check_badge(at)[0] == "green"


@pytest.mark.parametrize(
    ("points", "pixel"),
    [
        ([{"customdata": {"0": 3, "1": 5, "2": 3, "3": 9}, "x": 1.0, "y": 2.0}], (3, 5, 3, 9)),
        ([{"customdata": [0, 7, 27, 0]}], (0, 7, 27, 0)),
        ([], None),
        ([{"x": 1.0, "y": 2.0}], None),
    ],
)
def test_a_clicked_point_names_its_pixel(points, pixel):
    assert clicked_pixel(points) == pixel
