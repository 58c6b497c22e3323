"""Page 1 in a real browser: English, Chinese, and Chinese in projector mode (screenshots)."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app


def test_activations_page_in_english(page, app_url):
    page.goto(f"{app_url}/activations?lang=en&act_x=1.5")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Activation and loss functions")
    # Plotly's bundle loads after the script run ends, so give the first chart time to appear.
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Values at z =").first).to_be_visible()
    screenshot(page, "activations-en")
    page.goto(f"{app_url}/activations?lang=en&stab_log_scale=3&stab_label=2")
    wait_for_app(page)
    page.get_by_role("tab", name="Numerical stability").click()
    page.wait_for_timeout(500)
    expect(page.get_by_text("The naive formula overflowed").first).to_be_visible()
    screenshot(page, "activations-en-stability")


def test_activations_page_in_chinese_and_projector_mode(page, app_url):
    page.goto(f"{app_url}/activations?lang=zh")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("激活函数与损失函数")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    screenshot(page, "activations-zh")
    page.get_by_role("tab", name="损失函数").click()
    page.wait_for_timeout(800)
    screenshot(page, "activations-zh-losses")
    page.goto(f"{app_url}/activations?lang=zh&projector=1")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("激活函数与损失函数")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    screenshot(page, "activations-zh-projector")


def test_a_panel_reruns_alone_and_still_writes_the_link(page, app_url):
    page.goto(f"{app_url}/activations?lang=en")
    wait_for_app(page)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Numerical stability").click()
    temperature = page.get_by_test_id("stSlider").filter(has_text="Temperature")
    temperature.get_by_role("slider").focus()
    page.keyboard.press("ArrowRight")
    # The panel's own rerun writes the URL: what the address bar holds is the setup.
    expect(page).to_have_url(re.compile(r"stab_temperature=1\.05"), timeout=15_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Link to this setup").click()
    expect(page.get_by_test_id("stCode").filter(has_text="stab_temperature=1.05")).to_be_visible()
