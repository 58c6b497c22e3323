"""Entrypoint: page config, the shared sidebar (language, projector mode, share link), navigation."""

# Imported here, completely, before any page runs: plotly's validators look pandas up in
# sys.modules, so a second visitor's first chart could otherwise find the half-imported pandas
# that a first visitor's thread is still loading (AttributeError: partially initialized module).
import pandas  # noqa: F401
import streamlit as st

from ui.controls import begin_run, finish_run, keep_widget_values, share_link
from ui.shell import ICON, navigation, shared_settings, tune_process

st.set_page_config(
    page_title="Deep Learning Playground · 深度学习游乐场",
    page_icon=str(ICON),
    layout="wide",
)
tune_process()
keep_widget_values()
begin_run()
shared_settings()
page = navigation()
notice_slot = st.container()
page.run()
finish_run(notice_slot)
with st.sidebar:
    share_link()
