"""The MNIST page's slower views of the session: test predictions and the confusion matrix, a
drawn digit, the inside of the network, compared runs, and saving or loading the model. Each is a
function of the ``ui.mnist_live.Live`` bundle; the ones that refresh while training are fragments
that rerun alone, every few live ticks.
"""

import math

import numpy as np
import streamlit as st

from core.activations import ACTIVATIONS
from core.datasets import NUM_CLASSES, to_float32
from core.digit_image import prepare_drawn_digit
from core.mnist_setup import (
    MAX_LAYERS,
    MAX_WIDTH,
    architecture_text,
    finite_probabilities,
    gradcheck_verdict,
    signal_series,
)
from core.model_io import INPUT_SIZES, save_model
from core.params import Param
from core.session import archive, checked_gradients, new_sample, probabilities_on_test, race
from core.training import (
    PICK_MODES,
    confusion_matrix,
    most_confused,
    pick_examples,
    smooth_ema,
    top_k,
)
from ui.controls import isolated_fragment, keyed, show_figure
from ui.draw_canvas import draw_digit
from ui.errors import guarded_panel
from ui.fields import Field, field
from ui.i18n import t
from ui.mnist_live import Live
from ui.mnist_session import on, on_model_upload, save, session
from ui.plots.mnist import (
    RunCurves,
    class_probabilities,
    compare_runs,
    confusion_matrix_figure,
    layer_signals,
    model_input,
    prediction_grid,
    weight_images,
)
from ui.theme import ChartText

GRID_SIZE = 24
DRAWN = "_mn_drawn"  # the last drawn digit as the network is given it, (28, 28) float32, or None
CLASSES = tuple(range(NUM_CLASSES))
# How the views are looked at; not settings of the run, so links do not carry them.
VIEW_FIELDS = {
    "mn_pick": Field(Param("choice", "sample", options=PICK_MODES), "segmented",
                     "mnist.pick_label", option_labels="mnist.pick."),
    "mn_cm_norm": Field(Param("bool", False), "toggle", "mnist.normalise", "mnist.normalise_help"),
    "mn_cm_true": Field(Param("choice", 4, options=CLASSES), "select", "mnist.cell_true"),
    "mn_cm_pred": Field(Param("choice", 9, options=CLASSES), "select", "mnist.cell_pred"),
}  # fmt: skip


def untrained() -> bool:
    """Whether the network has had no training step and no loaded weights: its predictions and
    confusion matrix would be chance ("0 read as 8 (151×)") before anyone has pressed Start."""
    s = session()
    return s.train.step == 0 and s.loaded_note is None


def predictions_view(v: Live) -> None:
    """Test predictions: a grid of digits with top-3 bars, and the confusion matrix; before the
    first training step, one line that says what they will show."""

    @isolated_fragment(run_every=v.slow_every)
    def view() -> None:
        if untrained():
            with guarded_panel(t("mnist.panel_grid")):
                st.subheader(t("mnist.grid_heading"))
                st.info(t("mnist.untrained_prompt"), icon=":material/school:")
            return
        arch, test = v.config.architecture, v.data.test
        # uint8 as stored: predict_proba converts a slice at a time (no float32 copy of the split).
        key = (v.data_id, len(test.y), arch, v.config.activation)
        new, probs = probabilities_on_test(session(), arch, key, test.x, v.config.activation)
        save(new)
        if probs is None:
            st.warning(t("mnist.no_predictions"))
            return
        pred = probs.argmax(axis=1)
        grid_panel(probs, pred, v)
        confusion_panel(probs, pred, v)

    view()


def digits_figure(idx: np.ndarray, probs: np.ndarray, title: str, key: str, v: Live) -> None:
    """Test digits ``idx`` framed by right or wrong, with their top-3 guesses."""
    classes, top = top_k(probs[idx], 3)
    fig = prediction_grid(
        v.data.test.x[idx],
        v.data.test.y[idx],
        classes,
        top,
        class_names=v.class_names,
        names=(t("mnist.grid_right"), t("mnist.grid_wrong"), t("mnist.grid_other")),
        hover=t("mnist.grid_hover"),
        title=title,
        style=v.style,
    )
    show_figure(fig, key=key)


def grid_panel(probs: np.ndarray, pred: np.ndarray, v: Live) -> None:
    """Test digits (a sample, the mistakes or the least sure) with their top-3, and the accuracy."""
    y = v.data.test.y
    with guarded_panel(t("mnist.panel_grid")):
        st.subheader(t("mnist.grid_heading"))
        if v.style.projector:
            c1 = st.container()
            c2, c3 = st.columns(2, vertical_alignment="bottom")
        else:
            c1, c2, c3 = st.columns([2.2, 1, 1.2], vertical_alignment="bottom")
        with c1:
            mode = field(VIEW_FIELDS, "mn_pick")
        c2.button(
            t("mnist.new_sample"),
            key="_mn_new_sample",
            on_click=on,
            args=(new_sample,),
            icon=":material/casino:",
        )
        c3.metric(
            t("mnist.test_accuracy"),
            f"{np.mean(pred == y):.1%}",
            help=t("mnist.test_accuracy_help", n=f"{len(y):,}"),
        )
        rng = np.random.default_rng(session().sample_seed)
        idx = pick_examples(probs, y, mode, GRID_SIZE, rng)
        if len(idx) == 0:
            st.info(t("mnist.no_mistakes"))
        else:
            digits_figure(idx, probs, t(f"mnist.grid_title.{mode}"), "mn_fig_grid", v)


def on_worst_cell(true: int, pred: int) -> None:
    st.session_state["mn_cm_true"], st.session_state["mn_cm_pred"] = true, pred


def pick_cell(matrix: np.ndarray, y: np.ndarray, pred: np.ndarray, names: list[str]):
    """The normalise toggle, the worst-cell button and the chosen cell: (normalised, true,
    guess, indices of the test digits in that cell)."""
    normalised = field(VIEW_FIELDS, "mn_cm_norm")
    worst_true, worst_pred, worst_n = most_confused(matrix)
    if worst_n > 0:
        st.button(
            t("mnist.worst_cell", true=names[worst_true], pred=names[worst_pred], n=worst_n),
            key="_mn_worst",
            on_click=on_worst_cell,
            args=(worst_true, worst_pred),
        )
    a, b = st.columns(2)
    with a:
        true = field(VIEW_FIELDS, "mn_cm_true", format_func=names.__getitem__)
    with b:
        guess = field(VIEW_FIELDS, "mn_cm_pred", format_func=names.__getitem__)
    cell = np.flatnonzero((y == true) & (pred == guess))
    st.caption(t("mnist.cell_count", n=len(cell), true=names[true], pred=names[guess]))
    return normalised, true, guess, cell


def confusion_panel(probs: np.ndarray, pred: np.ndarray, v: Live) -> None:
    """The confusion matrix, its worst cell and the digits of a chosen cell."""
    y, names = v.data.test.y, v.class_names
    with guarded_panel(t("mnist.panel_confusion")):
        st.subheader(t("mnist.confusion_heading"))
        matrix = confusion_matrix(y, pred, NUM_CLASSES)
        c_fig, c_pick = st.columns([3, 2])
        with c_pick:
            normalised, true, guess, cell = pick_cell(matrix, y, pred, names)
        with c_fig:
            shown = confusion_matrix(y, pred, NUM_CLASSES, normalize=True) if normalised else matrix
            fig = confusion_matrix_figure(
                shown,
                normalised=bool(normalised),
                class_names=names,
                text=ChartText(t("mnist.confusion_title"), t("mnist.predicted"), t("mnist.true")),
                hover=t("mnist.confusion_hover"),
                style=v.style,
            )
            show_figure(fig, key="mn_fig_confusion")
        if len(cell):
            title = t("mnist.cell_title", true=names[true], pred=names[guess])
            digits_figure(cell[:GRID_SIZE], probs, title, "mn_fig_cell", v)


def draw_view(v: Live) -> None:
    """Draw a digit: the 28×28 image the network sees and its probabilities, on every stroke."""

    @isolated_fragment(run_every=v.slow_every)
    def view() -> None:
        with guarded_panel(t("mnist.panel_draw")):
            st.subheader(t("mnist.draw_heading"))
            shape = tuple(v.data.image_shape)
            if shape != (28, 28):
                st.info(t("mnist.draw_needs_28", rows=shape[0], cols=shape[1]))
                return
            drawn_digit(v)

    view()


def drawn_digit(v: Live) -> None:
    """The canvas, the image the network is given and its class probabilities."""
    if v.style.projector:
        c_canvas, c_input = st.columns(2)
        c_probs = st.container()
    else:
        c_canvas, c_input, c_probs = st.columns([1.1, 1, 1.3])
    with c_canvas:
        # The canvas's toolbar floats ~40 px above it: room for it, so it covers no text.
        st.space(44)
        image = draw_digit("_mn_canvas")
        st.caption(t("mnist.draw_hint"))
    digit = prepare_drawn_digit(image) if image is not None else None
    before = st.session_state.get(DRAWN)
    st.session_state[DRAWN] = digit  # for the CNN view (ui.mnist_cnn_views)
    changed = not np.array_equal(before, digit)  # None equals only None
    cnn = len(v.config.architecture.input_shape) == 3
    if changed and cnn and not v.running and st.session_state.get("mn_cnn_source") == "drawn":
        # The CNN view looks at the drawing too; paused, nothing else would rerun it.
        st.rerun()
    if digit is None:
        c_input.info(t("mnist.draw_empty"), icon=":material/draw:")
        return
    state = session().train
    x = digit.reshape(1, -1)
    probs = finite_probabilities(
        v.config.architecture, state.params, x, v.config.activation, state.bn_state
    )
    with c_input:
        show_figure(model_input(digit, title=t("mnist.draw_input"), style=v.style), "mn_fig_drawn")
    with c_probs:
        if probs is None:
            st.warning(t("mnist.no_predictions"))
            return
        label = v.class_names[int(probs[0].argmax())]
        fig = class_probabilities(
            probs[0],
            class_names=v.class_names,
            text=ChartText(t("mnist.draw_probs", label=label), t("mnist.probability")),
            style=v.style,
        )
        show_figure(fig, key="mn_fig_drawn_probs")
        if untrained():
            st.caption(t("mnist.draw_untrained"))


def inside_view(v: Live) -> None:
    """First-layer weights, per-layer gradient norms and update ratios, and a gradient check."""

    @isolated_fragment(run_every=v.slow_every)
    def view() -> None:
        with guarded_panel(t("mnist.panel_inside")):
            st.subheader(t("mnist.inside_heading"))
            with st.container():
                gradient_check_badge(v)
            with st.container():
                first_layer_weights(v)
            signals_figure(v)

    view()


def gradient_check_badge(v: Live) -> None:
    """The gradient check of the live network (core.session.checked_gradients keeps it)."""
    arch = v.config.architecture
    key = (v.config.activation, v.data_id, arch)
    x, y = to_float32(v.data.val.x[:16]), v.data.val.y[:16]
    new, checks, at_step = checked_gradients(
        session(), arch, key, x, y, ACTIVATIONS[v.config.activation]()
    )
    save(new)
    verdict, worst, failed = gradcheck_verdict(checks)
    if verdict == "na":
        st.badge(t("mnist.gradcheck_na"), icon=":material/help:", color="gray")
    else:
        ok = verdict == "ok"
        st.badge(
            t(
                f"mnist.gradcheck_{verdict}",
                error=f"{worst.rel:.1e}",
                step=f"{at_step:,}",
                tensor=tensor_name(worst),
                tensors=t("mnist.gradcheck_join").join(tensor_name(c) for c in failed),
            ),
            icon=":material/check_circle:" if ok else ":material/warning:",
            color="green" if ok else "orange",
        )
    st.caption(t("mnist.gradcheck_help"))


TENSOR_SYMBOLS = {"W": "W", "b": "b", "gamma": "γ", "beta": "β"}


def tensor_name(check) -> str:
    """ "W of layer 2" for a core.network.TensorCheck (layers counted from 1, as the layer table)."""
    return t("mnist.gradcheck_tensor", name=TENSOR_SYMBOLS[check.name], layer=check.layer + 1)


def first_layer_weights(v: Live) -> None:
    """Each first-layer unit's weights as an image of the input's shape; a CNN's first filters."""
    params = session().train.params
    w = params[0]["W"]
    if w.ndim == 4:  # (out, in = 1, k, k): each filter as a k×k image, one column per filter
        k = w.shape[-1]
        title = t("mnist.filters_title", n=min(len(w), 16), k=k)
        fig = weight_images(w.reshape(len(w), -1).T, (k, k), title=title, style=v.style)
        show_figure(fig, key="mn_fig_weights")
    elif len(params) > 1:
        fig = weight_images(w, v.data.image_shape, title=t("mnist.weights_title"), style=v.style)
        show_figure(fig, key="mn_fig_weights")
    else:
        st.info(t("mnist.no_hidden"))


def signals_figure(v: Live) -> None:
    """Per-layer gradient norms and update ratios over the steps (from two steps on)."""
    signals = session().signals
    if len(signals) < 2:
        st.info(t("mnist.signals_hint"))
        return
    steps, norms, ratios = signal_series(signals)
    fig = layer_signals(
        steps,
        norms,
        ratios,
        layer_names=[t("mnist.layer", i=i + 1) for i in range(norms.shape[1])],
        titles=(t("mnist.grad_norm_title"), t("mnist.update_ratio_title")),
        x_title=t("mnist.step"),
        y_titles=(t("mnist.grad_norm_axis"), t("mnist.update_ratio_axis")),
        reference=t("mnist.ratio_reference"),
        style=v.style,
    )
    show_figure(fig, key="mn_fig_signals")


RACE_STEPS = 200  # steps per contender of the optimizer race (~4 epochs of the 7,000 images)


def race_button(v: Live, key: str, text: str, help_text: str, runs: tuple, steps: int) -> None:
    """One click trains a fresh network per ``(label, config)`` of ``runs`` on this page's data
    and seed, ``steps`` steps each, and keeps each run's curves for the overlay below."""
    seed = int(st.session_state.get("mn_seed", 0))
    st.button(text, key=key, on_click=on, args=(race, v.data, runs, steps, seed), help=help_text)


def raced(config, **changes):
    """A contender's config: ``config`` with ``changes``, and no epoch limit or early stopping,
    so that every contender runs all of the race's steps."""
    return config._replace(**changes, epochs=None, patience=None)


def optimizer_race(v: Live, contenders: tuple[tuple[str, float], ...]) -> None:
    """Each (optimizer, lr) of ``contenders`` on this page's network, with its defaults."""
    names = [t(f"optimizers.names.{opt}") for opt, _ in contenders]
    runs = tuple(
        (
            t("mnist.race_label", name=name, lr=f"{lr:g}", steps=RACE_STEPS),
            raced(v.config, optimizer=opt, lr=lr, hyperparameters=()),
        )
        for name, (opt, lr) in zip(names, contenders, strict=True)
    )
    text = t("mnist.race_button", names=" vs ".join(names), steps=RACE_STEPS)
    race_button(v, "_mn_race", text, t("mnist.race_help"), runs, RACE_STEPS)


def dropout_race(v: Live, steps: int) -> None:
    """This page's network without dropout and with its dropout p (only when p > 0): the gap
    between training and validation loss that dropout narrows, side by side."""
    p = v.config.dropout
    if not p:
        return
    runs = tuple(
        (t("mnist.dropout_race_label", p=f"{q:g}", steps=steps), raced(v.config, dropout=q))
        for q in (0.0, p)
    )
    text = t("mnist.dropout_race_button", p=f"{p:g}", steps=steps)
    race_button(v, "_mn_dropout_race", text, t("mnist.dropout_race_help"), runs, steps)


def run_curves(label: str, step: np.ndarray, loss: np.ndarray, epochs: tuple) -> RunCurves:
    """A run's training curve and its validation loss at each epoch's end."""
    return RunCurves(
        label,
        step,
        loss,
        np.array([e.step for e in epochs], dtype=float),
        np.array([e.val_loss for e in epochs]),
    )


def compare_panel(
    v: Live, contenders: tuple[tuple[str, float], ...] = (), dropout_steps: int = 0
) -> None:
    """Keep the current run, and its curves beside the kept runs the user picks; with
    ``contenders``, a button that trains each of them from scratch and keeps their curves; with
    ``dropout_steps``, one that races this network without and with its dropout."""
    st.subheader(t("mnist.compare_heading"))
    runs, state = session().runs, session().train
    # One row that wraps: in half a projector's page the race button's long label was cut.
    with st.container(horizontal=True):
        st.button(
            t("mnist.keep_run"),
            key="_mn_keep",
            on_click=on,
            args=(archive,),
            disabled=state.step == 0,
            help=t("mnist.keep_run_help"),
        )
        if contenders:
            optimizer_race(v, contenders)
        if dropout_steps:
            dropout_race(v, dropout_steps)
    if not runs:
        st.info(t("mnist.compare_hint"))
        return
    labels = [r.label for r in runs]
    # Not a Field: every kept run is shown until the user hides some (save() adds new ones).
    chosen = keyed(
        st.multiselect, "mn_compare", labels, label=t("mnist.compare_label"), options=labels
    )
    curves = [run_curves(*r) for r in runs if r.label in chosen]
    if state.step:
        h = state.history
        current = t("mnist.current_run", label=v.run_label)
        curves.append(run_curves(current, np.array(h.step), smooth_ema(h.loss), h.epochs))
    if curves:
        fig = compare_runs(
            curves,
            names=(t("mnist.train_loss"), t("mnist.val_loss")),
            text=ChartText(t("mnist.compare_title"), t("mnist.step"), t("mnist.loss_axis")),
            style=v.style,
        )
        show_figure(fig, key="mn_fig_compare")


def model_panel(v: Live) -> None:
    """Save the live model as .npz, or load one (which sets the page's architecture to match)."""
    st.subheader(t("mnist.model_heading"))
    c_save, c_load = st.columns(2)
    with c_save:
        save_view(v)
    with c_load:
        st.file_uploader(
            t("mnist.load"),
            type=["npz"],
            key="_mn_model_upload",
            on_change=on_model_upload,
            help=t("mnist.load_help"),
        )
        if (problem := session().model_error) is not None:
            code, file_name = problem
            reason = t(f"mnist.model_error.{code}", layers=MAX_LAYERS, width=MAX_WIDTH)
            st.error(
                t("mnist.load_failed", file=file_name, problem=reason), icon=":material/error:"
            )
        elif (note := session().loaded_note) is not None:
            st.success(t("mnist.loaded", file=note[0], arch=note[1]), icon=":material/check:")


def _model_file(state, config) -> bytes:
    """The model's .npz bytes, made once per trained state of the session."""
    made = st.session_state.get("_mn_model_file")
    key = (id(state.params), state.step, config.architecture, config.activation)
    if made is None or made[0] != key:
        data = save_model(config.architecture, state.params, state.bn_state, config.activation)
        made = st.session_state["_mn_model_file"] = (key, data)
    return made[1]


def save_view(v: Live) -> None:
    """The download button, ready while the training is paused.

    The file is made when the button is drawn, not when it is clicked: Streamlit keeps a file
    made on click for no session, so any two reruns on the server (a class training is many a
    second) deleted it before the browser fetched it, and the download failed with a 404. A
    file drawn with the button belongs to the session while the button is shown.
    """

    @isolated_fragment(run_every=v.slow_every)
    def view() -> None:
        s = session()
        state, arch = s.train, v.config.architecture
        inputs = math.prod(arch.input_shape)
        savable = inputs in INPUT_SIZES and state.diverged_at is None and not s.running
        family = "mlp" if len(arch.input_shape) == 1 else "cnn"
        st.download_button(
            t("mnist.save"),
            data=_model_file(state, v.config) if savable else b"",
            file_name=f"{family}-{architecture_text(arch, ascii_only=True)}-step{state.step}.npz",
            mime="application/octet-stream",
            key="_mn_save",
            on_click="ignore",
            icon=":material/download:",
            disabled=not savable,
        )
        if s.running:
            st.caption(t("mnist.save_pause"))
        elif inputs not in INPUT_SIZES:
            st.info(t("mnist.save_needs_size", inputs=inputs))
        elif state.diverged_at is not None:
            st.info(t("mnist.save_diverged"))
        elif (note := session().loaded_note) is not None:
            st.caption(t("mnist.save_help_loaded", file=note[0], step=f"{state.step:,}"))
        else:
            st.caption(t("mnist.save_help", step=f"{state.step:,}"))

    view()
