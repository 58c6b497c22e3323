"""The optimizers page in AppTest: both languages, widgets change output, URL, bad input, experiments."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import ROOT, TIMEOUT, assert_link_opens, run_page
from ui.i18n import translate

PAGE = "pages/optimizers.py"


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def messages(at) -> str:
    return "\n".join(m.value for kind in ("warning", "info", "error") for m in getattr(at, kind))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_renders_in_both_languages(language):
    at = run_page(PAGE, language)
    assert not at.exception
    assert at.title[0].value == translate(language, "optimizers.heading")
    names = [trace.get("name") for trace in charts(at)[0]["data"]]
    assert translate(language, "optimizers.names.adam") + " (lr=0.1," in " ".join(map(str, names))
    assert len(at.get("plotly_chart")) >= 4  # map, loss, animation, convergence map


def test_changing_the_lr_changes_the_paths_and_table():
    at = run_page(PAGE)
    before = charts(at)[0]["data"][2]["x"]
    table_before = at.dataframe[1].value.to_json()
    at.number_input(key="opt_adam_lr").set_value(0.05).run()
    assert not at.exception
    assert charts(at)[0]["data"][4]["x"] != before  # adam is the third path (traces 2, 3, 4)
    assert at.dataframe[1].value.to_json() != table_before


def test_url_restores_the_setup_and_bad_values_get_the_notice():
    at = run_page(PAGE, opt_surface="saddle", opt_names="adam,rmsprop", opt_adam_lr="0.01")
    assert not at.exception
    assert at.selectbox(key="opt_surface").value == "saddle"
    assert at.multiselect(key="opt_names").value == ["adam", "rmsprop"]
    assert at.number_input(key="opt_adam_lr").value == 0.01
    at = run_page(PAGE, "zh", opt_steps="99999", opt_names="adam,bogus")
    assert not at.exception
    assert translate("zh", "url.notice_title") in messages(at)
    assert at.slider(key="opt_steps").value == 500
    assert at.multiselect(key="opt_names").value == ["sgd", "momentum", "adam"]


def test_no_optimizer_gives_the_hint():
    at = run_page(PAGE)
    at.multiselect(key="opt_names").set_value([]).run()
    assert not at.exception
    assert translate("en", "optimizers.no_optimizer") in messages(at)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_divergence_is_reported_in_words(language):
    at = run_page(PAGE, language, opt_names="sgd", opt_sgd_lr="0.01")
    assert not at.exception
    expected = translate(language, "optimizers.diverged", name="SGD", step=3)
    assert expected in messages(at)


def test_start_outside_the_box_is_clamped_with_a_note():
    at = run_page(PAGE, opt_x0="50", opt_y0="-7")
    assert not at.exception
    note = translate("en", "optimizers.start_clamped", x="50", y="-7", cx="2", cy="-1")
    assert note in messages(at)


def test_invalid_combination_gets_a_message():
    at = run_page(PAGE, opt_names="nesterov", opt_nesterov_momentum="0")
    assert not at.exception
    assert "Nesterov momentum requires a momentum" in messages(at)


def custom(formula: str, language: str = "en"):
    """The page on "your own function" with ``formula`` typed in (seeded, so one run only)."""
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=TIMEOUT)
    at.session_state["lang"] = language
    at.session_state["opt_formula"] = formula
    at.query_params["opt_surface"] = "custom"
    at.run()
    assert not at.exception
    assert at.text_input(key="opt_formula").value == formula
    return at


def test_typing_a_formula_reruns_the_race():
    at = run_page(PAGE, opt_surface="custom")
    before = charts(at)[0]["data"][0]["z"]
    at.text_input(key="opt_formula").set_value("x**2 + y**2").run()
    assert not at.exception
    assert charts(at)[0]["data"][0]["z"] != before


@pytest.mark.parametrize(
    ("formula", "code"),
    [
        ("__import__('os').system('touch /tmp/pwned')", "forbidden"),
        ("x.__class__", "forbidden"),
        ("open(x) + system(y)", "unknown_name"),
        ("x**10**10", "too_large"),
        ("9**9**9", "too_large"),
        ("x" + "+x" * 5000, "too_long"),
        ("1/0", "undefined"),
        ("sqrt(-1)", "not_real"),
        ("x + (y", "syntax"),
    ],
    ids=lambda value: value[:20] if isinstance(value, str) else None,
)
def test_hostile_or_broken_formulas_are_refused_with_a_message(formula, code):
    at = custom(formula)
    reason = translate("en", f"optimizers.errors.{code}")
    assert translate("en", "optimizers.formula_error", reason=reason) in messages(at)
    assert not at.get("plotly_chart")  # nothing raced on a refused formula


def test_syntax_error_shows_a_caret_and_unknown_names_are_listed():
    at = custom("x + * y", "zh")
    assert at.code[0].value == "x + * y\n    ^"
    assert translate("zh", "optimizers.errors.syntax") in messages(at)
    at = custom("foo(x) + bar")
    assert translate("en", "optimizers.formula_unknown", names="`foo`, `bar`") in [
        m.value for m in at.markdown
    ]


def test_formula_with_undefined_regions_is_reported_and_raced():
    at = custom("log(x) + y**2")
    assert "%" in messages(at)
    assert translate("en", "optimizers.formula_nonfinite", percent="50.0%") in messages(at)
    assert at.get("plotly_chart")


@pytest.mark.parametrize("experiment", ["sgd_blowup", "overshoot", "saddle", "best"])
def test_guided_experiments_set_up_the_page(experiment):
    at = run_page(PAGE)
    at.button(key=f"_exp_opt_{experiment}").click().run()
    assert not at.exception
    if experiment == "sgd_blowup":
        assert at.multiselect(key="opt_names").value == ["sgd"]
        assert "diverged at step 3" in messages(at)
    if experiment == "best":
        assert at.toggle(key="opt_best_lr").value is True
        # Both races side by side: the lr chosen (torch's default) and the best one.
        table = at.dataframe[2].value
        column = translate("en", "optimizers.col_chosen_lr")
        lrs = dict(zip(table.iloc[:, 0], table[column], strict=True))
        assert lrs == {
            "SGD": "0.001",
            "SGD with momentum": "0.001",
            "Adam": "0.001",
            "RMSprop": "0.01",
        }
        assert translate("en", "optimizers.col_best_loss") in table


def test_an_experiment_starts_from_the_defaults_not_from_the_last_experiment():
    fresh = run_page(PAGE)
    fresh.button(key="_exp_opt_best").click().run()
    at = run_page(PAGE)
    for experiment in ("overshoot", "saddle", "best"):
        at.button(key=f"_exp_opt_{experiment}").click().run()
    assert not at.exception
    # overshoot set momentum 0.99 and 500 steps, saddle 200 steps: the fair race names neither.
    for key in ("opt_momentum_momentum", "opt_steps", "opt_names", "opt_x0", "opt_y0"):
        assert at.session_state[key] == fresh.session_state[key], key
    assert charts(at) == charts(fresh)


def test_typed_formula_travels_in_the_link():
    at = run_page(PAGE, opt_surface="custom", opt_formula="x**2 + 5*y**2")
    assert not at.exception and not at.warning
    assert at.text_input(key="opt_formula").value == "x**2 + 5*y**2"
    default = run_page(PAGE, opt_surface="custom")
    assert charts(at)[0]["data"][0]["z"] != charts(default)[0]["data"][0]["z"]


def test_the_colour_bar_names_the_minimum_its_levels_start_from():
    # A typed formula has no known minimum: the levels start at the smallest f on the map.
    typed = charts(run_page(PAGE, opt_surface="custom", opt_formula="x**2 + 3*y**2"))[0]
    assert typed["data"][0]["colorbar"]["title"]["text"] == translate(
        "en", "optimizers.colorbar_log_nomin"
    )
    known = charts(run_page(PAGE))[0]  # Rosenbrock, minimum 0 at (1, 1)
    assert known["data"][0]["colorbar"]["title"]["text"] == translate(
        "en", "optimizers.colorbar_log"
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_path_that_leaves_the_map_is_named(language):
    at = run_page(
        PAGE,
        language,
        opt_surface="custom",
        opt_formula="-x",
        opt_names="sgd",
        opt_sgd_lr="0.25",
        opt_x0="0",
        opt_y0="0",
    )
    assert not at.exception
    one = translate(
        language,
        "optimizers.left_map_one",
        name=translate(language, "optimizers.names.sgd"),
        step=9,
    )
    assert one in messages(at)
    stays = run_page(PAGE, language)  # Rosenbrock's default race stays on the map
    assert one not in messages(stays)


def test_hostile_formula_from_a_link_gets_the_typed_formula_message():
    at = run_page(PAGE, "zh", opt_surface="custom", opt_formula="__import__('os').system('id')")
    assert not at.exception
    reason = translate("zh", "optimizers.errors.forbidden")
    assert translate("zh", "optimizers.formula_error", reason=reason) in messages(at)


# Links as the page wrote them before its settings became ui.fields (floats as .10g text): each
# must still open with exactly these widget values.
SAVED_LINKS = [
    (
        {"opt_surface": "himmelblau", "opt_names": "adam,rmsprop", "opt_steps": "300",
         "opt_x0": "-2", "opt_y0": "1.5", "opt_tol": "0.0001", "opt_adam_lr": "0.05",
         "opt_adam_amsgrad": "1", "opt_rmsprop_centered": "1", "opt_rmsprop_eps": "1e-06"},
        {"opt_surface": "himmelblau", "opt_names": ["adam", "rmsprop"], "opt_steps": 300,
         "opt_x0": -2.0, "opt_y0": 1.5, "opt_tol": 1e-4, "opt_adam_lr": 0.05,
         "opt_adam_amsgrad": True, "opt_rmsprop_centered": True, "opt_rmsprop_eps": 1e-6},
    ),
    (
        {"opt_surface": "custom", "opt_formula": "x**2 + 5*y**2", "opt_names": "sgd,nesterov",
         "opt_nesterov_momentum": "0.95", "opt_sgd_weight_decay": "0.01", "opt_best_lr": "1",
         "opt_show_3d": "1", "opt_map_steps": "500"},
        {"opt_surface": "custom", "opt_formula": "x**2 + 5*y**2", "opt_names": ["sgd", "nesterov"],
         "opt_nesterov_momentum": 0.95, "opt_sgd_weight_decay": 0.01, "opt_best_lr": True,
         "opt_show_3d": True, "opt_map_steps": 500},
    ),
    (
        {"opt_names": "adamw,nadam,adadelta", "opt_adamw_beta2": "0.99", "opt_nadam_momentum_decay": "0.01",
         "opt_adadelta_rho": "0.95", "opt_step": "42", "opt_tol": "1e-06"},
        {"opt_names": ["adamw", "nadam", "adadelta"], "opt_adamw_beta2": 0.99,
         "opt_nadam_momentum_decay": 0.01, "opt_adadelta_rho": 0.95, "opt_step": 42, "opt_tol": 1e-6},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), SAVED_LINKS)
def test_a_saved_link_opens_the_same_settings(query, expected):
    assert_link_opens(PAGE, query, expected)


def test_a_link_whose_step_is_past_the_last_one_starts_at_step_zero():
    # The scrub slider's max is steps − 1; opt_step=100 with 100 steps raised in the race panel.
    at = run_page(PAGE, opt_steps="100", opt_step="100")
    assert not at.exception and not at.error
    assert at.slider(key="opt_step").value == 0


@pytest.mark.parametrize(
    ("formula", "reason"),
    [("floor(sin(10**299)*10**250) + x", "too_large"), ("x*y + sin(x) + exp(x*y*y)", "too_big")],
)
def test_a_formula_sympy_fails_on_gets_a_readable_message(formula, reason, monkeypatch):
    import core.expressions

    monkeypatch.setattr(core.expressions, "MAX_TREE", 10)  # the second formula has 13 parts
    at = run_page(PAGE, opt_surface="custom", opt_formula=formula)
    assert not at.exception
    message = translate("en", f"optimizers.errors.{reason}", limit=10)
    assert translate("en", "optimizers.formula_error", reason=message) in messages(at)


def test_a_formula_sympy_could_not_differentiate_is_raced():
    # x//y//x raised a TypeError in sympy's derivative (issue #22 item 3); the gradient is now
    # computed over the formula's own tree: zero, as for any floor.
    at = run_page(PAGE, opt_surface="custom", opt_formula="x//y//x")
    assert not at.exception and not at.error


def test_lbfgs_draws_every_evaluated_point_and_counts_the_gradients():
    at = run_page(
        PAGE, opt_names="adam,lbfgs", opt_lbfgs_line_search_fn="strong_wolfe", opt_steps="20"
    )
    assert not at.exception
    names = [str(trace.get("name")) for trace in charts(at)[0]["data"]]
    trail = translate("en", "optimizers.evaluated", name="")
    assert any(trail.strip(" :") in name.replace("<br>", " ") for name in names)
    table = at.dataframe[1].value
    column = table[translate("en", "optimizers.col_evaluations")]
    counts = dict(zip(table.iloc[:, 0], column, strict=True))
    assert counts[translate("en", "optimizers.names.adam")] == "20"
    assert int(counts[translate("en", "optimizers.names.lbfgs")]) > 20


def test_the_lr_search_races_lbfgs_at_its_own_lr_and_says_so():
    at = run_page(PAGE, opt_names="adam,lbfgs", opt_best_lr="1", opt_steps="20")
    assert not at.exception
    skipped = translate("en", "optimizers.best_lr_skipped", name="L-BFGS")
    assert skipped in "\n".join(i.value for i in at.info)
    table = at.dataframe[1].value
    lrs = dict(zip(table.iloc[:, 0], table[translate("en", "optimizers.col_lr")], strict=True))
    assert lrs[translate("en", "optimizers.names.lbfgs")] == "1"
