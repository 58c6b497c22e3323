"""The learning-rate schedules page's pieces: its cached core calls (on primitives, shared by
every visitor), its messages, and its views, each a function of the values the page read."""

from typing import Any, NamedTuple

import numpy as np
import streamlit as st

from core.activations import ACTIVATIONS
from core.datasets import load_digits_8x8
from core.expressions import ExpressionError, compile_expression
from core.network import mlp
from core.params import ParamError
from core.schedules import (
    SCHEDULE_ENTRIES,
    SCHEDULES,
    TORCH_CLASS,
    linear_warmup,
    parse_milestones,
    plateau,
    sequential_lr,
    torch_code,
)
from core.training import TrainConfig, evaluate, init_train_state, train_for, train_on_plateau
from ui.controls import show_code, show_figure, show_formula
from ui.fields import field
from ui.figure_cache import shared_figure
from ui.formulas import SCHEDULE_FORMULAS
from ui.i18n import t
from ui.plots.schedules import chained_schedule, loss_with_lr, schedule_curves
from ui.schedule_list import LIST_KEY, schedule_values
from ui.theme import ChartText

TRAIN_LAYERS = (64, 32, 10)  # 8×8 digits → 32 ReLU units → 10 classes: ~0.3 ms a step
TRAIN_BATCH = 64


class Axis(NamedTuple):
    """The x axis every chart of the page shares: steps 0..total, shown in steps or epochs."""

    total: int
    unit: str  # "step" or "epoch"
    steps_per_epoch: int
    log_y: bool
    style: Any  # ui.theme.PlotStyle

    @property
    def scale(self) -> int:
        return self.steps_per_epoch if self.unit == "epoch" else 1

    @property
    def x(self) -> np.ndarray:
        return np.arange(self.total + 1) / self.scale

    @property
    def x_title(self) -> str:
        return t(f"schedules.unit_{self.unit}")

    @property
    def lr_title(self) -> str:
        return t("schedules.lr_axis")

    def lr_chart_text(self, title: str) -> ChartText:
        """The words of a chart of lr over this axis, titled ``title``."""
        return ChartText(title, self.x_title, self.lr_title)


# ---------------------------------------------------------------- core calls (cached on primitives)


def _build(kind: str, lr: float, params: tuple):
    """The schedule ``kind`` from primitive parameters; ValueError / ExpressionError if invalid."""
    kwargs = dict(params)
    if "milestones" in kwargs:
        kwargs["milestones"] = parse_milestones(kwargs["milestones"])
    if "lr_lambda" in kwargs:
        # A schedule needs only the value: no gradient is built.
        formula = compile_expression(kwargs["lr_lambda"], variables=("epoch",), gradient=False)
        kwargs["lr_lambda"] = formula.fn
    if "scale_fn" in kwargs:  # empty: None, the mode's own scale
        text = kwargs["scale_fn"].strip()
        scale = compile_expression(text, variables=("x",), gradient=False).fn if text else None
        kwargs["scale_fn"] = scale
    return SCHEDULES[kind](lr=lr, **kwargs)


@st.cache_data(show_spinner=False, max_entries=256)
def lr_curve(kind: str, lr: float, params: tuple, total: int) -> np.ndarray:
    """lr at steps 0..total of one schedule (raises the core's ValueError for bad parameters)."""
    schedule = _build(kind, lr, params)
    # Overflow to inf (gamma > 1 over many steps) is reported by the page, not warned about.
    with np.errstate(all="ignore"):
        return np.asarray(schedule(np.arange(total + 1)), dtype=float)


def _chain_children(main: str, cycle: int, gamma: float) -> dict:
    return {
        "cosine_annealing_lr": {"T_max": cycle},
        "step_lr": {"step_size": max(cycle // 3, 1), "gamma": gamma},
        "exponential_lr": {"gamma": gamma},
        "polynomial_lr": {"total_iters": cycle, "power": 1.0},
    }[main]


@st.cache_data(show_spinner=False, max_entries=64)
def chain_curve(
    main: str, lr: float, cycle: int, restarts: int, gamma: float, warmup: int, start: float, total
) -> tuple[np.ndarray, str]:
    """Warm-up → main schedule → restarts: lr at 0..total and the equivalent torch code."""
    kwargs = _chain_children(main, cycle, gamma)
    if restarts > 0:
        children = tuple((main, kwargs) for _ in range(restarts + 1))
        milestones = tuple(cycle * (k + 1) for k in range(restarts))
        body = sequential_lr(lr, children, milestones)
        code = torch_code(
            "sequential_lr",
            {"lr": lr, "schedulers": children, "milestones": milestones},
            warmup_steps=warmup,
            warmup_start_factor=start,
        )
    else:
        body = SCHEDULES[main](lr=lr, **kwargs)
        code = torch_code(main, {"lr": lr, **kwargs}, warmup, start)
    schedule = linear_warmup(body, warmup, start, lr=lr)
    with np.errstate(all="ignore"):
        return np.asarray(schedule(np.arange(total + 1)), dtype=float), code


def training_plan(kind: str, lr: float, params: tuple, lrs: np.ndarray, total: int) -> tuple:
    """What ``train_with`` runs for one schedule, as primitives: its lr table, or ReduceLROnPlateau's
    settings (its lr follows the losses, so it has no table before training)."""
    if SCHEDULE_ENTRIES[kind].of_losses:
        return ("plateau", float(lr), params, int(total))
    return ("table", tuple(lrs[:total]))


@st.cache_data(show_spinner=False, max_entries=64)
def train_with(plan: tuple, optimizer: str, seed: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Train the small MLP on the 8×8 digits as ``plan`` says (see ``training_plan``): (losses,
    lrs, test acc, diverged)."""
    table = np.asarray(plan[1], dtype=float) if plan[0] == "table" else None
    config = TrainConfig(
        architecture=mlp(TRAIN_LAYERS),
        optimizer=optimizer,
        lr=0.0 if table is None else (lambda t: table[min(int(t), len(table) - 1)]),
        schedule_unit="step",
        batch_size=TRAIN_BATCH,
    )
    data = load_digits_8x8(seed=0)
    state = init_train_state(np.random.default_rng(seed), data, config)
    if table is None:
        _, lr, params, total = plan
        state = train_on_plateau(state, data, config, total, plateau(lr, **dict(params)))
    else:
        state, _ = train_for(state, data, config, max_steps=len(table))
    accuracy = float("nan")
    if state.diverged_at is None:
        _, accuracy = evaluate(
            config.architecture, state.params, state.bn_state, data.test, ACTIVATIONS["relu"]()
        )
    diverged = -1 if state.diverged_at is None else int(state.diverged_at)
    return np.array(state.history.loss), np.array(state.history.lr), accuracy, diverged


# ---------------------------------------------------------------- messages


def problem_text(label: str, error: Exception) -> str:
    """A translated sentence naming the parameter the core refused and the rule it broke."""
    if isinstance(error, ExpressionError):
        reason = t(f"schedules.expr.{error.code}", limit=error.limit)
        return t("schedules.bad_lambda", schedule=label, reason=reason)
    if isinstance(error, ParamError):
        rule = t(f"schedules.rule_{error.rule}", **error.values)
        return t("schedules.bad_param", schedule=label, param=error.param, rule=rule)
    return t("schedules.bad_value", schedule=label, reason=str(error))


def run_label(index: int, kind: str) -> str:
    return f"{index + 1} · {TORCH_CLASS[kind]}"


# ---------------------------------------------------------------- views


def checked_curve(label: str, kind: str, lr: float, params: tuple, total: int) -> np.ndarray | None:
    """The schedule's lrs, or None after a warning naming what the core refused or overflowed.
    ReduceLROnPlateau has no curve before training: its settings are checked and its starting lr
    stands in for it (the comparison says so)."""
    try:
        if SCHEDULE_ENTRIES[kind].of_losses:
            plateau(lr, **dict(params))
            return np.full(total + 1, float(lr))
        lrs = lr_curve(kind, lr, params, total)
    except (ValueError, ArithmeticError) as error:
        st.warning(problem_text(label, error), icon=":material/warning:")
        return None
    bad = np.flatnonzero(~np.isfinite(lrs))
    if bad.size:
        st.warning(t("schedules.not_finite", schedule=label, step=int(bad[0])),
                   icon=":material/warning:")  # fmt: skip
        return None
    return lrs


def comparison(built: list, ids: list[str], axis: Axis) -> None:
    """The chart of every schedule that could be built, then each one's formula and torch code."""
    if not built:
        if ids:
            st.info(t("schedules.nothing_to_draw"), icon=":material/info:")
        return
    curves = [(run_label(i, kind), lrs) for i, kind, _, _, lrs in built]
    text = axis.lr_chart_text(t("schedules.chart_title"))
    fig = shared_figure(schedule_curves, axis.x, curves, text=text, log_y=axis.log_y,
                        style=axis.style, color_indices=[i for i, *_ in built])  # fmt: skip
    show_figure(fig, key="sch_chart")
    if axis.log_y and any(np.any(c <= 0) for _, c in curves):
        st.caption(t("schedules.log_zero"))
    if axis.unit == "epoch":
        st.caption(t("schedules.epoch_note", spe=axis.steps_per_epoch))
    if any(SCHEDULE_ENTRIES[kind].of_losses for _, kind, *_ in built):
        st.caption(t("schedules.plateau_note"))
    st.markdown(f"**{t('schedules.formula_heading')}**")
    tabs = st.tabs([label for label, _ in curves])
    for tab, (_, kind, lr, params, _) in zip(tabs, built, strict=True):
        with tab:
            show_formula(SCHEDULE_FORMULAS[kind])
            st.caption(t(f"schedules.about.{kind}"))
            code_params = {"lr": lr, **dict(params)}
            if "milestones" in code_params:
                code_params["milestones"] = parse_milestones(code_params["milestones"])
            show_code(torch_code(kind, code_params))


def chain_phases(
    warmup: int, cycle: int, restarts: int, axis: Axis
) -> list[tuple[float, float, str]]:
    """The chain's shaded bands (start, end, name) in the x axis' unit, cut at the total."""
    spans = [(0, warmup, t("schedules.phase_warmup"))] if warmup else []
    for k in range(restarts + 1):
        a = warmup + k * cycle
        b = axis.total if k == restarts else min(warmup + (k + 1) * cycle, axis.total)
        if a >= axis.total:
            break
        spans.append(
            (a, b, t("schedules.phase_main") if k == 0 else t("schedules.phase_restart", k=k))
        )
    scale = axis.scale
    return [(a / scale, b / scale, name) for a, b, name in spans]


def chain_view(fields: dict, axis: Axis) -> None:
    """Warm-up → main schedule → restarts, drawn with its phases and its SequentialLR code."""
    st.subheader(t("schedules.chain_heading"))
    st.markdown(t("schedules.chain_intro"))
    left, right = st.columns([2, 3])
    with left:
        c1, c2 = st.columns(2)
        with c1:
            warmup = field(fields, "sch_chain_warmup")
            main = field(fields, "sch_chain_main")
            cycle = field(fields, "sch_chain_cycle")
        with c2:
            start = field(fields, "sch_chain_start", label="start_factor")
            chain_lr = field(fields, "sch_chain_lr", label="lr")
            restarts = field(fields, "sch_chain_restarts")
        gamma = 0.8
        if main in ("step_lr", "exponential_lr"):
            gamma = field(fields, "sch_chain_gamma", label="gamma")
    with right:
        if warmup >= axis.total:
            st.warning(t("schedules.warmup_too_long", warmup=warmup, total=axis.total))
            return
        try:
            chain, chain_code = chain_curve(
                main, float(chain_lr), int(cycle), int(restarts), float(gamma),
                int(warmup), float(start), axis.total,
            )  # fmt: skip
        except ValueError as error:
            st.warning(problem_text(t("schedules.chain_name"), error))
            return
        text = axis.lr_chart_text(t("schedules.chain_title"))
        phases = chain_phases(warmup, cycle, restarts, axis)
        fig = shared_figure(chained_schedule, axis.x, chain, phases,
                            name=t("schedules.chain_name"), text=text,
                            log_y=axis.log_y, style=axis.style)  # fmt: skip
        show_figure(fig, key="sch_chain_chart")
        shown = len(phases) - (1 if warmup else 0) - 1
        if shown < restarts:
            st.caption(t("schedules.restarts_cut", asked=int(restarts), shown=shown,
                         total=axis.total, warmup=int(warmup), cycle=int(cycle)))  # fmt: skip
        show_code(chain_code)


def training_results(results: list, axis: Axis) -> None:
    """Loss and lr of each training run, and the table of accuracies and last losses."""
    results = [(name, *result) for name, result in results]
    runs = [(name, losses, lrs) for name, losses, lrs, _, _ in results]
    longest = max(len(r[1]) for r in runs)
    steps = np.arange(longest) / axis.scale
    text = ChartText(t("schedules.train_title"), axis.x_title, t("schedules.loss_axis"))
    fig = shared_figure(loss_with_lr, steps, runs, text=text, lr_title=axis.lr_title,
                        lr_suffix=t("schedules.lr_suffix"), log_lr=axis.log_y, style=axis.style)  # fmt: skip
    show_figure(fig, key="sch_train_chart")
    rows = {
        t("schedules.col_schedule"): [name for name, *_ in results],
        t("schedules.col_accuracy"): [
            f"{acc:.1%}" if diverged < 0 else t("schedules.diverged", step=diverged)
            for *_, acc, diverged in results
        ],
        t("schedules.col_final_loss"): [
            f"{losses[-1]:.4f}" if len(losses) else "—" for _, losses, *_ in results
        ],
    }
    st.dataframe(rows, hide_index=True, key="sch_train_table")


# ---------------------------------------------------------------- guided experiments
# Each resets the page's settings (sch_…), then sets these.

EXPERIMENTS = {
    "warmup_adam": {
        "sch_total": 300,
        "sch_train_opt": "adam",
        LIST_KEY: ["s1", "s2"],
        # The same cosine decay from lr = 0.4, with and without OneCycleLR's warm-up over the first
        # 20 %. Measured on seeds 0-15 under three BLAS/SIMD kernels (.ci/kernels): test accuracy
        # 10-64 % without warm-up, 85-96 % with it; last loss at most 0.13× as high. A constant lr
        # with and without a linear warm-up (this experiment until 2026-12) had seeds and kernels
        # on which the run without warm-up did as well: high-lr Adam with no decay is a coin toss.
        **schedule_values("s1", "cosine_annealing_lr", lr=0.4, T_max=300),
        **schedule_values("s2", "one_cycle_lr", lr=0.4, max_lr=0.4, total_steps=300, pct_start=0.2),
    },
    "restarts": {
        "sch_total": 400,
        # Adam at lr 0.1: after each restart the smoothed loss rises 1.2-6× (seeds 0-5), 6-25 % of
        # the log axis' height. SGD with momentum at lr 0.1 (this experiment until 2026-12) rose
        # 6-50 %: flat on the chart, while the text promised a bump.
        "sch_train_opt": "adam",
        LIST_KEY: ["s1", "s2"],
        **schedule_values("s1", "cosine_annealing_lr", lr=0.1, T_max=400),
        **schedule_values("s2", "cosine_annealing_warm_restarts", lr=0.1, T_0=100),
    },
    "step_vs_cosine": {
        "sch_total": 300,
        "sch_train_opt": "momentum",
        LIST_KEY: ["s1", "s2"],
        # From lr 0.3: cosine's smoothed loss ends 1.9-2.4× lower (seeds 0-5), 12-15 % of the log
        # axis. From 0.1 (this experiment until 2026-12) 1.3×; neither shows a drop of the loss
        # at the first decay, which the answer used to promise.
        **schedule_values("s1", "step_lr", lr=0.3, step_size=100, gamma=0.1),
        **schedule_values("s2", "cosine_annealing_lr", lr=0.3, T_max=300),
    },
}
