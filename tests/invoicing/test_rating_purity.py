"""The rating engine stays pure: standard library and catalog.money only."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_PROJECT_MODULES = {"catalog.money"}


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import in {path.name}: line {node.lineno}"
            yield node.module


def is_standard_library(module):
    return module.split(".")[0] in sys.stdlib_module_names


def test_rating_imports_only_the_standard_library_and_catalog_money():
    outside = {
        module
        for module in imported_modules(ROOT / "invoicing" / "rating.py")
        if not is_standard_library(module) and module not in ALLOWED_PROJECT_MODULES
    }

    assert outside == set()


def test_rating_imports_catalog_money_for_its_rounding():
    assert "catalog.money" in set(imported_modules(ROOT / "invoicing" / "rating.py"))


def test_catalog_money_imports_only_the_standard_library():
    outside = {
        module
        for module in imported_modules(ROOT / "catalog" / "money.py")
        if not is_standard_library(module)
    }

    assert outside == set()


def test_rating_does_not_use_float():
    tree = ast.parse((ROOT / "invoicing" / "rating.py").read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    floats = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, float)
    ]

    assert "float" not in names
    assert floats == []
