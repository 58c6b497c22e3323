"""Every locale has the same keys, none empty, and every t("...") key in the code exists."""

import ast
import string
from pathlib import Path

import pytest

from ui.i18n import LANGUAGES, load_locale

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = load_locale("en")
SOURCES = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]


# Where a call takes a locale key: t(key), and a ui.fields Field's label and help.
KEY_ARGUMENTS = {"t": ((0, None),), "Field": ((2, "label"), (3, "help"))}


def literal_keys_used() -> set[tuple[str, str]]:
    """(file, key) for every literal key given to t() or Field(); f-string keys are checked by
    their own tests."""
    used = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            for position, name in KEY_ARGUMENTS.get(node.func.id, ()):
                arg = node.args[position] if position < len(node.args) else keywords.get(name)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    used.add((path.name, arg.value))
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
    used = literal_keys_used()
    assert ("shell.py", "app.language") in used
    assert ("initialization.py", "initialization.depth_help") in used
