"""One plotly look for every figure: ``plot_style(projector, dark)`` → ``PlotStyle``.

Figure builders take a ``PlotStyle`` and call ``style.apply(fig)`` last, so that projector mode
(large type, thick lines, big markers) and the dark theme reach every chart the same way. Colours are
the Okabe–Ito palette, which stays distinguishable for the common colour-vision deficiencies and on
washed-out classroom projectors. A builder takes its translated words (title, axis titles) as one
``ChartText``, which pickles like the rest of its arguments for the figure cache. Imports plotly,
never streamlit.
"""

import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

# Okabe & Ito (2008), ordered so the first colours differ most in lightness as well as hue.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black (swapped for light grey in the dark theme)
)
# Latin glyphs from the first fonts, Chinese from the CJK ones; the browser falls back per glyph.
FONT_FAMILY = (
    "'Source Sans 3', 'Source Sans Pro', Arial, 'Noto Sans CJK SC', 'Noto Sans SC', "
    "'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
)
GOOD_COLOR = "#009E73"
BAD_COLOR = "#D55E00"


LIGHT_TEMPLATE = "plotly_white"
DARK_TEMPLATE = "plotly_dark"
# Above this many axes, styling the template's two axes is cheaper than styling each axis.
MANY_AXES = 6


def make_light_template_the_default() -> None:
    """New figures start from the light template instead of copying it in ``PlotStyle.apply``.

    Assigning a template validates and deep-copies it: ~20 ms a figure, a third of a page's
    rerun and of a busy server's time. A figure created with the process default gets it almost
    for free. Streamlit makes its own template the default when it is imported, so the app calls
    this once afterwards; where it has not been called, ``apply`` assigns the template itself.
    """
    pio.templates.default = LIGHT_TEMPLATE


def text_width(text: str) -> int:
    """Width of ``text`` in Latin characters: a Chinese character is as wide as two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrapped(text: str, width: int) -> str:
    """``text`` broken with ``<br>`` into as few lines of at most ``width`` as it needs, as even as
    they can be (no one-word last line); at spaces, or between characters in Chinese without them.
    A word longer than ``width`` keeps a line of its own."""
    spaced = " " in text
    words = text.split(" ") if spaced else list(text)
    joiner = " " if spaced else ""

    def greedy(limit: int) -> list[str]:
        lines = [words[0]]
        for word in words[1:]:
            if text_width(lines[-1] + joiner + word) > limit:
                lines.append(word)
            else:
                lines[-1] += joiner + word
        return lines

    fewest = len(greedy(width))
    for limit in range(-(-text_width(text) // fewest), width + 1):
        lines = greedy(limit)
        if len(lines) == fewest:
            return "<br>".join(lines)
    return "<br>".join(greedy(width))


def _too_long(text, width: int) -> bool:
    """Whether ``text`` is words wider than ``width`` that nobody has broken into lines yet."""
    return isinstance(text, str) and "<br>" not in text and text_width(text) > width


class PlotStyle(NamedTuple):
    """Sizes and colours a figure builder needs; ``apply`` sets the shared layout."""

    projector: bool
    dark: bool
    font_size: int
    line_width: float
    marker_size: float
    palette: tuple[str, ...]
    text_color: str
    grid_color: str
    background: str

    def color(self, index: int) -> str:
        """The palette colour for the ``index``-th series (wraps around)."""
        return self.palette[index % len(self.palette)]

    def apply(self, fig: go.Figure, *, height: int | None = None) -> go.Figure:
        """Set fonts, colours, margins and legend placement on ``fig`` and return it.

        Properties are assigned one by one rather than through ``update_layout``/``update_xaxes``:
        plotly's batch update re-walks the layout for every call, about three times the cost
        (15–100 ms a figure, most of a live MNIST redraw). Axis colours go into the figure's own
        template when it has many axes, where plotly.js gives them to every axis at once.
        The layout's font, margin and hover-label font are replaced whole, not merged: builders
        leave those to the style.
        """
        layout = fig.layout
        if self.dark:
            layout.template = DARK_TEMPLATE
        elif pio.templates.default != LIGHT_TEMPLATE:
            layout.template = LIGHT_TEMPLATE
        layout.font = {"family": FONT_FAMILY, "size": self.font_size, "color": self.text_color}
        layout.colorway = self.palette
        layout.paper_bgcolor = self.background
        layout.plot_bgcolor = self.background
        layout.margin = {"l": 10, "r": 10, "t": 50 + self.font_size, "b": 10}
        layout.legend.font.size = self.font_size
        layout.legend.bgcolor = "rgba(0,0,0,0)"
        layout.hoverlabel.font = {"family": FONT_FAMILY, "size": self.font_size}
        layout.title.font.size = round(self.font_size * 1.25)
        self._wrap_long_words(fig)
        if height is not None:
            layout.height = round(height * (1.25 if self.projector else 1.0))
        axes = [*fig.select_xaxes(), *fig.select_yaxes()]
        if len(axes) > MANY_AXES:
            axes = [layout.template.layout.xaxis, layout.template.layout.yaxis]
        for axis in axes:
            axis.gridcolor = self.grid_color
            axis.zerolinecolor = self.grid_color
            axis.automargin = True
        return fig

    def _wrap_long_words(self, fig: go.Figure) -> None:
        """Wrap legend names, notes and the title that would not fit a narrow chart: plotly
        neither wraps nor shrinks them, and a projector's 1280 px page cut "momentum=0.99" to
        "momentum=0.9". The top margin grows by a line for each extra title line."""
        legend_width, title_width = (30, 48) if self.projector else (44, 72)
        for trace in fig.data:
            if _too_long(trace.name, legend_width):
                trace.name = wrapped(trace.name, legend_width)
        for note in fig.layout.annotations:
            if _too_long(note.text, legend_width):
                note.text = wrapped(note.text, legend_width)
        title = fig.layout.title.text
        if _too_long(title, title_width):
            fig.layout.title.text = wrapped(title, title_width)
            extra_lines = fig.layout.title.text.count("<br>")
            fig.layout.margin.t += round(extra_lines * 1.3 * fig.layout.title.font.size)


class ChartText(NamedTuple):
    """The words on a chart, already translated: its title and its axes' titles."""

    title: str
    x: str
    y: str = ""


# Named series, one (legend name, values) pair per line: what most builders draw.
Curves = Sequence[tuple[str, np.ndarray]]


def plot_style(projector: bool = False, dark: bool = False) -> PlotStyle:
    """The style for the given display mode."""
    palette = (*OKABE_ITO[:-1], "#DDDDDD") if dark else OKABE_ITO
    return PlotStyle(
        projector=projector,
        dark=dark,
        font_size=20 if projector else 14,
        line_width=4.5 if projector else 2.5,
        marker_size=12 if projector else 7,
        palette=palette,
        text_color="#F5F5F5" if dark else ("#000000" if projector else "#1A1A1A"),
        grid_color="#3A4350" if dark else ("#BBBBBB" if projector else "#E3E7ED"),
        background="#0F1318" if dark else "#FFFFFF",
    )


def log_ticks(values) -> dict:
    """``update_yaxes`` settings for a log axis over ``values``: labels at 1-2-5 steps (powers of
    ten beyond three decades), the range widened to the nearest labels so at least two show.

    Plotly's own log ticks label every minor line (2, 3, … 9) on short ranges, which cannot be
    read on a projector; and a narrow range would magnify noise that is flat on a log scale.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {}
    lo, hi = int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max())))
    hi = max(hi, lo + 1)
    if hi - lo <= 3:
        candidates = [m * 10.0**e for e in range(lo, hi + 1) for m in (1, 2, 5)]
        below = max(c for c in candidates if c <= v.min() * (1 + 1e-12))
        above = min(c for c in candidates if c >= v.max() * (1 - 1e-12))
        ticks = [c for c in candidates if below <= c <= above]
        text = [f"{c:g}" for c in ticks]
    else:
        step = int(np.ceil((hi - lo) / 8))
        exponents = range(lo, hi + 1, step)
        ticks = [10.0**e for e in exponents]
        text = [f"{10.0**e:g}" if -3 <= e <= 3 else f"10<sup>{e}</sup>" for e in exponents]
        below, above = ticks[0], max(ticks[-1], 10.0**hi)
    return {
        "tickvals": ticks,
        "ticktext": text,
        "range": [np.log10(below) - 0.02, np.log10(above) + 0.02],
    }
