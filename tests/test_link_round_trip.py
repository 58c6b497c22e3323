"""Every link the app writes reads back to the same values: encode → parse is the identity for each
setting that any page binds to the URL (property test over each setting's valid values)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.params import KINDS, Param
from tests.apptest import run_app, run_page
from ui.url_state import MAX_VALUE_LENGTH, encode_params, parse_params

PAGES = ["activations", "optimizers", "schedules", "initialization", "mnist"]


def bound_settings() -> dict[str, Param]:
    """Every setting bound to the URL by the shell and by each page on its first run."""
    specs = dict(run_app().session_state["_url_specs"])
    for name in PAGES:
        specs.update(run_page(f"pages/{name}.py").session_state["_url_specs"])
    return specs


SETTINGS = bound_settings()


def values_of(param: Param) -> st.SearchStrategy:
    """The values a widget of ``param`` can hold."""
    if param.kind == "float":
        return st.floats(param.low, param.high, allow_nan=False, allow_infinity=False)
    if param.kind == "int":
        return st.integers(
            None if param.low is None else math.ceil(param.low),
            None if param.high is None else math.floor(param.high),
        )
    if param.kind == "bool":
        return st.booleans()
    if param.kind == "choice":
        return st.sampled_from(param.options)
    if param.kind == "multi":
        return st.lists(st.sampled_from(param.options), unique=True)
    return st.text(max_size=MAX_VALUE_LENGTH)


def test_the_pages_bind_settings_of_every_kind():
    kinds = {param.kind for param in SETTINGS.values()}
    assert kinds == set(KINDS)
    # Numbers among the options: the initialization page's widths and learning rates.
    assert any(not isinstance(option, str) for p in SETTINGS.values() for option in p.options)


@pytest.mark.parametrize("name", sorted(SETTINGS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_written_link_reads_back_the_same_value(name, data):
    param = SETTINGS[name]
    value = data.draw(values_of(param))
    query = encode_params({name: value}, {name: param})
    parsed, problems = parse_params(query, {name: param})
    assert problems == []
    assert parsed.get(name, param.default) == value
    assert type(parsed.get(name, param.default)) is type(value) or param.kind == "float"
