"""A square drawing canvas for one hand-written digit: white ink on black, like MNIST.

``draw_digit(key)`` shows the canvas (streamlit-drawable-canvas 0.13, a Components-v2 widget with
its own undo / redo / clear toolbar) and returns what is drawn as an RGBA uint8 array
``(SIZE, SIZE, 4)``, or ``None`` while nothing is drawn. The drawing is sent back on every
finished stroke, so a caller inside ``st.fragment`` reruns only its own panel.
"""

import numpy as np

SIZE = 280  # canvas pixels: 10× MNIST's 28, big enough for a mouse or a finger
STROKE = 18  # px: after scaling the ink box to 20 px this is ~1.5–2 px, MNIST's pen width
INK, PAPER = "#FFFFFF", "#000000"


def draw_digit(key: str) -> np.ndarray | None:
    """Show the canvas under ``key``; the drawing as RGBA uint8 (SIZE, SIZE, 4), or None if empty."""
    # Imported here: the package registers its Components-v2 assets when imported, which needs a
    # running Streamlit (a server or AppTest); importing this module must work anywhere.
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=STROKE,
        stroke_color=INK,
        background_color=PAPER,
        height=SIZE,
        width=SIZE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )
    # The image is the canvas itself, so an empty canvas is still a black image: an empty list of
    # strokes is what tells "nothing drawn" (also after the toolbar's clear button).
    if not (result.json_data or {}).get("objects"):
        return None
    image = result.image_data
    return None if image is None else np.asarray(image, dtype=np.uint8)
