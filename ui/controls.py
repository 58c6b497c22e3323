"""Streamlit glue shared by every page: keyed widgets, URL binding, share link, plot style.

Widget convention: every widget has an explicit ``key``; its value is seeded once with
``st.session_state.setdefault`` (through ``keyed``), so values survive a language switch, a page
switch and a URL update. Keys of action widgets (buttons, uploads, canvases) start with ``_``: those
are not values to keep, and Streamlit refuses to have them assigned.
"""

import functools
import logging
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.params import Param
from ui.formulas import stacked
from ui.i18n import t
from ui.theme import PlotStyle, plot_style
from ui.url_state import Problem, encode_params, parse_params

PROJECTOR_KEY = "projector"
_URL_WRITTEN = "_url_written"  # query strings the app last wrote or consumed, per name
_URL_SPECS = "_url_specs"  # every Param bound during this run, for writing the URL at the end
_URL_PROBLEMS = "_url_problems"  # {group of names: problems} still shown to the user
_SHARE_KEY = "_share_link"
_NOTED = "_noted_values"  # (page, {key: value}) as the last run of either kind left them
_LOG = logging.getLogger(__name__)


def enter_through_shell() -> None:
    """Run this page inside ``app.py``'s navigation even when it is the server's first request.

    Streamlit 1.67 decides per process whether the app uses the legacy ``pages/`` auto-discovery
    before any script has run, so a direct link such as ``/optimizers?lang=zh`` as a fresh server's
    first request runs the page file alone: no sidebar, no language, Streamlit's file list. Calling
    ``st.navigation`` (what ``app.py`` does) switches that off; here we switch it off and rerun, and
    the rerun enters through ``app.py`` on the same page, because each file in ``pages/`` is named
    after its URL path (so the legacy and the real page share one page hash).
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def keep_widget_values() -> None:
    """Re-assign kept widget values so that leaving a page does not wipe them.

    A page switch drops the values of the widgets the new page lacks before any script runs. A
    value re-assigned here in the last full run survives as a plain session value, but a
    fragment's own run (a training tick) holds every value under its widget again: after one,
    every setting of the page left was gone. So each run notes the values (``note_widget_values``)
    and the first run on another page puts back those that are gone; on the same page a missing
    value was deleted on purpose.
    """
    page = _page()
    noted_page, noted = st.session_state.get(_NOTED, (page, {}))
    for key, value in noted.items() if noted_page != page else ():
        if key not in st.session_state:
            st.session_state[key] = value
    for key in list(st.session_state.keys()):
        if not str(key).startswith("_"):
            st.session_state[key] = st.session_state[key]
    note_widget_values()


def note_widget_values() -> None:
    """Remember this page's kept widget values for ``keep_widget_values``."""
    values = {k: st.session_state[k] for k in st.session_state.keys() if not str(k).startswith("_")}
    st.session_state[_NOTED] = (_page(), values)


def _page() -> str:
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


# The argument through which each widget takes its initial value; every other widget calls it value.
_INITIAL_VALUE_ARGUMENT = {
    "selectbox": "index",
    "radio": "index",
    "multiselect": "default",
    "segmented_control": "default",
    "pills": "default",
}


def keyed(widget: Callable, key: str, default: Any, **kwargs) -> Any:
    """Create ``widget`` bound to ``key``, seeded once with ``default``; return its value.

    The widget is also given its current value as its initial value. The browser falls back to a
    widget's initial value when it mounts the widget afresh before it has stored what the server
    set (it happens on a cold first load by link); without one, Streamlit's initial value is the
    minimum, and the start point of page 2 showed -1000 instead of -1.5. The widget's identity is
    its key, so a changing initial value neither resets it nor makes it a new widget.
    """
    st.session_state.setdefault(key, default)
    value = st.session_state[key]
    options = kwargs.get("options")
    if options is not None:
        options = list(options)
        # A value from an older link or page version that is no longer offered falls back.
        if isinstance(value, list):
            value = [item for item in value if item in options]
        elif value not in options:
            value = default
        st.session_state[key] = value
    argument = _INITIAL_VALUE_ARGUMENT.get(widget.__name__, "value")
    if argument == "index":
        kwargs[argument] = options.index(value) if value in options else None
    elif "min_value" not in kwargs and "max_value" not in kwargs:
        kwargs[argument] = value
    else:
        initial = _fitting_number(value, kwargs)
        if initial is None:
            initial = _fitting_number(default, kwargs)
            # A value set before the widget existed (a link, a preset) that its bounds refuse:
            # Streamlit raises for it rather than resetting it, so it falls back here.
            if initial is not None:
                st.session_state[key] = initial
        if initial is not None:
            kwargs[argument] = initial
    return widget(key=key, **kwargs)


def _fitting_number(value: Any, kwargs: Mapping[str, Any]) -> Any:
    """``value`` (a number or a slider's range) between the widget's bounds and of their type, or
    None: Streamlit raises on an initial value that breaks either. A kept value outside bounds that
    changed is reset by Streamlit to the initial value, so ``keyed`` then passes the default."""
    numbers = value if isinstance(value, tuple | list) else (value,)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    bounds_are_integral = all(isinstance(b, int) for b in (low, high) if b is not None)
    fitted = []
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
        if not bounds_are_integral:
            number = float(number)
        elif not isinstance(number, int):
            return None
        if (low is not None and number < low) or (high is not None and number > high):
            return None
        fitted.append(number)
    return tuple(fitted) if isinstance(value, tuple | list) else fitted[0]


def _raw_query() -> dict[str, str]:
    return {name: st.query_params.get(name, "") for name in st.query_params}


def begin_run() -> None:
    """Start a run of the app shell: forget the URL specs bound by the previous run."""
    st.session_state[_URL_SPECS] = {}


def bind_url(specs: Mapping[str, Param]) -> None:
    """Before the widgets in ``specs`` are created, apply values from a link that changed.

    Values are applied when this part of the URL differs from what the app itself last wrote, i.e.
    when the user opened or edited a link. Bad values leave the widget as it was and are listed in
    a translated notice, shown here until dismissed.
    """
    st.session_state.setdefault(_URL_SPECS, {}).update(specs)
    written: dict[str, str] = st.session_state.setdefault(_URL_WRITTEN, {})
    raw = _raw_query()
    ours = {name: raw[name] for name in specs if name in raw}
    group = ",".join(specs)
    if ours != {name: written[name] for name in specs if name in written}:
        values, problems = parse_params(ours, specs)
        for name, value in values.items():
            st.session_state[name] = value
        for name in specs:
            written.pop(name, None)
        written.update(ours)
        if problems:
            st.session_state.setdefault(_URL_PROBLEMS, {})[group] = problems
    _url_notice(group)


def finish_run(notice_slot) -> None:
    """After the page ran: report URL names nobody bound, then write the current setup."""
    specs: dict[str, Param] = st.session_state.get(_URL_SPECS, {})
    raw = _raw_query()
    # A name the app wrote itself is no link's fault: it belongs to a setting the page no longer
    # shows (a guided experiment switched a schedule's kind), and the URL written below drops it.
    written: dict[str, str] = st.session_state.get(_URL_WRITTEN, {})
    foreign = {k: v for k, v in raw.items() if k not in specs and written.get(k) != v}
    unknown = parse_params(foreign, {})[1]
    if unknown:
        st.session_state.setdefault(_URL_PROBLEMS, {})["_unknown"] = unknown
    with notice_slot:
        _url_notice("_unknown")
    _write_url(raw)


def _encoded_setup() -> dict[str, str]:
    """The query parameters of the current setup: every setting bound in the last full run."""
    specs: dict[str, Param] = st.session_state.get(_URL_SPECS, {})
    values = {name: st.session_state[name] for name in specs if name in st.session_state}
    return encode_params(values, specs)


def _write_url(raw: dict[str, str]) -> None:
    encoded = _encoded_setup()
    st.session_state[_URL_WRITTEN] = dict(encoded)
    if encoded != raw:
        st.query_params.from_dict(encoded)


def isolated_fragment(
    run_every: float | None = None,
) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """``st.fragment(run_every=…)`` whose elements sit alone in a container of their own.

    Why: Streamlit 1.67 clears the outgoing message queue whenever a run starts. When a rerun of
    a fragment starts right after a full run (its timer or a click came in while the full run was
    busy), the full run's not yet sent elements of that fragment are dropped, but the message
    that the full run finished is kept. The browser then removes the fragment's elements as
    stale, and every later sibling moves up one place. The fragment's own rerun writes into the
    sibling's place or, for a path through a place that is gone, fails with "Cannot set a node at
    a delta path" and the whole page goes white. Seen under a class's load on the MNIST page.
    Alone in its container, the fragment leaves no sibling to move.
    """

    def isolate(view: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(view)
        def noting_view() -> None:
            note_widget_values()  # see keep_widget_values: this run may be the last before a switch
            view()

        as_fragment = st.fragment(noting_view, run_every=run_every)

        @functools.wraps(view)
        def placed() -> None:
            with st.container():
                as_fragment()

        return placed

    return isolate


def panel_fragment(panel: Callable[[], None]) -> Callable[[], None]:
    """``panel`` as a Streamlit fragment: a change of one of its widgets reruns this panel alone.

    With a class on one process, every click used to rerun the whole page (every tab, the sidebar,
    the shell) while holding the GIL; a panel is a fraction of that. Its widgets must not change
    what other panels show, and a button that sets up other panels must ask for a full
    ``st.rerun()``. After a panel's own rerun the URL is written here, as ``finish_run`` does after
    a full run, from the settings every panel bound in the last full run.
    """

    @isolated_fragment()
    @functools.wraps(panel)
    def run_panel() -> None:
        panel()
        ctx = get_script_run_ctx()
        if ctx is not None and ctx.fragment_ids_this_run:
            _write_url(_raw_query())

    return run_panel


def _as_code_text(raw: str) -> str:
    """``raw`` made safe inside a markdown code span: no backticks, no line breaks or controls."""
    return "".join(
        "\N{MODIFIER LETTER GRAVE ACCENT}"
        if c == "`"
        else "\N{REPLACEMENT CHARACTER}"
        if unicodedata.category(c).startswith("C")
        else c
        for c in raw
    )


def _url_notice(group: str) -> None:
    problems: list[Problem] = st.session_state.get(_URL_PROBLEMS, {}).get(group, [])
    if not problems:
        return
    lines = [
        t(
            "url.problem_line",
            name=_as_code_text(p.name),
            value=_as_code_text(p.raw),
            reason=t(f"url.reason_{p.reason}"),
        )
        for p in problems
    ]
    st.warning(t("url.notice_title") + "\n\n" + "\n".join(f"- {line}" for line in lines))
    if st.button(t("url.dismiss"), key=f"_url_dismiss_{group}"):
        del st.session_state[_URL_PROBLEMS][group]
        st.rerun()


def share_link() -> None:
    """A popover with the URL of the current setup, ready to copy.

    Opening it reruns the app, so the link is made from the settings of that moment: a panel that
    reran alone (``panel_fragment``) does not redraw the sidebar.
    """
    popover = st.popover(
        t("share.button"),
        icon=":material/link:",
        width="stretch",
        key=_SHARE_KEY,
        on_change="rerun",
    )
    if not popover.open:
        return
    query = urlencode(_encoded_setup(), quote_via=quote)
    base = st.context.url or ""
    with popover:
        st.caption(t("share.help"))
        st.code(f"{base}?{query}" if query else base, language=None, wrap_lines=True)


def current_plot_style() -> PlotStyle:
    """The figure style for this session: projector mode and the browser's light/dark theme."""
    try:
        dark = st.context.theme.type == "dark"
    except (AttributeError, RuntimeError):
        dark = False
    return plot_style(projector=bool(st.session_state.get(PROJECTOR_KEY, False)), dark=dark)


def log_exception(where: str, error: BaseException) -> None:
    """Keep the full traceback in the server log, where the maintainers look."""
    _LOG.error("error in %s", where, exc_info=error)


def _apply_preset(values: Mapping[str, Any], owned: tuple[str, ...]) -> None:
    """Every setting whose key starts with one of ``owned`` back to its default, then ``values``.

    Deleted keys are seeded again with their widget's default by ``keyed``. Without the reset, a
    setting that one experiment changed and the next one does not name (momentum 0.99, 500 steps)
    stayed on and quietly changed what the next experiment shows.
    """
    for key in [k for k in st.session_state if str(k).startswith(owned)]:
        del st.session_state[key]
    for key, value in values.items():
        st.session_state[key] = value


def guided_experiment(
    title: str,
    predict: str,
    explain: str,
    values: Mapping[str, Any],
    key: str,
    owned: tuple[str, ...],
) -> None:
    """Predict → run → explain: the question, a button that sets the page up, and the answer.

    The button first resets every setting of the page (the keys starting with ``owned``), so each
    experiment starts from the page's defaults plus its own ``values``.
    """
    with st.expander(title, icon=":material/science:"):
        st.markdown(f"**{t('experiments.predict')}** {predict}")
        st.button(
            t("experiments.run"),
            key=key,
            on_click=_apply_preset,
            args=(dict(values), owned),
            type="primary",
        )
        with st.popover(t("experiments.explain_button")):
            st.markdown(explain)


def show_formula(latex: str) -> None:
    """A formula, one statement per line (``ui.formulas.stacked``)."""
    st.latex(stacked(latex))


def show_code(code: str) -> None:
    """Copyable Python with its long lines wrapped: a torch call cut at a card's edge hid its last
    arguments on a projector's narrow page."""
    st.code(code, language="python", wrap_lines=True)


def show_figure(fig, key: str, **events: Any) -> None:
    """Draw a plotly figure with the shared theme (not Streamlit's) at full width; ``events``
    (``on_select``, ``selection_mode``) go to ``st.plotly_chart`` as they are."""
    st.plotly_chart(
        fig,
        key=key,
        theme=None,
        width="stretch",
        config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}},
        **events,
    )
