"""The optimizer race's panels and cached core calls, each a function of its inputs.

The page declares its fields and experiments and calls these in order: ``surface_input`` and
``hyperparameter_inputs`` (widgets), ``scene_for`` (the surface's grid and how to draw it),
``run_race_for`` (paths, summaries and the optional lr search), then one function per panel. The
cached calls take names, numbers and tuples (``settings`` is ``((name, ((hp, value), ...)), ...)``)
and build surfaces and optimizers inside.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import streamlit as st

from core.descent import LR_GRID, Path, best_learning_rate, convergence_map, race
from core.expressions import (
    ALLOWED_FUNCTIONS,
    ExpressionError,
    compile_expression,
    nonfinite_fraction,
)
from core.optimizers import OPTIMIZER_ENTRIES, make
from core.path_metrics import (
    PathSummary,
    clamp_start,
    effective_step,
    finite_step,
    left_box_at,
    loss_grid,
    summarize,
)
from core.surfaces import SURFACES, Surface, surface_from_expression
from ui.controls import current_plot_style, show_code, show_figure, show_formula
from ui.fields import Field, field
from ui.figure_cache import shared_figure
from ui.formulas import OPTIMIZER_FORMULAS
from ui.i18n import t
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
from ui.theme import ChartText, PlotStyle

CUSTOM = "custom"
CUSTOM_START = (1.5, 1.5)
GRID_RESOLUTION = 120
MAX_FRAMES = 60
MAP_LRS = np.logspace(-5, 0, 40)
MAP_MOMENTA = np.linspace(0.0, 0.99, 40)
FIXED = {"nesterov"}  # set by the registry entry (sgd / momentum / nesterov), not a widget

Settings = tuple[tuple[str, tuple], ...]


def hp_key(name: str, hp: str) -> str:
    """Widget key of one optimizer's hyperparameter (also its URL parameter name)."""
    return f"opt_{name}_{hp}"


def exposed(name: str) -> list[str]:
    """Hyperparameters of ``name`` that get a widget, in torch's argument order."""
    return [hp for hp in OPTIMIZER_ENTRIES[name].hyperparameters if hp not in FIXED]


def default_start(surface_key: str) -> tuple[float, float]:
    """Where a race on this surface starts unless the user picks a point."""
    return CUSTOM_START if surface_key == CUSTOM else tuple(SURFACES[surface_key]().start)


@st.cache_resource(max_entries=64)
def compiled(formula: str):
    """The typed formula compiled once per text (sympy is slow; the result is read-only)."""
    return compile_expression(formula)


def build_surface(surface_key: str, formula: str) -> Surface:
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
    surface_key, formula, settings, start, steps, names, log_levels, colorbar, style, texts
):
    """The animated race, built once per setup (60 frames take a while to validate)."""
    surface = build_surface(surface_key, formula)
    xs, ys, z = grid(surface_key, formula)
    paths = run_race(surface_key, formula, settings, start, steps)
    minimum, step, play, fast, pause, replay = texts
    return shared_figure(
        race_animation,
        xs,
        ys,
        z,
        [(name, p.points) for name, p in zip(names, paths, strict=True)],
        sorted({int(k) for k in np.linspace(0, steps, min(MAX_FRAMES, steps + 1))}),
        bounds=surface.bounds,
        f_min=surface.f_min,
        log_levels=log_levels,
        minima=surface.minima,
        colorbar_title=colorbar,
        minimum_label=minimum,
        step_label=step,
        play_label=play,
        fast_label=fast,
        pause_label=pause,
        replay_label=replay,
        style=style,
    )


def fmt(value) -> str:
    """A number as a teacher would write it."""
    if isinstance(value, bool | str) or value is None:
        return str(value)
    return format(float(value), ".4g")


def name_of(name: str) -> str:
    """The optimizer's translated name."""
    return t(f"optimizers.names.{name}")


def legend_name(name: str, hps: dict) -> str:
    """Optimizer name with its non-zero settings (eps omitted: it rarely matters on a surface)."""
    shown = [f"{hp}={fmt(v)}" for hp, v in hps.items() if hp not in FIXED | {"eps"} and v]
    return f"{name_of(name)} ({', '.join(shown)})"


def with_lrs(settings: Settings, lrs: Sequence[float | None]) -> Settings:
    """``settings`` with each optimizer's lr replaced by its entry of ``lrs`` (kept where None)."""
    raced = []
    for (name, hps), lr in zip(settings, lrs, strict=True):
        hps = dict(hps)
        if lr is not None:
            hps["lr"] = lr
        raced.append((name, tuple(hps.items())))
    return tuple(raced)


def torch_code(name: str, chosen: Mapping[str, Any]) -> str:
    """The torch call of ``name`` with the ``chosen`` values of its widgets, defaults elsewhere."""
    values = OPTIMIZER_ENTRIES[name].defaults()
    values.update(
        {hp: chosen.get(hp_key(name, hp), v) for hp, v in values.items() if hp not in FIXED}
    )
    return OPTIMIZER_ENTRIES[name].torch_call.format(
        **{
            k: fmt(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in values.items()
        }
    )


# ---------------------------------------------------------------------------------------------
# Inputs


def formula_error(error: ExpressionError, formula: str) -> None:
    """Say why the typed formula was refused, with a caret under the position."""
    reason = t(f"optimizers.errors.{error.code}", limit=error.limit)
    st.error(t("optimizers.formula_error", reason=reason))
    if error.names:
        st.markdown(t("optimizers.formula_unknown", names=", ".join(f"`{n}`" for n in error.names)))
    if error.position is not None and len(formula) <= 200:
        st.code(f"{formula}\n{' ' * (error.position - 1)}^", language=None)


def surface_input(fields: Mapping[str, Field], surface_key: str) -> tuple[str, Surface | None]:
    """The formula (its widget on the custom surface) and the Surface, None if it was refused."""
    formula = fields["opt_formula"].param.default
    if surface_key != CUSTOM:
        return formula, build_surface(surface_key, formula)
    formula = field(fields, "opt_formula")
    st.caption(t("optimizers.allowed", functions=", ".join(ALLOWED_FUNCTIONS)))
    try:
        surface = build_surface(CUSTOM, formula)
    except ExpressionError as error:
        formula_error(error, formula)
        return formula, None
    st.caption(t("optimizers.custom_bounds"))
    return formula, surface


def hyperparameters(name: str, chosen: Mapping[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of ``name``: its widgets' values from ``chosen`` (by widget key, as in
    the session state) and the ones its registry entry fixes (nesterov)."""
    entry = OPTIMIZER_ENTRIES[name]
    values = {hp: chosen[hp_key(name, hp)] for hp in exposed(name)}
    values.update({hp: entry.defaults()[hp] for hp in FIXED if hp in entry.hyperparameters})
    return values


def checked_settings(name: str, values: dict) -> tuple | None:
    """``(name, hyperparameters)`` if the optimizer accepts ``values``; else a warning and None."""
    try:
        make(name, **values)
    except ValueError as error:
        st.warning(t("optimizers.invalid_settings", name=name_of(name), message=error))
        return None
    return name, tuple(values.items())


def hyperparameter_inputs(names: Sequence[str], hp_fields: Mapping[str, Field]) -> list[tuple]:
    """One expander of widgets per chosen optimizer, four columns at most; the valid settings."""
    if not names:
        st.info(t("optimizers.no_optimizer"), icon=":material/touch_app:")
        return []
    st.subheader(t("optimizers.hyperparameters"))
    columns = st.columns(min(len(names), 4))
    settings = []
    for i, name in enumerate(names):
        with columns[i % len(columns)], st.expander(name_of(name), expanded=False):
            chosen = {hp_key(name, hp): field(hp_fields, hp_key(name, hp)) for hp in exposed(name)}
            checked = checked_settings(name, hyperparameters(name, chosen))
            if checked is not None:
                settings.append(checked)
    return settings


# ---------------------------------------------------------------------------------------------
# Core calls


class Scene(NamedTuple):
    """What every figure of one surface shares: the surface, its grid, the start, the look."""

    surface_key: str
    formula: str
    surface: Surface
    start: tuple[float, float]
    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray
    log_levels: bool
    colorbar: str
    style: PlotStyle


class RaceResult(NamedTuple):
    """The raced settings (lr replaced by the best found, if searched) and what they did."""

    settings: Settings
    paths: list[Path]
    labels: list[str]
    summaries: list[PathSummary]
    # LrSearch per chosen setting (None for L-BFGS, raced at its own lr), None unless searched
    searches: list | None


def scene_for(surface_key: str, formula: str, surface: Surface, x0: float, y0: float) -> Scene:
    """The scene, saying so when the start had to move into the box or f is not finite somewhere."""
    start, was_clamped = clamp_start((x0, y0), surface.bounds)
    if was_clamped:
        st.info(
            t("optimizers.start_clamped", x=fmt(x0), y=fmt(y0), cx=fmt(start[0]), cy=fmt(start[1]))
        )
    xs, ys, z = grid(surface_key, formula)
    bad_share = nonfinite_fraction(z)
    if bad_share > 0:
        st.warning(t("optimizers.formula_nonfinite", percent=f"{bad_share:.1%}"))
    log_levels = surface.log_scale or (surface_key == CUSTOM and bool(np.nanmin(z) >= 0))
    # Without a known minimum the levels are measured from the smallest f on the map.
    if not log_levels:
        colorbar = t("optimizers.colorbar")
    elif surface.f_min is None:
        colorbar = t("optimizers.colorbar_log_nomin")
    else:
        colorbar = t("optimizers.colorbar_log")
    style = current_plot_style()
    return Scene(surface_key, formula, surface, start, xs, ys, z, log_levels, colorbar, style)


def race_at(
    surface_key: str, formula: str, settings: Settings, start: tuple, steps: int, use_best_lr: bool
) -> tuple[Settings, list | None, list[Path]]:
    """The settings raced (each at its best lr if ``use_best_lr``), the lr searches (None unless
    searched) and the paths: the race the page shows, without its words."""
    searches = None
    if use_best_lr:
        # L-BFGS runs up to max_iter iterations per step: 31 learning rates would take minutes.
        closure = [OPTIMIZER_ENTRIES[name].closure for name, _ in settings]
        tuned = tuple(setting for setting, c in zip(settings, closure, strict=True) if not c)
        found = iter(search_lrs(surface_key, formula, tuned, start, steps) if tuned else ())
        searches = [None if c else next(found) for c in closure]
        settings = with_lrs(settings, [None if f is None else f.best_lr for f in searches])
    return settings, searches, run_race(surface_key, formula, settings, start, steps)


def run_race_for(
    scene: Scene, settings: Sequence[tuple], steps: int, tolerance: float, use_best_lr: bool
) -> RaceResult:
    """Race the settings (at each one's best lr if asked) and warn about every divergence."""
    raced, searches, paths = race_at(
        scene.surface_key, scene.formula, tuple(settings), scene.start, steps, use_best_lr
    )
    labels = [legend_name(name, dict(hps)) for name, hps in raced]
    summaries = [summarize(p, scene.surface, tolerance) for p in paths]
    for (name, _), s in zip(raced, summaries, strict=True):
        if s.diverged_at == 0:
            st.warning(t("optimizers.diverged_at_start", name=name_of(name)))
        elif s.diverged_at is not None:
            st.warning(
                t("optimizers.diverged", name=name_of(name), step=s.diverged_at),
                icon=":material/warning:",
            )
    return RaceResult(raced, paths, labels, summaries, searches)


# ---------------------------------------------------------------------------------------------
# Panels


def step_rows(result: RaceResult, step: int) -> list[dict[str, str]]:
    """Gradient, update and effective learning rate at ``step``, per optimizer still finite there."""
    rows = []
    for (name, _), path in zip(result.settings, result.paths, strict=True):
        if not finite_step(path, step):
            continue
        g, u, eff = path.grads[step], path.updates[step], effective_step(path, step)
        rows.append(
            {
                t("optimizers.col_optimizer"): name_of(name),
                t("optimizers.col_grad"): f"({fmt(g[0])}, {fmt(g[1])})",
                t("optimizers.col_update"): f"({fmt(u[0])}, {fmt(u[1])})",
                t("optimizers.col_effective"): f"({fmt(eff[0])}, {fmt(eff[1])})",
            }
        )
    return rows


def evaluation_trails(result: RaceResult) -> list[tuple[str, np.ndarray]]:
    """For each optimizer that evaluates f inside a step (L-BFGS), every point it evaluated,
    drawn after the paths so that their colours stay those of the other charts."""
    return [
        (t("optimizers.evaluated", name=label), p.visited)
        for label, p in zip(result.labels, result.paths, strict=True)
        if p.visited is not None
    ]


def race_contour(scene: Scene, result: RaceResult, step: int, on_select: Callable[[], None]):
    """The paths on the contour with the arrows of ``step``; a click calls ``on_select``."""
    lrs = [dict(hps)["lr"] for _, hps in result.settings]
    fig = shared_figure(
        contour_with_paths,
        scene.xs,
        scene.ys,
        scene.z,
        [(label, p.points) for label, p in zip(result.labels, result.paths, strict=True)]
        + evaluation_trails(result),
        bounds=scene.surface.bounds,
        f_min=scene.surface.f_min,
        log_levels=scene.log_levels,
        minima=scene.surface.minima,
        start=scene.start,
        arrows=step_arrows(result.paths, lrs, step),
        title=t("optimizers.map_title"),
        colorbar_title=scene.colorbar,
        minimum_label=t("optimizers.minimum"),
        start_label=t("optimizers.start"),
        click_label=t("optimizers.click_here"),
        style=scene.style,
    )
    st.plotly_chart(
        fig,
        key="_opt_map",
        theme=None,
        width="stretch",
        on_select=on_select,
        selection_mode="points",
        config={"displaylogo": False},
    )
    st.caption(t("optimizers.map_caption"))


def race_losses(scene: Scene, result: RaceResult) -> None:
    """Loss (or the gap to f_min) per step of every optimizer."""
    gap = scene.surface.f_min is not None
    curves, log_y = gap_curves(result.labels, result.paths, scene.surface.f_min)
    show_figure(
        shared_figure(
            loss_curves,
            curves,
            log_y=log_y,
            text=ChartText(
                t("optimizers.loss_title"),
                t("optimizers.step"),
                t("optimizers.loss_gap") if gap else t("optimizers.loss"),
            ),
            style=scene.style,
        ),
        key="opt_loss_chart",
    )


def race_map(scene: Scene, result: RaceResult, step: int, on_select: Callable[[], None]) -> None:
    """Contour and loss curves side by side, then the step table of ``step``."""
    map_col, loss_col = st.columns([3, 2])
    with map_col:
        race_contour(scene, result, step, on_select)
        left = [
            t("optimizers.left_map_one", name=name_of(name), step=at)
            for (name, _), path in zip(result.settings, result.paths, strict=True)
            if (at := left_box_at(path, scene.surface.bounds)) is not None
        ]
        if left:
            (x_lo, x_hi), (y_lo, y_hi) = scene.surface.bounds
            box = f"x ∈ [{fmt(x_lo)}, {fmt(x_hi)}], y ∈ [{fmt(y_lo)}, {fmt(y_hi)}]"
            st.info(t("optimizers.left_map", box=box, who="; ".join(left)), icon=":material/info:")
    with loss_col:
        race_losses(scene, result)
    st.markdown(f"**{t('optimizers.effective_title', step=step)}**")
    st.dataframe(step_rows(result, step), hide_index=True, width="stretch")
    st.caption(t("optimizers.effective_caption"))


def surface_view(scene: Scene, result: RaceResult) -> None:
    """The paths on the surface in 3-D."""
    show_figure(
        shared_figure(
            surface_3d,
            scene.xs,
            scene.ys,
            scene.z,
            [(lb, p.points, p.losses) for lb, p in zip(result.labels, result.paths, strict=True)],
            f_min=scene.surface.f_min,
            log_levels=scene.log_levels,
            title=t("optimizers.surface_title"),
            z_title=scene.colorbar,
            style=scene.style,
        ),
        key="opt_surface_chart",
    )


def gradient_evaluations(path: Path) -> int:
    """How often the optimizer computed ∇f: once per step done, or (L-BFGS) every evaluation."""
    if path.evaluations is not None:
        return int(path.evaluations[-1])
    return len(path.points) - 1 if path.diverged_at is None else path.diverged_at


def result_row(
    name: str, hps: tuple, s: PathSummary, has_target: bool, evaluations: int
) -> dict[str, str]:
    """One optimizer's line of the results table."""
    na = t("optimizers.not_available")
    if s.reached_at is not None:
        reached = str(s.reached_at)
    else:
        reached = t("optimizers.never") if has_target else na
    if s.diverged_at is None:
        status = t("optimizers.status_ok")
    else:
        status = t("optimizers.status_diverged", step=s.diverged_at)
    return {
        t("optimizers.col_optimizer"): name_of(name),
        t("optimizers.col_lr"): fmt(dict(hps)["lr"]),
        t("optimizers.col_final_loss"): na if s.final_loss is None else fmt(s.final_loss),
        t("optimizers.col_distance"): na
        if s.distance_to_minimum is None
        else fmt(s.distance_to_minimum),
        t("optimizers.col_reached"): reached,
        t("optimizers.col_evaluations"): str(evaluations),
        t("optimizers.col_status"): status,
    }


def results_table(scene: Scene, result: RaceResult) -> None:
    """Final loss, distance, first step within tolerance and status of every optimizer."""
    st.subheader(t("optimizers.results_title"))
    has_target = scene.surface.f_min is not None or bool(scene.surface.minima)
    table = [
        result_row(name, hps, s, has_target, gradient_evaluations(path))
        for (name, hps), s, path in zip(
            result.settings, result.summaries, result.paths, strict=True
        )
    ]
    st.dataframe(table, hide_index=True, width="stretch")


def final_loss_text(summary: PathSummary) -> str:
    """A run's last finite loss, or where it diverged."""
    if summary.diverged_at is not None:
        return t("optimizers.status_diverged", step=summary.diverged_at)
    return fmt(summary.final_loss)


def best_lr_rows(scene: Scene, chosen: Settings, result: RaceResult, steps: int) -> list[dict]:
    """Per optimizer: the lr chosen on the page and the final loss there, beside the best lr found
    and the final loss there (the race above), so that the two races can be compared."""
    at_chosen = run_race(scene.surface_key, scene.formula, tuple(chosen), scene.start, steps)
    na = t("optimizers.not_available")
    rows = []
    for (name, hps), path, best, found in zip(
        chosen, at_chosen, result.summaries, result.searches, strict=True
    ):
        searched = found is not None and found.best_lr is not None
        rows.append(
            {
                t("optimizers.col_optimizer"): name_of(name),
                t("optimizers.col_chosen_lr"): fmt(dict(hps)["lr"]),
                # (any tolerance: only the final loss and the divergence are read)
                t("optimizers.col_chosen_loss"): final_loss_text(
                    summarize(path, scene.surface, 1.0)
                ),
                t("optimizers.col_best_lr"): fmt(found.best_lr) if searched else na,
                t("optimizers.col_best_loss"): final_loss_text(best) if searched else na,
            }
        )
    return rows


def best_lr_report(scene: Scene, chosen: Settings, result: RaceResult, steps: int) -> None:
    """The lr each optimizer did best with, against the lr chosen, and its final loss over the
    whole grid."""
    names = [name for name, _ in chosen]
    searches = result.searches
    statement = t(
        "optimizers.best_lr_statement",
        count=len(LR_GRID),
        low=fmt(LR_GRID[0]),
        high=fmt(LR_GRID[-1]),
        steps=steps,
    )
    st.markdown(statement)
    for name, found in zip(names, searches, strict=True):
        if found is None:
            st.info(t("optimizers.best_lr_skipped", name=name_of(name)))
        elif found.best_lr is None:
            st.warning(t("optimizers.best_lr_none", name=name_of(name)))
    st.dataframe(best_lr_rows(scene, chosen, result, steps), hide_index=True, width="stretch")
    f_min = scene.surface.f_min
    curves = [
        (name_of(name), found.final_losses - (f_min or 0.0), found.best_lr)
        for name, found in zip(names, searches, strict=True)
        if found is not None
    ]
    show_figure(
        shared_figure(
            lr_search_curves,
            LR_GRID,
            curves,
            text=ChartText(
                t("optimizers.best_lr_title"),
                t("optimizers.learning_rate"),
                t("optimizers.loss_gap") if f_min is not None else t("optimizers.final_loss"),
            ),
            best_label=t("optimizers.best"),
            style=scene.style,
        ),
        key="opt_lr_search_chart",
    )


def animation(scene: Scene, result: RaceResult, steps: int) -> None:
    """The race played as an animation on the contour."""
    st.subheader(t("optimizers.animation_title"))
    texts = tuple(
        t(f"optimizers.{key}") for key in ("minimum", "step", "play", "fast", "pause", "replay")
    )
    figure = animation_figure(
        scene.surface_key,
        scene.formula,
        result.settings,
        scene.start,
        steps,
        # Each optimizer's name without its hyperparameters: the map above lists them.
        tuple(name_of(name) for name, _ in result.settings),
        scene.log_levels,
        scene.colorbar,
        scene.style,
        texts,
    )
    show_figure(figure, key="opt_animation_chart")
    st.caption(t("optimizers.animation_caption"))


def convergence(
    scene: Scene, map_steps: int, tolerance: float, hp_fields: Mapping[str, Field]
) -> None:
    """Steps SGD with momentum needs over a grid of lr × momentum, the current setting of SGD
    with momentum marked (its field's default while it is not raced)."""
    result = momentum_map(scene.surface_key, scene.formula, scene.start, map_steps, tolerance)
    if result is None:
        st.info(t("optimizers.convergence_unavailable"))
        return
    keys = (hp_key("momentum", "lr"), hp_key("momentum", "momentum"))
    current = tuple(st.session_state.get(key, hp_fields[key].param.default) for key in keys)
    show_figure(
        shared_figure(
            convergence_heatmap,
            result.lrs,
            result.momenta,
            result.steps_to_reach,
            result.diverged_at,
            current,
            text=ChartText(
                t("optimizers.convergence_title"),
                t("optimizers.learning_rate"),
                t("optimizers.momentum_axis"),
            ),
            colorbar_title=t("optimizers.steps_to_reach"),
            diverged_label=t("optimizers.diverged_label"),
            never_label=t("optimizers.never_label"),
            current_label=t("optimizers.current"),
            style=scene.style,
        ),
        key="opt_convergence_chart",
    )
    caption = (
        "convergence_caption" if result.criterion == "loss" else "convergence_caption_distance"
    )
    st.caption(
        t(f"optimizers.{caption}", lrs=len(MAP_LRS), momenta=len(MAP_MOMENTA), steps=map_steps)
    )


def formula_cards(names: Sequence[str]) -> None:
    """Each optimizer's update rule and its torch call with the values chosen on the page."""
    st.subheader(t("optimizers.formulas_title"))
    st.caption(t("optimizers.formulas_note"))
    for name in names:
        st.markdown(f"**{name_of(name)}**")
        show_formula(OPTIMIZER_FORMULAS[name])
        show_code(torch_code(name, st.session_state))


# ---------------------------------------------------------------------------------------------
# Guided experiments: each resets the page's settings (opt_…), then sets these.

FAIR_RACE = ("sgd", "momentum", "adam", "rmsprop")
EXPERIMENTS = {
    "sgd_blowup": {"opt_surface": "rosenbrock", "opt_names": ["sgd"], hp_key("sgd", "lr"): 0.01,
                   "opt_x0": -1.5, "opt_y0": 2.5, "opt_best_lr": False, "opt_step": 0},
    # lr 0.02: SGD within ε at step 183, momentum 0.99 never in 500 steps. At lr 0.01 momentum's
    # spiral crossed ε first (step 330, SGD 368), against the experiment's point.
    "overshoot": {"opt_surface": "quadratic_bowl", "opt_names": ["sgd", "momentum"],
                  hp_key("sgd", "lr"): 0.02, hp_key("momentum", "lr"): 0.02,
                  hp_key("momentum", "momentum"): 0.99, "opt_x0": -1.8, "opt_y0": 1.0,
                  "opt_steps": 500, "opt_best_lr": False, "opt_step": 0},
    "saddle": {"opt_surface": "saddle", "opt_names": ["sgd", "rmsprop", "adam"],
               hp_key("sgd", "lr"): 0.01, hp_key("rmsprop", "lr"): 0.01,
               hp_key("adam", "lr"): 0.01, "opt_x0": 1.5, "opt_y0": 0.001, "opt_steps": 200,
               "opt_best_lr": False, "opt_step": 0},
    "lbfgs": {"opt_surface": "rosenbrock", "opt_names": ["adam", "lbfgs"],
              hp_key("adam", "lr"): 0.05, hp_key("lbfgs", "line_search_fn"): "strong_wolfe",
              "opt_x0": -1.5, "opt_y0": 2.5, "opt_steps": 20, "opt_best_lr": False,
              "opt_step": 0},
    # Every lr at torch's default (the registry's), whatever the page's defaults are: the table of
    # the lr search compares them with the best. Measured: Adam last at 0.001 (final loss 6.5),
    # first within ε at its best (step 70).
    "best": {"opt_surface": "rosenbrock", "opt_names": list(FAIR_RACE), "opt_x0": -1.5,
             "opt_y0": 2.5, "opt_best_lr": True, "opt_step": 0,
             **{hp_key(name, "lr"): OPTIMIZER_ENTRIES[name].defaults()["lr"] for name in FAIR_RACE}},
}  # fmt: skip
