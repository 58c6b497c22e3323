"""The live MNIST page in a real browser: Start trains live, Pause stops, a digit drawn with the
mouse is read by the network; en / zh / projector."""

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from core.datasets import builtin_mnist
from tests.e2e.conftest import SCREENSHOTS, screenshot, wait_for_app


def step_value(page, label: str) -> int:
    metric = page.get_by_test_id("stMetric").filter(has_text=re.compile(f"^{label}"))
    text = metric.first.get_by_test_id("stMetricValue").inner_text()
    return int(text.replace(",", ""))


def wait_for_steps(page, label: str, timeout: float = 20_000) -> None:
    """Until the step counter shows more than 0."""
    page.wait_for_function(
        """(label) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.startsWith(label) && parseInt(
                m.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, '')) > 0)""",
        arg=label,
        timeout=timeout,
    )


def draw_seven(page, heading: str, reads: str, name: str) -> None:
    """Draw a 7 with mouse strokes on the canvas; the network's reading appears; screenshot it."""
    page.get_by_role("heading", name=heading).scroll_into_view_if_needed()
    # Fabric's top canvas takes the pointer events (open shadow DOM: Playwright pierces it).
    canvas = page.locator("canvas.upper-canvas")
    expect(canvas).to_have_count(1, timeout=30_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box["width"] == box["height"] == 280, box

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x, box["y"] + y

    page.mouse.move(*at(70, 60))
    page.mouse.down()
    page.mouse.move(*at(210, 60), steps=12)  # the bar of the 7
    page.mouse.move(*at(120, 230), steps=16)  # its stem
    page.mouse.up()
    probs = page.locator(".js-plotly-plot").filter(has_text=reads)
    expect(probs).to_have_count(1, timeout=20_000)
    expect(page.locator(".js-plotly-plot").filter(has_text="28")).not_to_have_count(0)
    wait_for_app(page)
    page.get_by_role("heading", name=heading).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    # The viewport only: the panel as a teacher sees it, not the whole long page.
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_start_trains_live_and_pause_stops(page, app_url, tmp_path):
    page.goto(f"{app_url}/mnist?lang=en")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Live MNIST training")
    assert step_value(page, "Step") == 0
    page.get_by_role("button", name="Start").click()
    # The fragment reruns on its own: the counter must keep moving without any click.
    wait_for_steps(page, "Step")
    # Tag the live charts' canvases: updated in place, they survive the next ticks.
    page.evaluate(
        """() => document.querySelectorAll('[data-testid="stVegaLiteChart"]')
            .forEach((e, i) => { e.querySelector('canvas, svg').dataset.probe = String(i); })"""
    )
    # Record every value the step counter shows for 3 s, as the browser paints it.
    seen = page.evaluate(
        """() => new Promise(resolve => {
            const values = [];
            const read = () => {
                const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
                    .find(m => m.innerText.startsWith('Step'));
                const v = m && m.querySelector('[data-testid="stMetricValue"]').innerText;
                if (v && v !== values[values.length - 1]) values.push(v);
            };
            const observer = new MutationObserver(read);
            observer.observe(document.body, {subtree: true, childList: true, characterData: true});
            setTimeout(() => { observer.disconnect(); resolve(values); }, 3000);
        })"""
    )
    steps = [int(v.replace(",", "")) for v in seen]
    assert steps == sorted(steps) and steps[-1] > steps[0], steps
    assert len(steps) >= 6, steps  # at least 2 screen updates a second
    kept = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
            .map(e => e.querySelector('canvas, svg')?.dataset.probe)"""
    )
    assert kept == ["0", "1", "2"], kept  # not remounted while training
    page.get_by_role("button", name="Pause").click()
    wait_for_app(page)
    paused = step_value(page, "Step")
    page.wait_for_timeout(1500)
    assert step_value(page, "Step") == paused
    assert page.locator("[data-testid='stVegaLiteChart']").count() == 3
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    screenshot(page, "mnist-en")
    for heading, name in (
        ("Predictions on test images", "mnist-en-predictions"),
        ("Confusion matrix", "mnist-en-confusion"),
        ("Inside the network", "mnist-en-inside"),
    ):
        page.get_by_role("heading", name=heading).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        screenshot(page, name)
    draw_seven(page, "Draw a digit", "The network reads:", "mnist-en-draw")
    save_and_load_back(page, tmp_path)


def metric_text(page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=re.compile(f"^{label}"))
    return metric.first.get_by_test_id("stMetricValue").inner_text()


def save_and_load_back(page, tmp_path) -> None:
    """Download the trained model, upload the file again: same test accuracy, step counter 0."""
    heading = page.get_by_role("heading", name="Save or load the model")
    heading.scroll_into_view_if_needed()
    accuracy = metric_text(page, "Test accuracy")
    with page.expect_download(timeout=20_000) as download:
        page.get_by_role("button", name="Download the model (.npz)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("mlp-784-128-10-step") and saved.stat().st_size > 100_000
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Load a saved model")
    uploader.locator("input[type='file']").set_input_files(str(saved))
    expect(page.get_by_text(f"Loaded {saved.name}")).to_be_visible(timeout=20_000)
    wait_for_app(page)
    assert step_value(page, "Step") == 0
    assert metric_text(page, "Test accuracy") == accuracy  # the same weights, the same answers
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "mnist-en-save-load.png"))


@pytest.mark.parametrize(
    ("query", "name"), [("lang=zh", "mnist-zh"), ("lang=zh&projector=1", "mnist-zh-projector")]
)
def test_chinese_and_projector(page, app_url, query, name, tmp_path):
    # mn_data=upload: the uploader shows, the built-in digits stay in use until a file arrives.
    page.goto(f"{app_url}/mnist?{query}&mn_data=upload")
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("MNIST 实时训练")
    page.get_by_role("button", name="训练一轮").click()
    wait_for_steps(page, "步数")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    screenshot(page, name)
    page.get_by_role("heading", name="测试集图像上的预测").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    screenshot(page, f"{name}-predictions")
    draw_seven(page, "写一个数字", "网络认为是：", f"{name}-draw")
    # Upload a small .npz of 14×14 digits through the real uploader: the page trains on it.
    d = builtin_mnist()
    npz = tmp_path / "mine.npz"
    np.savez_compressed(
        npz,
        x_train=d.train.x[:600, ::2, ::2],
        y_train=d.train.y[:600],
        x_test=d.test.x[:100, ::2, ::2],
        y_test=d.test.y[:100],
    )
    page.get_by_role("heading", name="数据").scroll_into_view_if_needed()
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="你自己的 MNIST 格式文件")
    uploader.locator("input[type='file']").set_input_files(str(npz))
    expect(page.get_by_text("你上传的文件（mine.npz）")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("196–128–10", exact=False)).to_be_visible()
    wait_for_app(page)
    page.get_by_role("heading", name="数据").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-upload.png"))


def test_link_settings_and_the_run_survive_a_page_switch(page, app_url):
    # Settings from a link, then training: the live panel's own reruns (fragments) ran last when
    # the visitor leaves, and the settings and the run must still be there when they come back.
    page.goto(f"{app_url}/mnist?mn_hidden=20&mn_seed=5&mn_lr=0.01")
    wait_for_app(page)
    expect(page.get_by_text("layers 784–20–10")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    wait_for_steps(page, "Step")
    page.wait_for_timeout(1000)  # a few ticks of the live panel alone
    trained = step_value(page, "Step")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Learning-rate schedules").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Learning-rate schedules")
    nav.get_by_text("Live MNIST training").click()
    wait_for_app(page)
    expect(page.get_by_text("layers 784–20–10")).to_be_visible()
    assert step_value(page, "Step") >= trained > 0
    assert (
        page.get_by_test_id("stNumberInput").filter(has_text="Seed").locator("input").input_value()
        == "5"
    )
    for name in ("mn_hidden=20", "mn_seed=5", "mn_lr=0.01"):
        assert name in page.url, page.url


# The epoch button's label with the step and epoch counters, as the browser paints them.
EPOCH_LABELS = """(seconds) => new Promise(resolve => {
    const seen = [];
    const metric = (label) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .find(m => m.innerText.startsWith(label))
        ?.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, '');
    const read = () => {
        // The label without the icon's ligature text ("fast_forward").
        const button = document.querySelector(
            '.st-key-_mn_epoch button [data-testid="stMarkdownContainer"]');
        const row = [button?.innerText.trim(), metric('Step'), metric('Epoch')];
        const last = seen[seen.length - 1];
        if (row.every(x => x !== undefined) && (!last || row.some((x, i) => x !== last[i]))) {
            seen.push(row);
        }
    };
    read();
    const observer = new MutationObserver(read);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
    setTimeout(() => { observer.disconnect(); resolve(seen); }, seconds * 1000);
})"""


def right_epoch_label(label: str, step: int, epoch: int, steps_per_epoch: int) -> bool:
    """Whether the epoch button's label is true of the counters beside it: "One epoch" only at an
    epoch's start, "Finish epoch N" only in epoch N; "Finish this epoch" always is."""
    at_start = step % steps_per_epoch == 0
    return label == "Finish this epoch" or (
        label == "One epoch" if at_start else label == f"Finish epoch {epoch + 1}"
    )


def test_the_epoch_button_label_is_right_whenever_it_is_shown(page, app_url):
    # Issue #21: the label was drawn by full runs only, so while the live view's own reruns
    # trained on it kept saying "One epoch" or "Finish epoch 1" long after epoch 1 was over.
    # 500 images are 4 steps an epoch: as fast as possible, epochs end while it is watched.
    page.goto(
        f"{app_url}/mnist?lang=en&mn_train_size=500&mn_pace=fast&mn_epochs=1000&mn_patience=0"
    )
    wait_for_app(page)
    page.get_by_role("button", name="Start").click()
    wait_for_steps(page, "Step")
    seen = page.evaluate(EPOCH_LABELS, 5)
    assert int(seen[-1][2]) > int(seen[0][2]) + 1, seen  # epochs ended while it was watched
    wrong = [row for row in seen if not right_epoch_label(row[0], int(row[1]), int(row[2]), 4)]
    assert not wrong, seen
    page.get_by_role("button", name="Pause").click()
    wait_for_app(page)
    label, step, epoch = page.evaluate(EPOCH_LABELS, 0.5)[-1]
    assert label != "Finish this epoch"  # paused, it says where the epoch ends
    assert right_epoch_label(label, int(step), int(epoch), 4), (label, step, epoch)
