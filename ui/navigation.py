"""The page list: app.py builds the navigation from it and the home page links every entry.

Adding a page is one line here; its ``area`` names its locale file, which must define
``title`` and ``summary``. Sections appear in the order of ``SECTIONS``.
"""

from typing import NamedTuple


class PageEntry(NamedTuple):
    """One page of the app."""

    path: str  # relative to the repo root, as st.Page and AppTest.switch_page take it
    area: str  # locale file stem: t(f"{area}.title"), t(f"{area}.summary")
    icon: str
    section: str  # key in SECTIONS
    url_path: str


SECTIONS = ("start", "blocks", "training")

PAGES = (
    PageEntry("pages/home.py", "home", ":material/home:", "start", "home"),
    PageEntry(
        "pages/activations.py", "activations", ":material/show_chart:", "blocks", "activations"
    ),
    PageEntry("pages/optimizers.py", "optimizers", ":material/route:", "blocks", "optimizers"),
    PageEntry("pages/schedules.py", "schedules", ":material/timeline:", "blocks", "schedules"),
    PageEntry(
        "pages/initialization.py",
        "initialization",
        ":material/stacked_line_chart:",
        "blocks",
        "initialization",
    ),
    PageEntry("pages/mnist.py", "mnist", ":material/model_training:", "training", "mnist"),
)
