"""Run the real app shell in AppTest, optionally on one page, with query parameters."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def run_app(page: str | None = None, **query: str) -> AppTest:
    """app.py run once (on ``page``, e.g. "pages/optimizers.py", if given) with ``query`` in the URL."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for name, value in query.items():
        at.query_params[name] = value
    if page is not None:
        at.switch_page(page)
    return at.run()


def run_page(page: str, language: str = "en", **query: str) -> AppTest:
    """One page on its own (as STYLE.md wants pages to be testable) in ``language``.

    AppTest 1.67 re-runs only the page script after a widget change in an st.navigation app, so
    interaction tests drive the page file directly; the shell's own tests use ``run_app``.
    """
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    at.session_state["lang"] = language
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def assert_link_opens(page: str, query: dict[str, str], expected: dict) -> None:
    """``page`` opened with ``query`` in its URL shows no error or notice, and its settings hold
    exactly ``expected`` (a link saved from an earlier version of the page, say)."""
    at = run_page(page, **query)
    assert not at.exception and not at.warning
    assert {key: at.session_state[key] for key in expected} == expected
