"""Optimizers: race torch.optim-style optimizers on a surface; arrows, animation, lr search, maps."""

import streamlit as st

from core.optimizers import OPTIMIZER_ENTRIES, on_page
from core.params import Param
from core.surfaces import SURFACES
from ui.controls import current_plot_style, enter_through_shell
from ui.errors import guarded_panel
from ui.fields import Field, bind_fields, field, fields_in_columns, widget_for
from ui.i18n import t
from ui.optimizer_panels import (
    CUSTOM,
    EXPERIMENTS,
    animation,
    best_lr_report,
    convergence,
    default_start,
    exposed,
    formula_cards,
    hp_key,
    hyperparameter_inputs,
    race_map,
    results_table,
    run_race_for,
    scene_for,
    surface_input,
    surface_view,
)
from ui.panels import experiments

enter_through_shell()

SURFACE_CHOICES = (*SURFACES, CUSTOM)
DEFAULT_SURFACE = "rosenbrock"
DEFAULT_OPTIMIZERS = ["sgd", "momentum", "adam"]
# The first race's learning rates, set for this surface (torch's defaults everywhere else). At
# torch's 0.001 Adam hardly leaves Rosenbrock's start in 500 steps (final loss 6.5 of 12.5), and
# SGD zigzags across the valley over the start point. With these, after 500 steps: SGD 6.0 (it
# creeps), momentum at the same lr 0.13, Adam 0.011.
PAGE_LRS = {"sgd": 5e-4, "momentum": 5e-4, "adam": 0.1}
DEFAULT_FORMULA = "x**2 + 3*sin(y)"
DEFAULT_STEPS = 500
TOLERANCES = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)
START_LIMIT = 1000.0  # the number inputs' range; the surface's own box is enforced by clamping


X0, Y0 = default_start(DEFAULT_SURFACE)
FIELDS = {
    "opt_surface": Field(Param("choice", DEFAULT_SURFACE, options=SURFACE_CHOICES), "select",
                         "optimizers.surface", "optimizers.surface_help",
                         option_labels="optimizers.surfaces."),
    "opt_names": Field(Param("multi", DEFAULT_OPTIMIZERS, options=on_page("optimizers")),
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
    """The widget of one hyperparameter of ``name``: its range and default from the registry (the
    lr's default from ``PAGE_LRS`` where it names one)."""
    param = OPTIMIZER_ENTRIES[name].hyperparameters[hp]
    if hp == "lr" and name in PAGE_LRS:
        param = param._replace(default=PAGE_LRS[name])
    return Field(param, widget_for(param), f"optimizers.hp.{hp}", f"optimizers.hp_help.{hp}")


HP_FIELDS = {
    hp_key(name, hp): hp_field(name, hp) for name in on_page("optimizers") for hp in exposed(name)
}


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

# On a projector the two switches get a row of their own, or their labels are cut.
if current_plot_style().projector:
    columns = [*st.columns(3), *st.columns(2)]
else:
    columns = st.columns([1, 1, 1.3, 1.6, 1.4])
x0, y0, tolerance, use_best_lr, show_3d = fields_in_columns(
    columns, FIELDS,
    ("opt_x0", "opt_y0", "opt_tol", "opt_best_lr", "opt_show_3d"),
    opt_x0={"format": "%.3f"}, opt_y0={"format": "%.3f"},
)  # fmt: skip

formula, surface = surface_input(FIELDS, surface_key)
# Hyperparameters: one column per chosen optimizer, widgets from the shared table.
settings = hyperparameter_inputs(names, HP_FIELDS)

# ---------------------------------------------------------------------------------------------
# Core and panels

scene = None if surface is None else scene_for(surface_key, formula, surface, x0, y0)
if scene is not None and settings:
    result = run_race_for(scene, settings, steps, tolerance, use_best_lr)
    with guarded_panel(t("optimizers.panel_map")):
        if st.session_state.get("opt_step", 0) > steps:
            st.session_state["opt_step"] = steps - 1
        shown_step = field(FIELDS, "opt_step", max_value=steps - 1)
        race_map(scene, result, shown_step, on_select=start_from_click)
    if show_3d:
        with guarded_panel(t("optimizers.panel_map")):
            surface_view(scene, result)
    with guarded_panel(t("optimizers.panel_results")):
        results_table(scene, result)
    if result.searches is not None:
        with guarded_panel(t("optimizers.panel_best_lr")):
            best_lr_report(scene, tuple(settings), result, steps)
    with guarded_panel(t("optimizers.panel_animation")):
        animation(scene, result, steps)

if scene is not None:
    with guarded_panel(t("optimizers.panel_convergence")):
        st.subheader(t("optimizers.convergence_title"))
        convergence(scene, field(FIELDS, "opt_map_steps"), tolerance, HP_FIELDS)

with guarded_panel(t("optimizers.panel_formulas")):
    formula_cards(names or DEFAULT_OPTIMIZERS)

experiments("optimizers", EXPERIMENTS, owned=("opt_",))
