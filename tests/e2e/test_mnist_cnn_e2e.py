"""Inside the CNN in a real browser: a click on a pixel of a convolution's feature maps chooses it
(its receptive field and the window × kernel sum appear, checked), the number inputs choose one
from the keyboard, and a drawn digit goes through the network; en, zh, projector."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, wait_for_app
from tests.e2e.test_mnist_e2e import draw_seven, wait_for_steps

# Where a map pixel is on the screen: its invisible marker (customdata = layer, channel, row,
# column) through the figure's own axes.
PIXEL_ON_SCREEN = """
(plot, pixel) => {
  const trace = plot._fullData.find(t => t.type === "scatter");
  const i = [...Array(trace.customdata.length).keys()].find(
    k => pixel.every((value, j) => Number(trace.customdata[k][j]) === value));
  const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
  const box = plot.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(trace.x[i]), box.top + ya._offset + ya.l2p(trace.y[i])];
}
"""
CONV2 = 3  # the preset's layers: conv, ReLU, pool, conv, …


def pixel_on_screen(page, chart, pixel: tuple[int, int, int, int]) -> tuple[float, float]:
    """The pixel's marker, scrolled to the middle of the viewport."""
    _, y = chart.element_handle().evaluate(PIXEL_ON_SCREEN, list(pixel))
    middle = page.viewport_size["height"] / 2
    page.get_by_test_id("stMain").evaluate(f"e => e.scrollBy(0, {y - middle})")
    page.wait_for_timeout(500)
    return chart.element_handle().evaluate(PIXEL_ON_SCREEN, list(pixel))


def train_a_little(page, start: str, pause: str, step: str) -> None:
    """Start, let it train a few seconds, Pause: trained maps on a page that stands still."""
    page.get_by_role("button", name=start, exact=True).click()
    wait_for_steps(page, step, timeout=60_000)
    page.wait_for_timeout(6_000)
    page.get_by_role("button", name=pause, exact=True).click()
    wait_for_app(page, timeout=60_000)


def scroll_to_chart(page, heading: str, text: str):
    """The plotly chart showing ``text`` below ``heading``, scrolled into view; Streamlit draws a
    chart only once it comes near the viewport, so the page is scrolled down until it is there."""
    page.get_by_role("heading", name=heading).scroll_into_view_if_needed()
    chart = page.locator(".js-plotly-plot").filter(has_text=text)
    main = page.get_by_test_id("stMain")
    for _ in range(30):
        if chart.count():
            break
        main.evaluate("e => e.scrollBy(0, 400)")
        page.wait_for_timeout(200)
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    return chart


def show(page, heading: str, name: str) -> None:
    """Scroll ``heading`` to the top and keep the viewport as a screenshot."""
    page.get_by_role("heading", name=heading).scroll_into_view_if_needed()
    page.get_by_role("heading", name=heading).evaluate("e => e.scrollIntoView()")
    page.wait_for_timeout(700)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_click_on_a_conv_2_pixel_shows_its_receptive_field_and_the_checked_sum(page, app_url):
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{app_url}/mnist?lang=en&mn_arch=cnn")
    wait_for_app(page, timeout=60_000)
    train_a_little(page, "Start", "Pause", "Step")
    maps = scroll_to_chart(page, "Inside the CNN", "conv 2 · 16 maps 14×14")
    channel, row, col = 5, 3, 9
    at = pixel_on_screen(page, maps, (CONV2, channel, row, col))
    page.mouse.move(*at)
    expect(maps.locator(".hoverlayer")).to_contain_text(f"map {channel}, row {row}, column {col}:")
    page.mouse.click(*at)
    wait_for_app(page)
    field = page.locator(".js-plotly-plot").filter(has_text="Receptive field of conv 2[5, 3, 9]")
    expect(field).to_have_count(1, timeout=20_000)
    expect(page.get_by_text("Checked: b + Σ W·x =")).to_be_visible()
    expect(page.get_by_text("This output depends on input rows 0 to 13")).to_be_visible()
    expect(page.get_by_role("combobox", name="Layer", exact=True)).to_have_value("conv 2")
    for label, value in (("Map c", channel), ("Row i", row), ("Column j", col)):
        box = page.get_by_test_id("stNumberInput").filter(has_text=label).locator("input")
        expect(box).to_have_value(str(value))
    show(page, "One output of a convolution, worked out", "mnist-cnn-en-pixel")
    # A second click, on conv 1, and a third on the first pixel again: every click chooses.
    for pixel in ((0, 2, 20, 4), (CONV2, channel, row, col)):
        maps = scroll_to_chart(page, "Inside the CNN", "conv 2 · 16 maps 14×14")
        page.mouse.click(*pixel_on_screen(page, maps, pixel))
        wait_for_app(page)
        name = "conv 1" if pixel[0] == 0 else "conv 2"
        title = f"Receptive field of {name}[{pixel[1]}, {pixel[2]}, {pixel[3]}]"
        field = page.locator(".js-plotly-plot").filter(has_text=title)
        expect(field).to_have_count(1, timeout=20_000)
    # The keyboard's way: a row typed in moves the square and the sum with it.
    row_input = page.get_by_test_id("stNumberInput").filter(has_text="Row i").locator("input")
    row_input.fill("0")
    row_input.press("Enter")
    wait_for_app(page)
    field = page.locator(".js-plotly-plot").filter(has_text="Receptive field of conv 2[5, 0, 9]")
    expect(field).to_have_count(1, timeout=20_000)
    expect(page.get_by_text("The square reaches past the edge of the image")).to_be_visible()
    expect(page.get_by_text("Checked: b + Σ W·x =")).to_be_visible()
    show(page, "Inside the CNN", "mnist-cnn-en-maps")
    # The view of a drawing, chosen before anything is drawn: paused, the drawing reaches it
    # with no further click.
    page.get_by_role("heading", name="Inside the CNN").scroll_into_view_if_needed()
    page.get_by_test_id("stButtonGroup").get_by_text("Your drawing", exact=True).click()
    wait_for_app(page)
    draw_seven(page, "Draw a digit", "The network reads:", "mnist-cnn-en-draw")
    wait_for_app(page)
    page.get_by_role("heading", name="Inside the CNN").scroll_into_view_if_needed()
    expect(page.get_by_text("The digit you drew; the network reads it as")).to_be_visible()
    expect(page.get_by_text("Checked: b + Σ W·x =")).to_be_visible()
    show(page, "Inside the CNN", "mnist-cnn-en-drawn-maps")


# Chinese on a projector only: English at 1920 is the click test's, and every page's fit at
# 1280 × 720 in both languages is tests/e2e/test_projector_fit_e2e.py's (the suite's 15 minutes
# had no room for three trainings here).
@pytest.mark.parametrize(
    ("query", "size", "name"),
    [("lang=zh&projector=1", (1280, 720), "mnist-cnn-zh-projector")],
)
def test_chinese_and_projector(page, app_url, query, size, name):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{app_url}/mnist?{query}&mn_arch=cnn")
    wait_for_app(page, timeout=60_000)
    zh = "lang=zh" in query
    train_a_little(page, *(("开始", "暂停", "步数") if zh else ("Start", "Pause", "Step")))
    expect(
        page.get_by_text("已核对：b + Σ W·x =" if zh else "Checked: b + Σ W·x =")
    ).to_be_visible()
    show(page, "CNN 内部" if zh else "Inside the CNN", f"{name}-maps")
    show(
        page,
        "逐项算出卷积的一个输出" if zh else "One output of a convolution, worked out",
        f"{name}-pixel",
    )
