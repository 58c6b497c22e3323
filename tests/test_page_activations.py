"""AppTest of page 1 in both languages: widgets change output, URL restore, bad links, empty
selections, extreme values and every guided experiment."""

import json

import pytest

from tests.apptest import assert_link_opens, run_page
from ui.i18n import translate

PAGE = "pages/activations.py"


def chart(at, key: str) -> dict:
    """The figure drawn with ``show_figure(..., key=key)``, as an object: its JSON text depends on
    the plotly release (plotly 7 escapes non-ASCII characters)."""
    matches = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(matches) == 1, key
    return json.loads(matches[0].proto.spec)


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_renders_all_panels_with_checks_passing(language):
    at = run_page(PAGE, language)
    assert not at.exception
    assert not at.error
    assert at.title[0].value == translate(language, "activations.heading")
    for key in ("act_figure", "loss_figure", "out_figure", "stab_figure", "temp_figure"):
        chart(at, key)
    checks = at.dataframe[0].value[translate(language, "activations.col_function")]
    assert list(checks) == [
        translate(language, f"activations.names.{k}") for k in ("sigmoid", "tanh", "relu")
    ]
    badges = at.dataframe[0].value[translate(language, "activations.col_check")]
    assert all(badge.startswith("✓") for badge in badges)
    title = chart(at, "act_figure")["layout"]["title"]["text"]
    assert title == translate(language, "activations.fig_title")


def test_trace_slider_moves_the_readout_and_the_figure():
    at = run_page(PAGE)
    before = chart(at, "act_figure")
    at.slider(key="act_x").set_value(2.0).run()
    assert not at.exception
    assert chart(at, "act_figure") != before
    table = at.dataframe[0].value
    assert table["f′(x)"][0] == "0.105"  # σ′(2) = σ(2)(1 − σ(2)) = 0.104994
    assert table["f(x)"][2] == "2"  # ReLU(2)


def test_parameter_slider_appears_for_selected_function_and_changes_the_curve():
    at = run_page(PAGE)
    at.multiselect(key="act_names").set_value(["leaky_relu"]).run()
    before = chart(at, "act_figure")
    at.slider(key="act_leaky_relu_negative_slope").set_value(0.5).run()
    assert not at.exception
    assert chart(at, "act_figure") != before
    assert any("negative_slope=0.5" in code.value for code in at.code)


def test_url_restores_the_setup():
    at = run_page(
        PAGE, act_names="gelu,silu", act_zmax="20", act_gelu_approximate="tanh", out_share="0.3"
    )
    assert not at.exception
    assert at.multiselect(key="act_names").value == ["gelu", "silu"]
    assert at.slider(key="act_zmax").value == 20.0
    assert at.selectbox(key="act_gelu_approximate").value == "tanh"
    assert at.slider(key="out_share").value == 0.3
    assert not at.warning


def test_bad_url_value_gets_a_notice_and_the_default():
    at = run_page(PAGE, "zh", act_zmax="abc", act_names="relu,nonsense")
    assert not at.exception
    assert at.slider(key="act_zmax").value == 6.0
    assert at.multiselect(key="act_names").value == ["sigmoid", "tanh", "relu"]
    assert at.warning[0].value.startswith(translate("zh", "url.notice_title"))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_empty_selections_give_hints_not_empty_charts(language):
    at = run_page(PAGE, language)
    at.multiselect(key="act_names").set_value([]).run()
    at.multiselect(key="loss_names").set_value([]).run()
    assert not at.exception
    hints = [info.value for info in at.info]
    assert translate(language, "activations.empty_selection") in hints
    assert translate(language, "activations.empty_losses") in hints
    ids = [c.proto.id for c in at.get("plotly_chart")]
    assert not any(i.endswith("-act_figure") or i.endswith("-loss_figure") for i in ids)


def test_loss_task_switch_resets_the_selection_and_the_axis():
    at = run_page(PAGE)
    at.radio(key="loss_task").set_value("classification").run()
    assert not at.exception
    assert at.multiselect(key="loss_names").value == ["bce_with_logits", "hinge"]
    x_title = chart(at, "loss_figure")["layout"]["xaxis"]["title"]["text"]
    assert x_title == translate("en", "activations.loss_axis.classification")
    at.radio(key="loss_task").set_value("probability").run()
    at.radio(key="loss_task").set_value("pair").run()
    assert not at.exception
    badges = at.dataframe[1].value[translate("en", "activations.col_check")]
    assert all(badge.startswith("✓") for badge in badges)


def test_extreme_values_give_messages_not_exceptions():
    at = run_page(PAGE, act_zmax="50", act_names=",".join(
        ["sigmoid", "softplus", "gelu", "mish", "selu"]), loss_range="20", stab_log_scale="4",
        stab_label="2", stab_temperature="0.05", out_share="0.5", out_offset="50")  # fmt: skip
    assert not at.exception
    assert not at.error
    assert metric(at, translate("en", "activations.ce_naive")) == "NaN"
    assert metric(at, translate("en", "activations.ce_stable")) == "1.9e+04"
    assert translate("en", "activations.stab_overflow") in [w.value for w in at.warning]
    naive, stable = chart(at, "stab_figure")["data"]
    assert naive["text"] == ["NaN"] * 3 and "NaN" not in stable["text"]


def test_outlier_sliders_move_the_mean_more_than_the_median():
    at = run_page(PAGE)
    mean0 = float(metric(at, translate("en", "activations.fit_mean")))
    median0 = float(metric(at, translate("en", "activations.fit_median")))
    at.slider(key="out_share").set_value(0.3).run()
    assert not at.exception
    mean1 = float(metric(at, translate("en", "activations.fit_mean")))
    median1 = float(metric(at, translate("en", "activations.fit_median")))
    assert mean1 - mean0 > 1.5
    assert abs(median1 - median0) < mean1 - mean0


@pytest.mark.parametrize(
    ("button", "key", "value"),
    [
        ("_exp_act_sigmoid", "act_names", ["sigmoid", "tanh"]),
        ("_exp_act_dead_relu", "act_leaky_relu_negative_slope", 0.1),
        ("_exp_out_outliers", "out_share", 0.3),
        ("_exp_stab_fuse", "stab_log_scale", 3.0),
        ("_exp_stab_temperature", "stab_temperature", 0.1),
    ],
)
def test_guided_experiments_set_up_the_page(button, key, value):
    at = run_page(PAGE, "zh")
    at.button(key=button).click().run()
    assert not at.exception
    assert at.session_state[key] == value
    if button == "_exp_stab_fuse":
        assert metric(at, translate("zh", "activations.ce_stable")) == "1900"
        assert metric(at, translate("zh", "activations.ce_naive")) == "inf"
    if button == "_exp_act_sigmoid":
        assert at.dataframe[0].value["f′(x)"][0] == "0.25"


# Links as the page wrote them before its settings became ui.fields: each must open with exactly
# these settings (the page before the change opened them the same way).
SAVED_LINKS = [
    (
        {"act_names": "leaky_relu,gelu,softplus", "act_zmax": "12.5", "act_x": "-3",
         "act_leaky_relu_negative_slope": "0.2", "act_gelu_approximate": "tanh",
         "act_softplus_beta": "2", "act_softplus_threshold": "10"},
        {"act_names": ["leaky_relu", "gelu", "softplus"], "act_zmax": 12.5, "act_x": -3.0,
         "act_leaky_relu_negative_slope": 0.2, "act_gelu_approximate": "tanh",
         "act_softplus_beta": 2.0, "act_softplus_threshold": 10.0},
    ),
    (
        {"loss_task": "classification", "loss_names": "hinge,cross_entropy", "loss_label": "0",
         "loss_range": "8", "out_share": "0.25", "out_offset": "30", "out_delta": "2.5",
         "out_seed": "4", "stab_log_scale": "2.5", "stab_label": "1", "stab_temperature": "0.5"},
        {"loss_task": "classification", "loss_names": ["hinge", "cross_entropy"], "loss_label": 0,
         "loss_range": 8.0, "out_share": 0.25, "out_offset": 30.0, "out_delta": 2.5, "out_seed": 4,
         "stab_log_scale": 2.5, "stab_label": 1, "stab_temperature": 0.5},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), SAVED_LINKS)
def test_a_saved_link_opens_the_same_settings(query, expected):
    assert_link_opens(PAGE, query, expected)


def test_temperature_chart_compares_only_a_different_temperature():
    one = [trace["name"] for trace in chart(run_page(PAGE), "temp_figure")["data"]]
    assert one == ["T = 1"]  # the default T = 1: no second, identical series
    two = chart(run_page(PAGE, stab_temperature="2.5"), "temp_figure")["data"]
    assert [trace["name"] for trace in two] == ["T = 1", "T = 2.5"]
