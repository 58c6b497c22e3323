"""The initialization page in AppTest: both languages, A/B, URL, bad input, and every guided
experiment's explanation checked against the numbers the page then shows."""

import base64
import json

import numpy as np
import pytest

from tests.apptest import assert_link_opens, run_page
from ui.i18n import translate

PAGE = "pages/initialization.py"
SIGNALS, DIST_A, DIST_B, SHARES, SYMMETRY = range(5)
EXPERIMENTS = ("sigmoid_normal", "relu_xavier_he", "symmetry", "batch_norm", "tanh_saturation",
               "explode")  # fmt: skip


def figure(at, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def values(trace: dict, axis: str = "y") -> np.ndarray:
    v = trace[axis]
    if isinstance(v, dict):
        v = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray([np.nan if x is None else x for x in v], dtype=float)


def table(at, index: int = 0) -> dict[str, list]:
    return at.dataframe[index].value.to_dict(orient="list")


def column(at, key: str, language: str = "en") -> list:
    return table(at)[translate(language, f"initialization.{key}")]


def run_experiment(name: str):
    at = run_page(PAGE)
    at.button(key=f"_exp_in_{name}").click().run()
    assert not at.exception
    return at


@pytest.mark.parametrize("language", ["en", "zh"])
def test_renders_in_both_languages(language):
    at = run_page(PAGE, language)
    assert not at.exception
    assert at.title[0].value == translate(language, "initialization.heading")
    assert len(at.get("plotly_chart")) == 5
    fig = figure(at, SIGNALS)
    assert len(fig["data"]) == 6  # A and B in three panels
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[0] == translate(language, "initialization.panel_act_std")
    assert not at.warning and not at.error
    assert any("torch.nn.init.kaiming_normal_(layer.weight, a=0.0" in c.value for c in at.code)
    # Default: ReLU with He keeps its signal, with Xavier it fades (the first experiment's claim).
    std_last = [float(v) for v in column(at, "col_std_last", language)]
    assert std_last[0] > 0.5 and std_last[1] < 0.01


def test_changing_an_initializer_changes_the_signals():
    at = run_page(PAGE)
    before = values(figure(at, SIGNALS)["data"][3])  # B's activation std
    at.selectbox(key="in_b_init").set_value("orthogonal").run()
    assert not at.exception
    after = values(figure(at, SIGNALS)["data"][3])
    assert not np.allclose(before, after)
    assert "orthogonal_" in figure(at, SIGNALS)["data"][3]["name"]


def test_changing_lr_scales_only_the_update_ratio():
    at = run_page(PAGE)
    before = [values(trace) for trace in figure(at, SIGNALS)["data"][:3]]  # A's three panels
    at.select_slider(key="in_lr").set_value(0.1).run()
    assert not at.exception
    after = [values(trace) for trace in figure(at, SIGNALS)["data"][:3]]
    np.testing.assert_array_equal(after[0], before[0])  # activation std
    np.testing.assert_array_equal(after[1], before[1])  # gradient norm
    np.testing.assert_allclose(after[2], 10 * before[2], rtol=1e-6)  # lr 0.01 -> 0.1


def test_one_setup_when_not_comparing_and_depth_from_the_url():
    at = run_page(PAGE, in_compare="0", in_depth="7", in_a_init="lecun_normal", in_a_act="tanh")
    assert not at.exception
    fig = figure(at, SIGNALS)
    assert len(fig["data"]) == 3
    assert list(values(fig["data"][0], "x")) == [1, 2, 3, 4, 5, 6, 7]
    assert fig["data"][0]["name"] == "A · lecun_normal_ · Tanh"
    assert len(at.get("plotly_chart")) == 4  # one distribution map
    assert at.slider(key="in_depth").value == 7


def test_bad_url_values_get_the_notice_and_defaults():
    at = run_page(
        PAGE, in_depth="abc", in_width="300", in_a_init="nope", in_a_kaiming_normal_a="inf"
    )
    assert not at.exception
    text = "\n".join(w.value for w in at.warning)
    assert translate("en", "url.notice_title") in text
    for name in ("in_depth", "in_width", "in_a_init"):
        assert name in text
    assert at.slider(key="in_depth").value == 20
    assert at.selectbox(key="in_a_init").value == "kaiming_normal"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_invalid_uniform_range_is_named_and_the_other_setup_still_draws(language):
    at = run_page(PAGE, language, in_a_init="uniform", in_a_uniform_a="1", in_a_uniform_b="-1")
    assert not at.exception
    message = translate(language, "initialization.rule_a_le_b", a="1.0", b="-1.0")
    assert message in [w.value for w in at.warning]
    fig = figure(at, SIGNALS)
    assert [tr["name"] for tr in fig["data"] if tr.get("showlegend")] == [
        "B · xavier_normal_ · ReLU"
    ]


def test_gaussian_inputs_change_the_statistics():
    at = run_page(PAGE)
    before = column(at, "col_std_first")
    at.session_state["in_data"] = "gaussian"
    at.run()
    assert not at.exception
    assert column(at, "col_std_first") != before


def test_extreme_network_size_computes():
    at = run_page(PAGE, in_depth="50", in_width="16", in_compare="0")
    assert not at.exception
    assert len(values(figure(at, SIGNALS)["data"][0], "x")) == 50


def test_symmetry_panel_zero_init_is_exactly_zero():
    at = run_page(PAGE, in_sym_init="zeros")
    assert not at.exception
    spread = figure(at, SYMMETRY)["data"]
    assert np.all(values(spread[0]) == 0.0)
    assert np.all(values(spread[1]) > 0.1)  # setup A's random init
    assert translate("en", "initialization.sym_exact", name="zeros_", steps=20) in [
        s.value for s in at.success
    ]
    assert translate("en", "initialization.sym_zero_note") in [c.value for c in at.caption]


def test_training_panel_trains_every_setup_and_notices_a_changed_setup():
    at = run_page(PAGE, in_depth="3", in_width="32")
    at.button(key="_in_train").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 6
    fig = figure(at, 5)
    assert [tr["name"] for tr in fig["data"]] == [
        "A · kaiming_normal_ · ReLU",
        "B · xavier_normal_ · ReLU",
    ]
    assert all(len(values(tr)) == 200 for tr in fig["data"])
    at.slider(key="in_depth").set_value(4).run()
    assert translate("en", "initialization.train_stale") in [c.value for c in at.caption]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_guided_experiments_set_up_the_page(name):
    at = run_experiment(name)
    assert len(at.get("plotly_chart")) >= 4


def test_sigmoid_experiment_saturates_every_layer_and_starts_at_a_huge_loss():
    at = run_experiment("sigmoid_normal")
    saturated = [tr for tr in figure(at, 2)["data"] if tr["xaxis"] == "x2"]  # shares, one map
    assert len(saturated) == 1 and np.all(values(saturated[0]) > 50)
    assert float(column(at, "col_loss")[0]) > 20


def test_tanh_experiment_saturated_above_80_percent_vs_almost_none():
    at = run_experiment("tanh_saturation")
    a, b = (tr for tr in figure(at, SHARES)["data"] if tr["xaxis"] == "x2")
    assert np.all(values(a) > 80)
    assert values(b)[0] < 20 and np.all(values(b)[3:] < 1)


def test_explode_experiment_names_the_layer():
    at = run_experiment("explode")
    assert any("hidden layer 36" in e.value for e in at.error)


def test_batch_norm_experiment_signal_and_training():
    at = run_experiment("batch_norm")
    std_last = [float(v) for v in column(at, "col_std_last")]
    assert std_last[0] < 1e-10 and std_last[1] > 0.3
    at.button(key="_in_train").click().run()
    assert not at.exception
    final = [float(v) for v in table(at, 1)[translate("en", "initialization.col_final_loss")]]
    assert final[0] > 2.2 and final[1] < 1.0


def test_relu_experiment_he_learns_and_xavier_stays_at_chance():
    at = run_experiment("relu_xavier_he")
    at.button(key="_in_train").click().run()
    assert not at.exception
    final = [float(v) for v in table(at, 1)[translate("en", "initialization.col_final_loss")]]
    assert final[0] < 0.6 and final[1] > 2.2


def test_a_link_with_a_width_and_a_learning_rate_opens_them():
    # The app writes numbers among a choice's options as text; they used to be compared with the
    # int and float options as strings and refused as "not one of the offered choices".
    at = run_page(PAGE, in_width="512", in_lr="0.1")
    assert not at.exception and not at.warning
    assert at.select_slider(key="in_width").value == 512
    assert at.session_state["in_lr"] == 0.1


# Links as the page wrote them before its settings became ui.fields: each must open with exactly
# these settings (the page before the change opened them the same way).
SAVED_LINKS = [
    (
        {"in_depth": "35", "in_data": "gaussian", "in_seed": "7", "in_compare": "0",
         "in_a_init": "kaiming_uniform", "in_a_act": "tanh", "in_a_bn": "1",
         "in_a_kaiming_uniform_a": "0.2", "in_a_kaiming_uniform_mode": "fan_out",
         "in_a_kaiming_uniform_nonlinearity": "tanh"},
        {"in_depth": 35, "in_data": "gaussian", "in_seed": 7, "in_compare": False,
         "in_a_init": "kaiming_uniform", "in_a_act": "tanh", "in_a_bn": True,
         "in_a_kaiming_uniform_a": 0.2, "in_a_kaiming_uniform_mode": "fan_out",
         "in_a_kaiming_uniform_nonlinearity": "tanh"},
    ),
    (
        {"in_b_init": "trunc_normal", "in_b_trunc_normal_std": "0.5", "in_b_trunc_normal_a": "-1",
         "in_b_act": "gelu", "in_opt": "adam", "in_sym_init": "zeros", "in_sym_val": "0.3"},
        {"in_b_init": "trunc_normal", "in_b_trunc_normal_std": 0.5, "in_b_trunc_normal_a": -1.0,
         "in_b_act": "gelu", "in_opt": "adam", "in_sym_init": "zeros", "in_sym_val": 0.3},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), SAVED_LINKS)
def test_a_saved_link_opens_the_same_settings(query, expected):
    assert_link_opens(PAGE, query, expected)
