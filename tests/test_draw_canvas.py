"""ui.draw_canvas.draw_digit in AppTest: the real component, its state set as the browser sends it."""

import base64
import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui.draw_canvas import SIZE


def canvas_app():
    import streamlit as st

    from ui.draw_canvas import draw_digit

    image = draw_digit("_canvas")
    st.session_state["drawn"] = image


def canvas_state(image: np.ndarray | None, objects: int) -> dict:
    """What the canvas sends after a stroke: Fabric's objects and the canvas as a PNG data URL."""
    url = None
    if image is not None:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    raw = {"objects": [{"type": "Path"}] * objects, "background": "#000000"}
    return {"drawing": {"raw": raw, "data": url}, "backgroundFit": None}


def stroke_image() -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    image[..., 3] = 255  # the opaque black background
    image[50:230, 130:148, :3] = 255  # a white vertical stroke: a "1"
    return image


def test_empty_canvas_gives_none_and_is_configured_like_mnist():
    at = AppTest.from_function(canvas_app).run()
    assert not at.exception
    assert at.session_state["drawn"] is None
    spec = at.main.children[0].proto
    assert spec.component_name == "streamlit-drawable-canvas.streamlit_drawable_canvas"
    assert '"canvasWidth": 280' in spec.json and '"backgroundColor": "#000000"' in spec.json
    assert '"strokeColor": "#FFFFFF"' in spec.json and '"returnImageData": true' in spec.json


def test_a_stroke_comes_back_as_the_rgba_image():
    at = AppTest.from_function(canvas_app).run()
    image = stroke_image()
    at.session_state["_canvas"] = canvas_state(image, objects=1)
    at.run()
    drawn = at.session_state["drawn"]
    assert drawn.dtype == np.uint8 and drawn.shape == (SIZE, SIZE, 4)
    np.testing.assert_array_equal(drawn, image)


def test_a_cleared_canvas_gives_none():
    # After the toolbar's clear the canvas still sends its (black) image, but no strokes.
    at = AppTest.from_function(canvas_app).run()
    black = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    black[..., 3] = 255
    at.session_state["_canvas"] = canvas_state(black, objects=0)
    at.run()
    assert at.session_state["drawn"] is None
