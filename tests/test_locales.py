"""Every locale has the same keys, none empty, and every t("...") key in the code exists."""

import ast
import string
from pathlib import Path

import pytest

from ui.i18n import LANGUAGES, load_locale

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = load_locale("en")
SOURCES = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]


def literal_keys_used() -> set[tuple[str, str]]:
    """(file, key) for every t("literal") call; f-string keys are checked by their own tests."""
    used = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                used.add((path.name, node.args[0].value))
    return used


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", sorted(set(LANGUAGES.values()) - {"en"}))
def test_same_keys_as_english(locale):
    strings = load_locale(locale)
    assert set(strings) - set(ENGLISH) == set(), "keys only in " + locale
    assert set(ENGLISH) - set(strings) == set(), "keys missing in " + locale


@pytest.mark.parametrize("locale", sorted(set(LANGUAGES.values())))
def test_no_empty_strings_and_same_placeholders(locale):
    strings = load_locale(locale)
    assert strings, f"no strings loaded for {locale}"
    for key, text in strings.items():
        assert text.strip(), f"{locale}: {key} is empty"
        assert fields(text) == fields(ENGLISH[key]), f"{locale}: {key} placeholders differ"


def test_every_literal_key_in_code_exists():
    missing = sorted((name, key) for name, key in literal_keys_used() if key not in ENGLISH)
    assert missing == []


def test_scan_finds_keys():
    assert ("app.py", "app.language") in literal_keys_used()
