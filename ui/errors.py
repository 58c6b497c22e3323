"""Contain a failure to one panel: a short translated message, details in an expander."""

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ui.controls import log_exception
from ui.i18n import t


@contextmanager
def guarded_panel(what: str) -> Iterator[None]:
    """Run a panel; if it raises, say so in the user's language and let the page go on.

    ``what`` is the already-translated name of the panel. Streamlit's own rerun and stop signals
    derive from BaseException, so they pass through untouched.
    """
    try:
        yield
    except Exception as error:
        log_exception(what, error)
        st.error(t("errors.panel_failed", what=what), icon=":material/error:")
        with st.expander(t("errors.details")):
            st.code("".join(traceback.format_exception(error)), language=None)
