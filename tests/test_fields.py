"""ui.fields: a field's widget offers what its Param says, and its URL binding accepts the same."""

from streamlit.testing.v1 import AppTest

from ui.i18n import translate


def _fields_page():
    import streamlit as st

    from core.params import Param
    from ui.fields import Field, bind_fields, field, fields_in_columns

    fields = {
        "f_depth": Field(Param("int", 20, low=1, high=50), "slider", "initialization.depth"),
        "f_val": Field(Param("float", 0.1, low=-1.0, high=1.0, step=0.05), "number", None),
        "f_data": Field(
            Param("choice", "mnist", options=("mnist", "gaussian")),
            "segmented",
            "initialization.data",
            option_labels="initialization.data_",
        ),
    }
    bind_fields(fields)
    depth, val = fields_in_columns(
        st.columns(2), fields, ("f_depth", "f_val"), f_val={"label": "val"}
    )
    data = field(fields, "f_data")
    st.write(f"{depth} {val} {data}")


def test_a_field_draws_its_param_and_reads_its_link():
    at = AppTest.from_function(_fields_page, default_timeout=30)
    at.session_state["lang"] = "zh"
    at.query_params["f_depth"] = "7"
    at.run()
    assert not at.exception and not at.warning
    slider = at.slider(key="f_depth")
    assert (slider.value, slider.min, slider.max) == (7, 1, 50)
    assert slider.label == translate("zh", "initialization.depth")
    number = at.number_input(key="f_val")
    assert (number.label, number.min, number.max, number.step) == ("val", -1.0, 1.0, 0.05)
    assert at.markdown[-1].value == "7 0.1 mnist"


def test_a_link_outside_the_fields_bounds_is_refused():
    at = AppTest.from_function(_fields_page, default_timeout=30)
    at.query_params["f_depth"] = "51"
    at.run()
    assert at.slider(key="f_depth").value == 20
    assert translate("en", "url.reason_out_of_range") in at.warning[0].value


def test_clicking_the_chosen_segment_again_keeps_a_value():
    at = AppTest.from_function(_fields_page, default_timeout=30).run()
    at.session_state["f_data"] = None  # what the browser sends when the chosen option is clicked
    at.run()
    assert at.markdown[-1].value == "20 0.1 mnist"
