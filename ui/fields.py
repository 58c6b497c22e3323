"""Each setting declared once: a ``Field`` pairs a ``core.params.Param`` (kind, default, bounds,
options) with the widget that shows it and the locale keys of its label and help. ``bind_fields``
binds a page's fields to the URL and ``field`` draws one of them where the page wants it, so the
default and bounds that the widget offers are the ones the link accepts.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import streamlit as st

from core.params import Param
from ui.controls import bind_url, keyed
from ui.i18n import t

# Widgets by name; each takes the Param's bounds or options as noted in ``_widget_arguments``.
WIDGETS: dict[str, Callable] = {
    "slider": st.slider,
    "number": st.number_input,
    "select": st.selectbox,
    "select_slider": st.select_slider,
    "segmented": st.segmented_control,
    "radio": st.radio,
    "multiselect": st.multiselect,
    "toggle": st.toggle,
    "checkbox": st.checkbox,
    "text": st.text_input,
}
_WITH_OPTIONS = {"select", "select_slider", "segmented", "radio", "multiselect"}
_WITH_BOUNDS = {"slider", "number"}


class Field(NamedTuple):
    """A setting and its widget. ``label`` and ``help`` are locale keys; a label of None is given
    where the field is drawn (a torch argument name such as ``gain`` is shown as it is).
    ``option_labels`` names each option: a locale-key prefix (``"initialization.data_"`` + the
    option), a function of the option, or None to show options as they are."""

    param: Param
    widget: str
    label: str | None
    help: str | None = None
    option_labels: str | Callable[[Any], str] | None = None


# The widget a setting gets unless its page asks for another (a slider, a segmented control).
_WIDGET_OF_KIND = {"float": "number", "int": "number", "bool": "checkbox", "choice": "select",
                   "multi": "multiselect", "text": "text"}  # fmt: skip


def widget_for(param: Param) -> str:
    """The usual widget of ``param``'s kind."""
    return _WIDGET_OF_KIND[param.kind]


def bind_fields(fields: Mapping[str, Field]) -> None:
    """Bind every field to the URL under its key (before any of their widgets is drawn)."""
    bind_url({key: f.param for key, f in fields.items()})


def _widget_arguments(f: Field) -> dict[str, Any]:
    p = f.param
    arguments: dict[str, Any] = {}
    if f.label:
        arguments["label"] = t(f.label)
    if f.help:
        arguments["help"] = t(f.help)
    if f.widget in _WITH_OPTIONS:
        arguments["options"] = p.options
        if f.option_labels:
            # Translated now, in the run: AppTest calls format_func outside the script run, where
            # the session's language is not visible.
            name = f.option_labels
            if not callable(name):
                name = lambda option, prefix=f.option_labels: t(f"{prefix}{option}")  # noqa: E731
            arguments["format_func"] = {option: name(option) for option in p.options}.__getitem__
    if f.widget in _WITH_BOUNDS:
        integral = p.kind == "int"
        for name, bound in (("min_value", p.low), ("max_value", p.high)):
            if bound is not None:
                arguments[name] = int(bound) if integral else float(bound)
        if p.step is not None:
            arguments["step"] = int(p.step) if integral else float(p.step)
        if f.widget == "number" and not integral:
            arguments["format"] = "%g"
    return arguments


def field(fields: Mapping[str, Field], key: str, **overrides: Any) -> Any:
    """Draw the widget of ``fields[key]`` here and return its value.

    ``overrides`` go to the widget as they are (a help text with numbers in it, ``disabled``). A
    single-choice segmented control gives None when its selected option is clicked again; the
    field then keeps the default, as a setting must always have a value.
    """
    f = fields[key]
    value = keyed(WIDGETS[f.widget], key, f.param.default, **(_widget_arguments(f) | overrides))
    if value is None and f.widget == "segmented":
        return f.param.default
    return value


def fields_in_columns(
    columns: Sequence[Any],
    fields: Mapping[str, Field],
    keys: Sequence[str],
    **overrides: Mapping[str, Any],
) -> list[Any]:
    """Draw the widget of each of ``keys`` in the matching column (``st.columns``' containers,
    laid out as the page wants them) and return their values in order. ``overrides[key]`` go to
    that field's widget."""
    values = []
    for column, key in zip(columns, keys, strict=True):
        with column:
            values.append(field(fields, key, **overrides.get(key, {})))
    return values
