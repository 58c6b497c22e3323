"""The MNIST page's look inside a CNN: one digit's feature maps in every layer, redrawn as the
network trains, and one output of a convolution worked out: the square of the digit it depends
on (its receptive field) and the window × kernel sum that made it, checked against the feature map.

The sum is ``core.conv.conv2d_terms``, written from the definition; the feature maps come from the
network's forward pass (``core.conv.conv2d``), so a wrong conv2d shows as a failed check. A pixel
is chosen by clicking a convolution's maps or with the number inputs under them (both set the
same session keys), so keyboard users get every pixel too.
"""

import functools

import numpy as np
import streamlit as st

from core.activations import ACTIVATIONS
from core.conv import ConvTerms, conv2d_terms
from core.network import (
    Activation,
    Architecture,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Flatten,
    MaxPool2d,
    forward,
    input_window,
    receptive_fields,
)
from ui.controls import isolated_fragment, keyed, show_figure, show_formula
from ui.errors import guarded_panel
from ui.formulas import CONV_SUM, conv_output_size, conv_sum_numbers
from ui.i18n import t
from ui.mnist_live import Live
from ui.mnist_session import session
from ui.mnist_views import DRAWN
from ui.plots.mnist import MapSection, feature_maps, model_input, window_times_kernel

SOURCES = ("test", "drawn")
# The chosen output pixel: a convolution's index in the architecture, a channel, a row, a column.
PIXEL_KEYS = ("mn_cnn_layer", "mn_cnn_channel", "mn_cnn_row", "mn_cnn_col")


def has_convolutions(arch: Architecture) -> bool:
    """Whether the network has a convolution to look inside (an MLP has none)."""
    return any(isinstance(layer, Conv2d) for layer in arch.layers)


def spatial_layers(arch: Architecture) -> list[int]:
    """The layers whose output is still a stack of feature maps (all before the flatten)."""
    out = []
    for i, layer in enumerate(arch.layers):
        if isinstance(layer, Flatten):
            break
        out.append(i)
    return out


def layer_names(arch: Architecture, activation: str) -> list[str]:
    """ "conv 1", "ReLU", "max-pool 2×2", … for every layer, counted per kind from 1."""
    counts: dict[type, int] = {}
    names = []
    for layer in arch.layers:
        n = counts[type(layer)] = counts.get(type(layer), 0) + 1
        match layer:
            case Conv2d():
                names.append(t("mnist.cnn.conv", i=n))
            case MaxPool2d() | AvgPool2d():
                kind = "max_pool" if isinstance(layer, MaxPool2d) else "avg_pool"
                names.append(t(f"mnist.cnn.{kind}", k=layer.kernel_size))
            case BatchNorm():
                names.append(t("mnist.cnn.batch_norm", i=n))
            case Activation():
                names.append(t(f"activations.names.{activation}"))
            case _:
                names.append(type(layer).__name__)
    return names


def clicked_pixel(points: list) -> tuple[int, int, int, int] | None:
    """(layer, channel, row, column) of the first clicked point of the ``feature_maps`` figure,
    whose customdata it is; Streamlit gives it as a list or as a dict with the keys "0", "1", …;
    None when nothing is selected (a second click on a point deselects it)."""
    if not points or points[0].get("customdata") is None:
        return None
    data = points[0]["customdata"]
    values = [data[str(i)] for i in range(4)] if isinstance(data, dict) else list(data[:4])
    layer, channel, row, col = (round(float(value)) for value in values)
    return layer, channel, row, col


def on_click(chart_key: str) -> None:
    """A click on a convolution's maps chooses that pixel (before the widgets are drawn again)."""
    pixel = clicked_pixel(st.session_state[chart_key]["selection"]["points"])
    if pixel is not None:
        st.session_state.update(dict(zip(PIXEL_KEYS, pixel, strict=True)))
    # A fresh chart after every click (the count is part of its key): plotly unselects a
    # selected point that is clicked again, and that click would choose nothing.
    st.session_state[CLICKS] = st.session_state.get(CLICKS, 0) + 1


def on_layer_change(shapes: dict[int, tuple[int, int, int]]) -> None:
    """Another convolution: the middle pixel of its first map (the old one may not exist there)."""
    _, h, w = shapes[st.session_state["mn_cnn_layer"]]
    st.session_state.update({"mn_cnn_channel": 0, "mn_cnn_row": h // 2, "mn_cnn_col": w // 2})


def chosen_pixel(convs: list[int], shapes: dict[int, tuple[int, int, int]]) -> tuple[int, ...]:
    """The pixel in session state, moved inside this network's maps (a new architecture may have
    fewer channels or smaller maps): (layer, channel, row, column)."""
    state = st.session_state
    layer = state.get("mn_cnn_layer", convs[0])
    layer = layer if layer in convs else convs[0]
    c, h, w = shapes[layer]
    pixel = (
        layer,
        int(np.clip(state.get("mn_cnn_channel", 0), 0, c - 1)),
        int(np.clip(state.get("mn_cnn_row", h // 2), 0, h - 1)),
        int(np.clip(state.get("mn_cnn_col", w // 2), 0, w - 1)),
    )
    state.update(dict(zip(PIXEL_KEYS, pixel, strict=True)))
    return pixel


def cnn_view(v: Live) -> None:
    """For a CNN: the feature maps of one digit and one convolution output worked out."""
    if not has_convolutions(v.config.architecture):
        return

    @isolated_fragment(run_every=v.slow_every)
    def view() -> None:
        with guarded_panel(t("mnist.cnn.panel")):
            st.subheader(t("mnist.cnn.heading"))
            st.caption(t("mnist.cnn.intro"))
            inside_cnn(v)

    view()


def inside_cnn(v: Live) -> None:
    """The digit, its pass through the network, the maps, and the chosen output worked out."""
    arch, state = v.config.architecture, session().train
    x, caption = chosen_digit(v)
    with np.errstate(all="ignore"):
        logits, cache = forward(
            arch,
            state.params,
            x[None],
            activation=ACTIVATIONS[v.config.activation](),
            train=False,
            bn_state=state.bn_state,
        )
    if not np.all(np.isfinite(logits)):
        st.warning(t("mnist.cnn.no_maps"))
        return
    p = np.exp(logits[0] - logits[0].max())
    p /= p.sum()
    st.caption(caption(v.class_names[int(p.argmax())], f"{p.max():.0%}"))
    names = layer_names(arch, v.config.activation)
    spatial = spatial_layers(arch)
    shapes = {i: cache.inputs[i + 1].shape[1:] for i in spatial}
    convs = [i for i in spatial if isinstance(arch.layers[i], Conv2d)]
    pixel = chosen_pixel(convs, shapes)
    maps_figure(v, x, cache, names, spatial, pixel)
    st.markdown(f"#### {t('mnist.cnn.pixel_heading')}")
    st.caption(t("mnist.cnn.pixel_hint"))
    pixel_inputs(v, convs, shapes, names)
    worked_out(v, x, cache, names, pixel)


def chosen_digit(v: Live):
    """The image to look at, float32 (rows, cols) in [0, 1], and a function of the network's
    reading (class name, probability) that says what it is; a test image when nothing is drawn.

    The drawing is the one the draw view last read (it keeps it in session state): this view
    reads it when it runs, every few seconds while training, and when the draw view, paused,
    reruns the page for a new drawing.
    """
    test = v.data.test
    c_source, c_digit = (st.container(), st.container()) if v.style.projector else st.columns(2)
    source = "test"
    if tuple(test.x.shape[1:]) == (28, 28):  # what the canvas makes
        with c_source:
            source = keyed(
                st.segmented_control,
                "mn_cnn_source",
                "test",
                label=t("mnist.cnn.source"),
                options=SOURCES,
                format_func=lambda s: t(f"mnist.cnn.source_{s}"),
            )
            source = source or "test"  # a click on the chosen option unselects it
    drawing = st.session_state.get(DRAWN) if source == "drawn" else None
    last = len(test.x) - 1
    st.session_state["mn_cnn_digit"] = int(
        np.clip(st.session_state.get("mn_cnn_digit", 0), 0, last)
    )
    with c_digit:
        i = keyed(
            st.number_input,
            "mn_cnn_digit",
            0,
            label=t("mnist.cnn.digit"),
            min_value=0,
            max_value=last,
            step=1,
            help=t("mnist.cnn.digit_help", n=f"{len(test.x):,}", last=last),
            disabled=drawing is not None,
        )
    if source == "drawn":
        with c_source:
            st.button(t("mnist.cnn.reread"), key="_mn_cnn_reread", help=t("mnist.cnn.reread_help"))
            if drawing is None:
                st.info(t("mnist.cnn.nothing_drawn"), icon=":material/draw:")
    if drawing is not None:
        return drawing, lambda pred, prob: t("mnist.cnn.drawn_caption", pred=pred, prob=prob)
    label = v.class_names[int(test.y[i])]
    x = test.x[i].astype(np.float32) / np.float32(255)
    return x, lambda pred, prob: t(
        "mnist.cnn.digit_caption", i=i, label=label, pred=pred, prob=prob
    )


# "_": the app re-assigns every other session key on each run (ui.controls.keep_widget_values),
# and a chart's selection may not be assigned.
MAPS_KEY = "_mn_fig_cnn_maps"
CLICKS = "_mn_cnn_clicks"  # clicks on the maps so far


def maps_figure(v: Live, x: np.ndarray, cache, names: list[str], spatial, pixel) -> None:
    """The input, then every spatial layer's maps; a convolution's maps take clicks."""
    h, w = x.shape
    sections = [MapSection(t("mnist.cnn.input_title", h=h, w=w), x[None], -1, image=True)]
    for i in spatial:
        maps = cache.inputs[i + 1][0]
        n, mh, mw = maps.shape
        title = t("mnist.cnn.maps_title", layer=names[i], n=n, h=mh, w=mw)
        conv = isinstance(v.config.architecture.layers[i], Conv2d)
        sections.append(MapSection(title, maps, i, clickable=conv))
    fig = feature_maps(sections, style=v.style, hover=t("mnist.cnn.hover"), selected=pixel)
    key = f"{MAPS_KEY}_{st.session_state.get(CLICKS, 0)}"
    click = functools.partial(on_click, key)
    show_figure(fig, key=key, on_select=click, selection_mode="points")


def pixel_inputs(v: Live, convs: list[int], shapes: dict, names: list[str]) -> None:
    """Layer, channel, row and column of the output pixel: the keyboard's way to choose it."""
    layer = st.session_state["mn_cnn_layer"]
    c, h, w = shapes[layer]
    columns = st.columns(2) + st.columns(2) if v.style.projector else st.columns(4)
    with columns[0]:
        keyed(
            st.selectbox,
            "mn_cnn_layer",
            convs[0],
            label=t("mnist.cnn.layer"),
            options=convs,
            format_func=names.__getitem__,
            on_change=on_layer_change,
            args=(shapes,),
        )
    for column, key, label, top in zip(
        columns[1:], PIXEL_KEYS[1:], ("channel", "row", "col"), (c, h, w), strict=True
    ):
        with column:
            keyed(
                st.number_input,
                key,
                0,
                label=t(f"mnist.cnn.{label}"),
                min_value=0,
                max_value=top - 1,
                step=1,
            )


def worked_out(v: Live, x: np.ndarray, cache, names: list[str], pixel) -> None:
    """Receptive field, the formula with its numbers, the check, and window × kernel."""
    arch, params = v.config.architecture, session().train.params
    i, c, row, col = pixel
    layer = arch.layers[i]
    terms = conv2d_terms(
        cache.inputs[i][0],
        params[i]["W"],
        params[i]["b"],
        c,
        row,
        col,
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
    )
    shown = float(cache.inputs[i + 1][0, c, row, col])
    c_field, c_sum = (st.container(), st.container()) if v.style.projector else st.columns([1, 1.5])
    with c_field:
        receptive_field(v, x, names, pixel)
    with c_sum:
        st.caption(t("mnist.cnn.formula_caption"))
        show_formula(CONV_SUM)
        total = float(terms.products.sum())
        show_formula(conv_sum_numbers(c, row, col, terms.bias, total))
        sum_check(terms, shown, names[i])
        n_in = cache.inputs[i].shape[2]
        k, s, p, d = layer.kernel_size, layer.stride, layer.padding, layer.dilation
        st.caption(t("mnist.cnn.size_caption", layer=names[i], k=k, s=s, p=p, d=d))
        show_formula(conv_output_size(n_in, k, s, p, d))
    terms_figure(v, terms, names, pixel, cache.inputs[i].shape[2:])


def receptive_field(v: Live, x: np.ndarray, names: list[str], pixel) -> None:
    """The input digit with the square the chosen output depends on."""
    arch = v.config.architecture
    i, c, row, col = pixel
    top, left, bottom, right = window = input_window(arch, i, row, col)
    title = t("mnist.cnn.field_title", layer=names[i], c=c, i=row, j=col)
    show_figure(model_input(x, title=title, style=v.style, window=window), key="mn_fig_cnn_field")
    size = receptive_fields(arch)[i]
    st.caption(
        t(
            "mnist.cnn.field_caption",
            top=top,
            bottom=bottom - 1,
            left=left,
            right=right - 1,
            size=size,
        )
    )
    if top < 0 or left < 0 or bottom > x.shape[0] or right > x.shape[1]:
        st.caption(t("mnist.cnn.field_padding"))


def sum_check(terms: ConvTerms, shown: float, layer: str) -> None:
    """Green when the definition's sum equals the feature map's value, orange when not."""
    ok = terms.agrees_with(shown)
    digits = 4 if ok else 7
    st.badge(
        t(
            f"mnist.cnn.check_{'ok' if ok else 'bad'}",
            sum=f"{terms.value:.{digits}f}",
            shown=f"{shown:.{digits}f}",
            layer=layer,
        ),
        icon=":material/check_circle:" if ok else ":material/warning:",
        color="green" if ok else "orange",
    )
    st.caption(t("mnist.cnn.check_help"))


def terms_figure(v: Live, terms: ConvTerms, names: list[str], pixel, input_shape) -> None:
    """The window, the kernel and their products of the chosen output, and where the window is."""
    i, c, row, col = pixel
    fig = window_times_kernel(
        terms.window,
        terms.kernel,
        terms.products,
        names=(t("mnist.cnn.window"), t("mnist.cnn.kernel", c=c), t("mnist.cnn.products")),
        title=t("mnist.cnn.terms_title", layer=names[i], c=c, i=row, j=col),
        style=v.style,
    )
    show_figure(fig, key="mn_fig_cnn_terms")
    rows, cols = terms.rows, terms.cols
    where = {"top": rows[0], "bottom": rows[-1], "left": cols[0], "right": cols[-1]}
    if i == 0:
        st.caption(t("mnist.cnn.window_image", **where))
    else:
        n, k = terms.window.shape[:2]
        st.caption(t("mnist.cnn.window_maps", n=n, k=k, prev=names[i - 1], **where))
    h, w = input_shape
    if min(rows[0], cols[0]) < 0 or rows[-1] >= h or cols[-1] >= w:
        st.caption(t("mnist.cnn.window_padding", last=max(h, w) - 1))
