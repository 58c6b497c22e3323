"""Optimizers: race torch.optim-style optimizers on a surface; arrows, animation, lr search, maps."""

import numpy as np
import streamlit as st

from core.descent import LR_GRID, best_learning_rate, convergence_map, race
from core.expressions import (
    ALLOWED_FUNCTIONS,
    ExpressionError,
    compile_expression,
    nonfinite_fraction,
)
from core.optimizers import OPTIMIZER_ENTRIES, OPTIMIZERS, make
from core.params import Param
from core.path_metrics import clamp_start, effective_step, finite_step, loss_grid, summarize
from core.surfaces import SURFACES, surface_from_expression
from ui.controls import (
    current_plot_style,
    enter_through_shell,
    show_figure,
)
from ui.errors import guarded_panel
from ui.fields import Field, bind_fields, field
from ui.figure_cache import shared_figure
from ui.formulas import OPTIMIZER_FORMULAS
from ui.i18n import t
from ui.panels import experiments
from ui.plots.optimizers import (
    contour_with_paths,
    convergence_heatmap,
    gap_curves,
    loss_curves,
    lr_search_curves,
    race_animation,
    step_arrows,
    surface_3d,
)

enter_through_shell()

CUSTOM = "custom"
SURFACE_CHOICES = (*SURFACES, CUSTOM)
DEFAULT_SURFACE = "rosenbrock"
DEFAULT_OPTIMIZERS = ["sgd", "momentum", "adam"]
DEFAULT_FORMULA = "x**2 + 3*sin(y)"
CUSTOM_START = (1.5, 1.5)
DEFAULT_STEPS = 500
TOLERANCES = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)
START_LIMIT = 1000.0  # the number inputs' range; the surface's own box is enforced by clamping
GRID_RESOLUTION = 120
MAX_FRAMES = 60
MAP_LRS = np.logspace(-5, 0, 40)
MAP_MOMENTA = np.linspace(0.0, 0.99, 40)
FIXED = {"nesterov"}  # set by the registry entry (sgd / momentum / nesterov), not a widget


def hp_key(name: str, hp: str) -> str:
    """Widget key of one optimizer's hyperparameter (also its URL parameter name)."""
    return f"opt_{name}_{hp}"


def exposed(name: str) -> list[str]:
    """Hyperparameters of ``name`` that get a widget, in torch's argument order."""
    return [hp for hp in OPTIMIZER_ENTRIES[name].hyperparameters if hp not in FIXED]


def default_start(surface_key: str) -> tuple[float, float]:
    """Where a race on this surface starts unless the user picks a point."""
    return CUSTOM_START if surface_key == CUSTOM else tuple(SURFACES[surface_key]().start)


X0, Y0 = default_start(DEFAULT_SURFACE)
FIELDS = {
    "opt_surface": Field(Param("choice", DEFAULT_SURFACE, options=SURFACE_CHOICES), "select",
                         "optimizers.surface", "optimizers.surface_help",
                         option_labels="optimizers.surfaces."),
    "opt_names": Field(Param("multi", DEFAULT_OPTIMIZERS, options=tuple(OPTIMIZERS)),
                       "multiselect", "optimizers.optimizers", "optimizers.optimizers_help",
                       option_labels="optimizers.names."),
    "opt_steps": Field(Param("int", DEFAULT_STEPS, 10, 2000, step=10), "slider",
                       "optimizers.steps", "optimizers.steps_help"),
    "opt_x0": Field(Param("float", X0, -START_LIMIT, START_LIMIT, step=0.1), "number",
                    "optimizers.x0", "optimizers.start_help"),
    "opt_y0": Field(Param("float", Y0, -START_LIMIT, START_LIMIT, step=0.1), "number",
                    "optimizers.y0", "optimizers.start_help"),
    "opt_tol": Field(Param("choice", 1e-3, options=TOLERANCES), "select_slider",
                     "optimizers.tolerance", "optimizers.tolerance_help",
                     option_labels=lambda v: f"{v:g}"),
    "opt_best_lr": Field(Param("bool", False), "toggle", "optimizers.best_lr",
                         "optimizers.best_lr_help"),
    "opt_show_3d": Field(Param("bool", False), "toggle", "optimizers.show_3d"),
    "opt_formula": Field(Param("text", DEFAULT_FORMULA), "text", "optimizers.formula",
                         "optimizers.formula_help"),
    "opt_step": Field(Param("int", 0, 0, 2000), "slider", "optimizers.scrub",
                      "optimizers.scrub_help"),
    "opt_map_steps": Field(Param("int", 300, 50, 1000, step=50), "slider",
                           "optimizers.map_steps", "optimizers.map_steps_help"),
}  # fmt: skip


def hp_field(name: str, hp: str) -> Field:
    """The widget of one hyperparameter of ``name``: its range and default from the registry."""
    param = OPTIMIZER_ENTRIES[name].hyperparameters[hp]
    widget = "checkbox" if param.kind == "bool" else "number"
    return Field(param, widget, f"optimizers.hp.{hp}", f"optimizers.hp_help.{hp}")


HP_FIELDS = {hp_key(name, hp): hp_field(name, hp) for name in OPTIMIZERS for hp in exposed(name)}


def reset_start() -> None:
    """A new surface starts from its own classic start point."""
    x0, y0 = default_start(st.session_state["opt_surface"])
    st.session_state["opt_x0"], st.session_state["opt_y0"] = x0, y0
    st.session_state["opt_step"] = 0


def start_from_click() -> None:
    """Clicking a point on the contour moves the start there (runs before the next script run)."""
    event = st.session_state.get("_opt_map")
    points = (event or {}).get("selection", {}).get("points", [])
    if points and "x" in points[0] and "y" in points[0]:
        st.session_state["opt_x0"] = round(float(points[0]["x"]), 3)
        st.session_state["opt_y0"] = round(float(points[0]["y"]), 3)
        st.session_state["opt_step"] = 0


@st.cache_resource(max_entries=64)
def compiled(formula: str):
    """The typed formula compiled once per text (sympy is slow; the result is read-only)."""
    return compile_expression(formula)


def build_surface(surface_key: str, formula: str):
    """The Surface for a registry key, or for the typed formula."""
    if surface_key == CUSTOM:
        return surface_from_expression(compiled(formula), start=CUSTOM_START)
    return SURFACES[surface_key]()


@st.cache_data(max_entries=64)
def grid(surface_key: str, formula: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y axes and f on the plotting grid."""
    return loss_grid(build_surface(surface_key, formula), GRID_RESOLUTION)


@st.cache_data(max_entries=128)
def run_race(surface_key: str, formula: str, settings: tuple, start: tuple, steps: int) -> list:
    """One Path per (name, hyperparameters) in ``settings``, all raced in one loop."""
    optimizers = [make(name, **dict(hps)) for name, hps in settings]
    results = race(optimizers, build_surface(surface_key, formula), start, steps)
    return [r.path(0) for r in results]


@st.cache_data(max_entries=64)
def search_lrs(surface_key: str, formula: str, settings: tuple, start: tuple, steps: int) -> list:
    """LrSearch per optimizer over LR_GRID, other hyperparameters as chosen."""
    makers = [
        (lambda lr, name=name, hps=hps: make(name, **{**dict(hps), "lr": lr}))
        for name, hps in settings
    ]
    return best_learning_rate(makers, build_surface(surface_key, formula), start, steps, LR_GRID)


@st.cache_data(max_entries=64)
def momentum_map(surface_key: str, formula: str, start: tuple, steps: int, eps: float):
    """Convergence map of SGD with momentum over MAP_LRS × MAP_MOMENTA (None without a target)."""
    surface = build_surface(surface_key, formula)
    if surface.f_min is not None:
        criterion = "loss"
    elif surface.minima:
        criterion = "distance"
    else:
        return None
    return convergence_map(surface, MAP_LRS, MAP_MOMENTA, steps, eps, start, criterion)


@st.cache_resource(max_entries=16)
def animation_figure(
    surface_key, formula, settings, start, steps, labels, log_levels, colorbar, style, texts
):
    """The animated race, built once per setup (60 frames take a while to validate)."""
    surface = build_surface(surface_key, formula)
    xs, ys, z = grid(surface_key, formula)
    paths = run_race(surface_key, formula, settings, start, steps)
    title, minimum, step, play, fast, pause = texts
    return shared_figure(
        race_animation,
        xs,
        ys,
        z,
        [(label, p.points) for label, p in zip(labels, paths, strict=True)],
        sorted({int(k) for k in np.linspace(0, steps, min(MAX_FRAMES, steps + 1))}),
        bounds=surface.bounds,
        f_min=surface.f_min,
        log_levels=log_levels,
        minima=surface.minima,
        title=title,
        colorbar_title=colorbar,
        minimum_label=minimum,
        step_label=step,
        play_label=play,
        fast_label=fast,
        pause_label=pause,
        style=style,
    )


def fmt(value) -> str:
    """A number as a teacher would write it."""
    if isinstance(value, bool) or value is None:
        return str(value)
    return format(float(value), ".4g")


def legend_name(name: str, hps: dict) -> str:
    """Optimizer name with its non-zero settings (eps omitted: it rarely matters on a surface)."""
    shown = [f"{hp}={fmt(v)}" for hp, v in hps.items() if hp not in FIXED | {"eps"} and v]
    return f"{t(f'optimizers.names.{name}')} ({', '.join(shown)})"


def formula_error(error: ExpressionError, formula: str) -> None:
    """Say why the typed formula was refused, with a caret under the position."""
    st.error(t("optimizers.formula_error", reason=t(f"optimizers.errors.{error.code}")))
    if error.names:
        st.markdown(t("optimizers.formula_unknown", names=", ".join(f"`{n}`" for n in error.names)))
    if error.position is not None and len(formula) <= 200:
        st.code(f"{formula}\n{' ' * (error.position - 1)}^", language=None)


# ---------------------------------------------------------------------------------------------
# Widgets

bind_fields(FIELDS | HP_FIELDS)
st.title(t("optimizers.heading"))
st.markdown(t("optimizers.intro"))

left, middle, right = st.columns([2, 4, 2])
with left:
    surface_key = field(FIELDS, "opt_surface", on_change=reset_start)
with middle:
    names = field(FIELDS, "opt_names")
with right:
    steps = field(FIELDS, "opt_steps")

c1, c2, c3, c4, c5 = st.columns([1, 1, 1.3, 1.6, 1.4])
with c1:
    x0 = field(FIELDS, "opt_x0", format="%.3f")
with c2:
    y0 = field(FIELDS, "opt_y0", format="%.3f")
with c3:
    tolerance = field(FIELDS, "opt_tol")
with c4:
    use_best_lr = field(FIELDS, "opt_best_lr")
with c5:
    show_3d = field(FIELDS, "opt_show_3d")

formula = DEFAULT_FORMULA
surface = None
if surface_key == CUSTOM:
    formula = field(FIELDS, "opt_formula")
    st.caption(t("optimizers.allowed", functions=", ".join(ALLOWED_FUNCTIONS)))
    try:
        surface = build_surface(CUSTOM, formula)
    except ExpressionError as error:
        formula_error(error, formula)
    else:
        st.caption(t("optimizers.custom_bounds"))
else:
    surface = build_surface(surface_key, formula)

# Hyperparameters: one column per chosen optimizer, widgets from the shared table.
settings: list[tuple[str, tuple]] = []
if names:
    st.subheader(t("optimizers.hyperparameters"))
    columns = st.columns(min(len(names), 4))
    for i, name in enumerate(names):
        with columns[i % len(columns)], st.expander(t(f"optimizers.names.{name}"), expanded=False):
            values = {hp: field(HP_FIELDS, hp_key(name, hp)) for hp in exposed(name)}
            values.update(
                {
                    hp: OPTIMIZER_ENTRIES[name].defaults()[hp]
                    for hp in FIXED
                    if hp in OPTIMIZER_ENTRIES[name].hyperparameters
                }
            )
            try:
                make(name, **values)
            except ValueError as error:
                st.warning(
                    t(
                        "optimizers.invalid_settings",
                        name=t(f"optimizers.names.{name}"),
                        message=error,
                    )
                )
            else:
                settings.append((name, tuple(values.items())))
else:
    st.info(t("optimizers.no_optimizer"), icon=":material/touch_app:")

# ---------------------------------------------------------------------------------------------
# Core

ready = surface is not None and bool(settings)
if surface is not None:
    (start, was_clamped) = clamp_start((x0, y0), surface.bounds)
    if was_clamped:
        st.info(
            t("optimizers.start_clamped", x=fmt(x0), y=fmt(y0), cx=fmt(start[0]), cy=fmt(start[1]))
        )
    xs, ys, z = grid(surface_key, formula)
    bad_share = nonfinite_fraction(z)
    if bad_share > 0:
        st.warning(t("optimizers.formula_nonfinite", percent=f"{bad_share:.1%}"))
    log_levels = surface.log_scale or (surface_key == CUSTOM and bool(np.nanmin(z) >= 0))
    style = current_plot_style()
    colorbar = t("optimizers.colorbar_log") if log_levels else t("optimizers.colorbar")

if ready:
    settings_key = tuple(settings)
    searches = None
    if use_best_lr:
        searches = search_lrs(surface_key, formula, settings_key, start, steps)
        raced = []
        for (name, hps), found in zip(settings, searches, strict=True):
            hps = dict(hps)
            if found.best_lr is not None:
                hps["lr"] = found.best_lr
            raced.append((name, tuple(hps.items())))
        settings_key = tuple(raced)
    paths = run_race(surface_key, formula, settings_key, start, steps)
    labels = [legend_name(name, dict(hps)) for name, hps in settings_key]
    summaries = [summarize(p, surface, tolerance) for p in paths]
    for (name, _), s in zip(settings_key, summaries, strict=True):
        if s.diverged_at == 0:
            st.warning(t("optimizers.diverged_at_start", name=t(f"optimizers.names.{name}")))
        elif s.diverged_at is not None:
            st.warning(
                t("optimizers.diverged", name=t(f"optimizers.names.{name}"), step=s.diverged_at),
                icon=":material/warning:",
            )

    with guarded_panel(t("optimizers.panel_map")):
        if st.session_state.get("opt_step", 0) > steps:
            st.session_state["opt_step"] = steps - 1
        shown_step = field(FIELDS, "opt_step", max_value=steps - 1)
        lrs = [dict(hps)["lr"] for _, hps in settings_key]
        arrows = step_arrows(paths, lrs, shown_step)
        rows = []
        for (name, _), path in zip(settings_key, paths, strict=True):
            if not finite_step(path, shown_step):
                continue
            g, u = path.grads[shown_step], path.updates[shown_step]
            eff = effective_step(path, shown_step)
            rows.append(
                {
                    t("optimizers.col_optimizer"): t(f"optimizers.names.{name}"),
                    t("optimizers.col_grad"): f"({fmt(g[0])}, {fmt(g[1])})",
                    t("optimizers.col_update"): f"({fmt(u[0])}, {fmt(u[1])})",
                    t("optimizers.col_effective"): f"({fmt(eff[0])}, {fmt(eff[1])})",
                }
            )
        map_col, loss_col = st.columns([3, 2])
        with map_col:
            fig = shared_figure(
                contour_with_paths,
                xs,
                ys,
                z,
                [(label, p.points) for label, p in zip(labels, paths, strict=True)],
                bounds=surface.bounds,
                f_min=surface.f_min,
                log_levels=log_levels,
                minima=surface.minima,
                start=start,
                arrows=arrows,
                title=t("optimizers.map_title"),
                colorbar_title=colorbar,
                minimum_label=t("optimizers.minimum"),
                start_label=t("optimizers.start"),
                click_label=t("optimizers.click_here"),
                style=style,
            )
            st.plotly_chart(
                fig,
                key="_opt_map",
                theme=None,
                width="stretch",
                on_select=start_from_click,
                selection_mode="points",
                config={"displaylogo": False},
            )
            st.caption(t("optimizers.map_caption"))
        with loss_col:
            gap = surface.f_min is not None
            curves, log_y = gap_curves(labels, paths, surface.f_min)
            show_figure(
                shared_figure(
                    loss_curves,
                    curves,
                    log_y=log_y,
                    title=t("optimizers.loss_title"),
                    x_title=t("optimizers.step"),
                    y_title=t("optimizers.loss_gap") if gap else t("optimizers.loss"),
                    style=style,
                ),
                key="opt_loss_chart",
            )
        st.markdown(f"**{t('optimizers.effective_title', step=shown_step)}**")
        st.dataframe(rows, hide_index=True, width="stretch")
        st.caption(t("optimizers.effective_caption"))

    if show_3d:
        with guarded_panel(t("optimizers.panel_map")):
            show_figure(
                shared_figure(
                    surface_3d,
                    xs,
                    ys,
                    z,
                    [(label, p.points, p.losses) for label, p in zip(labels, paths, strict=True)],
                    f_min=surface.f_min,
                    log_levels=log_levels,
                    title=t("optimizers.surface_title"),
                    z_title=colorbar,
                    style=style,
                ),
                key="opt_surface_chart",
            )

    with guarded_panel(t("optimizers.panel_results")):
        st.subheader(t("optimizers.results_title"))
        table = []
        for (name, hps), s in zip(settings_key, summaries, strict=True):
            if s.diverged_at is None:
                status = t("optimizers.status_ok")
            else:
                status = t("optimizers.status_diverged", step=s.diverged_at)
            na = t("optimizers.not_available")
            table.append(
                {
                    t("optimizers.col_optimizer"): t(f"optimizers.names.{name}"),
                    t("optimizers.col_lr"): fmt(dict(hps)["lr"]),
                    t("optimizers.col_final_loss"): na
                    if s.final_loss is None
                    else fmt(s.final_loss),
                    t("optimizers.col_distance"): na
                    if s.distance_to_minimum is None
                    else fmt(s.distance_to_minimum),
                    t("optimizers.col_reached"): (
                        na
                        if surface.f_min is None and not surface.minima
                        else t("optimizers.never")
                    )
                    if s.reached_at is None
                    else str(s.reached_at),
                    t("optimizers.col_status"): status,
                }
            )
        st.dataframe(table, hide_index=True, width="stretch")

    if searches is not None:
        with guarded_panel(t("optimizers.panel_best_lr")):
            st.markdown(
                t(
                    "optimizers.best_lr_statement",
                    count=len(LR_GRID),
                    low=fmt(LR_GRID[0]),
                    high=fmt(LR_GRID[-1]),
                    steps=steps,
                )
            )
            for (name, _), found in zip(settings, searches, strict=True):
                label = t(f"optimizers.names.{name}")
                if found.best_lr is None:
                    st.warning(t("optimizers.best_lr_none", name=label))
                else:
                    st.markdown(
                        "- " + t("optimizers.best_lr_found", name=label, lr=fmt(found.best_lr))
                    )
            show_figure(
                shared_figure(
                    lr_search_curves,
                    LR_GRID,
                    [
                        (
                            t(f"optimizers.names.{name}"),
                            found.final_losses - (surface.f_min or 0.0),
                            found.best_lr,
                        )
                        for (name, _), found in zip(settings, searches, strict=True)
                    ],
                    title=t("optimizers.best_lr_title"),
                    x_title=t("optimizers.learning_rate"),
                    y_title=t("optimizers.loss_gap")
                    if surface.f_min is not None
                    else t("optimizers.final_loss"),
                    best_label=t("optimizers.best"),
                    style=style,
                ),
                key="opt_lr_search_chart",
            )

    with guarded_panel(t("optimizers.panel_animation")):
        st.subheader(t("optimizers.animation_title"))
        show_figure(
            animation_figure(
                surface_key,
                formula,
                settings_key,
                start,
                steps,
                tuple(labels),
                log_levels,
                colorbar,
                style,
                (
                    t("optimizers.animation_title"),
                    t("optimizers.minimum"),
                    t("optimizers.step"),
                    t("optimizers.play"),
                    t("optimizers.fast"),
                    t("optimizers.pause"),
                ),
            ),
            key="opt_animation_chart",
        )
        st.caption(t("optimizers.animation_caption"))

if surface is not None:
    with guarded_panel(t("optimizers.panel_convergence")):
        st.subheader(t("optimizers.convergence_title"))
        map_steps = field(FIELDS, "opt_map_steps")
        result = momentum_map(surface_key, formula, start, map_steps, tolerance)
        if result is None:
            st.info(t("optimizers.convergence_unavailable"))
        else:
            current = (
                st.session_state.get(
                    hp_key("momentum", "lr"), OPTIMIZER_ENTRIES["momentum"].defaults()["lr"]
                ),
                st.session_state.get(
                    hp_key("momentum", "momentum"),
                    OPTIMIZER_ENTRIES["momentum"].defaults()["momentum"],
                ),
            )
            show_figure(
                shared_figure(
                    convergence_heatmap,
                    result.lrs,
                    result.momenta,
                    result.steps_to_reach,
                    result.diverged_at,
                    current,
                    title=t("optimizers.convergence_title"),
                    x_title=t("optimizers.learning_rate"),
                    y_title=t("optimizers.momentum_axis"),
                    colorbar_title=t("optimizers.steps_to_reach"),
                    diverged_label=t("optimizers.diverged_label"),
                    never_label=t("optimizers.never_label"),
                    current_label=t("optimizers.current"),
                    style=style,
                ),
                key="opt_convergence_chart",
            )
            caption = (
                "convergence_caption"
                if result.criterion == "loss"
                else "convergence_caption_distance"
            )
            st.caption(
                t(
                    f"optimizers.{caption}",
                    lrs=len(MAP_LRS),
                    momenta=len(MAP_MOMENTA),
                    steps=map_steps,
                )
            )

with guarded_panel(t("optimizers.panel_formulas")):
    st.subheader(t("optimizers.formulas_title"))
    st.caption(t("optimizers.formulas_note"))
    for name in names or DEFAULT_OPTIMIZERS:
        values = OPTIMIZER_ENTRIES[name].defaults()
        values.update(
            {
                hp: st.session_state.get(hp_key(name, hp), v)
                for hp, v in values.items()
                if hp not in FIXED
            }
        )
        st.markdown(f"**{t(f'optimizers.names.{name}')}**")
        st.latex(OPTIMIZER_FORMULAS[name])
        st.code(
            OPTIMIZER_ENTRIES[name].torch_call.format(
                **{k: fmt(v) if not isinstance(v, bool) else v for k, v in values.items()}
            ),
            language="python",
        )

# ---------------------------------------------------------------------------------------------
# Guided experiments

EXPERIMENTS = {
    "sgd_blowup": {
        "opt_surface": "rosenbrock",
        "opt_names": ["sgd"],
        hp_key("sgd", "lr"): 0.01,
        "opt_x0": -1.5,
        "opt_y0": 2.5,
        "opt_best_lr": False,
        "opt_step": 0,
    },
    "overshoot": {
        "opt_surface": "quadratic_bowl",
        "opt_names": ["sgd", "momentum"],
        hp_key("sgd", "lr"): 0.01,
        hp_key("momentum", "lr"): 0.01,
        hp_key("momentum", "momentum"): 0.99,
        "opt_x0": -1.8,
        "opt_y0": 1.0,
        "opt_steps": 500,
        "opt_best_lr": False,
        "opt_step": 0,
    },
    "saddle": {
        "opt_surface": "saddle",
        "opt_names": ["sgd", "rmsprop", "adam"],
        hp_key("sgd", "lr"): 0.01,
        hp_key("rmsprop", "lr"): 0.01,
        hp_key("adam", "lr"): 0.01,
        "opt_x0": 1.5,
        "opt_y0": 0.001,
        "opt_steps": 200,
        "opt_best_lr": False,
        "opt_step": 0,
    },
    "best": {
        "opt_surface": "rosenbrock",
        "opt_names": ["sgd", "momentum", "adam", "rmsprop"],
        "opt_x0": -1.5,
        "opt_y0": 2.5,
        "opt_best_lr": True,
        "opt_step": 0,
    },
}
experiments("optimizers", EXPERIMENTS, owned=("opt_",))
