"""Live MNIST training: configure an MLP, Start / Pause / step, and watch it learn real digits.

The whole training session (core.session.Session, immutable) lives under one session key and is
replaced by core.session's transitions: the buttons' callbacks and each time-budgeted tick of a
``st.fragment(run_every=…)``, so only the live panel reruns while training; the controls stay
outside it. Datasets are shared read-only by every visitor through ``st.cache_resource``.
"""

import numpy as np
import streamlit as st

from core.activations import ACTIVATIONS
from core.datasets import DATASETS, NUM_CLASSES, to_float32
from core.digit_image import prepare_drawn_digit
from core.initializers import INITIALIZERS, default_kwargs
from core.mlp import predict_proba
from core.mnist_setup import exposed, train_config
from core.mnist_setup import run_label as run_label_of
from core.model_io import INPUT_SIZES, save_model
from core.optimizers import HYPERPARAMETERS, OPTIMIZER_DEFAULTS, OPTIMIZERS
from core.params import Param
from core.session import (
    archive,
    checked_gradients,
    configure,
    new_sample,
    tick,
)
from core.training import (
    PICK_MODES,
    confusion_matrix,
    loss_plateau,
    most_confused,
    pick_examples,
    smooth_ema,
    top_k,
)
from ui.controls import (
    current_plot_style,
    enter_through_shell,
    guided_experiment,
    isolated_fragment,
    keyed,
    show_figure,
)
from ui.draw_canvas import draw_digit
from ui.errors import guarded_panel
from ui.fair_share import BASE_EVERY, tick_plan
from ui.fields import Field, bind_fields, field
from ui.i18n import t
from ui.mnist_session import (
    on,
    on_model_upload,
    save,
    session,
    start_session,
    trainer_registry,
)
from ui.mnist_settings import controls_panel, data_panel, network_panel, snap_to_stops
from ui.mnist_upload import NAME as UPLOAD
from ui.plots.mnist import (
    class_probabilities,
    compare_runs,
    confusion_matrix_figure,
    layer_signals,
    live_accuracy_chart,
    live_loss_chart,
    live_lr_chart,
    model_input,
    prediction_grid,
    weight_images,
)

enter_through_shell()

# ---------------------------------------------------------------- what the page offers

DATA_KEYS = (*DATASETS, UPLOAD)  # UPLOAD: the visitor's own files, kept in their session
ACTS = tuple(ACTIVATIONS)
INITS = tuple(INITIALIZERS)
OPTS = tuple(OPTIMIZERS)
SCHEDS = ("none", "step_lr", "exponential_lr", "cosine_annealing_lr")
# Schedule parameters in epochs (the page's schedule unit), with defaults that act within ~10 epochs.
SCHED_PARAMS = {
    "step_lr": {
        "step_size": Param("int", 3, low=1, high=100),
        "gamma": Param("float", 0.5, 0.01, 1.0, step=0.05),
    },
    "exponential_lr": {"gamma": Param("float", 0.8, 0.01, 1.0, step=0.05)},
    "cosine_annealing_lr": {"T_max": Param("int", 10, low=1, high=200)},
}
LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
BATCHES = (1, 8, 16, 32, 64, 128, 256, 512, 1024)
HIGH_LR = 0.3  # above this a stuck loss is blamed on a too large lr, below it on a too small one
TRAIN_SIZE_MIN = 100  # the training-set-size slider's lower end and step
DEFAULT_HIDDEN = "128"
SLOW_EVERY = 3.0  # the prediction grid, confusion matrix and inside view refresh more slowly
GRID_SIZE = 24
GRADCHECK_OK = (
    1e-4  # relative error; float64 central differences give ~1e-8 where backprop is right
)

EXPERIMENTS = {
    "explode": {
        "mn_act": "leaky_relu",
        "mn_hidden": "128, 128",
        "mn_opt": "sgd",
        "mn_lr": 1.0,
        "mn_sched": "none",
        "mn_bn": False,
    },
    "sigmoid": {
        "mn_act": "sigmoid",
        "mn_hidden": "64, 64, 64, 64, 64",
        "mn_opt": "sgd",
        "mn_lr": 0.1,
        "mn_sched": "none",
        "mn_bn": False,
    },
    "dropout": {
        "mn_train_size": 1000,
        "mn_hidden": "512",
        "mn_dropout": 0.5,
        "mn_opt": "adam",
        "mn_lr": 1e-3,
        "mn_act": "relu",
    },
}

FORMULA = (
    r"\mathcal{L} = -\frac{1}{N}\sum_{n=1}^{N} \log \operatorname{softmax}(W_L\,h_{L-1} + b_L)"
    r"_{y_n},\qquad h_\ell = f(W_\ell\, h_{\ell-1} + b_\ell),\ h_0 = x"
)


def hp_key(optimizer: str, name: str) -> str:
    return f"mn_{optimizer}_{name}"


def _init_label(init: str) -> str:  # the same names as on the initialization page
    return f"{init}_ — {t(f'initialization.init_name.{init}')}"


FIELDS = {
    "mn_data": Field(Param("choice", "mnist_builtin", options=DATA_KEYS), "select",
                     "mnist.data_label", option_labels="mnist.data."),
    "mn_train_size": Field(Param("int", 7000, low=TRAIN_SIZE_MIN, high=60_000, step=100), "slider",
                           "mnist.train_size", "mnist.train_size_help"),
    "mn_hidden": Field(Param("text", DEFAULT_HIDDEN), "text", "mnist.hidden"),
    "mn_act": Field(Param("choice", "relu", options=ACTS), "select", "mnist.activation",
                    option_labels="activations.names."),
    "mn_init": Field(Param("choice", "kaiming_uniform", options=INITS), "select",
                     "mnist.initializer", option_labels=_init_label),
    "mn_bn": Field(Param("bool", False), "toggle", "mnist.batch_norm"),
    "mn_dropout": Field(Param("float", 0.0, low=0.0, high=0.9, step=0.05), "slider",
                        "mnist.dropout", "mnist.dropout_help"),
    "mn_opt": Field(Param("choice", "adam", options=OPTS), "select", "mnist.optimizer",
                    option_labels="mnist.opt."),
    "mn_lr": Field(Param("float", 1e-3, low=LRS[0], high=LRS[-1], options=LRS), "select_slider",
                   "mnist.lr", "mnist.lr_help", option_labels=lambda lr: f"{lr:g}"),
    "mn_batch": Field(Param("int", 128, low=BATCHES[0], high=BATCHES[-1], options=BATCHES),
                      "select_slider", "mnist.batch", "mnist.batch_help"),
    "mn_sched": Field(Param("choice", "none", options=SCHEDS), "select", "mnist.schedule",
                      "mnist.schedule_help", option_labels="mnist.sched."),
    "mn_seed": Field(Param("int", 0, low=0, high=9999), "number", "mnist.seed"),
}  # fmt: skip
# How the views are looked at; not settings of the run, so links do not carry them.
VIEW_FIELDS = {
    "mn_pick": Field(Param("choice", "sample", options=PICK_MODES), "segmented",
                     "mnist.pick_label", option_labels="mnist.pick."),
    "mn_cm_norm": Field(Param("bool", False), "toggle", "mnist.normalise", "mnist.normalise_help"),
    "mn_cm_true": Field(Param("choice", 4, options=tuple(range(NUM_CLASSES))), "select",
                        "mnist.cell_true"),
    "mn_cm_pred": Field(Param("choice", 9, options=tuple(range(NUM_CLASSES))), "select",
                        "mnist.cell_pred"),
}  # fmt: skip


def entry_fields(optimizer: str, schedule: str) -> dict[str, Field]:
    """The chosen optimizer's hyperparameters (but lr) and the chosen schedule's parameters."""
    fields = {}
    for hp in exposed(optimizer):
        h, default = HYPERPARAMETERS[hp], OPTIMIZER_DEFAULTS[optimizer][hp]
        step = float(10 ** np.floor(np.log10(h.min))) if h.log_scale else 0.01
        param = (
            Param("bool", default)
            if h.kind == "bool"
            else Param("float", float(default), low=h.min, high=h.max, step=step)
        )
        fields[hp_key(optimizer, hp)] = Field(
            param, "checkbox" if h.kind == "bool" else "number", f"mnist.hp.{hp}"
        )
    for name, param in SCHED_PARAMS.get(schedule, {}).items():
        fields[f"mn_{schedule}_{name}"] = Field(param, "number", f"mnist.sched_param.{name}")
    return fields


# ---------------------------------------------------------------- the session and its buttons


def vega(chart, key: str) -> None:
    """A live chart; same spec each tick, so the browser swaps the data in place."""
    st.vega_lite_chart(chart.data, chart.spec, key=key, theme=None, width="stretch")


def model_file_bytes(state, layer_sizes: tuple, activation: str, batch_norm: bool):
    """A callable for st.download_button: the model's .npz bytes, made only when clicked."""
    return lambda: save_model(state.params, state.bn_state, layer_sizes, activation, batch_norm)


# ---------------------------------------------------------------- page

start_session()
style = current_plot_style()

bind_fields(FIELDS)
opt_now = st.session_state.get("mn_opt", "adam")
opt_now = opt_now if opt_now in OPTS else "adam"
ENTRY_FIELDS = entry_fields(opt_now, st.session_state.get("mn_sched", "none"))
bind_fields(ENTRY_FIELDS)
snap_to_stops(FIELDS)

st.title(t("mnist.heading"))
st.markdown(t("mnist.intro"))
st.latex(FORMULA)

with guarded_panel(t("mnist.panel_data")):
    used = data_panel(FIELDS, style)
with guarded_panel(t("mnist.panel_network")):
    net = network_panel(FIELDS, ENTRY_FIELDS, style)

config = train_config(used.data.image_shape, net, tuple(default_kwargs(net.initializer).items()))
arch = (used.id, used.train_size, config.layer_sizes, net.initializer, net.batch_norm, net.seed)
names = (t(f"mnist.opt.{net.optimizer}"), t(f"mnist.sched.{net.schedule}"))
run_label = run_label_of(net, config.layer_sizes, used.train_size, used.n_max, names)
save(configure(session(), used.data, config, arch, run_label))
running = session().running
# How often this session updates while training depends on how many train on this server now.
plan = tick_plan(trainer_registry().count(including=session().id)) if running else tick_plan(1)
slow_every = SLOW_EVERY * plan.every / BASE_EVERY
# What the views below read.
data, in_use, data_id = used.data, used.name, used.id
activation, batch_norm, lr, layer_sizes = net.activation, net.batch_norm, net.lr, config.layer_sizes

with guarded_panel(t("mnist.panel_controls")):
    controls_panel(data, config, lr, LRS, style)


def live_numbers(state, last) -> None:
    """Step, epoch, lr, speed and validation accuracy of the live network."""
    h = state.history
    epochs = h.epochs
    # Two rows of three on a projector: six large numbers do not fit in one row.
    m = st.columns(3) * 2 if style.projector else st.columns(6)
    m[0].metric(t("mnist.step"), f"{state.step:,}")
    m[1].metric(t("mnist.epoch"), f"{state.epoch}", help=t("mnist.epoch_help"))
    m[2].metric(t("mnist.current_lr"), f"{h.lr[-1]:.3g}" if len(h.lr) else f"{lr:g}")
    speed = last.samples_per_s if last is not None else float("nan")
    ms = last.ms_per_step if last is not None else float("nan")
    m[3].metric(t("mnist.samples_per_s"), "–" if not np.isfinite(speed) else f"{speed:,.0f}")
    m[4].metric(t("mnist.ms_per_step"), "–" if not np.isfinite(ms) else f"{ms:.2f}")
    m[5].metric(t("mnist.val_accuracy"), f"{epochs[-1].val_accuracy:.1%}" if epochs else "–")
    # Notices go into one container so the charts below keep their place in the element tree:
    # an element appearing above them would make the browser rebuild them instead of
    # updating them in place.


def live_curves(h) -> None:
    """The running / paused notices and the three live charts (Vega, updated in place)."""
    epochs = h.epochs
    notices = st.container()
    notices.caption(t("mnist.running") if running else t("mnist.paused"))
    if loss_plateau(h.loss):
        # A stuck loss at a large lr is more often dead ReLUs or saturation than slowness.
        which = "mnist.plateau_high" if lr >= HIGH_LR else "mnist.plateau"
        notices.info(t(which, lr=f"{lr:g}"), icon=":material/hourglass_empty:")
    if style.projector:
        c_loss, c_acc = st.columns(2)
        c_lr = st.container()
    else:
        c_loss, c_acc, c_lr = st.columns([3, 2, 2])
    epoch_steps = np.array([e.step for e in epochs], dtype=float)
    with c_loss:
        vega(
            live_loss_chart(
                h.step,
                smooth_ema(h.loss),
                epoch_steps,
                np.array([e.val_loss for e in epochs]),
                names=(t("mnist.train_loss"), t("mnist.val_loss")),
                title=t("mnist.loss_title"),
                x_title=t("mnist.step"),
                y_title=t("mnist.loss_axis"),
                style=style,
            ),
            key="mn_chart_loss",
        )
    with c_acc:
        vega(
            live_accuracy_chart(
                np.array([e.epoch for e in epochs], dtype=float),
                np.array([e.train_accuracy for e in epochs]),
                np.array([e.val_accuracy for e in epochs]),
                names=(t("mnist.train_acc"), t("mnist.val_acc")),
                title=t("mnist.acc_title"),
                x_title=t("mnist.epoch"),
                y_title=t("mnist.acc_axis"),
                style=style,
            ),
            key="mn_chart_acc",
        )
    with c_lr:
        vega(
            live_lr_chart(
                h.step,
                h.lr,
                name=t("mnist.lr_series"),
                title=t("mnist.lr_title"),
                x_title=t("mnist.step"),
                y_title=t("mnist.lr_axis"),
                style=style,
            ),
            key="mn_chart_lr",
        )
    if not epochs:
        notices.caption(t("mnist.first_epoch_hint"))


@isolated_fragment(run_every=plan.every if running else None)
def live_view() -> None:
    """Train one tick (when running) and redraw the counters and the live curves."""
    with guarded_panel(t("mnist.panel_live")):
        if session().running:
            now = tick_plan(trainer_registry().tick(session().id))
            save(tick(session(), data, config, time_budget=now.budget))
            if not session().running:
                st.rerun()  # stopped (diverged): the whole page shows why and stops ticking
            if not 2 / 3 < now.every / plan.every < 3 / 2:
                st.rerun()  # the class grew or shrank: re-plan the update rate for everyone
            if now.trainers > 1:
                st.caption(
                    t("mnist.shared_server", trainers=now.trainers, every=f"{now.every:.1f}")
                )
        state, last = session().train, session().last
        live_numbers(state, last)
        live_curves(state.history)


live_view()


# ---- guided experiments
with guarded_panel(t("mnist.panel_experiments")):
    st.subheader(t("mnist.experiments_heading"))
    for name, values in EXPERIMENTS.items():
        guided_experiment(
            t(f"mnist.exp.{name}.title"),
            t(f"mnist.exp.{name}.predict"),
            t(f"mnist.exp.{name}.explain"),
            values,
            key=f"_exp_mn_{name}",
            owned=("mn_",),
        )

CLASS_NAMES = (
    [t(f"mnist.fashion.{i}") for i in range(NUM_CLASSES)]
    if in_use == "fashion_mnist"
    else [str(i) for i in range(NUM_CLASSES)]
)


def probabilities_on_test() -> np.ndarray | None:
    """Class probabilities of every test image under the live network; None once it diverged."""
    state = session().train
    with np.errstate(all="ignore"):
        probs = predict_proba(
            state.params,
            to_float32(data.test.x),
            activation=ACTIVATIONS[activation](),
            bn_state=state.bn_state,
        )
    return probs if np.all(np.isfinite(probs)) else None


def on_worst_cell(true: int, pred: int) -> None:
    st.session_state["mn_cm_true"], st.session_state["mn_cm_pred"] = true, pred


def digits_figure(idx: np.ndarray, probs: np.ndarray, title: str, key: str) -> None:
    classes, top = top_k(probs[idx], 3)
    fig = prediction_grid(
        data.test.x[idx],
        data.test.y[idx],
        classes,
        top,
        class_names=CLASS_NAMES,
        names=(t("mnist.grid_right"), t("mnist.grid_wrong"), t("mnist.grid_other")),
        hover=t("mnist.grid_hover"),
        title=title,
        style=style,
    )
    show_figure(fig, key=key)


def grid_panel(probs: np.ndarray, pred: np.ndarray) -> None:
    """Test digits (a sample, the mistakes or the least sure) with their top-3, and the accuracy."""
    y = data.test.y
    with guarded_panel(t("mnist.panel_grid")):
        st.subheader(t("mnist.grid_heading"))
        if style.projector:
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
            digits_figure(idx, probs, t(f"mnist.grid_title.{mode}"), "mn_fig_grid")


def pick_cell(matrix: np.ndarray, y: np.ndarray, pred: np.ndarray):
    """The normalise toggle, the worst-cell button and the chosen cell: (normalised, true,
    guess, indices of the test digits in that cell)."""
    normalised = field(VIEW_FIELDS, "mn_cm_norm")
    worst_true, worst_pred, worst_n = most_confused(matrix)
    if worst_n > 0:
        st.button(
            t(
                "mnist.worst_cell",
                true=CLASS_NAMES[worst_true],
                pred=CLASS_NAMES[worst_pred],
                n=worst_n,
            ),
            key="_mn_worst",
            on_click=on_worst_cell,
            args=(worst_true, worst_pred),
        )
    a, b = st.columns(2)
    with a:
        true = field(VIEW_FIELDS, "mn_cm_true", format_func=CLASS_NAMES.__getitem__)
    with b:
        guess = field(VIEW_FIELDS, "mn_cm_pred", format_func=CLASS_NAMES.__getitem__)
    cell = np.flatnonzero((y == true) & (pred == guess))
    st.caption(
        t(
            "mnist.cell_count",
            n=len(cell),
            true=CLASS_NAMES[true],
            pred=CLASS_NAMES[guess],
        )
    )
    return normalised, true, guess, cell


def confusion_panel(probs: np.ndarray, pred: np.ndarray) -> None:
    """The confusion matrix, its worst cell and the digits of a chosen cell."""
    y = data.test.y
    with guarded_panel(t("mnist.panel_confusion")):
        st.subheader(t("mnist.confusion_heading"))
        matrix = confusion_matrix(y, pred, NUM_CLASSES)
        c_fig, c_pick = st.columns([3, 2])
        with c_pick:
            normalised, true, guess, cell = pick_cell(matrix, y, pred)
        with c_fig:
            shown = confusion_matrix(y, pred, NUM_CLASSES, normalize=True) if normalised else matrix
            fig = confusion_matrix_figure(
                shown,
                normalised=bool(normalised),
                class_names=CLASS_NAMES,
                title=t("mnist.confusion_title"),
                x_title=t("mnist.predicted"),
                y_title=t("mnist.true"),
                hover=t("mnist.confusion_hover"),
                style=style,
            )
            show_figure(fig, key="mn_fig_confusion")
        if len(cell):
            digits_figure(
                cell[:GRID_SIZE],
                probs,
                t("mnist.cell_title", true=CLASS_NAMES[true], pred=CLASS_NAMES[guess]),
                "mn_fig_cell",
            )


@isolated_fragment(run_every=slow_every if running else None)
def predictions_view() -> None:
    """Test predictions: a grid of digits with top-3 bars, and the confusion matrix."""
    probs = probabilities_on_test()
    if probs is None:
        st.warning(t("mnist.no_predictions"))
        return
    pred = probs.argmax(axis=1)
    grid_panel(probs, pred)
    confusion_panel(probs, pred)


predictions_view()


@isolated_fragment(run_every=slow_every if running else None)
def draw_view() -> None:
    """Draw a digit: the 28×28 image the network sees and its probabilities, on every stroke."""
    with guarded_panel(t("mnist.panel_draw")):
        st.subheader(t("mnist.draw_heading"))
        if tuple(data.image_shape) != (28, 28):
            st.info(t("mnist.draw_needs_28", rows=data.image_shape[0], cols=data.image_shape[1]))
            return
        if style.projector:
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
        if digit is None:
            c_input.info(t("mnist.draw_empty"), icon=":material/draw:")
            return
        state = session().train
        with np.errstate(all="ignore"):
            probs = predict_proba(
                state.params,
                digit.reshape(1, -1),
                activation=ACTIVATIONS[activation](),
                bn_state=state.bn_state,
            )[0]
        with c_input:
            fig = model_input(digit, title=t("mnist.draw_input"), style=style)
            show_figure(fig, key="mn_fig_drawn")
        with c_probs:
            if not np.all(np.isfinite(probs)):
                st.warning(t("mnist.no_predictions"))
                return
            fig = class_probabilities(
                probs,
                class_names=CLASS_NAMES,
                title=t("mnist.draw_probs", label=CLASS_NAMES[int(probs.argmax())]),
                x_title=t("mnist.probability"),
                style=style,
            )
            show_figure(fig, key="mn_fig_drawn_probs")
            if state.step == 0:
                st.caption(t("mnist.draw_untrained"))


draw_view()


@isolated_fragment(run_every=slow_every if running else None)
def inside_view() -> None:
    """First-layer weights, per-layer gradient norms and update ratios, and a gradient check."""
    with guarded_panel(t("mnist.panel_inside")):
        st.subheader(t("mnist.inside_heading"))
        state = session().train
        with st.container():
            rel, at_step = check_gradients()
            if not np.isfinite(rel):
                st.badge(t("mnist.gradcheck_na"), icon=":material/help:", color="gray")
            elif rel < GRADCHECK_OK:
                st.badge(
                    t("mnist.gradcheck_ok", error=f"{rel:.1e}", step=f"{at_step:,}"),
                    icon=":material/check_circle:",
                    color="green",
                )
            else:
                st.badge(
                    t("mnist.gradcheck_bad", error=f"{rel:.1e}", step=f"{at_step:,}"),
                    icon=":material/warning:",
                    color="orange",
                )
            st.caption(t("mnist.gradcheck_help"))
        with st.container():
            if len(state.params) > 1:
                fig = weight_images(
                    state.params[0]["W"],
                    data.image_shape,
                    title=t("mnist.weights_title"),
                    style=style,
                )
                show_figure(fig, key="mn_fig_weights")
            else:
                st.info(t("mnist.no_hidden"))
        signals = session().signals
        if len(signals) < 2:
            st.info(t("mnist.signals_hint"))
            return
        steps = np.array([s for s, _, _ in signals], dtype=float)
        fig = layer_signals(
            steps,
            np.array([g for _, g, _ in signals]),
            np.array([r for _, _, r in signals]),
            layer_names=[t("mnist.layer", i=i + 1) for i in range(len(signals[-1][1]))],
            titles=(t("mnist.grad_norm_title"), t("mnist.update_ratio_title")),
            x_title=t("mnist.step"),
            y_titles=(t("mnist.grad_norm_axis"), t("mnist.update_ratio_axis")),
            reference=t("mnist.ratio_reference"),
            style=style,
        )
        show_figure(fig, key="mn_fig_signals")


def check_gradients() -> tuple[float, int]:
    """The gradient check of the live network (core.session.checked_gradients keeps it)."""
    key = (activation, data_id, tuple(layer["W"].shape for layer in session().train.params))
    new, rel, at_step = checked_gradients(
        session(),
        key,
        to_float32(data.val.x[:16]),
        data.val.y[:16],
        ACTIVATIONS[activation](),
    )
    save(new)
    return rel, at_step


inside_view()

# ---- compare runs
with guarded_panel(t("mnist.panel_compare")):
    st.subheader(t("mnist.compare_heading"))
    runs, state = session().runs, session().train
    current = t("mnist.current_run", label=run_label)
    st.button(
        t("mnist.keep_run"),
        key="_mn_keep",
        on_click=on,
        args=(archive,),
        disabled=state.step == 0,
        help=t("mnist.keep_run_help"),
    )
    if not runs:
        st.info(t("mnist.compare_hint"))
    else:
        labels = [r.label for r in runs]
        chosen = keyed(
            st.multiselect,
            "mn_compare",
            labels,
            label=t("mnist.compare_label"),
            options=labels,
        )
        curves = [tuple(r) for r in runs if r.label in chosen]
        if state.step:
            curves.append((current, np.array(state.history.step), smooth_ema(state.history.loss)))
        if curves:
            fig = compare_runs(
                curves,
                title=t("mnist.compare_title"),
                x_title=t("mnist.step"),
                y_title=t("mnist.loss_axis"),
                style=style,
            )
            show_figure(fig, key="mn_fig_compare")


@isolated_fragment(run_every=slow_every if running else None)
def save_view() -> None:
    """The download button; refreshed while training so the file holds recent weights."""
    state = session().train
    savable = layer_sizes[0] in INPUT_SIZES and state.diverged_at is None
    st.download_button(
        t("mnist.save"),
        data=model_file_bytes(state, layer_sizes, activation, bool(batch_norm)),
        file_name=f"mlp-{'-'.join(str(n) for n in layer_sizes)}-step{state.step}.npz",
        mime="application/octet-stream",
        key="_mn_save",
        on_click="ignore",
        icon=":material/download:",
        disabled=not savable,
    )
    if layer_sizes[0] not in INPUT_SIZES:
        st.info(t("mnist.save_needs_size", inputs=layer_sizes[0]))
    elif state.diverged_at is not None:
        st.info(t("mnist.save_diverged"))
    elif (note := session().loaded_note) is not None:
        st.caption(t("mnist.save_help_loaded", file=note[0], step=f"{state.step:,}"))
    else:
        st.caption(t("mnist.save_help", step=f"{state.step:,}"))


# ---- save / load
with guarded_panel(t("mnist.panel_model")):
    st.subheader(t("mnist.model_heading"))
    c_save, c_load = st.columns(2)
    with c_save:
        save_view()
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
            st.error(
                t("mnist.load_failed", file=file_name, problem=t(f"mnist.model_error.{code}")),
                icon=":material/error:",
            )
        elif (note := session().loaded_note) is not None:
            st.success(t("mnist.loaded", file=note[0], arch=note[1]), icon=":material/check:")
