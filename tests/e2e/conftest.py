"""Browser tests: the real server on a free loopback port, Debian's chromium driven by Playwright.

Screenshots land in ``screenshots/`` (git-ignored) so a person can look at what the tests saw.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = os.environ.get("DLP_CHROMIUM", "/usr/bin/chromium")
# The machine has no network beyond package registries: keep chromium from phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(log_name: str = "server.log", script: str = "app.py") -> Iterator[str]:
    """Start ``streamlit run <script>`` on a free loopback port; yield its base URL; stop it.

    ``script`` is relative to the project root, which is on the import path whatever folder the
    script is in (a test's own small app imports ``ui`` as the pages do)."""
    port = _free_port()
    import_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    SCREENSHOTS.mkdir(exist_ok=True)
    with (SCREENSHOTS / log_name).open("w") as log_file:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", script,
                "--server.address=127.0.0.1", f"--server.port={port}",
                "--server.headless=true", "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
            ],
            cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": import_path},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: screenshots/{log_name}") from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


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
