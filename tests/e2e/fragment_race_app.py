"""A small page that meets the Streamlit race ``ui.controls.isolated_fragment`` works around.

A click inside a fragment that lands while a full run is busy queues the fragment's own rerun
behind that run. The full run here is slow on purpose and draws the fragments last, each with
a sibling after it (one at the top level, one in columns), as the pages' panels have.
``?plain=1`` declares the fragments with bare ``st.fragment``, to show the race is met.
"""

import time

import streamlit as st

from ui.controls import isolated_fragment

SLOW_FULL_RUN = 1.0  # seconds; clicks inside the panels during this time queue behind the run
PLAIN = st.query_params.get("plain") == "1"
as_fragment = st.fragment if PLAIN else isolated_fragment()

st.session_state.setdefault("panel_runs", 0)


@as_fragment
def panel() -> None:
    st.button("Rerun the panel")
    st.session_state.panel_runs += 1
    st.write(f"Panel runs: {st.session_state.panel_runs}")


@as_fragment
def second_panel() -> None:
    st.button("Rerun the second panel")
    st.write(f"Second panel at {time.monotonic():.3f}")


st.title("Fragments next to full runs")
st.button("Full run")
time.sleep(SLOW_FULL_RUN)
panel()
st.write("Below the panel")
left, right = st.columns(2)
with left:
    second_panel()
right.write("Beside the second panel")
