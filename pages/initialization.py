"""Weight initialization: activations and gradients through a deep MLP, two setups side by side,
the symmetry that a constant init never breaks, and what each init does to a short training run."""

import streamlit as st

from core.deep_signals import (
    at_lr,
)
from core.initializers import INITIALIZERS
from core.params import Param
from ui.controls import (
    current_plot_style,
    enter_through_shell,
    panel_fragment,
)
from ui.errors import guarded_panel
from ui.fields import Field, bind_fields, field, fields_in_columns
from ui.i18n import t
from ui.initialization_panels import (
    BATCH,
    EXPERIMENTS,
    MAX_DEPTH,
    TRAIN_BATCH,
    TRAIN_IMAGES,
    TRAIN_STEPS,
    distributions_view,
    explosions,
    formula_block,
    init_param_fields,
    setup_fields,
    setup_key,
    setup_name,
    setup_problem,
    setup_widgets,
    signals,
    signals_view,
    symmetry_view,
    training,
    training_results,
)
from ui.panels import experiments, run_on_click, train_button

enter_through_shell()

# ---------------------------------------------------------------- what the page offers

SETUPS = ("a", "b")
INITS = tuple(INITIALIZERS)
DATA = ("mnist", "gaussian")
WIDTHS = (16, 32, 64, 128, 256, 512)
LRS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
OPTIMIZERS = ("sgd", "momentum", "adam")
SYMMETRY_INITS = ("zeros", "constant")
DEFAULTS = {
    "a": {"init": "kaiming_normal", "act": "relu", "bn": False},
    "b": {"init": "xavier_normal", "act": "relu", "bn": False},
}


FIELDS = {
    "in_depth": Field(Param("int", 20, low=1, high=MAX_DEPTH), "slider", "initialization.depth",
                      "initialization.depth_help"),
    "in_width": Field(Param("choice", 256, options=WIDTHS), "select_slider",
                      "initialization.width", "initialization.width_help"),
    "in_data": Field(Param("choice", "mnist", options=DATA), "segmented", "initialization.data",
                     option_labels="initialization.data_"),
    "in_seed": Field(Param("int", 0, low=0, high=9999), "number", "initialization.seed",
                     "initialization.seed_help"),
    "in_compare": Field(Param("bool", True), "toggle", "initialization.compare",
                        "initialization.compare_help"),
    "in_dist": Field(Param("choice", "a", options=("a", "z")), "segmented",
                     "initialization.dist_of", option_labels="initialization.dist_"),
    "in_sym_init": Field(Param("choice", "constant", options=SYMMETRY_INITS), "segmented",
                         "initialization.sym_init", option_labels=lambda init: f"{init}_"),
    "in_sym_val": Field(Param("float", 0.1, low=-1.0, high=1.0, step=0.05), "number", None,
                        "initialization.param_help.val"),
    "in_opt": Field(Param("choice", "sgd", options=OPTIMIZERS), "select",
                    "initialization.optimizer", option_labels="optimizers.names."),
    "in_lr": Field(Param("choice", 0.01, options=LRS), "select_slider", "initialization.lr",
                   "initialization.lr_help"),
}  # fmt: skip
FIELDS |= setup_fields(DEFAULTS)


# ---------------------------------------------------------------- page

style = current_plot_style()

bind_fields(FIELDS)
per_init = {}
for setup in SETUPS:
    init = st.session_state.get(setup_key(setup, "init"), DEFAULTS[setup]["init"])
    per_init |= init_param_fields(setup, init if init in INITS else DEFAULTS[setup]["init"])
bind_fields(per_init)

st.title(t("initialization.heading"))
st.markdown(t("initialization.intro"))

# ---------------------------------------------------------------- the network and the two setups
with guarded_panel(t("initialization.panel_setup")):
    if style.projector:  # two rows, so that the large labels and the data choice fit
        columns = [*st.columns(2, vertical_alignment="bottom"),
                   *st.columns([3, 2], vertical_alignment="bottom")]  # fmt: skip
    else:
        columns = st.columns([3, 2, 3, 2], vertical_alignment="bottom")
    depth, width, data, seed = fields_in_columns(
        columns, FIELDS, ("in_depth", "in_width", "in_data", "in_seed"),
        in_data={"help": t("initialization.data_help", batch=BATCH)},
    )  # fmt: skip
    compare = field(FIELDS, "in_compare")
    shown = SETUPS if compare else SETUPS[:1]
    configs: dict[str, tuple] = {}
    invalid: set[str] = set()
    for column, setup in zip(st.columns(len(shown)), shown, strict=True):
        with column, st.container(border=True):
            st.markdown(f"**{t(f'initialization.setup_{setup}_long')}**")
            configs[setup] = setup_widgets(FIELDS, setup, style.projector)
            problem = setup_problem(configs[setup])
            if problem:
                st.warning(problem, icon=":material/warning:")
                invalid.add(setup)
            with st.expander(t("initialization.formula_heading")):
                formula_block(configs[setup], width, valid=not problem)
    if compare and configs["a"] == configs["b"]:
        st.info(t("initialization.same_setups"), icon=":material/info:")
valid = {setup: config for setup, config in configs.items() if setup not in invalid}


# ---------------------------------------------------------------- signals through depth
with guarded_panel(t("initialization.panel_signals")):
    st.subheader(t("initialization.signals_heading", depth=depth, width=width))
    lr = float(st.session_state.get("in_lr", FIELDS["in_lr"].param.default))
    results = {s: at_lr(signals(c, depth, width, data, int(seed)), lr) for s, c in valid.items()}
    if not results:
        st.info(t("initialization.nothing_valid"), icon=":material/info:")
    names = {setup: setup_name(setup, configs[setup]) for setup in results}
    explosions(results, names, depth)
    if results:
        signals_view(results, names, lr, style)
        distributions_view(results, names, FIELDS, style)


# ---------------------------------------------------------------- symmetry
@panel_fragment
def symmetry_panel() -> None:
    with guarded_panel(t("initialization.panel_symmetry")):
        symmetry_view(FIELDS, configs["a"], int(seed), style)


symmetry_panel()


# ---------------------------------------------------------------- training consequence
with guarded_panel(t("initialization.panel_train")):
    st.subheader(t("initialization.train_heading"))
    st.markdown(
        t("initialization.train_intro", steps=TRAIN_STEPS, batch=TRAIN_BATCH, images=TRAIN_IMAGES)
    )
    *columns, button_column = st.columns(3, vertical_alignment="bottom")
    optimizer, _ = fields_in_columns(columns, FIELDS, ("in_opt", "in_lr"))  # lr was read above
    with button_column:
        pressed = train_button("initialization", "_in_train", disabled=not valid)
    plan = tuple((setup_name(s, c), c) for s, c in valid.items())
    runs = run_on_click(
        pressed, "_in_train_result", (plan, depth, width, int(seed), optimizer, lr),
        [(name, lambda c=config: training(c, depth, width, int(seed), optimizer, lr))
         for name, config in plan],
        area="initialization",
    )  # fmt: skip
    if runs is not None:
        training_results(runs, style)

# ---------------------------------------------------------------- guided experiments
experiments("initialization", EXPERIMENTS, owned=("in_",))
