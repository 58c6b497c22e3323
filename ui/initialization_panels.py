"""The weight-initialization page's pieces: its cached core calls (on primitives, shared by every
visitor) and its views, each a function of the values the page read from its fields."""

import numpy as np
import streamlit as st

from core.activations import ACTIVATIONS
from core.datasets import builtin_mnist, to_float32
from core.deep_signals import (
    DeepSignals,
    at_depth,
    measure_network,
    plain_networks,
    short_training,
    symmetry_experiment,
)
from core.initializers import INITIALIZER_INFO, INITIALIZERS, init_std, torch_call
from core.params import Param, ParamError
from ui.controls import show_code, show_figure, show_formula
from ui.fields import Field, field, fields_in_columns, widget_for
from ui.figure_cache import shared_figure
from ui.formulas import INITIALIZER_FORMULAS
from ui.i18n import t
from ui.plots.initialization import (
    SetupSeries,
    distribution_over_depth,
    largest_share,
    signals_vs_depth,
    symmetry_spread,
    training_losses,
    unit_shares,
)
from ui.theme import ChartText

BATCH = 256  # images pushed through the network for the statistics
INPUTS = 784  # 28 × 28 pixels, also the width of the Gaussian inputs
MAX_DEPTH = 50
TRAIN_IMAGES = 2048  # the short training draws its minibatches from these
TRAIN_STEPS = 200
TRAIN_BATCH = 64
SYMMETRY_STEPS = 20
SYMMETRY_HIDDEN = (16, 16)
# Identical units may still differ in the last bits of float32: BLAS sums columns in different
# orders. Below this share of the weights' size, a difference is rounding, not learning.
ROUNDING_SHARE = 1e-6


# ---------------------------------------------------------------- the settings of a setup


def setup_key(setup: str, name: str) -> str:
    return f"in_{setup}_{name}"


def init_param_key(setup: str, init: str, name: str) -> str:
    # Per initializer: "a" is a bound for uniform but a slope for kaiming, with other ranges.
    return f"in_{setup}_{init}_{name}"


def init_label(init: str) -> str:
    return f"{init}_ — {t(f'initialization.init_name.{init}')}"


def setup_fields(defaults: dict[str, dict]) -> dict[str, Field]:
    """The initializer, activation and batch-norm fields of each setup, from its defaults."""
    fields = {}
    for setup, d in defaults.items():
        fields |= {
            setup_key(setup, "init"): Field(Param("choice", d["init"], options=tuple(INITIALIZERS)),
                                            "select", "initialization.initializer",
                                            option_labels=init_label),
            setup_key(setup, "act"): Field(Param("choice", d["act"], options=tuple(ACTIVATIONS)),
                                           "select", "initialization.activation",
                                           option_labels="activations.names."),
            setup_key(setup, "bn"): Field(Param("bool", d["bn"]), "toggle",
                                          "initialization.batch_norm",
                                          "initialization.batch_norm_help"),
        }  # fmt: skip
    return fields


def init_param_fields(setup: str, init: str) -> dict[str, Field]:
    """The fields of ``init``'s own parameters in ``setup``, labelled with their torch names."""
    return {
        init_param_key(setup, init, name): Field(
            param, widget_for(param), None,
            f"initialization.param_help.{name}",
        )
        for name, param in INITIALIZER_INFO[init].params.items()
    }  # fmt: skip


def setup_values(setup: str, init: str, act: str, bn: bool = False, **params) -> dict:
    """Session values for one setup: initializer (with ``params`` over its defaults), activation, BN."""
    values = {
        setup_key(setup, "init"): init,
        setup_key(setup, "act"): act,
        setup_key(setup, "bn"): bn,
    }
    for name, spec in INITIALIZER_INFO[init].params.items():
        values[init_param_key(setup, init, name)] = params.get(name, spec.default)
    return values


def setup_widgets(fields: dict, setup: str, projector: bool) -> tuple:
    """Initializer, its parameters, activation and batch norm of one setup, as a hashable tuple."""
    init, act = fields_in_columns(
        st.columns([3, 2]), fields, (setup_key(setup, "init"), setup_key(setup, "act"))
    )
    params = []
    own = init_param_fields(setup, init)
    if own:
        columns = st.columns(2 if projector else min(len(own), 4))
        for j, (key, name) in enumerate(zip(own, INITIALIZER_INFO[init].params, strict=True)):
            with columns[j % len(columns)]:
                params.append((name, field(own, key, label=name)))
    bn = field(fields, setup_key(setup, "bn"))
    return init, tuple(params), act, bn


# ---------------------------------------------------------------- core calls (cached on primitives)


@st.cache_resource(show_spinner=False)
def mnist_images() -> tuple[np.ndarray, np.ndarray]:
    """The built-in MNIST training images, standardised with their own mean and std (read-only)."""
    train = builtin_mnist().train
    x = to_float32(train.x[:TRAIN_IMAGES])
    # Zero mean, unit std: what torchvision's Normalize((0.1307,), (0.3081,)) does for MNIST, and
    # what the variance arguments behind Xavier and He assume of a layer's input.
    x = (x - x.mean()) / x.std()
    x.flags.writeable = False
    return x, train.y[:TRAIN_IMAGES]


def signal_batch(data: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The batch for the statistics: real digits, or N(0, 1) inputs with random labels."""
    if data == "gaussian":
        rng = np.random.default_rng([seed, 1])
        x = rng.standard_normal((BATCH, INPUTS), dtype=np.float32)
        return x, rng.integers(0, 10, BATCH)
    x, y = mnist_images()
    return x[:BATCH], y[:BATCH]


# ~52 MB of float32 weights at width 512: two entries keep both setups of one visitor drawn
# (drawing alone takes ~150 ms there) without letting a class of visitors fill the server.
@st.cache_resource(show_spinner=False, max_entries=2)
def networks(init: str, init_kwargs: tuple, width: int, seed: int):
    """The plain network of one initializer at every depth (shared weights), drawn once and shared
    read-only across visitors: moving the depth slider draws nothing."""
    stack = plain_networks(
        np.random.default_rng(seed), INPUTS, max_depth=MAX_DEPTH, width=width, n_classes=10,
        initializer=init, init_kwargs=dict(init_kwargs),
    )  # fmt: skip
    for layer in (*stack.hidden, *stack.outputs):
        for array in layer.values():
            array.flags.writeable = False
    return stack


@st.cache_data(show_spinner=False, max_entries=64)
def signals(setup: tuple, depth: int, width: int, data: str, seed: int) -> DeepSignals:
    """``measure`` for one setup ``(init, init_kwargs, activation, batch_norm)``, at any lr (see
    ``at_lr``). Changing only the depth, activation, batch norm or data reuses the drawn weights."""
    init, init_kwargs, act, bn = setup
    x, y = signal_batch(data, seed)
    network = at_depth(networks(init, init_kwargs, width, seed), depth)
    return measure_network(network, x, y, activation=ACTIVATIONS[act](), batch_norm=bn)


@st.cache_data(show_spinner=False, max_entries=32)
def symmetry(init: str, init_kwargs: tuple, act: str, seed: int):
    """Hidden-unit spread over ``SYMMETRY_STEPS`` full-batch steps of a 784-16-16-10 network."""
    x, y = mnist_images()
    return symmetry_experiment(
        np.random.default_rng(seed), x[:BATCH], y[:BATCH], initializer=init,
        init_kwargs=dict(init_kwargs), activation=ACTIVATIONS[act](), steps=SYMMETRY_STEPS,
        hidden_sizes=SYMMETRY_HIDDEN, n_classes=10,
    )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=32)
def training(setup: tuple, depth: int, width: int, seed: int, optimizer: str, lr: float):
    """Loss per step of ``TRAIN_STEPS`` minibatch steps on the built-in digits, fresh network."""
    init, init_kwargs, act, bn = setup
    x, y = mnist_images()
    return short_training(
        np.random.default_rng(seed), x, y, depth=depth, width=width,
        activation=ACTIVATIONS[act](), initializer=init, init_kwargs=dict(init_kwargs),
        batch_norm=bn, optimizer=optimizer, lr=lr, steps=TRAIN_STEPS, batch_size=TRAIN_BATCH,
        n_classes=10,
    )  # fmt: skip


def setup_name(setup: str, config: tuple) -> str:
    """ "A · kaiming_normal_ · ReLU" (+ " · BN"): the legend name of a setup."""
    init, _, act, bn = config
    parts = [t(f"initialization.setup_{setup}"), f"{init}_", t(f"activations.names.{act}")]
    return " · ".join(parts + ([t("initialization.bn_short")] if bn else []))


def formula_block(config: tuple, width: int, valid: bool) -> None:
    init, params, _, _ = config
    show_formula(INITIALIZER_FORMULAS[init])
    if valid:
        std = init_std(init, width, width, **dict(params))
        st.caption(t("initialization.std_here", width=width, std=f"{std:.4g}"))
    show_code(torch_call(init, **dict(params)))


def problem_text(error: ValueError) -> str:
    """A translated message for an initializer parameter the core refused (e.g. uniform a > b)."""
    if isinstance(error, ParamError):
        return t(f"initialization.rule_{error.rule}", **error.values)
    return t("initialization.bad_params", reason=str(error))


def setup_problem(config: tuple) -> str | None:
    """Why the core refuses this setup's initializer parameters, translated; None if it accepts them."""
    init, params, _, _ = config
    try:
        INITIALIZERS[init](np.random.default_rng(0), 2, 2, **dict(params))
    except ValueError as error:
        return problem_text(error)
    return None


def _value(values: np.ndarray, index: int) -> str:
    """One per-layer value for the summary table, or a dash when that layer was not reached."""
    if len(values) < (index + 1 if index >= 0 else -index):
        return "—"
    value = float(values[index])
    return f"{value:.3g}" if np.isfinite(value) else "—"


def _identical(spread: float, scale: float) -> bool:
    return spread <= ROUNDING_SHARE * max(scale, 1e-30)


# ---------------------------------------------------------------- views


def explosions(results: dict, names: dict, depth: int) -> None:
    """An error for each setup whose signals overflowed, naming the layer."""
    for setup, r in results.items():
        if r.exploded_at is not None:
            where = (
                t("initialization.at_output")
                if r.exploded_at >= depth
                else t("initialization.at_layer", layer=r.exploded_at + 1)
            )
            st.error(
                t("initialization.exploded", setup=names[setup], where=where),
                icon=":material/local_fire_department:",
            )


def signals_view(results: dict, names: dict, lr: float, style) -> None:
    """Activation std, gradient norm and update ratio per layer, and their first/last values."""
    series = [
        SetupSeries(names[s], r.a_std, r.weight_grad_norm, r.update_ratio)
        for s, r in results.items()
    ]
    fig = shared_figure(
        signals_vs_depth,
        series,
        panel_titles=(
            t("initialization.panel_act_std"),
            t("initialization.panel_grad_norm"),
            t("initialization.panel_update_ratio", lr=f"{lr:g}"),
        ),
        x_title=t("initialization.layer"),
        output_label=t("initialization.output_short"),
        style=style,
    )
    show_figure(fig, key="in_signals_chart")
    st.caption(t("initialization.signals_caption"))
    rows = {
        t("initialization.col_setup"): [names[s] for s in results],
        t("initialization.col_std_first"): [_value(r.a_std, 0) for r in results.values()],
        t("initialization.col_std_last"): [_value(r.a_std, -1) for r in results.values()],
        t("initialization.col_grad_first"): [
            _value(r.weight_grad_norm, 0) for r in results.values()
        ],
        t("initialization.col_grad_last_hidden"): [
            _value(r.weight_grad_norm, -2) for r in results.values()
        ],
        t("initialization.col_loss"): [
            f"{r.loss:.3g}" if np.isfinite(r.loss) else "—" for r in results.values()
        ],
    }
    st.dataframe(rows, hide_index=True, key="in_signals_table")


def distributions_view(results: dict, names: dict, fields: dict, style) -> None:
    """Each setup's distribution of activations (or pre-activations) over depth, and the shares
    of dead and saturated units per layer."""
    st.markdown(f"**{t('initialization.dist_heading')}**")
    which = field(fields, "in_dist")
    zmax = largest_share([r.a_hist if which == "a" else r.z_hist for r in results.values()])
    for column, (setup, r) in zip(st.columns(len(results)), results.items(), strict=True):
        with column:
            hist, edges = (r.a_hist, r.a_edges) if which == "a" else (r.z_hist, r.z_edges)
            if len(hist) == 0:
                st.info(t("initialization.no_layers", setup=names[setup]))
                continue
            text = ChartText(
                names[setup], t(f"initialization.dist_{which}"), t("initialization.layer")
            )
            fig = shared_figure(
                distribution_over_depth, hist, edges, text=text,
                colorbar_title=t("initialization.share"), style=style, zmax=zmax,
            )  # fmt: skip
            show_figure(fig, key=f"in_dist_{setup}")
    st.caption(t("initialization.dist_caption"))
    fig = shared_figure(
        unit_shares,
        [(names[s], r.dead_fraction, r.saturated_fraction) for s, r in results.items()],
        panel_titles=(t("initialization.dead"), t("initialization.saturated")),
        x_title=t("initialization.layer"),
        y_title=t("initialization.share"),
        empty_note=t("initialization.no_saturation"),
        style=style,
    )
    show_figure(fig, key="in_shares_chart")
    st.caption(t("initialization.shares_caption"))


def symmetry_view(fields: dict, config_a: tuple, seed: int, style) -> None:
    """A constant init against setup A's random one: the spread between hidden units over
    ``SYMMETRY_STEPS`` steps, and whether it is exactly zero, rounding, or learning."""
    st.subheader(t("initialization.symmetry_heading"))
    st.markdown(t("initialization.symmetry_intro", steps=SYMMETRY_STEPS))
    # On a projector the chart needs the full width for its title and labels.
    c1, c2 = (st.container(), st.container()) if style.projector else st.columns([1, 2])
    with c1:
        sym_init = field(fields, "in_sym_init")
        sym_val = field(fields, "in_sym_val", label="val", disabled=sym_init != "constant")
    a_init, a_params, a_act, _ = config_a
    constant_kwargs = (("val", float(sym_val)),) if sym_init == "constant" else ()
    curves = []
    with c2:
        try:
            fixed = symmetry(sym_init, constant_kwargs, a_act, seed)
            random_init = symmetry(a_init, a_params, a_act, seed)
        except ValueError as error:
            st.warning(problem_text(error), icon=":material/warning:")
        else:
            fixed_name = f"{sym_init}_" + (f"(val={sym_val:g})" if sym_init == "constant" else "")
            curves = [(fixed_name, fixed.spread), (f"{a_init}_", random_init.spread)]
            fig = shared_figure(
                symmetry_spread,
                curves,
                text=ChartText(
                    t("initialization.symmetry_title", act=t(f"activations.names.{a_act}")),
                    t("initialization.step"),
                    t("initialization.spread"),
                ),
                style=style,
            )
            show_figure(fig, key="in_symmetry_chart")
    if curves:
        final = float(fixed.spread[-1])
        scale = abs(float(sym_val)) if sym_init == "constant" else 0.0
        if final == 0.0:
            st.success(t("initialization.sym_exact", name=fixed_name, steps=SYMMETRY_STEPS))
        elif _identical(final, scale):
            st.success(
                t("initialization.sym_rounding", name=fixed_name, spread=f"{final:.1e}",
                  steps=SYMMETRY_STEPS)
            )  # fmt: skip
        else:
            st.warning(t("initialization.sym_broken", name=fixed_name, spread=f"{final:.3g}"))
        st.caption(
            t(
                "initialization.sym_random",
                name=f"{a_init}_",
                spread=f"{random_init.spread[-1]:.3g}",
            )
        )
        if sym_init == "zeros" or float(sym_val) == 0.0:
            st.caption(t("initialization.sym_zero_note"))


def training_results(runs: list, style) -> None:
    """The loss curves of the short training runs, a note for each that diverged, and the mean
    loss of the last 20 steps."""
    for name, curve in runs:
        if curve.diverged_at is not None:
            st.error(
                t("initialization.train_diverged", setup=name, step=curve.diverged_at + 1),
                icon=":material/local_fire_department:",
            )
    drawable = [(name, curve.loss) for name, curve in runs if len(curve.loss)]
    if not drawable:
        return
    text = ChartText(
        t("initialization.train_title"), t("initialization.step"), t("initialization.loss_axis")
    )
    fig = shared_figure(training_losses, drawable, text=text, style=style)
    show_figure(fig, key="in_train_chart")
    st.dataframe(
        {
            t("initialization.col_setup"): [name for name, _ in drawable],
            t("initialization.col_final_loss"): [
                f"{np.mean(loss[-20:]):.3f}" for _, loss in drawable
            ],
        },
        hide_index=True,
        key="in_train_table",
    )


# ---------------------------------------------------------------- guided experiments
# Each resets the page's settings (in_…), then sets these.

EXPERIMENTS = {
    # Measured (seed 0, built-in digits): saturated share at layer 20 56 %, loss 35 (vs 2.3).
    "sigmoid_normal": {
        "in_compare": False, "in_depth": 20, "in_width": 256, "in_data": "mnist",
        **setup_values("a", "normal", "sigmoid", mean=0.0, std=1.0),
    },
    # Measured: activation std 0.72 -> 0.00094 with Xavier, 0.83 -> 0.79 with He; mean loss of the
    # last 20 of 200 SGD steps 0.28-0.42 with He and 2.30 (chance) with Xavier (seeds 0-2).
    "relu_xavier_he": {
        "in_compare": True, "in_depth": 20, "in_width": 256, "in_data": "mnist",
        "in_opt": "sgd", "in_lr": 0.01,
        **setup_values("a", "kaiming_normal", "relu"),
        **setup_values("b", "xavier_normal", "relu"),
    },
    # Measured: spread exactly 0 for zeros_, 0 or float32 rounding (7e-9) for constant_, 0.34 for He.
    "symmetry": {
        "in_sym_init": "constant", "in_sym_val": 0.1,
        **setup_values("a", "kaiming_normal", "relu"),
    },
    # Measured: std at layer 20 1.6e-19 without batch norm, 0.58-0.60 in every layer with it; mean
    # loss of the last 20 of 200 steps 2.30 vs 0.46-0.50 (seeds 0-2).
    "batch_norm": {
        "in_compare": True, "in_depth": 20, "in_width": 256, "in_data": "mnist",
        "in_opt": "sgd", "in_lr": 0.01,
        **setup_values("a", "normal", "relu", mean=0.0, std=0.01),
        **setup_values("b", "normal", "relu", True, mean=0.0, std=0.01),
    },
    # Measured: 84-91 % of tanh values saturated in every layer with N(0, 1); with Xavier and gain
    # 5/3, 14 % in layer 1 and under 1 % from layer 4 on.
    "tanh_saturation": {
        "in_compare": True, "in_depth": 20, "in_width": 256, "in_data": "mnist",
        **setup_values("a", "normal", "tanh", mean=0.0, std=1.0),
        **setup_values("b", "xavier_normal", "tanh", gain=5 / 3),
    },
    # Measured: N(0, 1) with ReLU overflows float32 at layer 36 of 50.
    "explode": {
        "in_compare": False, "in_depth": 50, "in_width": 256, "in_data": "mnist",
        **setup_values("a", "normal", "relu", mean=0.0, std=1.0),
    },
}  # fmt: skip
