"""Parsing and encoding of shareable query parameters."""

import pytest

from core.params import Param
from ui.url_state import MAX_VALUE_LENGTH, encode_params, parse_params

SPECS = {
    "lr": Param("float", 0.01, low=1e-5, high=10.0),
    "steps": Param("int", 100, low=1, high=5000),
    "log": Param("bool", False),
    "surface": Param("choice", "rosenbrock", options=("rosenbrock", "beale")),
    "picked": Param("multi", ["sgd"], options=("sgd", "adam", "rmsprop")),
    "formula": Param("text", "x**2 + y**2"),
}


def test_valid_values_are_typed():
    raw = {"lr": "0.5", "steps": "200", "log": "1", "surface": "beale", "picked": "adam,sgd"}
    values, problems = parse_params(raw, SPECS)
    assert problems == []
    assert values == {
        "lr": 0.5,
        "steps": 200,
        "log": True,
        "surface": "beale",
        "picked": ["adam", "sgd"],
    }


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("lr", "abc", "not_a_number"),
        ("lr", "nan", "not_finite"),
        ("lr", "inf", "not_finite"),
        ("lr", "-1", "out_of_range"),
        ("lr", "1e308", "out_of_range"),
        ("steps", "2.5", "not_a_number"),
        ("steps", "0", "out_of_range"),
        ("log", "maybe", "unknown_option"),
        ("surface", "moon", "unknown_option"),
        ("picked", "sgd,__import__", "unknown_option"),
        ("lr", "1" * (MAX_VALUE_LENGTH + 1), "too_long"),
        ("surface", "b\ufffdale", "unknown_option"),
        ("nonsense", "1", "unknown_param"),
        ("formula", "x" * (MAX_VALUE_LENGTH + 1), "too_long"),
    ],
)
def test_bad_values_are_reported_not_applied(name, raw, reason):
    values, problems = parse_params({name: raw}, SPECS)
    assert values == {}
    assert [(p.name, p.reason) for p in problems] == [(name, reason)]


def test_known_names_of_others_are_ignored():
    values, problems = parse_params({"lang": "zh", "lr": "0.1"}, SPECS, known=("lang",))
    assert values == {"lr": 0.1} and problems == []


def test_empty_multi_selection_is_valid():
    assert parse_params({"picked": ""}, SPECS) == ({"picked": []}, [])


def test_encode_keeps_only_changes_and_round_trips():
    values = {"lr": 0.25, "steps": 100, "log": True, "surface": "rosenbrock", "picked": ["adam"]}
    encoded = encode_params(values, SPECS)
    assert encoded == {"lr": "0.25", "log": "1", "picked": "adam"}
    decoded, problems = parse_params(encoded, SPECS)
    assert problems == [] and decoded == {"lr": 0.25, "log": True, "picked": ["adam"]}


@pytest.mark.parametrize("typed", ["sin(x)*exp(-y**2)", "__import__('os')", "1, 2,,3", "", "中文"])
def test_text_is_passed_through_for_the_page_to_validate(typed):
    assert parse_params({"formula": typed}, SPECS) == ({"formula": typed}, [])


def test_text_round_trips_when_changed_and_is_omitted_at_default():
    assert encode_params({"formula": "x*y"}, SPECS) == {"formula": "x*y"}
    assert encode_params({"formula": "x**2 + y**2"}, SPECS) == {}
