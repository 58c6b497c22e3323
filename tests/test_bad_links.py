"""Hostile and malformed links against every page, through the real shell.

Each case fills every shareable setting of a page (and one unknown name) with the same kind of bad
value. Nothing may raise: each bad value is named in the translated notice and its widget keeps the
default, typed text is handed to the page's own parser, and no panel fails.
"""

import pytest

from tests.apptest import run_app
from ui.i18n import translate
from ui.navigation import PAGES
from ui.url_state import MAX_VALUE_LENGTH

BAD_VALUES = {
    "word": "abc",
    "nan": "nan",
    "minus_infinity": "-inf",
    "overflow": "1e309",
    "huge_negative": "-1e300",
    # Five times what a value may be. (5,000 per setting overran Streamlit's 524,288-character
    # query limit once the optimizers page had ~100 settings, and Streamlit drops such a query.)
    "very_long": "9" * (5 * MAX_VALUE_LENGTH),
    "undecodable": "\ufffd\ufffd",  # what a browser makes of bytes that are not UTF-8
    "markup": "<script>alert(1)</script>`**",
    "empty": "",
    "line_break": "1\n- injected line",
}
UNKNOWN = "no_such_setting"


def shared_specs(page: str) -> dict:
    at = run_app(page, lang="en")
    assert not at.exception
    return dict(at.session_state["_url_specs"])


SPECS = {entry.path: shared_specs(entry.path) for entry in PAGES}


def notices(at) -> str:
    return "\n".join(w.value for w in at.warning)


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("bad", list(BAD_VALUES), ids=list(BAD_VALUES))
@pytest.mark.parametrize("entry", PAGES, ids=[entry.area for entry in PAGES])
def test_every_setting_of_a_page_given_a_bad_value(entry, bad, language):
    specs = SPECS[entry.path]
    value = BAD_VALUES[bad]
    query = {name: value for name in specs if name != "lang"}
    at = run_app(entry.path, lang=language, **query, **{UNKNOWN: value})
    assert not at.exception
    failed = translate(language, "errors.panel_failed", what="")[:12]
    assert not [e.value for e in at.error if e.value.startswith(failed)]
    shown = notices(at)
    assert f"`{UNKNOWN}`" in shown
    # A value cannot close its code span or start a list item of its own in the notice.
    assert "\n- injected" not in shown
    assert value.count("`") == 0 or "\N{MODIFIER LETTER GRAVE ACCENT}**" in shown
    for name, param in specs.items():
        if name == "lang" or param.kind == "text":
            continue
        accepted = (param.kind == "multi" and value == "") or (
            param.kind == "float" and bad == "huge_negative" and param.low is None
        )
        if not accepted:
            assert f"`{name}`" in shown, name
            if name in at.session_state:  # widgets of a panel not shown have no value yet
                assert at.session_state[name] == param.default, name
