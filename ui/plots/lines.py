"""``add_lines``: a line trace per named series over its steps, the loop per-step charts share.

A series' colour is its position in ``style.palette``, so the same order of series keeps its colours
from one figure of a page to the next. No streamlit here.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.theme import Curves, PlotStyle


def add_lines(
    fig: go.Figure,
    curves: Curves,
    style: PlotStyle,
    *,
    hovertemplate: str,
    first_step: int = 0,
    mode: str = "lines",
    dashes: Sequence[str] = (),
    marker: dict | None = None,
) -> None:
    """Add a trace per ``(name, values)`` of ``curves``, at x = ``first_step``, ``first_step`` + 1…

    ``dashes`` cycle with the series when given (solid lines otherwise). ``marker`` and
    ``hovertemplate`` are every trace's: a template names its series with ``%{fullData.name}``.
    """
    for i, (name, values) in enumerate(curves):
        dash = {"dash": dashes[i % len(dashes)]} if dashes else {}
        fig.add_scatter(
            x=np.arange(first_step, first_step + len(values)),
            y=values,
            name=name,
            mode=mode,
            line={"color": style.color(i), "width": style.line_width, **dash},
            marker=marker,
            hovertemplate=hovertemplate,
        )
