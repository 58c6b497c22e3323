"""Page 1: activation and loss functions with their derivatives, checked live against central
differences; outliers under MSE/MAE/Huber; the numerical stability of softmax cross-entropy."""

import numpy as np
import streamlit as st

from core.activations import ACTIVATION_PARAMS, ACTIVATIONS
from core.activations import TORCH_NAMES as ACTIVATION_TORCH
from core.losses import (
    LOSS_PARAMS,
    LOSSES,
)
from core.losses import TORCH_NAMES as LOSS_TORCH
from core.params import Param
from ui.activation_panels import (
    ACTIVATION_EXPERIMENTS,
    FUNCTION_FIELDS,
    OUTLIER_EXPERIMENTS,
    STABILITY_EXPERIMENTS,
    activation_chart,
    activation_param_key,
    formula_cards,
    loss_chart,
    loss_param_key,
    outliers_view,
    parameter_widgets,
    softmax_view,
    temperature_view,
)
from ui.controls import (
    current_plot_style,
    enter_through_shell,
    panel_fragment,
    show_code,
    show_formula,
)
from ui.errors import guarded_panel
from ui.fields import Field, bind_fields, field, fields_in_columns
from ui.formulas import ACTIVATION_FORMULAS, LOSS_FORMULAS
from ui.i18n import t
from ui.panels import experiments

enter_through_shell()

DEFAULT_ACTIVATIONS = ["sigmoid", "tanh", "relu"]
# Losses grouped by what their x axis is, so the curves of one chart share an axis.
LOSS_GROUPS = {
    "regression": ("mse", "mae", "huber", "smooth_l1", "log_cosh"),
    "classification": ("bce_with_logits", "cross_entropy", "kl_div", "hinge", "squared_hinge"),
    "probability": ("bce",),
    "pair": ("contrastive",),
}
DEFAULT_LOSSES = {
    "regression": ["mse", "mae", "huber"],
    "classification": ["bce_with_logits", "hinge"],
    "probability": ["bce"],
    "pair": ["contrastive"],
}


FIELDS = {
    "act_names": Field(Param("multi", DEFAULT_ACTIVATIONS, options=tuple(ACTIVATIONS)),
                       "multiselect", "activations.act_names", option_labels="activations.names."),
    "act_zmax": Field(Param("float", 6.0, 1.0, 50.0, step=0.5), "slider", "activations.zmax",
                      "activations.zmax_help"),
    # The widget keeps the trace inside the plotted range (±zmax); a link may name any of it.
    "act_x": Field(Param("float", 0.0, -50.0, 50.0), "slider", "activations.trace_x",
                   "activations.trace_x_help"),
    "loss_task": Field(Param("choice", "regression", options=tuple(LOSS_GROUPS)), "radio",
                       "activations.loss_task", option_labels="activations.tasks."),
    "loss_names": Field(Param("multi", DEFAULT_LOSSES["regression"], options=tuple(LOSSES)),
                        "multiselect", "activations.loss_names", option_labels="activations.names."),
    "loss_target": Field(Param("float", 0.0, -3.0, 3.0, step=0.1), "slider",
                         "activations.loss_target"),
    "loss_label": Field(Param("choice", 1, options=(1, 0)), "radio", None),
    "loss_range": Field(Param("float", 3.0, 0.5, 20.0, step=0.5), "slider",
                        "activations.loss_range"),
    "out_share": Field(Param("float", 0.1, 0.0, 0.5, step=0.025), "slider", "activations.out_share"),
    "out_offset": Field(Param("float", 10.0, 1.0, 50.0, step=1.0), "slider",
                        "activations.out_offset"),
    "out_delta": Field(Param("float", 1.0, 0.1, 5.0, step=0.1), "slider", "activations.out_delta",
                       "activations.out_delta_help"),
    "out_seed": Field(Param("int", 0, 0, 99, step=1), "number", "activations.out_seed"),
    "stab_log_scale": Field(Param("float", 0.0, 0.0, 4.0, step=0.1), "slider",
                            "activations.stab_scale", "activations.stab_scale_help"),
    "stab_label": Field(Param("choice", 0, options=(0, 1, 2)), "select", "activations.stab_label",
                        option_labels=lambda i: t("activations.class_name", index=i)),
    "stab_temperature": Field(Param("float", 1.0, 0.05, 10.0, step=0.05), "slider",
                              "activations.temperature", "activations.temperature_help"),
}  # fmt: skip


bind_fields(FIELDS | FUNCTION_FIELDS)


style = current_plot_style()
st.title(t("activations.heading"))
st.markdown(t("activations.intro"))

tab_act, tab_loss, tab_stab = st.tabs(
    [t("activations.tab_activations"), t("activations.tab_losses"), t("activations.tab_stability")]
)


# ================================================================ activations
@panel_fragment
def activations_panel() -> None:
    with guarded_panel(t("activations.panel_activations")):
        controls, chart = st.columns([1.3, 2.5], gap="medium")
        with controls:
            names = field(FIELDS, "act_names", placeholder=t("activations.choose"))
            zmax = field(FIELDS, "act_zmax")
            # The trace stays inside the plotted range when the range shrinks.
            if "act_x" in st.session_state:
                st.session_state["act_x"] = float(np.clip(st.session_state["act_x"], -zmax, zmax))
            trace_x = field(FIELDS, "act_x", min_value=-zmax, max_value=zmax, step=zmax / 200)
            params = {}
            for name in names:
                if ACTIVATION_PARAMS[name]:
                    params[name] = parameter_widgets(
                        name, ACTIVATION_PARAMS[name], activation_param_key
                    )
        with chart:
            if not names:
                st.info(t("activations.empty_selection"), icon=":material/touch_app:")
            else:
                activation_chart(names, params, zmax, trace_x, style)
        if names:
            st.subheader(t("activations.formulas"))
            torch_calls = {
                name: ACTIVATION_TORCH[name].format(**dict(params.get(name, ()))) for name in names
            }
            formula_cards(names, ACTIVATION_FORMULAS, torch_calls)

        experiments("activations", ACTIVATION_EXPERIMENTS, owned=("act_",))


with tab_act:
    activations_panel()


# ================================================================ losses
@panel_fragment
def losses_panel() -> None:
    with guarded_panel(t("activations.panel_losses")):

        def _reset_losses() -> None:
            st.session_state["loss_names"] = list(DEFAULT_LOSSES[st.session_state["loss_task"]])

        controls, chart = st.columns([1.3, 2.5], gap="medium")
        with controls:
            task = field(FIELDS, "loss_task", on_change=_reset_losses)
            loss_names = field(FIELDS, "loss_names", options=LOSS_GROUPS[task],
                               placeholder=t("activations.choose"))  # fmt: skip
            if task == "regression":
                target = field(FIELDS, "loss_target")
            else:
                target = field(
                    FIELDS, "loss_label", label=t(f"activations.label_title.{task}"),
                    format_func={v: t(f"activations.label_{task}_{v}") for v in (0, 1)}.__getitem__,
                    horizontal=True,
                )  # fmt: skip
            half_width = field(FIELDS, "loss_range", disabled=task == "probability")
            loss_params = {}
            for name in loss_names:
                if LOSS_PARAMS[name]:
                    loss_params[name] = parameter_widgets(name, LOSS_PARAMS[name], loss_param_key)
        with chart:
            if not loss_names:
                st.info(t("activations.empty_losses"), icon=":material/touch_app:")
            else:
                loss_chart(task, loss_names, loss_params, target, half_width, style)
        if loss_names:
            st.subheader(t("activations.formulas"))
            loss_calls = {
                name: LOSS_TORCH[name].format(**dict(loss_params.get(name, ())))
                for name in loss_names
            }
            formula_cards(loss_names, LOSS_FORMULAS, loss_calls)


with tab_loss:
    losses_panel()


@panel_fragment
def outliers_panel() -> None:
    with guarded_panel(t("activations.panel_outliers")):
        st.subheader(t("activations.outliers_heading"))
        st.markdown(t("activations.outliers_intro"))
        share, offset, delta, seed = fields_in_columns(
            st.columns(4), FIELDS, ("out_share", "out_offset", "out_delta", "out_seed"),
            out_share={"format": "%.3f"},
        )  # fmt: skip
        outliers_view(share, offset, delta, int(seed), style)
        experiments("activations", OUTLIER_EXPERIMENTS, owned=("out_",))


with tab_loss:
    outliers_panel()


# ================================================================ numerical stability
@panel_fragment
def stability_panel() -> None:
    with guarded_panel(t("activations.panel_stability")):
        st.markdown(t("activations.stab_intro"))
        log_scale, label = fields_in_columns(
            st.columns(2), FIELDS, ("stab_log_scale", "stab_label")
        )
        softmax_view(log_scale, label, style)
        show_formula(
            r"\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}} = "
            r"\frac{e^{z_i - m}}{\sum_j e^{z_j - m}}, \quad m = \max_j z_j, \qquad "
            r"-\log \operatorname{softmax}(z)_y = \log \sum_j e^{z_j - m} + m - z_y"
        )
        show_code(
            "torch.nn.functional.cross_entropy(logits, label)  # fused log_softmax + nll_loss"
        )

        temperature_view(FIELDS, style)

        experiments("activations", STABILITY_EXPERIMENTS, owned=("stab_",))


with tab_stab:
    stability_panel()
