"""The optimizers page in a real browser: English, Chinese, projector mode; charts render."""

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app
from ui.plots.optimizers import ARROW


def test_optimizers_in_english(page, app_url):
    page.goto(f"{app_url}/optimizers?lang=en")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Optimizers race on a loss surface")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    assert page.locator(".js-plotly-plot").count() >= 4
    screenshot(page, "optimizers-en")


def test_optimizers_in_chinese_and_projector_mode(page, app_url):
    # Opened from the home page through the navigation, as a student would.
    for query, name in (
        ("lang=zh", "optimizers-zh"),
        ("lang=zh&projector=1", "optimizers-zh-projector"),
    ):
        page.goto(f"{app_url}/?{query}")
        wait_for_app(page)
        page.get_by_test_id("stSidebarNav").get_by_text("优化器").click()
        wait_for_app(page)
        expect(page.get_by_role("heading", level=1)).to_have_text("优化器在损失曲面上比赛")
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
        screenshot(page, name)


def test_clicking_the_map_moves_the_start_and_every_path(page, app_url):
    page.goto(f"{app_url}/optimizers?lang=en")
    wait_for_app(page)
    contour = page.locator(".st-key-_opt_map .js-plotly-plot")
    contour.wait_for(timeout=30_000)
    contour.scroll_into_view_if_needed()
    # A point of the invisible click grid (30 per axis over Rosenbrock's x in [-2, 2], y in [-1, 3]).
    target = (-2 + 4 * 20 / 29, -1 + 4 * 20 / 29)
    x_px, y_px = contour.evaluate(
        """(gd, [x, y]) => {
            const L = gd._fullLayout, box = gd.getBoundingClientRect();
            return [box.left + L._size.l + L.xaxis.d2p(x), box.top + L._size.t + L.yaxis.d2p(y)];
        }""",
        list(target),
    )
    page.mouse.move(x_px, y_px)
    page.mouse.click(x_px, y_px)
    expect(page.get_by_role("spinbutton", name="Start x₀")).to_have_value(f"{target[0]:.3f}")
    expect(page.get_by_role("spinbutton", name="Start y₀")).to_have_value(f"{target[1]:.3f}")
    # Every path of the default race (SGD, SGD with momentum, Adam) now begins at the clicked point.
    page.wait_for_function(
        """([x, y, arrow]) => {
            const gd = document.querySelector(".st-key-_opt_map .js-plotly-plot");
            const paths = gd._fullData.filter(
                trace => (trace.mode || "").includes("lines") && trace.name !== arrow
            );
            return paths.length === 3 && paths.every(trace => trace.x[0] === x && trace.y[0] === y);
        }""",
        arg=[round(target[0], 3), round(target[1], 3), ARROW],
        timeout=15_000,
    )


def test_the_animated_race_keeps_its_map_and_its_controls_clear_of_each_other(page, app_url):
    # Projector mode at a projector's 1280 × 720, four optimizers: the legend wraps.
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{app_url}/optimizers?lang=zh&projector=1&opt_names=sgd,momentum,adam,rmsprop")
    wait_for_app(page, timeout=60_000)
    chart = page.locator(".st-key-opt_animation_chart .js-plotly-plot")
    chart.wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    maps = chart.locator("g.imagelayer image, g.contourlayer path")
    assert maps.count() > 0
    chart.get_by_text("播放").click()
    page.wait_for_timeout(2_000)  # a second and a half of frames at 120 ms
    step = chart.evaluate("gd => gd._fullLayout.sliders[0].active")
    assert step > 0  # it is playing
    assert maps.count() > 0  # and the landscape is still under the balls
    boxes = [
        chart.locator(name).first.bounding_box()
        for name in (
            "g.legend",
            "g.updatemenu-container",
            "g.slider-container",
            "g.xaxislayer-above",
        )
    ]
    svg = chart.locator("svg.main-svg").first.bounding_box()
    for i, a in enumerate(boxes):
        assert svg["y"] <= a["y"] and a["y"] + a["height"] <= svg["y"] + svg["height"] + 1
        for b in boxes[i + 1 :]:  # no two of legend, buttons, slider and x ticks overlap
            apart = (
                a["x"] + a["width"] <= b["x"] + 1
                or b["x"] + b["width"] <= a["x"] + 1
                or a["y"] + a["height"] <= b["y"] + 1
                or b["y"] + b["height"] <= a["y"] + 1
            )
            assert apart, (a, b)
    screenshot(page, "optimizers-zh-projector-animation")
