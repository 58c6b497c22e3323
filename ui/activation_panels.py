"""The activations and losses page's pieces: its cached core calls, the finite-difference badge,
and its views, each a function of the values the page read from its fields."""

import numpy as np
import streamlit as st

from core.activations import ACTIVATION_PARAMS, ACTIVATIONS
from core.gradcheck import gradient_check, low_gradient_intervals
from core.losses import (
    LOSS_KINDS,
    LOSS_PARAMS,
    cross_entropy_naive,
    cross_entropy_stable,
    loss_curve,
    loss_gradient_check,
    softmax,
    softmax_naive,
)
from core.losses import TORCH_NAMES as LOSS_TORCH
from core.params import ParamError
from core.robust_fit import fit_constant, outlier_sample
from ui.controls import show_code, show_figure, show_formula
from ui.fields import Field, field
from ui.figure_cache import shared_figure
from ui.i18n import t
from ui.plots.activations import (
    Series,
    curves_with_derivatives,
    format_number,
    outlier_strip,
    probability_bars,
)
from ui.theme import ChartText

GRID_POINTS = 401  # odd, so z = 0 is a grid point and ReLU's kink is drawn exactly
SATURATION = 0.05  # |f′| below this is shaded as "saturated"
FD_TOLERANCE = 1e-5  # relative gap for a ✓; central differences are O(h) ≈ 6e-6 where f″ jumps
STABILITY_LOGITS = (2.0, 1.0, 0.1)


# ---------------------------------------------------------------- each function's parameters


def activation_param_key(name: str, param: str) -> str:
    return f"act_{name}_{param}"


def loss_param_key(name: str, param: str) -> str:
    return f"loss_{name}_{param}"


def function_fields(registry_params: dict, key_of) -> dict[str, Field]:
    """A field for each parameter of each function in ``registry_params``, keyed by ``key_of``."""
    return {
        key_of(name, param): Field(
            spec, "select" if spec.kind == "choice" else "slider", None,
            None if spec.kind == "choice" else f"activations.param_help.{param}",
        )
        for name, params in registry_params.items()
        for param, spec in params.items()
    }  # fmt: skip


FUNCTION_FIELDS = function_fields(ACTIVATION_PARAMS, activation_param_key) | function_fields(
    LOSS_PARAMS, loss_param_key
)


def parameter_widgets(name: str, specs: dict, key_of) -> tuple:
    """The widgets of one function's parameters; returns their values as a sorted tuple."""
    function = t(f"activations.names.{name}")
    values = {
        param: field(FUNCTION_FIELDS, key_of(name, param),
                     label=t("activations.param_label", function=function, param=param))
        for param in specs
    }  # fmt: skip
    return tuple(sorted(values.items()))


# ---------------------------------------------------------------- cached core calls


@st.cache_data(max_entries=512, show_spinner=False)
def activation_data(name: str, params: tuple, zmax: float, trace_x: float):
    """Curve, derivative, flat zones, FD check and the traced values of one activation."""
    act = ACTIVATIONS[name](**dict(params))
    z = np.linspace(-zmax, zmax, GRID_POINTS)
    dy = act.grad(z)
    at = np.array([trace_x])
    return (
        z,
        act.fn(z),
        dy,
        low_gradient_intervals(z, dy, SATURATION),
        gradient_check(act.fn, act.grad, z),
        (float(act.fn(at)[0]), float(act.grad(at)[0])),
    )


@st.cache_data(max_entries=512, show_spinner=False)
def loss_data(name: str, params: tuple, x_range: tuple, domain: tuple, target: float):
    """Loss and slope along x for a fixed target, and the FD check of the whole gradient."""
    kwargs = dict(params)
    x = np.linspace(*x_range, GRID_POINTS)
    values, slopes = loss_curve(name, x, target, **kwargs)
    return x, values, slopes, loss_gradient_check(name, x, target, domain, **kwargs)


@st.cache_data(max_entries=128, show_spinner=False)
def outlier_data(share: float, offset: float, delta: float, seed: int):
    """The demo sample and where the three losses put a constant."""
    data, is_outlier = outlier_sample(
        np.random.default_rng(seed), n=40, outlier_share=share, outlier_offset=offset
    )
    return data, is_outlier, fit_constant(data, delta)


# ---------------------------------------------------------------- small presentation helpers


def fd_badge(check) -> str:
    """The visible correctness check: ✓ or ⚠ with the largest gap, skipped kinks mentioned."""
    if check.checked == 0 or not np.isfinite(check.max_gap):
        return t("activations.fd_not_finite")
    key = "activations.fd_ok" if check.max_relative_gap < FD_TOLERANCE else "activations.fd_bad"
    badge = t(key, gap=f"{check.max_gap:.0e}")
    if check.skipped_kinks:
        badge += " " + t("activations.fd_kinks", count=check.skipped_kinks)
    return badge


def bad_parameter(name: str, error: ParamError) -> None:
    """Name the parameter that makes the function undefined."""
    st.warning(
        t("activations.bad_param", function=t(f"activations.names.{name}"), param=error.param),
        icon=":material/warning:",
    )


def formula_cards(names: list[str], formulas: dict, torch_calls: dict) -> None:
    """Formula, one-line 'when to use' and the torch call of each function, two per row."""
    for start in range(0, len(names), 2):
        columns = st.columns(2)
        for column, name in zip(columns, names[start : start + 2], strict=False):
            with column, st.container(border=True):
                st.markdown(f"**{t(f'activations.names.{name}')}**")
                show_formula(formulas[name])
                st.caption(t(f"activations.when.{name}"))
                show_code(torch_calls[name])


# ---------------------------------------------------------------- views


def activation_chart(names: list, params: dict, zmax: float, trace_x: float, style) -> None:
    """Each chosen activation and its derivative over [-zmax, zmax], with their values at the
    trace point and the finite-difference check."""
    series, rows = [], []
    for name in names:
        try:
            z, y, dy, intervals, check, at = activation_data(
                name, params.get(name, ()), zmax, trace_x
            )
        except ParamError as error:
            bad_parameter(name, error)
            continue
        label = t(f"activations.names.{name}")
        series.append(Series(label, y, dy, intervals, at))
        rows.append(
            {
                t("activations.col_function"): label,
                "f(x)": format_number(at[0]),
                "f′(x)": format_number(at[1]),
                t("activations.col_check"): fd_badge(check),
            }
        )
    if series:
        fig = shared_figure(
            curves_with_derivatives,
            z,
            series,
            trace_x,
            text=ChartText(
                t("activations.fig_title"), t("activations.axis_z"), t("activations.axis_value")
            ),
            derivative_name=t("activations.derivative_name"),
            saturation_name=t("activations.saturation", threshold=SATURATION),
            style=style,
        )
        show_figure(fig, key="act_figure")
        st.markdown(t("activations.trace_caption", x=format_number(trace_x)))
        st.dataframe(rows, hide_index=True, width="stretch")


def loss_axis(task: str, target: float, half_width: float) -> tuple[tuple, tuple]:
    """What the x axis of a group of losses spans, and where its values may go (``target`` is
    the regression target, or the label of the other tasks)."""
    if task == "regression":
        return (target - half_width, target + half_width), (-np.inf, np.inf)
    if task == "classification":
        return (-half_width, half_width), (-np.inf, np.inf)
    if task == "probability":
        # Not 0 and 1 themselves: BCE is clamped at 100 there and its slope explodes.
        return (0.005, 0.995), (0.0, 1.0)
    return (0.0, half_width), (0.0, np.inf)


def loss_chart(
    task: str, loss_names: list, loss_params: dict, target, half_width: float, style
) -> None:
    """Each chosen loss and its gradient along the prediction, with its torch call and check;
    ``target`` is the regression target, or the label of the other tasks."""
    x_range, domain = loss_axis(task, target, half_width)
    series, rows = [], []
    for name in loss_names:
        if task == "regression":
            y_target = target
        elif LOSS_KINDS[name] == "margin":
            y_target = 2.0 * target - 1.0  # hinge losses use labels −1 / +1
        else:
            y_target = float(target)
        try:
            x, values, slopes, check = loss_data(
                name, loss_params.get(name, ()), x_range, domain, y_target
            )
        except ParamError as error:
            bad_parameter(name, error)
            continue
        label = t(f"activations.names.{name}")
        series.append(Series(label, values, slopes, []))
        rows.append(
            {
                t("activations.col_function"): label,
                t("activations.col_torch"): LOSS_TORCH[name].format(
                    **dict(loss_params.get(name, ()))
                ),
                t("activations.col_check"): fd_badge(check),
            }
        )
    if series:
        fig = shared_figure(
            curves_with_derivatives,
            x,
            series,
            None,
            text=ChartText(
                t(f"activations.loss_fig_title.{task}"),
                t(f"activations.loss_axis.{task}"),
                t("activations.axis_loss"),
            ),
            derivative_name=t("activations.gradient_name"),
            saturation_name="",
            style=style,
        )
        show_figure(fig, key="loss_figure")
        st.dataframe(rows, hide_index=True, width="stretch")


def outliers_view(share: float, offset: float, delta: float, seed: int, style) -> None:
    """A share of the points moved away by ``offset``, and where mean, median and Huber put the
    best constant."""
    data, is_outlier, fit = outlier_data(share, offset, delta, seed)
    fits = [
        (t("activations.fit_mean"), fit.mean),
        (t("activations.fit_median"), fit.median),
        (t("activations.fit_huber", delta=format_number(delta)), fit.huber),
    ]
    show_figure(
        shared_figure(
            outlier_strip,
            data,
            is_outlier,
            fits,
            text=ChartText(
                t("activations.outliers_fig_title", count=int(is_outlier.sum()), n=data.size),
                t("activations.axis_data"),
            ),
            inlier_name=t("activations.inliers"),
            outlier_name=t("activations.outliers"),
            style=style,
        ),
        key="out_figure",
    )
    m1, m2, m3 = st.columns(3)
    m1.metric(fits[0][0], format_number(fit.mean))
    m2.metric(fits[1][0], format_number(fit.median))
    m3.metric(fits[2][0], format_number(fit.huber))
    if not fit.converged:
        st.warning(t("activations.huber_not_converged", iterations=fit.iterations))
    st.caption(t("activations.huber_method", iterations=fit.iterations))


def probability_text(title_key: str) -> ChartText:
    """The words of a chart of probability per class, titled by the string at ``title_key``."""
    return ChartText(t(title_key), t("activations.axis_class"), t("activations.axis_probability"))


def softmax_view(log_scale: float, label: int, style) -> None:
    """The logits scaled by 10^log_scale through the naive and the log-sum-exp softmax, and the
    cross-entropy of ``label`` both ways."""
    scale = 10.0**log_scale
    logits = np.array(STABILITY_LOGITS) * scale
    naive = softmax_naive(logits)
    stable = softmax(logits)
    ce_naive = cross_entropy_naive(logits, label)
    ce_stable = cross_entropy_stable(logits, label)
    classes = [t("activations.class_name", index=i) for i in range(len(logits))]
    st.markdown(
        t(
            "activations.stab_logits",
            scale=format_number(scale),
            logits=", ".join(format_number(v) for v in logits),
        )
    )
    left, right = st.columns([1.2, 1])
    with left:
        show_figure(
            shared_figure(
                probability_bars,
                classes,
                [(t("activations.naive"), naive), (t("activations.stable"), stable)],
                text=probability_text("activations.stab_fig_title"),
                style=style,
            ),
            key="stab_figure",
        )
    with right:
        table = [
            {
                t("activations.axis_class"): classes[i],
                t("activations.col_logit"): format_number(logits[i]),
                t("activations.naive"): format_number(naive[i]),
                t("activations.stable"): format_number(stable[i]),
            }
            for i in range(len(logits))
        ]
        st.table(table)
        m1, m2 = st.columns(2)
        m1.metric(t("activations.ce_naive"), format_number(ce_naive))
        m2.metric(t("activations.ce_stable"), format_number(ce_stable))
        if not (np.all(np.isfinite(naive)) and np.isfinite(ce_naive)):
            st.warning(t("activations.stab_overflow"), icon=":material/warning:")
        else:
            st.success(t("activations.stab_fine"), icon=":material/check_circle:")


def temperature_view(fields: dict, style) -> None:
    """softmax(z / T) beside softmax(z): how the temperature sharpens or flattens the choice."""
    st.subheader(t("activations.temperature_heading"))
    temperature = field(fields, "stab_temperature")
    base = np.array(STABILITY_LOGITS)
    series = [(t("activations.temperature_one"), softmax(base))]
    if temperature != 1.0:  # at T = 1 a second series would repeat the first under the same name
        label = t("activations.temperature_t", T=format_number(temperature))
        series.append((label, softmax(base, temperature)))
    show_figure(
        shared_figure(
            probability_bars,
            [t("activations.class_name", index=i) for i in range(len(base))],
            series,
            text=probability_text("activations.temperature_fig_title"),
            style=style,
        ),
        key="temp_figure",
    )
    st.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}")
    st.caption(t("activations.temperature_caption"))


# Guided experiments, one group per panel: each resets its own panel's settings (the panels rerun
# alone, so another panel's widgets would not show the reset).
ACTIVATION_EXPERIMENTS = {
    "sigmoid": {"act_names": ["sigmoid", "tanh"], "act_zmax": 6.0, "act_x": 0.0},
    "dead_relu": {"act_names": ["relu", "leaky_relu"], "act_zmax": 6.0, "act_x": -2.0,
                  activation_param_key("leaky_relu", "negative_slope"): 0.1},
}  # fmt: skip
OUTLIER_EXPERIMENTS = {"outliers": {"out_share": 0.3, "out_offset": 20.0, "out_delta": 1.0}}
STABILITY_EXPERIMENTS = {
    "fuse": {"stab_log_scale": 3.0, "stab_label": 2},
    "temperature": {"stab_temperature": 0.1},
}
