"""Home: what the playground teaches, and a link to every page in the page list."""

import streamlit as st

from ui.controls import enter_through_shell
from ui.i18n import t
from ui.navigation import PAGES, SECTIONS

enter_through_shell()

st.title(t("home.heading"))
st.markdown(t("home.intro"))

for section in SECTIONS:
    entries = [entry for entry in PAGES if entry.section == section and entry.area != "home"]
    if not entries:
        continue
    st.subheader(t(f"nav.section_{section}"))
    for entry in entries:
        st.page_link(entry.path, label=t(f"{entry.area}.title"), icon=entry.icon)
        st.caption(t(f"{entry.area}.summary"))

st.divider()
st.markdown(t("home.tips"))
