"""A shared link to any page works as a fresh server's very first request.

Streamlit decides per process, before any script ran, whether ``pages/`` is auto-discovered; a
direct link as the first request used to run the page file without the shell (English, Streamlit's
file list). Each case starts its own server so the link really is the first request.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import running_app, wait_for_app
from ui.i18n import translate
from ui.navigation import PAGES

# One page shows the mechanism live (each case costs a server start, ~20 s on 2 busy cores); that
# every page uses it is checked without a browser by tests/test_app.py, and every page is opened
# by a direct link in the browser tests of its own.
LINKED = [entry for entry in PAGES if entry.area == "mnist"]


@pytest.mark.parametrize("entry", LINKED, ids=[entry.area for entry in LINKED])
def test_direct_link_is_the_first_request(page, entry):
    with running_app(f"server-direct-{entry.area}.log") as url:
        page.goto(f"{url}/{entry.url_path}?lang=zh&projector=1")
        wait_for_app(page)
        # No status widget shows while a cold server imports the page and reruns it through the
        # shell (seconds on a busy 2-core machine), so wait for the shell's own sidebar instead.
        switch = page.get_by_test_id("stSidebar").get_by_role("switch")
        expect(switch).to_be_checked(timeout=60_000)
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_text(translate("zh", f"{entry.area}.title"), exact=True)).to_be_visible()
        expect(nav.get_by_text(entry.url_path, exact=True)).to_have_count(0)
        expect(page).to_have_url(f"{url}/{entry.url_path}?lang=zh&projector=1")
        expect(page.get_by_role("dialog")).to_have_count(0)
