"""The shared plot style: projector mode is larger, every mode applies fonts that render Chinese."""

import plotly.graph_objects as go

from ui.theme import OKABE_ITO, plot_style


def test_projector_is_larger_and_thicker():
    normal, projector = plot_style(), plot_style(projector=True)
    assert projector.font_size > normal.font_size
    assert projector.line_width > normal.line_width
    assert projector.marker_size > normal.marker_size


def test_apply_sets_cjk_font_palette_and_height():
    fig = plot_style(projector=True).apply(go.Figure(go.Scatter(y=[1, 2])), height=400)
    assert "Noto Sans CJK SC" in fig.layout.font.family
    assert list(fig.layout.colorway) == list(OKABE_ITO)
    assert fig.layout.height == 500


def test_dark_theme_keeps_every_colour_visible():
    style = plot_style(dark=True)
    assert "#000000" not in style.palette
    assert style.color(len(style.palette)) == style.palette[0]
