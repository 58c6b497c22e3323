"""The live MNIST page in AppTest: both languages, controls, live ticks, URL, bad input, explode path."""

import pytest

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
