"""The MNIST page's live view: each time-budgeted tick of a ``st.fragment(run_every=…)`` trains
the session a little at the chosen pace (core.session.paced_tick) and redraws the counters and
the three live curves, so only this view reruns while training. ``Live`` bundles what every view of the session is given.
"""

import time
from typing import Any, NamedTuple

import numpy as np
import streamlit as st

from core.datasets import Dataset
from core.session import paced_tick
from core.training import TrainConfig, loss_plateau, smooth_ema
from ui.controls import isolated_fragment
from ui.errors import guarded_panel
from ui.fair_share import TickPlan, tick_plan
from ui.i18n import t
from ui.mnist_session import save, session, trainer_registry
from ui.plots.mnist import live_accuracy_chart, live_loss_chart, live_lr_chart
from ui.theme import ChartText, PlotStyle

HIGH_LR = 0.3  # above this a stuck loss is blamed on a too large lr, below it on a too small one


class Live(NamedTuple):
    """What the views show, as the last full run of the page left it."""

    data: Dataset
    data_id: Any
    config: TrainConfig
    lr: float  # the slider's value (config.lr may be a schedule)
    run_label: str
    class_names: list[str]
    style: PlotStyle
    running: bool
    plan: TickPlan
    slow_every: float | None  # seconds between refreshes of the slower views; None when paused
    pace: str  # core.session.PACES: how fast Start trains


def vega(chart, key: str) -> None:
    """A live chart; same spec each tick, so the browser swaps the data in place."""
    st.vega_lite_chart(chart.data, chart.spec, key=key, theme=None, width="stretch")


def live_view(v: Live) -> None:
    """Train one tick (when running) and redraw the counters and the live curves."""

    @isolated_fragment(run_every=v.plan.every if v.running else None)
    def view() -> None:
        with guarded_panel(t("mnist.panel_live")):
            if session().running:
                now = tick_plan(trainer_registry().tick(session().id))
                save(
                    paced_tick(
                        session(), v.data, v.config,
                        pace=v.pace, now=time.monotonic(), budget=now.budget, every=now.every,
                        late_scale=now.late_scale,
                    )
                )  # fmt: skip
                if not session().running:
                    st.rerun()  # stopped (diverged, done): the whole page shows why, stops ticking
                if not 2 / 3 < now.every / v.plan.every < 3 / 2:
                    st.rerun()  # the class grew or shrank: re-plan the update rate for everyone
                if now.trainers > 1:
                    st.caption(
                        t("mnist.shared_server", trainers=now.trainers, every=f"{now.every:.1f}")
                    )
            state, last = session().train, session().last
            live_numbers(state, last, v)
            live_curves(state.history, v)

    view()


def live_numbers(state, last, v: Live) -> None:
    """Step, epoch, lr, speed and validation accuracy of the live network."""
    h = state.history
    epochs = h.epochs
    # Two rows of three on a projector: six large numbers do not fit in one row.
    m = st.columns(3) * 2 if v.style.projector else st.columns(6)
    m[0].metric(t("mnist.step"), f"{state.step:,}")
    m[1].metric(t("mnist.epoch"), f"{state.epoch}", help=t("mnist.epoch_help"))
    m[2].metric(t("mnist.current_lr"), f"{h.lr[-1]:.3g}" if len(h.lr) else f"{v.lr:g}")
    speed = last.samples_per_s if last is not None else float("nan")
    ms = last.ms_per_step if last is not None else float("nan")
    m[3].metric(t("mnist.samples_per_s"), "–" if not np.isfinite(speed) else f"{speed:,.0f}")
    m[4].metric(t("mnist.ms_per_step"), "–" if not np.isfinite(ms) else f"{ms:.2f}")
    m[5].metric(t("mnist.val_accuracy"), f"{epochs[-1].val_accuracy:.1%}" if epochs else "–")


def live_curves(h, v: Live) -> None:
    """The running / paused notices and the three live charts (Vega, updated in place)."""
    epochs = h.epochs
    # Notices go into one container so the charts below keep their place in the element tree:
    # an element appearing above them would make the browser rebuild them instead of
    # updating them in place.
    notices = st.container()
    notices.caption(t("mnist.running") if v.running else t("mnist.paused"))
    if loss_plateau(h.loss):
        # A stuck loss at a large lr is more often dead ReLUs or saturation than slowness.
        which = "mnist.plateau_high" if v.lr >= HIGH_LR else "mnist.plateau"
        notices.info(t(which, lr=f"{v.lr:g}"), icon=":material/hourglass_empty:")
    if v.style.projector:
        c_loss, c_acc = st.columns(2)
        c_lr = st.container()
    else:
        c_loss, c_acc, c_lr = st.columns([3, 2, 2])
    epoch_steps = np.array([e.step for e in epochs], dtype=float)
    step = t("mnist.step")
    with c_loss:
        chart = live_loss_chart(
            h.step, smooth_ema(h.loss), epoch_steps, np.array([e.val_loss for e in epochs]),
            names=(t("mnist.train_loss"), t("mnist.val_loss")),
            text=ChartText(t("mnist.loss_title"), step, t("mnist.loss_axis")), style=v.style,
        )  # fmt: skip
        vega(chart, key="mn_chart_loss")
    with c_acc:
        chart = live_accuracy_chart(
            np.array([e.epoch for e in epochs], dtype=float),
            np.array([e.train_accuracy for e in epochs]),
            np.array([e.val_accuracy for e in epochs]),
            names=(t("mnist.train_acc"), t("mnist.val_acc")), style=v.style,
            text=ChartText(t("mnist.acc_title"), t("mnist.epoch"), t("mnist.acc_axis")),
        )  # fmt: skip
        vega(chart, key="mn_chart_acc")
    with c_lr:
        chart = live_lr_chart(
            h.step, h.lr, name=t("mnist.lr_series"),
            text=ChartText(t("mnist.lr_title"), step, t("mnist.lr_axis")), style=v.style,
        )  # fmt: skip
        vega(chart, key="mn_chart_lr")
    if not epochs:
        notices.caption(t("mnist.first_epoch_hint"))
