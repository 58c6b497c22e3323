"""Translated UI strings: ``t(key, **fmt)`` in the language kept in session state.

Strings live in ``locales/<locale>/<area>.toml``; a key is ``<area>.<name>`` (``home.title``), so
each page owns one file per language and pages can be written side by side without merge fights.
A key missing in Chinese falls back to English; a key missing everywhere shows the key itself, which
``tests/test_locales.py`` forbids for every ``t("...")`` call in the code.
"""

import functools
import tomllib
from pathlib import Path

import streamlit as st

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
# URL value → locale folder. "zh" is what a teacher types; the folder carries the full tag.
LANGUAGES = {"en": "en", "zh": "zh_CN"}
LANGUAGE_NAMES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "lang"


def _flatten(prefix: str, table: dict) -> dict[str, str]:
    flat = {}
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if isinstance(value, dict):
            flat.update(_flatten(key, value))
        else:
            flat[key] = str(value)
    return flat


@functools.cache
def load_locale(locale: str) -> dict[str, str]:
    """All strings of one locale folder, keyed ``<file stem>.<name>``."""
    strings: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / locale).glob("*.toml")):
        with path.open("rb") as file:
            strings.update(_flatten(path.stem, tomllib.load(file)))
    return strings


def language_from_locale(browser_locale: str | None) -> str:
    """Map a browser locale such as ``zh-CN`` or ``en-US`` to one of LANGUAGES."""
    if browser_locale and browser_locale.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of this session (set by the sidebar selector in app.py)."""
    language = st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def translate(language: str, key: str, **fmt) -> str:
    """The string for ``key`` in ``language``, English if missing, formatted with ``fmt``."""
    text = load_locale(LANGUAGES[language]).get(key)
    if text is None:
        text = load_locale(LANGUAGES[DEFAULT_LANGUAGE]).get(key, key)
    return text.format(**fmt) if fmt else text


def t(key: str, **fmt) -> str:
    """The string for ``key`` in the session's language."""
    return translate(current_language(), key, **fmt)
