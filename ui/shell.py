"""The app's frame around every page: process tuning for a server that every visitor shares, the
sidebar's shared settings and projector styles, the notice after a reconnect to a new session, and
the navigation built from ``ui.navigation``."""

import gc
import importlib
import pkgutil
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from threadpoolctl import threadpool_limits

from core.memory import tune_allocator
from core.params import Param
from ui.controls import PROJECTOR_KEY, bind_url, keyed
from ui.i18n import LANGUAGE_KEY, LANGUAGE_NAMES, LANGUAGES, language_from_locale, t
from ui.navigation import PAGES, SECTIONS
from ui.theme import make_light_template_the_default

# A file of our own: a Material icon name makes the browser fetch the tab icon from Google's font
# server, which a classroom offline or behind a school filter cannot reach.
ICON = Path(__file__).parent / "assets" / "icon.svg"
RESTARTED_KEY = "_restarted_notice_shown"

# Larger type for the whole page (the charts get theirs from ui/theme.py), and a sidebar wide enough
# that the larger page titles and buttons stay on one line. st.metric's value is a markdown
# paragraph too, and must not shrink below its label. School projectors run at 1280 × 720 to
# 1920 × 1080: below 1500 px the type, the sidebar and the page's side padding (in rem, so it grew
# with the type) are smaller, or a 1280 px page kept 660 px for its content and cut its labels.
# A page title too long for the sidebar wraps rather than end in "…" ("Learning-rate schedu…").
PROJECTOR_CSS = (
    "<style>html { font-size: 22px; } "
    "[data-testid='stSidebarNavLink'] :is(span, div, p):not([data-testid='stIconMaterial']) "
    "{ white-space: normal; } "
    "[data-testid='stMarkdownContainer'] p { font-size: 1.1rem; } "
    "[data-testid='stMetricValue'] p { font-size: inherit; } "
    "[data-testid='stSidebar'][data-collapsed='false'] { width: 400px !important; } "
    "[data-testid='stMainBlockContainer'] { padding-left: 2rem; padding-right: 2rem; } "
    "@media (max-width: 1500px) { html { font-size: 18px; } "
    "[data-testid='stSidebar'][data-collapsed='false'] { width: 300px !important; } "
    "[data-testid='stMainBlockContainer'] { padding-left: 1rem; padding-right: 1rem; } }</style>"
)


@st.cache_resource(show_spinner=False)
def tune_process():
    """Process-wide settings for a server that every visitor shares, applied once.

    Freed NumPy temporaries stay in glibc's heap (no page faults per training step), and BLAS uses
    one thread: with several visitors computing at once on 2 cores, a multi-threaded BLAS
    oversubscribes the cores and its spinning threads make every step many times slower. Figures
    start from the light template rather than copying it one by one. The returned limiter is kept
    by the cache so the limit stays in force.

    A full garbage collection walks every object the imports made: ~170,000 here, ~90 ms on this
    machine, holding the GIL for every visitor. Streamlit's collection after every run is switched
    off in ``.streamlit/config.toml`` (``runner.postScriptGC``), but Python's own full collections
    still come as the visitors' objects pile up. The modules of every page are imported now and
    their objects frozen (``gc.freeze``), out of the collector's reach; they live as long as the
    process anyway. Each run's own cyclic garbage is still collected.
    """
    tune_allocator()
    make_light_template_the_default()
    for package in ("core", "ui"):
        for module in pkgutil.walk_packages(
            importlib.import_module(package).__path__, f"{package}."
        ):
            importlib.import_module(module.name)
    gc.freeze()
    return threadpool_limits(limits=1, user_api="blas")


def shared_settings() -> None:
    """The language (the browser's by default) and projector mode, in the sidebar and the URL; then
    the notice for a browser that reconnected to a new session."""
    browser_language = language_from_locale(st.context.locale)
    bind_url(
        {
            LANGUAGE_KEY: Param("choice", browser_language, options=tuple(LANGUAGES)),
            PROJECTOR_KEY: Param("bool", False),
        }
    )
    with st.sidebar:
        keyed(
            st.selectbox,
            LANGUAGE_KEY,
            browser_language,
            label=t("app.language"),
            options=list(LANGUAGES),
            format_func=LANGUAGE_NAMES.get,
        )
        keyed(
            st.toggle, PROJECTOR_KEY, False, label=t("app.projector"), help=t("app.projector_help")
        )
    if st.session_state[PROJECTOR_KEY]:
        st.html(PROJECTOR_CSS)
    restarted_notice()


def resumed_session_id(protocols: str | None) -> str | None:
    """The session a reconnecting browser asks for: Streamlit's frontend sends
    ``streamlit, <xsrf token>, <session id>`` as its websocket subprotocols, the id only when it
    reconnects."""
    entries = [entry.strip() for entry in (protocols or "").split(",")]
    return entries[2] if len(entries) > 2 and entries[2] else None


def restarted_notice() -> None:
    """Say once, in the session's first run, that this is a new session for a browser that had one.

    The browser reconnected to a process that does not hold its session (behind a load balancer,
    its replica died or was replaced; on one server, the server restarted), so everything kept in
    the old session, a training run above all, is gone; the settings came back from the URL.
    """
    asked = resumed_session_id(st.context.headers.get("Sec-Websocket-Protocol"))
    ctx = get_script_run_ctx()
    if asked is None or ctx is None or asked == ctx.session_id:
        return
    if not st.session_state.get(RESTARTED_KEY):
        st.session_state[RESTARTED_KEY] = True
        st.info(t("app.restarted"), icon=":material/restart_alt:")


def navigation():
    """``st.navigation`` over ``ui.navigation.PAGES``, by section, with translated titles."""
    return st.navigation(
        {
            t(f"nav.section_{section}"): [
                st.Page(
                    entry.path,
                    title=t(f"{entry.area}.title"),
                    icon=entry.icon,
                    url_path=entry.url_path,
                    default=index == 0,
                )
                for index, entry in enumerate(PAGES)
                if entry.section == section
            ]
            for section in SECTIONS
            if any(entry.section == section for entry in PAGES)
        }
    )
