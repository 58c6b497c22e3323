"""Browser tests: the real server on a free loopback port, Debian's chromium driven by Playwright.

Screenshots land in ``screenshots/`` (git-ignored) so a person can look at what the tests saw.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks._server import CHROMIUM, CHROMIUM_ARGS, running_server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}, "locale": "en-US"}


@contextlib.contextmanager
def running_app(log_name: str = "server.log", script: str = "app.py") -> Iterator[str]:
    """Start ``streamlit run <script>`` (relative to the project root); yield its base URL; stop it.

    The server's output goes to ``screenshots/<log_name>``."""
    with running_server(SCREENSHOTS / log_name, script) as (url, _pid):
        yield url


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """One real server shared by the browser tests of a session."""
    with running_app() as url:
        yield url


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit is connected and has finished the current run.

    The app element carries the frontend's own state (``data-test-script-state``: "initial"
    before the first run, then "running", "notRunning", …). Waiting only for the "running"
    status widget to be absent passed before a slow first run had started, and a test then
    looked at a page that had its headings but not yet its widgets (seen on CI).
    """
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_timeout(300)  # a click's rerun may not have started yet
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
        "[data-test-script-state='notRunning']",
        timeout=timeout,
    )
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
