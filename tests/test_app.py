"""The app shell: both languages, projector mode, URL notices, panel errors, home links."""

import gc
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT, run_app
from ui.i18n import translate
from ui.navigation import PAGES


@pytest.mark.parametrize("language", ["en", "zh"])
def test_home_renders_in_each_language(language):
    at = run_app(lang=language)
    assert not at.exception
    assert at.title[0].value == translate(language, "home.heading")
    assert at.selectbox(key="lang").value == language


def test_chinese_from_the_browser_locale_is_overridden_by_the_url():
    at = run_app(lang="zh", projector="1")
    assert not at.exception
    assert at.toggle(key="projector").value is True
    assert at.title[0].value == "深度学习游乐场"


def test_projector_mode_from_url():
    at = run_app(projector="1")
    assert not at.exception
    assert at.toggle(key="projector").value is True


@pytest.mark.parametrize("language", ["en", "zh"])
def test_malformed_url_gets_a_translated_notice(language):
    at = run_app(lang=language, projector="perhaps", nonsense="1")
    assert not at.exception
    notices = [warning.value for warning in at.warning]
    assert all(n.startswith(translate(language, "url.notice_title")) for n in notices)
    assert "`projector`" in notices[0] and "`nonsense`" in notices[1]
    assert at.toggle(key="projector").value is False
    assert len(at.button) == 2  # one dismiss button for the sidebar's names, one for unknown names


def test_bad_language_falls_back_with_notice():
    at = run_app(lang="xx")
    assert not at.exception
    assert at.selectbox(key="lang").value == "en"
    assert "`lang`" in at.warning[0].value


def test_home_links_every_page():
    at = run_app()
    linked = [link.proto.page for link in at.get("page_link")]
    assert linked == [entry.url_path for entry in PAGES if entry.area != "home"]


def _failing_panel_script():
    import streamlit as st

    from ui.errors import guarded_panel

    with guarded_panel("Demo panel"):
        raise ZeroDivisionError("boom")
    st.write("after the panel")


def test_guarded_panel_contains_the_failure():
    at = AppTest.from_function(_failing_panel_script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "Demo panel" in at.error[0].value
    assert at.markdown[-1].value == "after the panel"
    assert "ZeroDivisionError" in at.expander[0].code[0].value


@pytest.mark.parametrize("entry", PAGES, ids=[entry.area for entry in PAGES])
def test_every_page_can_be_the_first_request(entry):
    # A direct link as a fresh server's first request runs the page file through Streamlit's legacy
    # pages/ discovery; the page must hand over to app.py, and the rerun finds the same page only
    # when the file is named after its URL path (tests/e2e/test_direct_links_e2e.py shows it live).
    source = Path(entry.path).read_text(encoding="utf-8")
    assert Path(entry.path).stem == entry.url_path
    assert "\nenter_through_shell()\n" in source


def test_the_first_run_freezes_what_the_imports_made_out_of_the_collectors_reach():
    """A full collection (Python's own; Streamlit's per-run one is off) must not walk the
    imported modules' objects."""
    run_app()
    assert gc.get_freeze_count() > 50_000
    page_dependencies = ("core.training", "core.deep_signals", "ui.plots.optimizers")
    assert all(name in sys.modules for name in page_dependencies)


def test_no_full_collection_after_every_run():
    """A full gc.collect() per run (fragment ticks included) walked every visitor's objects under
    the GIL: a third of a 30-session server's samples. Python's own collector still runs."""
    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit/config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
