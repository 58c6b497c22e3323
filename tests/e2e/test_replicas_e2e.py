"""A replica dies mid-class, in a real browser: two replicas behind haproxy (deploy/haproxy.cfg,
natively), a student training on MNIST in Chinese, their replica killed. Streamlit's frontend
reconnects, haproxy sends it to the live replica, and the page says that the session started over,
with the settings of the link and Start to press again."""

import pytest
from playwright.sync_api import expect

from benchmarks._server import haproxy_binary, running_replicas
from tests.e2e.conftest import SCREENSHOTS, screenshot, wait_for_app
from tests.e2e.test_mnist_e2e import wait_for_steps
from ui.i18n import translate


@pytest.mark.skipif(
    haproxy_binary() is None, reason="haproxy is not installed (.ci/run installs it)"
)
def test_a_student_whose_replica_dies_lands_on_the_live_one_and_is_told(page):
    with running_replicas(2, SCREENSHOTS / "replicas_e2e") as replicas:
        page.goto(f"{replicas.url}/mnist?lang=zh&mn_bn=1")
        wait_for_app(page)
        start = page.get_by_role("button", name=translate("zh", "mnist.start"), exact=True)
        start.click()
        wait_for_steps(page, translate("zh", "mnist.step"))
        (held_by,) = [c["value"] for c in page.context.cookies() if c["name"] == "DLP_REPLICA"]
        dead = int(held_by.removeprefix("app")) - 1
        replicas.kill(dead)
        # No click: a training page asks the new session for a run as soon as it reconnects.
        expect(page.get_by_text(translate("zh", "app.restarted"))).to_be_visible(timeout=30_000)
        wait_for_app(page)
        screenshot(page, "replica_died_zh")
        (now_on,) = [c["value"] for c in page.context.cookies() if c["name"] == "DLP_REPLICA"]
        assert now_on != held_by
        assert "mn_bn=1" in page.url and "lang=zh" in page.url
        expect(start).to_be_visible()  # the run is gone: Start again
        replicas.wait_status(dead, "DOWN", timeout=10)  # and new students go to the live one
