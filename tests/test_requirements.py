"""The pinned requirement files: every package exactly pinned, every direct requirement among them,
and the app's and the tests' files on the same versions. Read offline (no resolver): the resolver
runs in .ci/upgrade-requirements."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(?:;\s*([^#]+?))?\s*(?:#.*)?$")
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(file: str) -> dict[tuple[str, str], str]:
    """(package, environment marker) -> version, for every requirement line of a compiled file."""
    found = {}
    for line in (ROOT / file).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{file}: not an exact pin: {line!r}"
        name, version, marker = match.groups()
        found[normalized(name), marker or ""] = version
    return found


def direct(file: str) -> set[str]:
    names = set()
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(normalized(NAME.match(line).group(1)))
    return names


@pytest.mark.parametrize(
    ("source", "compiled"),
    [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")],
)
def test_every_direct_requirement_is_pinned(source, compiled):
    pinned = {name for name, _ in pins(compiled)}
    assert direct(source) - pinned == set()


def test_the_test_environment_has_the_apps_versions():
    app, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {key: dev.get(key) for key in app} == app


def test_the_dev_file_builds_on_the_apps_requirements():
    lines = (ROOT / "requirements-dev.in").read_text().splitlines()
    assert "-c requirements.txt" in lines and "-r requirements.in" in lines
