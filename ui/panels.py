"""Page machinery that several pages share: expensive work run on a click with a progress bar and
kept until the setup changes, and a page's guided experiments declared as data."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from ui.controls import guided_experiment
from ui.i18n import t

Job = tuple[str, Callable[[], Any]]  # (the name shown while it runs, the work)


def train_button(area: str, key: str, *, disabled: bool) -> bool:
    """The primary button that starts a ``run_on_click`` panel, labelled ``<area>.train_button``."""
    return st.button(
        t(f"{area}.train_button"),
        key=key,
        type="primary",
        icon=":material/play_arrow:",
        disabled=disabled,
    )


def run_on_click(
    pressed: bool,
    store_key: str,
    request: Any,
    jobs: Sequence[Job],
    *,
    area: str,
) -> list[tuple[str, Any]] | None:
    """Run ``jobs`` one after another when ``pressed``, under a progress bar that says
    ``<area>.training_n`` of the job's name, and keep their results with ``request`` (what they
    were run for) under ``store_key``.

    Returns the kept ``(name, result)`` pairs, or None (after showing ``<area>.train_hint``)
    before the first run. Results kept for another ``request`` than the current one are still
    returned, under the caption ``<area>.train_stale``: a moved slider does not wipe a training run
    that took seconds.
    """
    if pressed:
        bar = st.progress(0.0)
        results = []
        for n, (name, work) in enumerate(jobs):
            bar.progress(n / len(jobs), text=t(f"{area}.training_n", name=name))
            results.append((name, work()))
        bar.empty()
        st.session_state[store_key] = (request, results)
    stored = st.session_state.get(store_key)
    if stored is None:
        st.info(t(f"{area}.train_hint"), icon=":material/info:")
        return None
    kept_request, results = stored
    if kept_request != request:
        st.caption(t(f"{area}.train_stale"))
    return results


def experiments(area: str, presets: Mapping[str, Mapping[str, Any]], owned: tuple[str, ...]):
    """The heading and one guided experiment per preset, with the texts of
    ``<area>.exp.<name>.title / predict / explain``; each button first resets the settings whose
    keys start with ``owned`` (see ``guided_experiment``)."""
    st.subheader(t("experiments.heading"))
    for name, values in presets.items():
        guided_experiment(
            t(f"{area}.exp.{name}.title"),
            t(f"{area}.exp.{name}.predict"),
            t(f"{area}.exp.{name}.explain"),
            values,
            key=f"_exp_{owned[0]}{name}",
            owned=owned,
        )
