"""Faults a class causes without meaning to, against a real server of their own: a tab closed while
it trains, Pause / Reset / Start clicked in quick succession during ticks, and two tabs of one user.

Each test checks what the user sees (no exception box, counters that make sense, settings kept)
and what the server log says (no traceback), and that the next visitor is unaffected.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, running_app, screenshot, wait_for_app

LOG = "faults-server.log"


@pytest.fixture(scope="module")
def fault_server() -> Iterator[str]:
    with running_app(LOG) as url:
        yield url


def server_log() -> str:
    return (SCREENSHOTS / LOG).read_text(errors="replace")


def steps(page) -> int:
    metric = page.get_by_test_id("stMetric").filter(has_text=re.compile("^Step"))
    return int(metric.first.get_by_test_id("stMetricValue").inner_text().replace(",", ""))


def wait_for_more_steps(page, than: int, timeout: float = 30_000) -> None:
    page.wait_for_function(
        """(than) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.startsWith('Step') && parseInt(
                m.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, '')) > than)""",
        arg=than,
        timeout=timeout,
    )


def open_mnist(page, url: str, query: str = "") -> None:
    page.goto(f"{url}/mnist?lang=en{query}")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Live MNIST training")


def assert_no_failure(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Something went wrong")).to_have_count(0)


def test_a_tab_closed_mid_training_does_not_touch_the_next_visitor(browser, fault_server):
    first = browser.new_context(viewport={"width": 1400, "height": 900})
    page = first.new_page()
    open_mnist(page, fault_server)
    page.get_by_role("button", name="Start", exact=True).click()
    wait_for_more_steps(page, 0)
    first.close()  # the student closes the laptop while a tick is running

    second = browser.new_context(viewport={"width": 1400, "height": 900})
    page = second.new_page()
    open_mnist(page, fault_server)
    assert steps(page) == 0  # a fresh session, not the abandoned one
    page.get_by_role("button", name="Start", exact=True).click()
    wait_for_more_steps(page, 0)
    page.get_by_role("button", name="Pause", exact=True).click()
    wait_for_app(page)
    assert_no_failure(page)
    second.close()
    assert "Traceback" not in server_log()


def test_pause_reset_and_start_in_quick_succession_during_ticks(page, fault_server):
    open_mnist(page, fault_server, "&mn_batch=32&mn_lr=0.03")  # settings from a teacher's link
    page.get_by_role("button", name="Start", exact=True).click()
    wait_for_more_steps(page, 0)
    # Clicks land while a fragment tick is running: no wait between them.
    for name in ("Pause", "Start", "Reset", "Start", "Pause", "Start", "Pause"):
        page.get_by_role("button", name=name, exact=True).click()
        page.wait_for_timeout(150)
    wait_for_app(page)
    assert_no_failure(page)
    paused_at = steps(page)
    page.wait_for_timeout(1500)
    assert steps(page) == paused_at  # paused means paused
    # Reset builds a fresh network and keeps every setting the user made.
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_for_app(page)
    assert steps(page) == 0
    assert "mn_batch=32" in page.url and "mn_lr=0.03" in page.url
    page.get_by_role("button", name="Start", exact=True).click()
    wait_for_more_steps(page, 0)
    page.get_by_role("button", name="Pause", exact=True).click()
    wait_for_app(page)
    assert_no_failure(page)
    screenshot(page, "faults-quick-clicks")
    assert "Traceback" not in server_log()


def test_two_tabs_of_one_user_train_independently(browser, fault_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    one, two = context.new_page(), context.new_page()
    open_mnist(one, fault_server)
    open_mnist(two, fault_server)

    def click(page, name: str) -> None:
        page.bring_to_front()  # a background tab's timers are throttled by the browser
        page.get_by_role("button", name=name, exact=True).click()
        wait_for_app(page)

    click(one, "Start")
    wait_for_more_steps(one, 20)
    two.bring_to_front()
    assert steps(two) == 0  # the other tab's network is not this one
    click(two, "Start")
    wait_for_more_steps(two, 0)
    click(one, "Pause")
    one.wait_for_timeout(1000)  # a tick already running when Pause arrived may still land
    paused = steps(one)
    two.bring_to_front()
    moving = steps(two)
    wait_for_more_steps(two, moving)  # tab two keeps training while tab one is paused
    one.bring_to_front()
    one.wait_for_timeout(1000)
    assert steps(one) == paused
    click(two, "Pause")
    for page in (one, two):
        assert_no_failure(page)
    context.close()
    assert "Traceback" not in server_log()
