"""The live MNIST page in AppTest: both languages, controls, live ticks, URL, bad input, explode path."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from core.datasets import builtin_mnist
from tests.apptest import run_page
from ui.i18n import translate

PAGE = "pages/mnist.py"


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def step_count(at, language: str = "en") -> int:
    return int(metrics(at)[translate(language, "mnist.step")].replace(",", ""))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_renders_in_both_languages(language):
    at = run_page(PAGE, language)
    assert not at.exception
    assert at.title[0].value == translate(language, "mnist.heading")
    assert step_count(at, language) == 0
    assert not at.warning and not at.error
    assert len(at.get("vega_lite_chart")) == 3  # loss, accuracy, lr: Vega, updated in place


def test_one_step_and_one_epoch_advance_the_counters():
    at = run_page(PAGE)
    at.button(key="_mn_step").click().run()
    assert not at.exception
    assert step_count(at) == 1
    at.button(key="_mn_epoch").click().run()
    # 7,000 training images in batches of 128: the epoch ends at step ceil(7000 / 128) = 55.
    assert step_count(at) == 55
    assert metrics(at)[translate("en", "mnist.epoch")] == "1"


def test_start_ticks_pause_freezes_and_lr_change_keeps_the_step():
    at = run_page(PAGE)
    at.button(key="_mn_start").click().run()
    first = step_count(at)
    assert first > 0  # AppTest runs the run_every fragment once per run: one tick
    at.run()
    assert step_count(at) > first
    at.button(key="_mn_pause").click().run()
    paused = step_count(at)
    at.run()
    assert step_count(at) == paused
    at.select_slider(key="mn_lr").set_value(3e-3).run()
    assert not at.exception
    assert step_count(at) == paused  # a new lr does not reset the network


def test_reset_builds_a_fresh_network():
    at = run_page(PAGE)
    at.button(key="_mn_epoch").click().run()
    assert step_count(at) > 0
    at.button(key="_mn_reset").click().run()
    assert step_count(at) == 0
    assert at.select_slider(key="mn_lr").value == 1e-3  # settings are kept
    at.button(key="_mn_step").click().run()
    at.text_input(key="mn_hidden").set_value("32").run()  # a new architecture: a new network
    assert step_count(at) == 0
    assert "784–32–10" in " ".join(m.value for m in at.markdown)


def test_exploding_lr_pauses_with_a_message_and_resets_at_lr_over_10():
    # Leaky ReLU keeps every unit alive, so a huge lr overflows the weights (plain ReLU units would
    # rather die and leave the loss stuck at ln 10).
    at = run_page(PAGE, mn_opt="sgd", mn_lr="10", mn_act="leaky_relu", mn_hidden="128,128")
    at.button(key="_mn_epoch").click().run()
    assert not at.exception
    assert any(translate("en", "mnist.exploded").split(":")[0] in e.value for e in at.error)
    at.button(key="_mn_reset_lower").click().run()
    assert not at.exception
    assert at.select_slider(key="mn_lr").value == 1.0
    assert step_count(at) == 0
    assert not at.error


def test_url_restores_the_setup():
    at = run_page(PAGE, "zh", mn_hidden="64, 32", mn_opt="sgd", mn_lr="0.1", mn_act="tanh")
    assert not at.exception
    assert at.text_input(key="mn_hidden").value == "64, 32"
    assert at.selectbox(key="mn_opt").value == "sgd"
    assert at.select_slider(key="mn_lr").value == 0.1
    assert "784–64–32–10" in " ".join(m.value for m in at.markdown)


def test_bad_url_values_get_the_notice_and_the_default():
    at = run_page(PAGE, mn_opt="bogus", mn_dropout="7")
    assert not at.exception
    assert at.warning  # the shell's notice
    assert at.selectbox(key="mn_opt").value == "adam"
    assert at.slider(key="mn_dropout").value == 0.0


def test_bad_hidden_layers_get_a_message_not_an_exception():
    at = run_page(PAGE, mn_hidden="12, abc, 99999")
    assert not at.exception
    assert any("12, abc, 99999" in w.value for w in at.warning)
    assert "784–128–10" in " ".join(m.value for m in at.markdown)


def figure(at, key: str) -> dict:
    """The JSON of the plotly chart shown with ``key``."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert charts, key
    return json.loads(charts[0].proto.spec)


def test_grid_confusion_matrix_and_inside_views():
    at = run_page(PAGE)
    at.button(key="_mn_epoch").click().run()
    at.button(key="_mn_epoch").click().run()
    # The bar: >= 85% test accuracy on the built-in digits within a bounded time.
    test_accuracy = metrics(at)[translate("en", "mnist.test_accuracy")]
    assert float(test_accuracy.rstrip("%")) >= 85.0
    grid = figure(at, "mn_fig_grid")
    assert grid["data"][0]["type"] == "heatmap"
    assert len(grid["data"][6]["text"]) == 3 * 24  # top-3 labels of 24 digits
    cm_before = figure(at, "mn_fig_confusion")["data"][0]["text"]
    at.toggle(key="mn_cm_norm").set_value(True).run()
    cm_after = figure(at, "mn_fig_confusion")["data"][0]["text"]
    assert cm_before != cm_after and cm_after[0][0].endswith("%")
    at.button(key="_mn_worst").click().run()  # picks the most confused cell
    true, guess = at.selectbox(key="mn_cm_true").value, at.selectbox(key="mn_cm_pred").value
    assert true != guess
    assert f"True {true}, predicted {guess}" == figure(at, "mn_fig_cell")["layout"]["title"]["text"]
    at.segmented_control(key="mn_pick").set_value("confident_mistakes").run()
    mistakes = figure(at, "mn_fig_grid")
    assert mistakes["data"][1]["x"] == []  # no green frames: every digit shown is a mistake
    # st.badge is markdown ":green-badge[...]" in AppTest.
    assert any(
        m.value.startswith(":green-badge[") and "Gradient check passed" in m.value
        for m in at.markdown
    )
    assert figure(at, "mn_fig_weights")["data"][0]["type"] == "heatmap"


def test_layer_signals_after_two_ticks_and_compare_runs_after_reset():
    at = run_page(PAGE)
    at.button(key="_mn_step").click().run()
    at.button(key="_mn_step").click().run()
    signals = figure(at, "mn_fig_signals")
    assert len(signals["data"]) == 4  # 2 weight layers × (gradient norm, update ratio)
    at.button(key="_mn_reset").click().run()
    assert at.multiselect(key="mn_compare").value == [at.multiselect(key="mn_compare").options[0]]
    at.button(key="_mn_epoch").click().run()
    names = [trace["name"] for trace in figure(at, "mn_fig_compare")["data"]]
    assert len(names) == 2 and names[1].startswith("now:")


def test_hyperparameter_change_while_training_keeps_the_network():
    at = run_page(PAGE)
    at.button(key="_mn_epoch").click().run()
    before = step_count(at)
    at.number_input(key="mn_adam_beta1").set_value(0.8).run()
    at.selectbox(key="mn_opt").set_value("momentum").run()
    assert not at.exception
    assert step_count(at) == before
    at.button(key="_mn_step").click().run()
    assert step_count(at) == before + 1


def test_small_lr_plateau_is_pointed_out():
    at = run_page(PAGE, mn_opt="sgd", mn_lr="1e-05")
    for _ in range(4):
        at.button(key="_mn_epoch").click().run()
    assert any("too small" in i.value for i in at.info)


def test_8x8_digits_and_missing_full_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("DLP_DATA_DIR", str(tmp_path))  # an empty cache: full MNIST is missing
    at = run_page(PAGE, mn_data="digits_8x8")
    assert not at.exception
    assert "64–128–10" in " ".join(m.value for m in at.markdown)
    at.button(key="_mn_epoch").click().run()
    assert not at.exception
    assert translate("en", "mnist.draw_needs_28", rows=8, cols=8) in [i.value for i in at.info]
    at.selectbox(key="mn_data").set_value("mnist").run()
    assert any("not on this server" in i.value for i in at.info)
    assert at.button(key="_mn_download")  # offered, not pressed: tests stay offline
    assert "784–128–10" in " ".join(m.value for m in at.markdown)


def test_guided_experiments_set_up_the_page():
    at = run_page(PAGE, "zh")
    at.button(key="_exp_mn_explode").click().run()
    assert not at.exception
    assert at.select_slider(key="mn_lr").value == 1.0
    at.button(key="_mn_epoch").click().run()
    assert at.error  # the weights explode within the first epoch
    at.button(key="_exp_mn_sigmoid").click().run()
    assert at.selectbox(key="mn_act").value == "sigmoid"
    assert "784–64–64–64–64–64–10" in " ".join(m.value for m in at.markdown)
    at.button(key="_exp_mn_dropout").click().run()
    assert at.slider(key="mn_train_size").value == 1000
    assert at.slider(key="mn_dropout").value == 0.5
    assert not at.exception


def test_failed_download_is_explained(monkeypatch, tmp_path):
    import core.download

    calls = []

    def offline(folder, *, progress=None, **kwargs):
        calls.append(folder)
        progress(1_000, 4_000)  # the progress bar is fed
        return core.download.DownloadResult(False, None, (), "offline", ())

    monkeypatch.setenv("DLP_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(core.download, "download_mnist", offline)
    at = run_page(PAGE, "zh", mn_data="mnist")
    at.button(key="_mn_download").click().run()
    assert not at.exception
    assert calls == [tmp_path]
    assert translate("zh", "mnist.download_error.offline") in [e.value for e in at.error]


def drawn(image: np.ndarray) -> dict:
    """The canvas's state after a stroke, as the browser sends it: strokes and a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    raw = {"objects": [{"type": "Path"}], "background": "#000000"}
    return {"drawing": {"raw": raw, "data": url}, "backgroundFit": None}


def typed_array(value) -> np.ndarray:
    """A plotly JSON array: a list, or a base64 typed array {"dtype", "bdata", "shape"}."""
    if not isinstance(value, dict):
        return np.array(value)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    shape = value.get("shape")
    return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat


def as_canvas(digit: np.ndarray) -> np.ndarray:
    """A 28×28 uint8 digit drawn 10× larger on the 280 px canvas: white ink, opaque black."""
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[..., :3] = np.kron(digit, np.ones((10, 10), dtype=np.uint8))[..., None]
    return rgba


@pytest.mark.parametrize("language", ["en", "zh"])
def test_draw_a_digit_shows_what_the_network_sees_and_reads(language):
    at = run_page(PAGE, language)
    assert translate(language, "mnist.draw_empty") in [i.value for i in at.info]
    if language == "zh":  # one language trains; the other checks the untrained hint
        at.session_state["_mn_canvas"] = drawn(as_canvas(builtin_mnist().test.x[0]))
        at.run()
        assert not at.exception
        assert figure(at, "mn_fig_drawn")["data"][0]["type"] == "heatmap"
        assert translate("zh", "mnist.draw_untrained") in [c.value for c in at.caption]
        return
    at.button(key="_mn_epoch").click().run()
    at.button(key="_mn_epoch").click().run()
    test = builtin_mnist().test
    read = []
    for i in range(5):
        at.session_state["_mn_canvas"] = drawn(as_canvas(test.x[i]))
        at.run()
        assert not at.exception
        seen = typed_array(figure(at, "mn_fig_drawn")["data"][0]["z"])
        assert seen.shape == (28, 28) and 0 <= seen.min() and seen.max() <= 1
        probs = figure(at, "mn_fig_drawn_probs")
        assert typed_array(probs["data"][0]["x"]).sum() == pytest.approx(1.0)
        read.append(probs["layout"]["title"]["text"] == f"The network reads: {test.y[i]}")
    # Test digits redrawn on the canvas and re-preprocessed are still read right (~93% test accuracy).
    assert sum(read) >= 4, read
