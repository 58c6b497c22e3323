"""URL binding on a page: links apply once, bad values get a dismissible notice, edits stick."""

import urllib.parse

from streamlit.testing.v1 import AppTest

from ui.i18n import translate


def _bound_slider_page():
    import streamlit as st

    from ui.controls import bind_url, keyed
    from ui.url_state import Param

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

    guided_experiment("Big lr", "What happens?", "It diverges.", {"lr": 0.9}, key="_exp_big_lr")
    value = keyed(st.slider, "lr", 0.1, label="lr", min_value=0.001, max_value=1.0)
    st.write(f"lr={value}")


def test_guided_experiment_sets_the_widgets():
    at = AppTest.from_function(_experiment_page, default_timeout=30).run()
    assert at.slider(key="lr").value == 0.1
    at.button(key="_exp_big_lr").click().run()
    assert not at.exception
    assert at.slider(key="lr").value == 0.9
    assert at.markdown[-1].value == "lr=0.9"


def _shared_formula_page():
    import streamlit as st

    from ui.controls import begin_run, bind_url, keyed, share_link
    from ui.url_state import Param

    begin_run()
    bind_url({"formula": Param("text", "x**2")})
    keyed(st.text_input, "formula", "x**2", label="f")
    share_link()


def test_share_link_escapes_typed_text():
    at = AppTest.from_function(_shared_formula_page, default_timeout=30)
    at.query_params["formula"] = "x**2 + sin(y) & z=1"
    at.run()
    assert not at.exception
    link = at.code[0].value
    assert link.endswith("?formula=x%2A%2A2%20%2B%20sin%28y%29%20%26%20z%3D1")
    assert urllib.parse.parse_qs(link.split("?", 1)[1]) == {"formula": ["x**2 + sin(y) & z=1"]}
