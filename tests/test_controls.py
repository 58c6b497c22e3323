"""URL binding on a page: links apply once, bad values get a dismissible notice, edits stick."""

import urllib.parse

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import run_page
from ui.i18n import translate


def _bound_slider_page():
    import streamlit as st

    from core.params import Param
    from ui.controls import bind_url, keyed

    bind_url({"lr": Param("float", 0.1, low=0.001, high=1.0)})
    value = keyed(st.slider, "lr", 0.1, label="lr", min_value=0.001, max_value=1.0)
    st.write(f"lr={value}")


def run(**query) -> AppTest:
    at = AppTest.from_function(_bound_slider_page, default_timeout=30)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def test_link_value_is_applied():
    at = run(lr="0.5")
    assert not at.exception
    assert at.slider(key="lr").value == 0.5


def test_widget_change_after_a_link_is_kept():
    at = run(lr="0.5")
    at.slider(key="lr").set_value(0.25).run()
    at.run()
    assert at.slider(key="lr").value == 0.25
    assert at.markdown[0].value == "lr=0.25"


def test_bad_value_keeps_default_and_notice_can_be_dismissed():
    at = run(lr="1e9")
    assert at.slider(key="lr").value == 0.1
    assert at.warning[0].value.startswith(translate("en", "url.notice_title"))
    assert "`lr`" in at.warning[0].value
    at.button(key="_url_dismiss_lr").click().run()
    assert not at.warning
    assert not at.exception


def test_notice_in_chinese():
    at = AppTest.from_function(_bound_slider_page, default_timeout=30)
    at.session_state["lang"] = "zh"
    at.query_params["lr"] = "abc"
    at.run()
    assert translate("zh", "url.reason_not_a_number") in at.warning[0].value


def _experiment_page():
    import streamlit as st

    from ui.controls import guided_experiment, keyed

    owned = ("p_",)
    guided_experiment("Big lr", "?", "It diverges.", {"p_lr": 0.9}, key="_exp_big_lr", owned=owned)
    guided_experiment("Slow", "?", "It crawls.", {"p_steps": 900}, key="_exp_slow", owned=owned)
    lr = keyed(st.slider, "p_lr", 0.1, label="lr", min_value=0.001, max_value=1.0)
    steps = keyed(st.slider, "p_steps", 100, label="steps", min_value=1, max_value=1000)
    other = keyed(st.slider, "q_other", 5, label="another page's", min_value=1, max_value=10)
    st.write(f"lr={lr} steps={steps} other={other}")


def test_guided_experiment_sets_the_widgets():
    at = AppTest.from_function(_experiment_page, default_timeout=30).run()
    assert at.slider(key="p_lr").value == 0.1
    at.button(key="_exp_big_lr").click().run()
    assert not at.exception
    assert at.slider(key="p_lr").value == 0.9
    assert at.markdown[-1].value == "lr=0.9 steps=100 other=5"


def test_guided_experiment_resets_what_the_last_one_set_and_only_the_pages_own():
    at = AppTest.from_function(_experiment_page, default_timeout=30).run()
    at.slider(key="q_other").set_value(7).run()
    at.button(key="_exp_big_lr").click().run()
    at.button(key="_exp_slow").click().run()
    assert not at.exception
    assert at.markdown[-1].value == "lr=0.1 steps=900 other=7"


def _shared_formula_page():
    import streamlit as st

    from core.params import Param
    from ui.controls import begin_run, bind_url, keyed, share_link

    begin_run()
    bind_url({"formula": Param("text", "x**2")})
    keyed(st.text_input, "formula", "x**2", label="f")
    share_link()


def test_share_link_is_made_when_opened_and_escapes_typed_text():
    at = AppTest.from_function(_shared_formula_page, default_timeout=30)
    at.query_params["formula"] = "x**2 + sin(y) & z=1"
    at.run()
    assert not at.exception
    assert not at.code
    at.session_state["_share_link"] = True  # what opening the popover sends
    at.run()
    link = at.code[0].value
    assert link.endswith("?formula=x%2A%2A2%20%2B%20sin%28y%29%20%26%20z%3D1")
    assert urllib.parse.parse_qs(link.split("?", 1)[1]) == {"formula": ["x**2 + sin(y) & z=1"]}


def _initial_value_mismatches(at: AppTest) -> list[str]:
    """Keyed widgets whose initial value, what the browser falls back to, is not their value."""
    pairs = [(w.key, w.proto.default, w.value) for w in at.number_input]
    pairs += [(w.key, w.proto.default, w.index) for w in at.selectbox]
    pairs += [(w.key, list(w.proto.default), w.indices) for w in at.multiselect]
    pairs += [(w.key, w.proto.default, w.value) for w in [*at.toggle, *at.checkbox, *at.text_input]]
    for w in at.slider:
        values = w.value if isinstance(w.value, tuple) else (w.value,)
        pairs.append((w.key, list(w.proto.default), [float(v) for v in values]))
    return [
        f"{key}: initial {initial!r}, value {value!r}"
        for key, initial, value in pairs
        if initial != value
    ]


# Links that move widgets of every kind off their defaults, as a shared setup does.
_LINKED_PAGES = {
    "pages/activations.py": {"act_zmax": "12", "act_x": "-2.5", "loss_range": "7"},
    "pages/optimizers.py": {"opt_x0": "2", "opt_steps": "700", "opt_surface": "himmelblau",
                            "opt_names": "sgd,adam", "opt_show_3d": "true"},
    "pages/schedules.py": {"sch_total": "300", "sch_unit": "epoch"},
    "pages/initialization.py": {"in_sym_val": "0.3"},
    "pages/mnist.py": {"mn_dropout": "0.2", "mn_lr": "0.01"},
}  # fmt: skip


@pytest.mark.parametrize("page_file", sorted(_LINKED_PAGES))
@pytest.mark.parametrize("linked", [False, True], ids=["defaults", "link"])
def test_every_widget_starts_in_the_browser_at_its_value(page_file, linked):
    """Regression: on a cold first load by link the browser sometimes mounted a widget afresh after
    the server had set it, and showed Streamlit's initial value, the minimum: -1000 as the start x
    of page 2 instead of -1.5."""
    at = run_page(page_file, **(_LINKED_PAGES[page_file] if linked else {}))
    assert not at.exception
    assert not _initial_value_mismatches(at)
    if linked:
        assert not at.warning, [w.value for w in at.warning]


def _bounds_follow_another_widget_page():
    import streamlit as st

    from ui.controls import keyed

    limit = keyed(st.slider, "limit", 5.0, label="limit", min_value=1.0, max_value=10.0)
    keyed(st.number_input, "x", 0.5, label="x", min_value=-limit, max_value=limit)
    keyed(st.slider, "span", (1, 2), label="span", min_value=0, max_value=int(limit))


def test_a_value_left_outside_narrowed_bounds_returns_to_its_default():
    at = AppTest.from_function(_bounds_follow_another_widget_page, default_timeout=30).run()
    at.number_input(key="x").set_value(4.0)
    at.slider(key="span").set_value((2, 5)).run()
    at.slider(key="limit").set_value(2.0).run()
    assert not at.exception
    assert at.number_input(key="x").value == 0.5
    assert at.slider(key="span").value == (1, 2)
    assert not _initial_value_mismatches(at)


def _isolated_panel_page():
    import streamlit as st

    from ui.controls import isolated_fragment

    @isolated_fragment(run_every=60)
    def panel() -> None:
        st.write("first line")
        st.write("second line")

    st.write("above")
    panel()
    st.write("below")


def test_an_isolated_fragment_is_the_only_child_of_its_own_container():
    """Streamlit may drop a fragment's elements between a full run and the fragment's own rerun
    (ui.controls.isolated_fragment): then nothing of the page may sit after the fragment in the
    same container, where it would move into the fragment's place. tests/e2e/test_fragment_race_e2e
    plays the race in a browser."""
    at = AppTest.from_function(_isolated_panel_page, default_timeout=30).run()
    assert not at.exception
    above, wrapper, below = at.main.children.values()
    assert (above.value, below.value) == ("above", "below")
    (fragment,) = wrapper.children.values()
    assert [line.value for line in fragment.children.values()] == ["first line", "second line"]


def _kept_text_page():
    import streamlit as st

    from ui.controls import keep_widget_values, keyed

    if st.session_state.pop("_drop", False):  # what a page switch does before any script runs
        del st.session_state["hidden"]
    keep_widget_values()
    keyed(st.text_input, "hidden", "128", label="hidden")


def test_a_value_dropped_by_a_page_switch_comes_back_and_one_deleted_on_the_page_does_not():
    """A page switch after a fragment's own run drops the widget values of the page left before
    any script runs (tests/e2e/test_mnist_e2e.py shows it); AppTest cannot run a fragment alone,
    so the drop is done by the page here, once as if on another page and once on the same page."""
    at = AppTest.from_function(_kept_text_page, default_timeout=30).run()
    at.text_input(key="hidden").input("20").run()
    _, noted = at.session_state["_noted_values"]
    assert noted["hidden"] == "20"
    at.session_state["_noted_values"] = ("another page", noted)
    at.session_state["_drop"] = True
    at.run()
    assert at.text_input(key="hidden").value == "20"
    at.session_state["_drop"] = True  # deleted by the page itself (a callback forgetting a value)
    at.run()
    assert at.text_input(key="hidden").value == "128"
