"""Learning-rate schedules: several side by side, their formulas and torch code, a chain builder,
and a short training run on the 8×8 digits with each schedule."""

import numpy as np
import streamlit as st

from core.params import Param
from core.schedules import (
    LR_PARAM,
)
from ui.controls import (
    current_plot_style,
    enter_through_shell,
    panel_fragment,
)
from ui.errors import guarded_panel
from ui.fields import Field, bind_fields, field, fields_in_columns
from ui.i18n import t
from ui.panels import experiments, run_on_click, train_button
from ui.schedule_list import (
    DEFAULT_IDS,
    DEFAULT_KINDS,
    IDS,
    KINDS,
    LIST_KEY,
    add_schedule,
    apply_seed_five,
    kind_field,
    kind_label,
    param_fields,
    schedule_card,
    schedule_key,
)
from ui.schedule_panels import (
    EXPERIMENTS,
    TRAIN_BATCH,
    Axis,
    chain_view,
    checked_curve,
    comparison,
    run_label,
    train_with,
    training_plan,
    training_results,
)

enter_through_shell()

# ---------------------------------------------------------------- what the page offers

CHAIN_MAINS = ("cosine_annealing_lr", "step_lr", "exponential_lr", "polynomial_lr")
UNITS = ("step", "epoch")
OPTIMIZERS = ("sgd", "momentum", "adam")


# Labels resolved once per run: AppTest (and Streamlit) may call format_func outside the script.
UNIT_LABELS = {u: t(f"schedules.unit_{u}") for u in UNITS}
OPTIMIZER_LABELS = {o: t(f"optimizers.names.{o}") for o in OPTIMIZERS}


# Fields bound to the URL. LIST_KEY has no widget of its own: the add, copy and remove buttons and
# the presets edit it.
FIELDS = {
    "sch_total": Field(Param("int", 100, low=10, high=2000), "slider", "schedules.total",
                       "schedules.total_help"),
    "sch_unit": Field(Param("choice", "step", options=UNITS), "segmented", "schedules.unit",
                      option_labels=UNIT_LABELS.get),
    "sch_spe": Field(Param("int", 10, low=1, high=1000), "number", "schedules.spe",
                     "schedules.spe_help"),
    "sch_logy": Field(Param("bool", False), "toggle", "schedules.log_y"),
    LIST_KEY: Field(Param("multi", list(DEFAULT_IDS), options=IDS), "multiselect", None),
}  # fmt: skip
# The chain builder and the training run keep their settings out of links, as they always have.
LOCAL_FIELDS = {
    "sch_chain_warmup": Field(Param("int", 10, low=0, high=5000), "number",
                              "schedules.chain_warmup", "schedules.chain_warmup_help"),
    "sch_chain_main": Field(Param("choice", "cosine_annealing_lr", options=CHAIN_MAINS), "select",
                            "schedules.chain_main", option_labels=kind_label),
    "sch_chain_cycle": Field(Param("int", 30, low=1, high=5000), "number",
                             "schedules.chain_cycle", "schedules.chain_cycle_help"),
    "sch_chain_start": Field(Param("float", 0.1, low=0.0, high=1.0, step=0.05), "number", None,
                             "schedules.help.start_factor"),
    "sch_chain_lr": Field(LR_PARAM, "number", None, "schedules.help.lr"),
    "sch_chain_restarts": Field(Param("int", 2, low=0, high=20), "number",
                                "schedules.chain_restarts", "schedules.chain_restarts_help"),
    "sch_chain_gamma": Field(Param("float", 0.8, low=-10.0, high=10.0, step=0.05), "number", None,
                             "schedules.help.gamma"),
    "sch_train_opt": Field(Param("choice", "momentum", options=OPTIMIZERS), "select",
                           "schedules.train_optimizer", option_labels=OPTIMIZER_LABELS.get),
    "sch_seed": Field(Param("int", 0, low=0, high=9999), "number", "schedules.seed"),
}  # fmt: skip


# ---------------------------------------------------------------- panels


def settings_panel(ids: list[str]) -> tuple[int, str, int, bool]:
    """Total steps, x unit, steps per epoch, log axis, and the preset and add buttons."""
    c1, c4 = st.columns([3, 1], vertical_alignment="bottom")
    c2, c3, b1, b2 = st.columns([2, 2, 2, 2], vertical_alignment="bottom")
    with c1:
        total = field(FIELDS, "sch_total")
    with c2:
        unit = field(FIELDS, "sch_unit")
    with c3:
        steps_per_epoch = field(FIELDS, "sch_spe", disabled=unit != "epoch")
    with c4:
        log_y = field(FIELDS, "sch_logy")
    with b1:
        st.button(t("schedules.preset_five"), key="_sch_preset_five", on_click=apply_seed_five,
                  help=t("schedules.preset_five_help"), icon=":material/auto_awesome:")  # fmt: skip
    with b2:
        st.button(t("schedules.add"), key="_sch_add", on_click=add_schedule,
                  disabled=len(ids) >= len(IDS), icon=":material/add:")  # fmt: skip
    return total, unit, steps_per_epoch, log_y


@panel_fragment
def chain_panel() -> None:
    """The chain builder, a panel of its own: its widgets rerun it alone."""
    with guarded_panel(t("schedules.panel_chain")):
        chain_view(LOCAL_FIELDS, axis)


# ---------------------------------------------------------------- page

style = current_plot_style()
st.session_state.setdefault(LIST_KEY, list(DEFAULT_IDS))
bind_fields(FIELDS)
ids = [i for i in st.session_state[LIST_KEY] if i in IDS]
bind_fields({key: f for sid in ids for key, f in kind_field(sid).items()})
per_schedule = {}
for sid in ids:
    kind = st.session_state.get(schedule_key(sid, "kind"), DEFAULT_KINDS[sid])
    per_schedule |= param_fields(sid, kind if kind in KINDS else DEFAULT_KINDS[sid])
bind_fields(per_schedule)

st.title(t("schedules.heading"))
st.markdown(t("schedules.intro"))

with guarded_panel(t("schedules.panel_global")):
    total, unit, steps_per_epoch, log_y = settings_panel(ids)
axis = Axis(total, unit, steps_per_epoch, log_y, style)

built: list[tuple[int, str, float, tuple, np.ndarray]] = []  # (index, kind, lr, params, lrs)
with guarded_panel(t("schedules.panel_compare")):
    st.subheader(t("schedules.compare_heading"))
    if not ids:
        st.info(t("schedules.empty"), icon=":material/info:")
    cards, chart = st.columns([2, 3])
    with cards:
        for index, sid in enumerate(ids):
            with st.container(border=True):
                kind, lr, params = schedule_card(index, sid, len(ids) >= len(IDS), style.projector)
                lrs = checked_curve(run_label(index, kind), kind, lr, params, total)
                if lrs is not None:
                    built.append((index, kind, lr, params, lrs))
    with chart:
        comparison(built, ids, axis)

chain_panel()

with guarded_panel(t("schedules.panel_train")):
    st.subheader(t("schedules.train_heading"))
    st.markdown(t("schedules.train_intro", steps=total, batch=TRAIN_BATCH))
    *columns, button_column = st.columns([2, 1, 2], vertical_alignment="bottom")
    optimizer, seed = fields_in_columns(columns, LOCAL_FIELDS, ("sch_train_opt", "sch_seed"))
    with button_column:
        pressed = train_button("schedules", "_sch_train", disabled=not built)
    plans = tuple(
        (run_label(i, k), training_plan(k, lr, p, lrs, total)) for i, k, lr, p, lrs in built
    )
    setup = (plans, optimizer, int(seed))
    results = run_on_click(
        pressed and bool(built), "_sch_train_result", setup,
        [(name, lambda plan=plan: train_with(plan, optimizer, int(seed))) for name, plan in plans],
        area="schedules",
    )  # fmt: skip
    if results is not None:
        training_results(results, axis)

# ---------------------------------------------------------------- guided experiments
experiments("schedules", EXPERIMENTS, owned=("sch_",))
