"""One record for every setting a user can change: a registry entry's hyperparameters, a page's
widgets and the URL that shares them all read the same ``Param``. ``ParamError`` is the core's
error for a value it refuses, carrying the parameter, the rule and the values.
"""

import math
from typing import Any, NamedTuple

KINDS = ("float", "int", "bool", "choice", "multi", "text")


class Param(NamedTuple):
    """A setting: its ``kind`` (one of ``KINDS``), default, and what the widget may offer.

    ``low``/``high`` bound numbers, ``step`` is the widget's increment and ``log`` asks for a
    log-scaled control. ``options`` are the values of a ``choice`` (one of them) or a ``multi`` (an
    ordered list of distinct ones); they may be strings or numbers. ``text`` is typed by hand and
    validated where it is used (a formula, a list of milestones).
    """

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    options: tuple = ()
    log: bool = False
    step: float | None = None


class ParamError(ValueError):
    """A value the core refuses, said so that the UI can translate it without parsing the message:
    ``param`` breaks ``rule`` (a short name such as ``"a_le_b"``), with ``values`` naming each
    number the sentence needs."""

    def __init__(self, param: str, rule: str, message: str, **values: Any):
        super().__init__(message)
        self.param = param
        self.rule = rule
        self.values = values


# The sign rules a number can break, as (words in the message, test). NaN breaks every rule.
_NUMBER_RULES = {
    "gt_0": ("> 0", lambda v: v > 0),
    "ge_0": (">= 0", lambda v: v >= 0),
    "finite": ("finite", math.isfinite),
}


def checked_float(param: str, value: Any, rule: str) -> float:
    """``value`` as a Python float, or a ``ParamError`` when it breaks ``rule`` (a key of
    ``_NUMBER_RULES``). A Python float, not a NumPy scalar: that would upcast float32 inputs."""
    number = float(value)
    words, holds = _NUMBER_RULES[rule]
    if not holds(number):
        raise ParamError(param, rule, f"{param}={number!r} must be {words}", value=number)
    return number
