"""Layering rules that import-linter cannot express (it does not look inside external packages)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "dtstudio" / "qtmodels").glob("*.py")), ids=lambda p: p.name)
def test_qt_models_use_no_widgets(path: Path) -> None:
    widgets = {m for m in _imported_modules(path) if m.startswith("PySide6.QtWidgets")}
    assert not widgets, f"{path.name} imports {sorted(widgets)}: Qt models may use QtCore/QtGui only"


def test_layering_check_sees_widget_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtWidgets import QWidget\nimport PySide6.QtCore\n")
    assert "PySide6.QtWidgets.QWidget" in _imported_modules(bad)
