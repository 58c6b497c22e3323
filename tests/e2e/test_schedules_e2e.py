"""The schedules page in a real browser: English, Chinese, and Chinese in projector mode."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app


@pytest.mark.parametrize(
    ("query", "heading", "preset", "name"),
    [
        ("lang=en", "Learning-rate schedules", "The classic five", "schedules-en"),
        ("lang=zh", "学习率调度", "经典五种", "schedules-zh"),
        ("lang=zh&projector=1", "学习率调度", "经典五种", "schedules-zh-projector"),
    ],
)
def test_schedules_page_draws(page, app_url, query, heading, preset, name):
    # The link opens the app root: the shell applies ?lang= there (see the report on /<page>?lang=).
    page.goto(f"{app_url}/?{query}")
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text(heading).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.get_by_role("button", name=preset).click()
    wait_for_app(page)
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(2, timeout=20_000)
    expect(plots.first.locator(".scatterlayer .trace")).to_have_count(5)
    screenshot(page, name)
