"""The shared plot style: projector mode is larger, every mode applies fonts that render Chinese."""

import numpy as np
import plotly.graph_objects as go
import pytest

from ui.theme import OKABE_ITO, log_ticks, plot_style, text_width, wrapped


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


def test_wrapped_uses_as_few_and_as_even_lines_as_fit():
    assert wrapped("short", 30) == "short"
    assert wrapped("SGD with momentum (lr=0.001, momentum=0.99)", 30) == (
        "SGD with momentum<br>(lr=0.001, momentum=0.99)"
    )
    # Chinese without spaces breaks between characters, each as wide as two Latin ones.
    lines = wrapped("这些激活函数都不是两侧有界的不会饱和", 20).split("<br>")
    assert "".join(lines) == "这些激活函数都不是两侧有界的不会饱和"
    assert len(lines) == 2 and all(text_width(line) <= 20 for line in lines)
    assert wrapped("averyveryverylongword x", 10) == "averyveryverylongword<br>x"


def test_long_legend_names_notes_and_titles_wrap_on_a_projector():
    name = "SGD with momentum (lr=0.001, momentum=0.99)"
    fig = go.Figure(go.Scatter(y=[1, 2], name=name), layout={"title": {"text": name * 2}})
    fig.add_annotation(text="None of these activations is bounded on both sides", x=0, y=0)
    style = plot_style(projector=True)
    fig = style.apply(fig)
    assert fig.data[0].name.replace("<br>", " ") == name and "<br>" in fig.data[0].name
    assert "<br>" in fig.layout.annotations[0].text
    title_lines = fig.layout.title.text.count("<br>") + 1
    assert title_lines == 2
    assert fig.layout.margin.t == 50 + style.font_size + round(1.3 * fig.layout.title.font.size)
    # The same words fit a wide chart's legend on one line.
    wide = plot_style().apply(go.Figure(go.Scatter(y=[1], name=name)))
    assert wide.data[0].name == name


def test_dark_theme_keeps_every_colour_visible():
    style = plot_style(dark=True)
    assert "#000000" not in style.palette
    assert style.color(len(style.palette)) == style.palette[0]


def test_log_ticks_one_two_five_on_short_ranges():
    axis = log_ticks([0.3, 1.0, 35.0])
    assert axis["tickvals"] == pytest.approx([0.2, 0.5, 1, 2, 5, 10, 20, 50])
    assert axis["ticktext"][:3] == ["0.2", "0.5", "1"]
    assert 10 ** axis["range"][0] < 0.2 and 10 ** axis["range"][1] > 50


def test_log_ticks_widen_a_narrow_range_to_two_labels():
    axis = log_ticks(np.array([0.46, 0.485]))
    assert axis["tickvals"] == pytest.approx([0.2, 0.5])


def test_log_ticks_powers_of_ten_on_long_ranges_and_nothing_for_no_positive_value():
    axis = log_ticks([1e-12, np.inf, np.nan, -1.0, 1e30])
    exponents = np.log10(axis["tickvals"])
    assert np.allclose(exponents, np.round(exponents)) and len(exponents) <= 9
    assert axis["tickvals"][0] <= 1e-12 and axis["tickvals"][-1] >= 1e29
    assert axis["ticktext"][0] == "10<sup>-12</sup>"
    assert log_ticks([0.0, -2.0, np.nan]) == {}


def test_figures_get_our_template_whatever_the_process_default(monkeypatch):
    # Streamlit makes its own placeholder template the default when its plotly element loads;
    # with theme=None nothing replaces those placeholder colours, so apply must set ours.
    import plotly.io as pio

    monkeypatch.setattr(pio.templates, "default", "plotly")
    light = plot_style().apply(go.Figure(go.Scatter(y=[1, 2])))
    dark = plot_style(dark=True).apply(go.Figure(go.Scatter(y=[1, 2])))
    assert light.layout.template.layout.plot_bgcolor == "white"
    assert dark.layout.template.layout.plot_bgcolor == "rgb(17,17,17)"


def test_with_the_light_default_figures_are_not_given_a_copy(monkeypatch):
    import plotly.io as pio

    from ui.theme import make_light_template_the_default

    monkeypatch.setattr(pio.templates, "default", "plotly")  # restored after the test
    make_light_template_the_default()
    assert pio.templates.default == "plotly_white"
    fig = go.Figure(go.Scatter(y=[1, 2]))
    template = fig.layout.template
    plot_style().apply(fig)
    assert fig.layout.template is template  # an assignment would have made a new copy
    assert fig.layout.template.layout.plot_bgcolor == "white"


@pytest.mark.parametrize("columns", [1, 2, 12])
@pytest.mark.parametrize("dark", [False, True])
def test_every_axis_gets_the_grid_colour_however_many_subplots(columns, dark):
    # Many axes are styled once through the figure's template, which plotly.js gives to every
    # axis (checked in chromium: xaxis7 of an 8-panel figure drew the template's grid colour).
    from plotly.subplots import make_subplots

    style = plot_style(dark=dark)
    fig = make_subplots(rows=1, cols=columns)
    for col in range(1, columns + 1):
        fig.add_trace(go.Scatter(y=[1, 2]), row=1, col=col)
    style.apply(fig)
    template = fig.layout.template.layout
    for axes, default in (
        (fig.select_xaxes(), template.xaxis),
        (fig.select_yaxes(), template.yaxis),
    ):
        for axis in axes:
            assert (axis.gridcolor or default.gridcolor) == style.grid_color
            assert (axis.zerolinecolor or default.zerolinecolor) == style.grid_color
            assert (axis.automargin or default.automargin) is True
    assert fig.layout.paper_bgcolor == style.background
    assert fig.layout.legend.font.size == style.font_size
