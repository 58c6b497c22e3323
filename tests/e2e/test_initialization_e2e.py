"""The initialization page in a real browser: A/B signals, training, and the explosion message."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app


@pytest.mark.parametrize(
    ("query", "heading", "train", "name"),
    [
        (
            "lang=en",
            "Weight initialization: what reaches the last layer?",
            "Train the setups",
            "init-en",
        ),
        (
            "lang=zh&projector=1",
            "权重初始化：什么能到达最后一层？",
            "训练这些设置",
            "init-zh-projector",
        ),
    ],
)
def test_both_setups_are_drawn_and_trained(page, app_url, query, heading, train, name):
    page.goto(f"{app_url}/initialization?{query}")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    # Signals (3 panels in one figure), two distribution heat maps, unit shares, symmetry.
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(5, timeout=20_000)
    expect(plots.first.locator(".scatterlayer .trace")).to_have_count(6)  # 2 setups × 3 panels
    screenshot(page, f"{name}-top")
    page.get_by_role("button", name=train).click()
    wait_for_app(page, timeout=60_000)
    expect(plots).to_have_count(6, timeout=60_000)
    page.locator(".st-key-in_train_chart").scroll_into_view_if_needed()
    screenshot(page, f"{name}-train")


def test_an_exploding_setup_is_named_not_drawn_broken(page, app_url):
    page.goto(
        f"{app_url}/initialization?lang=en&in_compare=0&in_depth=50"
        "&in_a_init=normal&in_a_normal_std=1.0"
    )
    wait_for_app(page)
    message = page.get_by_text("the activations exploded at hidden layer 36")
    expect(message).to_be_visible(timeout=20_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=20_000)
    screenshot(page, "init-explode-en")
