"""The schedules page in AppTest: both languages, list editing, URL, bad input, experiments, training."""

import base64
import json
from urllib.parse import parse_qsl

import numpy as np
import pytest

from tests.apptest import run_page
from ui.i18n import translate

PAGE = "pages/schedules.py"


def figure(at, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def ys(at, index: int = 0, axis: str = "y") -> list[np.ndarray]:
    """The y (or x) values of every trace (plotly may ship them as base64 typed arrays)."""
    out = []
    for trace in figure(at, index)["data"]:
        y = trace[axis]
        if isinstance(y, dict):
            y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
        out.append(np.asarray(y, dtype=float))
    return out


def trace_names(at, index: int = 0) -> list[str]:
    return [trace["name"] for trace in figure(at, index)["data"]]


def warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_renders_in_both_languages(language):
    at = run_page(PAGE, language)
    assert not at.exception
    assert at.title[0].value == translate(language, "schedules.heading")
    assert trace_names(at) == ["1 · StepLR", "2 · CosineAnnealingLR"]
    assert figure(at)["layout"]["yaxis"]["title"]["text"] == translate(
        language, "schedules.lr_axis"
    )
    assert len(at.get("plotly_chart")) == 2  # comparison + chain
    assert not at.warning
    assert any("StepLR(optimizer, step_size=30, gamma=0.1)" in c.value for c in at.code)


def test_parameter_change_changes_the_curve():
    at = run_page(PAGE)
    before = ys(at)[0]
    at.number_input(key="sch_s1_gamma").set_value(0.5).run()
    assert not at.exception
    after = ys(at)[0]
    assert not np.array_equal(before, after)
    assert after[-1] == pytest.approx(0.1 * 0.5 ** (100 // 30))
    assert any("gamma=0.5" in c.value for c in at.code)


def test_log_axis_and_epochs():
    at = run_page(PAGE)
    at.toggle(key="sch_logy").set_value(True).run()
    at.button_group(key="sch_unit").set_value("epoch").run()
    at.number_input(key="sch_spe").set_value(20).run()
    assert not at.exception
    fig = figure(at)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert fig["layout"]["xaxis"]["title"]["text"] == translate("en", "schedules.unit_epoch")
    assert ys(at, axis="x")[0][-1] == pytest.approx(100 / 20)


def test_add_duplicate_remove():
    at = run_page(PAGE)
    at.button(key="_sch_add").click().run()
    assert trace_names(at) == ["1 · StepLR", "2 · CosineAnnealingLR", "3 · ExponentialLR"]
    at.number_input(key="sch_s2_T_max").set_value(50).run()
    at.button(key="_sch_dup_s2").click().run()
    assert at.session_state["sch"] == ["s1", "s2", "s3", "s4"]
    assert at.session_state["sch_s4_T_max"] == 50
    names = trace_names(at)
    assert names[3] == "4 · CosineAnnealingLR"
    np.testing.assert_array_equal(ys(at)[3], ys(at)[1])
    at.button(key="_sch_rm_s1").click().run()
    at.button(key="_sch_rm_s3").click().run()
    assert not at.exception
    assert trace_names(at) == ["1 · CosineAnnealingLR", "2 · CosineAnnealingLR"]


def test_remove_all_gives_the_hint():
    at = run_page(PAGE)
    at.button(key="_sch_rm_s1").click().run()
    at.button(key="_sch_rm_s2").click().run()
    assert not at.exception
    assert at.info[0].value == translate("en", "schedules.empty")


def test_classic_five_preset():
    at = run_page(PAGE)
    at.slider(key="sch_total").set_value(200).run()
    at.button(key="_sch_preset_five").click().run()
    assert not at.exception
    assert trace_names(at) == [
        "1 · ConstantLR",
        "2 · StepLR",
        "3 · ExponentialLR",
        "4 · CosineAnnealingLR",
        "5 · CosineAnnealingWarmRestarts",
    ]
    y = ys(at)
    assert set(y[0]) == {0.1}  # fixed
    assert y[3][-1] == pytest.approx(0.0, abs=1e-15)  # cosine reaches eta_min at T_max
    assert y[4][50] == pytest.approx(0.1)  # warm restart every 50 steps


def test_url_restores_the_setup():
    at = run_page(
        PAGE,
        sch="s1,s3",
        sch_s3_kind="exponential_lr",
        sch_s3_gamma="0.9",
        sch_total="200",
        sch_logy="1",
    )
    assert not at.exception
    assert not at.warning
    assert trace_names(at) == ["1 · StepLR", "2 · ExponentialLR"]
    fig = figure(at)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert len(ys(at)[1]) == 201
    assert ys(at)[1][10] == pytest.approx(0.1 * 0.9**10)


def test_bad_url_values_get_the_notice_and_defaults():
    at = run_page(PAGE, sch_total="abc", sch_s1_kind="nope", sch="s1,s99")
    assert not at.exception
    text = warnings(at)
    assert translate("en", "url.notice_title") in text
    for name in ("sch_total", "sch_s1_kind", "`sch`"):
        assert name in text
    assert at.slider(key="sch_total").value == 100
    assert trace_names(at) == ["1 · StepLR", "2 · CosineAnnealingLR"]


BAD_INPUTS = [
    ("cosine_annealing_lr", "sch_s2_T_max", 0, "T_max"),
    ("step_lr", "sch_s2_gamma", -0.5, "gamma"),
    ("exponential_lr", "sch_s2_gamma", 0.0, "gamma"),
    ("multi_step_lr", "sch_s2_milestones", "80, -30", "milestones"),
    ("cyclic_lr", "sch_s2_max_lr", 0.0001, "max_lr"),
]


def test_invalid_parameter_is_named_while_the_other_schedule_draws():
    at = run_page(PAGE)
    for kind, key, value, param in BAD_INPUTS:
        at.selectbox(key="sch_s2_kind").set_value(kind).run()
        widget = at.text_input(key=key) if isinstance(value, str) else at.number_input(key=key)
        widget.set_value(value).run()
        assert not at.exception
        assert f"`{param}`" in warnings(at), kind
        assert trace_names(at) == ["1 · StepLR"], kind


def test_invalid_parameter_message_in_chinese():
    at = run_page(PAGE, "zh")
    at.number_input(key="sch_s2_T_max").set_value(0).run()
    assert not at.exception
    assert translate("zh", "schedules.rule_int_ge", low=1, value=0) in warnings(at)
    assert "`T_max`" in warnings(at)


HOSTILE = [
    ("__import__('os').system('echo pwned')", "schedules.expr.forbidden"),
    ("epoch.__class__", "schedules.expr.forbidden"),
    ("9 ** 9 ** 9 ** 9", "schedules.expr.too_large"),
    ("epoch + x", "schedules.expr.unknown_name"),
    ("1 / (epoch - epoch)", "schedules.expr.undefined"),
]


def test_hostile_lambda_is_refused():
    at = run_page(PAGE)
    at.selectbox(key="sch_s1_kind").set_value("lambda_lr").run()
    for text, expected in HOSTILE:
        at.text_input(key="sch_s1_lr_lambda").set_value(text).run()
        assert not at.exception
        assert translate("en", expected) in warnings(at), text
        assert trace_names(at) == ["2 · CosineAnnealingLR"]


def test_lambda_dividing_by_zero_at_one_epoch_is_reported():
    at = run_page(PAGE)
    at.selectbox(key="sch_s1_kind").set_value("multiplicative_lr").run()
    at.text_input(key="sch_s1_lr_lambda").set_value("1 / (epoch - 3)").run()
    assert not at.exception
    assert translate("en", "schedules.not_finite", schedule="1 · MultiplicativeLR", step=3) in (
        warnings(at)
    )
    at.text_input(key="sch_s1_lr_lambda").set_value("0.9").run()
    assert trace_names(at)[0] == "1 · MultiplicativeLR"
    assert ys(at)[0][2] == pytest.approx(0.1 * 0.81)


def test_chain_builder_phases_and_warmup_too_long():
    at = run_page(PAGE)
    fig = figure(at, 1)
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert labels == ["warm-up", "main", "restart 1", "restart 2"]
    assert any("SequentialLR" in c.value and "milestones=[10, 40, 70]" in c.value for c in at.code)
    at.number_input(key="sch_chain_warmup").set_value(500).run()
    assert not at.exception
    assert "`warmup`" in warnings(at)
    assert len(at.get("plotly_chart")) == 1  # the comparison still draws


@pytest.mark.parametrize("name", ["warmup_adam", "restarts", "step_vs_cosine"])
def test_guided_experiments_set_up_the_page(name):
    at = run_page(PAGE)
    at.button(key=f"_exp_sch_{name}").click().run()
    assert not at.exception
    assert at.session_state["sch"] == ["s1", "s2"]
    assert len(trace_names(at)) == 2
    assert not at.warning


def test_training_panel_on_a_tiny_budget():
    at = run_page(PAGE, "zh")
    at.slider(key="sch_total").set_value(10).run()
    assert at.info[0].value == translate("zh", "schedules.train_hint")
    at.button(key="_sch_train").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table[translate("zh", "schedules.col_schedule")]) == [
        "1 · StepLR",
        "2 · CosineAnnealingLR",
    ]
    accuracy = table[translate("zh", "schedules.col_accuracy")]
    assert all(0.0 <= float(a.rstrip("%")) <= 100.0 for a in accuracy)
    fig = figure(at, -1)  # the chain is not drawn: its warm-up exceeds 10 steps
    assert [t["name"] for t in fig["data"]] == [
        "1 · StepLR",
        "1 · StepLR （学习率）",
        "2 · CosineAnnealingLR",
        "2 · CosineAnnealingLR （学习率）",
    ]
    assert len(ys(at, -1)[0]) == 10
    # The lr the trainer used is the lr the chart shows.
    np.testing.assert_allclose(ys(at, -1)[3], ys(at, 0)[1][:10])
    at.number_input(key="sch_s2_T_max").set_value(50).run()
    assert at.caption and any(
        c.value == translate("zh", "schedules.train_stale") for c in at.caption
    )


def test_milestones_and_lambda_travel_in_the_link():
    at = run_page(
        PAGE,
        sch="s1,s2",
        sch_s1_kind="multi_step_lr",
        sch_s1_milestones="3, 7",
        sch_s2_kind="lambda_lr",
        sch_s2_lr_lambda="0.5 ** epoch",
    )
    assert not at.exception and not at.warning
    assert ys(at)[0][2:4] == pytest.approx([0.1, 0.01])
    assert ys(at)[0][7] == pytest.approx(0.001)
    assert ys(at)[1][3] == pytest.approx(0.1 * 0.5**3)


def test_hostile_lambda_from_a_link_is_refused_with_the_typed_message():
    text, expected = HOSTILE[0]
    at = run_page(PAGE, sch="s1,s2", sch_s1_kind="lambda_lr", sch_s1_lr_lambda=text)
    assert not at.exception
    assert translate("en", expected) in warnings(at)


# Links as the page writes them today (only values that differ from the defaults): several kinds,
# milestones, both lambdas, a cyclic step_size_down, one-cycle flags, units and the log axis. Each
# must open with exactly these widget values, whatever the page's code looks like.
SAVED_LINKS = [
    (
        "sch=s1%2Cs2%2Cs4&sch_s1_kind=multi_step_lr&sch_s1_lr=0.3&sch_s1_milestones=20%2C+50%2C+90"
        "&sch_s1_gamma=0.5&sch_s2_kind=lambda_lr&sch_s2_lr_lambda=1+%2F+%281+%2B+0.1+%2A+epoch%29"
        "&sch_s4_T_0=15&sch_s4_T_mult=2&sch_s4_eta_min=0.001",
        {
            "sch_s1_kind": "multi_step_lr", "sch_s1_lr": 0.3, "sch_s1_milestones": "20, 50, 90",
            "sch_s1_gamma": 0.5, "sch_s2_kind": "lambda_lr",
            "sch_s2_lr_lambda": "1 / (1 + 0.1 * epoch)", "sch_s2_lr": 0.1,
            "sch_s4_kind": "cosine_annealing_warm_restarts", "sch_s4_T_0": 15, "sch_s4_T_mult": 2,
            "sch_s4_eta_min": 0.001, "sch_total": 100, "sch_unit": "step",
        },
    ),
    (
        "sch_total=400&sch_unit=epoch&sch_spe=25&sch_logy=1&sch_s1_kind=exponential_lr"
        "&sch_s1_gamma=0.98&sch_s2_T_max=400&sch_s2_eta_min=0.01",
        {
            "sch_total": 400, "sch_unit": "epoch", "sch_spe": 25, "sch_logy": True,
            "sch_s1_kind": "exponential_lr", "sch_s1_gamma": 0.98, "sch_s1_lr": 0.1,
            "sch_s2_kind": "cosine_annealing_lr", "sch_s2_T_max": 400, "sch_s2_eta_min": 0.01,
        },
    ),
    (
        "sch_total=300&sch=s5%2Cs6&sch_s5_max_lr=0.5&sch_s5_total_steps=300&sch_s5_pct_start=0.25"
        "&sch_s5_anneal_strategy=linear&sch_s5_three_phase=1&sch_s6_base_lr=0.01&sch_s6_max_lr=0.2"
        "&sch_s6_step_size_up=20&sch_s6_step_size_down=10&sch_s6_mode=triangular2",
        {
            "sch_s5_kind": "one_cycle_lr", "sch_s5_max_lr": 0.5, "sch_s5_total_steps": 300,
            "sch_s5_pct_start": 0.25, "sch_s5_anneal_strategy": "linear",
            "sch_s5_three_phase": True, "sch_s5_div_factor": 25.0,
            "sch_s5_final_div_factor": 1e4, "sch_s6_kind": "cyclic_lr", "sch_s6_base_lr": 0.01,
            "sch_s6_max_lr": 0.2, "sch_s6_step_size_up": 20, "sch_s6_step_size_down": 10,
            "sch_s6_mode": "triangular2", "sch_s6_gamma": 1.0,
        },
    ),
    (
        "sch=s1%2Cs2%2Cs3%2Cs7%2Cs8&sch_s1_kind=constant_lr&sch_s1_factor=0.5&sch_s1_total_iters=10"
        "&sch_s2_kind=multiplicative_lr&sch_s2_lr_lambda=0.97&sch_s3_kind=step_lr&sch_s3_step_size=7"
        "&sch_s7_total_iters=50&sch_s7_power=2.0&sch_s8_start_factor=0.01&sch_s8_end_factor=0.5"
        "&sch_s8_total_iters=40",
        {
            "sch_s1_kind": "constant_lr", "sch_s1_factor": 0.5, "sch_s1_total_iters": 10,
            "sch_s2_kind": "multiplicative_lr", "sch_s2_lr_lambda": "0.97",
            "sch_s3_kind": "step_lr", "sch_s3_step_size": 7, "sch_s3_gamma": 0.1,
            "sch_s7_kind": "polynomial_lr", "sch_s7_total_iters": 50, "sch_s7_power": 2.0,
            "sch_s8_kind": "linear_lr", "sch_s8_start_factor": 0.01, "sch_s8_end_factor": 0.5,
            "sch_s8_total_iters": 40,
        },
    ),
    (
        # The chain builder's own settings are not in links; it follows the link's total and unit.
        "sch_total=30&sch_unit=epoch&sch_spe=3&sch_s1_step_size=5",
        {
            "sch_total": 30, "sch_unit": "epoch", "sch_spe": 3, "sch_s1_step_size": 5,
            "sch_chain_warmup": 10, "sch_chain_main": "cosine_annealing_lr",
            "sch_chain_cycle": 30, "sch_chain_start": 0.1, "sch_chain_lr": 0.1,
            "sch_chain_restarts": 2, "sch_train_opt": "momentum", "sch_seed": 0,
        },
    ),
]  # fmt: skip

WIDGET_KINDS = ("number_input", "text_input", "selectbox", "checkbox", "slider", "toggle")


def widget_values(at) -> dict:
    values = {w.key: w.value for kind in WIDGET_KINDS for w in at.get(kind)}
    return values | {w.key: w.value for w in at.button_group}


@pytest.mark.parametrize("link", range(len(SAVED_LINKS)))
def test_a_saved_link_opens_the_same_widget_values(link):
    query, expected = SAVED_LINKS[link]
    at = run_page(PAGE, **dict(parse_qsl(query)))
    assert not at.exception
    assert not at.warning
    values = widget_values(at)
    assert {key: values.get(key) for key in expected} == expected
    listed = dict(parse_qsl(query)).get("sch", "s1,s2").split(",")
    assert at.session_state["sch"] == listed
    assert {k.split("_")[1] for k in values if k.endswith("_kind")} == set(listed)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_restarts_that_do_not_fit_the_steps_are_said(language):
    # 100 steps, warm-up 10, cycles of 30: restarts 1 and 2 start at 40 and 70, 3 and 4 would
    # start at 100 and 130. The chain builder's settings stay out of links: set them by hand.
    at = run_page(PAGE, language, sch_total="100")
    for key, value in (
        ("sch_chain_warmup", 10),
        ("sch_chain_cycle", 30),
        ("sch_chain_restarts", 4),
    ):
        at.number_input(key=key).set_value(value)
    at.run()
    expected = translate(
        language, "schedules.restarts_cut", asked=4, shown=2, total=100, warmup=10, cycle=30
    )
    assert expected in [c.value for c in at.caption]
    at.number_input(key="sch_chain_restarts").set_value(2).run()
    assert not [c.value for c in at.caption if c.value[:8] == expected[:8]]


def test_reduce_lr_on_plateau_is_listed_and_follows_the_training_losses():
    at = run_page(PAGE)
    at.selectbox(key="sch_s2_kind").set_value("reduce_lr_on_plateau").run()
    at.slider(key="sch_total").set_value(200).run()
    at.number_input(key="sch_s2_patience").set_value(1).run()
    at.number_input(key="sch_s2_factor").set_value(0.5).run()
    assert not at.exception
    assert any(c.value == translate("en", "schedules.plateau_note") for c in at.caption)
    assert trace_names(at) == ["1 · StepLR", "2 · ReduceLROnPlateau"]
    assert any("scheduler.step(val_loss)" in c.value for c in at.code)
    at.button(key="_sch_train").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table[translate("en", "schedules.col_schedule")]) == [
        "1 · StepLR",
        "2 · ReduceLROnPlateau",
    ]
    used = ys(at, -1)[3]  # the lr ReduceLROnPlateau gave the trainer, step by step
    assert len(used) == 200 and used[0] == 0.1
    assert set(np.round(used / 0.1, 12)) <= {0.5**k for k in range(12)}
    assert used[-1] < 0.1  # with patience 1 the validation loss stalls at least once in ~10 epochs


def test_cyclic_lr_takes_a_typed_scale_fn():
    at = run_page(PAGE, sch="s1", sch_s1_kind="cyclic_lr", sch_s1_step_size_up="5", sch_total="60")
    triangular = ys(at)[0]
    at.text_input(key="sch_s1_scale_fn").set_value("1 / 2 ** (x - 1)").run()
    assert not at.exception
    halved = ys(at)[0]
    at.text_input(key="sch_s1_scale_fn").set_value("").run()
    at.selectbox(key="sch_s1_mode").set_value("triangular2").run()
    np.testing.assert_allclose(halved, ys(at)[0], rtol=1e-15)  # that scale_fn is triangular2
    assert not np.allclose(halved, triangular)
    at.text_input(key="sch_s1_scale_fn").set_value("epoch").run()
    assert "scale_fn" in translate("en", "schedules.expr.unknown_name")
    assert translate("en", "schedules.expr.unknown_name") in warnings(at)


def test_chained_scheduler_is_listed_with_its_chain_and_trains():
    at = run_page(PAGE, "zh")
    at.selectbox(key="sch_s2_kind").set_value("chained_scheduler").run()
    at.slider(key="sch_total").set_value(40).run()
    assert not at.exception
    assert trace_names(at) == ["1 · StepLR", "2 · ChainedScheduler"]
    lrs = ys(at)[1]
    np.testing.assert_allclose(lrs[:3], [0.01, 0.0097, 0.009409], rtol=1e-12)  # 0.1·0.1·0.97^t
    np.testing.assert_allclose(lrs[20], 0.1 * 0.97**20, rtol=1e-12)  # ConstantLR undone at 20
    assert any("ConstantLR(factor=0.1, total_iters=20) × ExponentialLR(gamma=0.97)" in c.value
               for c in at.caption)  # fmt: skip
    assert any("ChainedScheduler([scheduler1, scheduler2]" in c.value for c in at.code)
    at.button(key="_sch_train").click().run()
    assert not at.exception
    np.testing.assert_allclose(ys(at, -1)[3], lrs[:40])  # the trainer used the chart's lrs


def test_a_lambda_lr_never_builds_a_gradient(monkeypatch):
    # Issue #22 item 1: LambdaLR needs only the formula's value; its gradient was built anyway.
    import core.expressions
    from ui.schedule_panels import lr_curve

    def no_gradient(*args):
        raise AssertionError("a schedule built a gradient")

    monkeypatch.setattr(core.expressions, "_gradient", no_gradient)
    core.expressions._compiled.cache_clear()
    lrs = lr_curve("lambda_lr", 0.1, (("lr_lambda", "max(abs(epoch), abs(epoch - 4))"),), 8)
    np.testing.assert_allclose(lrs, 0.1 * np.maximum(np.arange(9), np.abs(np.arange(9) - 4)))
