"""Dependencies point one way: pages → ui → core. Read the sources, not the imports at run time."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_import_scan_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import numpy as np\nfrom plotly import graph_objects\nimport streamlit.x\n")
    assert imported_modules(sample) == {"numpy", "plotly", "streamlit"}


@pytest.mark.parametrize("path", sorted((ROOT / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_is_pure(path):
    assert not imported_modules(path) & {"streamlit", "plotly", "ui", "pages", "matplotlib"}


PURE_UI = (
    ["theme.py", "url_state.py", "navigation.py"]
    + [str(p.relative_to(ROOT / "ui")) for p in (ROOT / "ui").rglob("plots*.py")]
    + [str(p.relative_to(ROOT / "ui")) for p in (ROOT / "ui").rglob("plots/*.py")]
)


@pytest.mark.parametrize("name", sorted(set(PURE_UI)))
def test_figure_builders_and_pure_helpers_never_import_streamlit(name):
    assert "streamlit" not in imported_modules(ROOT / "ui" / name)


@pytest.mark.parametrize("path", sorted((ROOT / "ui").rglob("*.py")), ids=lambda p: p.name)
def test_ui_never_imports_pages(path):
    assert "pages" not in imported_modules(path)
