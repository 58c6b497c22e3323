"""Query-parameter schema for shareable links: parse, validate and encode, with no streamlit.

A page describes the widgets it shares as ``{key: Param(...)}`` (``core.params``); the URL
parameter name is the widget key. ``text`` values (a typed formula, a list of milestones) are
passed through as typed, up to ``MAX_VALUE_LENGTH``: the page validates them with the same parser
as typed input, so a bad one gets the same message a user typing it would see. ``parse_params`` turns raw query strings into typed values and a list of ``Problem``s
(the UI translates ``Problem.reason``), so a malformed link falls back to defaults with a notice
instead of a traceback. ``encode_params`` writes only values that differ from the default, which
keeps links short and lets a page change its defaults without breaking old links.
"""

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from core.params import Param

MAX_VALUE_LENGTH = 200
LIST_SEPARATOR = ","


class Problem(NamedTuple):
    """A URL parameter that was replaced by its default, and why."""

    name: str
    raw: str
    reason: str  # unknown_param, too_long, not_a_number, not_finite, out_of_range, unknown_option


def _parse_number(raw: str, param: Param) -> tuple[Any, str | None]:
    try:
        value = float(raw)
    except ValueError:
        return None, "not_a_number"
    if not math.isfinite(value):
        return None, "not_finite"
    if param.kind == "int":
        if value != int(value):
            return None, "not_a_number"
        value = int(value)
    if (param.low is not None and value < param.low) or (
        param.high is not None and value > param.high
    ):
        return None, "out_of_range"
    return value, None


def _parse_one(raw: str, param: Param) -> tuple[Any, str | None]:
    if len(raw) > MAX_VALUE_LENGTH:
        return None, "too_long"
    if param.kind in ("float", "int"):
        return _parse_number(raw, param)
    if param.kind == "text":
        return raw, None
    if param.kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True, None
        if lowered in ("0", "false", "no", "off"):
            return False, None
        return None, "unknown_option"
    # Options may be numbers (a width, a learning rate): a link names them by their encoded text.
    offered = {_encode_scalar(option): option for option in param.options}
    if param.kind == "choice":
        return (offered[raw], None) if raw in offered else (None, "unknown_option")
    if param.kind == "multi":
        chosen = [item for item in raw.split(LIST_SEPARATOR) if item]
        if any(item not in offered for item in chosen):
            return None, "unknown_option"
        return [offered[item] for item in dict.fromkeys(chosen)], None
    raise ValueError(f"{param.kind=}")


def parse_params(
    raw: Mapping[str, str], specs: Mapping[str, Param], known: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[Problem]]:
    """Valid typed values for the names in ``specs`` and the problems with the rest.

    Names in ``known`` belong to someone else (e.g. the shared sidebar) and are neither parsed nor
    reported as unknown.
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, text in raw.items():
        if name in known:
            continue
        if name not in specs:
            problems.append(
                Problem(name[:MAX_VALUE_LENGTH], text[:MAX_VALUE_LENGTH], "unknown_param")
            )
            continue
        value, reason = _parse_one(text, specs[name])
        if reason is None:
            values[name] = value
        else:
            problems.append(Problem(name, text[:MAX_VALUE_LENGTH], reason))
    return values, problems


def _encode_scalar(value: Any) -> str:
    # repr is the shortest text that reads back to the same float: 0.1, 1e-05, 0.3333333333333333.
    return repr(float(value)) if isinstance(value, float) else str(value)


def _encode_one(value: Any, param: Param) -> str:
    if param.kind == "bool":
        return "1" if value else "0"
    if param.kind == "multi":
        return LIST_SEPARATOR.join(_encode_scalar(item) for item in value)
    if param.kind == "float":
        return _encode_scalar(float(value))
    return _encode_scalar(value)


def encode_params(values: Mapping[str, Any], specs: Mapping[str, Param]) -> dict[str, str]:
    """Query strings for the values in ``values`` that differ from their spec's default."""
    encoded = {}
    for name, param in specs.items():
        if name in values and values[name] != param.default:
            encoded[name] = _encode_one(values[name], param)
    return encoded
