"""The optimizers page in a real browser: English, Chinese, projector mode; charts render."""

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app


def test_optimizers_in_english(page, app_url):
    page.goto(f"{app_url}/optimizers?lang=en")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Optimizers race on a loss surface")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    assert page.locator(".js-plotly-plot").count() >= 4
    screenshot(page, "optimizers-en")


def test_optimizers_in_chinese_and_projector_mode(page, app_url):
    # Opened from the home page through the navigation, as a student would.
    page.goto(f"{app_url}/?lang=zh")
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("优化器").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("优化器在损失曲面上比赛")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    screenshot(page, "optimizers-zh")
    page.goto(f"{app_url}/?lang=zh&projector=1")
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("优化器").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("优化器在损失曲面上比赛")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    screenshot(page, "optimizers-zh-projector")
