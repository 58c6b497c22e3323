"""Guided experiments in a real browser, one after another on the same page."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app
from ui.i18n import translate


@pytest.mark.parametrize(
    ("page_name", "area", "experiments"),
    [
        ("Learning-rate schedules", "schedules", ["warmup_adam", "restarts", "step_vs_cosine"]),
        ("Weight initialization", "initialization", ["batch_norm", "tanh_saturation", "explode"]),
    ],
)
def test_experiments_one_after_another_raise_no_link_notice(
    page, app_url, page_name, area, experiments
):
    # Each experiment rewrites the URL; settings of the one before (sch_s1_factor, in_b_normal_std)
    # were then reported as "could not be used" from a link that nobody opened.
    page.goto(f"{app_url}/?lang=en")
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text(page_name).click()
    wait_for_app(page)
    for name in experiments:
        title = translate("en", f"{area}.exp.{name}.title")
        expander = page.get_by_test_id("stExpander").filter(has_text=title)
        expander.get_by_text(title, exact=True).click()
        expander.get_by_role("button", name=translate("en", "experiments.run")).click()
        wait_for_app(page)
        expect(page.get_by_text(translate("en", "url.notice_title"))).to_have_count(0)
        assert not page.get_by_test_id("stException").count()
    screenshot(page, f"{area}-experiments-in-a-row")
