"""The rating engine stays pure: every module of `invoicing/rating/` imports only the standard
library, `catalog.money` and its sibling modules (import-linter says the same in `make test`)."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_PROJECT_MODULES = {"catalog.money"}


ENGINE = sorted((ROOT / "invoicing" / "rating").glob("*.py"))


def imported_modules(path):
    """Absolute names of what a module imports (a sibling `from .usage import x` is
    `invoicing.rating.usage`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert node.level == 1, f"import from above the engine in {path.name}"
                yield f"invoicing.rating.{node.module}" if node.module else "invoicing.rating"
            else:
                yield node.module


def engine_imports():
    return {module for path in ENGINE for module in imported_modules(path)}


def is_standard_library(module):
    return module.split(".")[0] in sys.stdlib_module_names


def test_the_engine_is_a_package_of_several_modules():
    assert len(ENGINE) > 5


def test_rating_imports_only_the_standard_library_and_catalog_money():
    outside = {
        module
        for module in engine_imports()
        if not is_standard_library(module)
        and module not in ALLOWED_PROJECT_MODULES
        and not module.startswith("invoicing.rating")
    }

    assert outside == set()


def test_rating_imports_catalog_money_for_its_rounding():
    assert "catalog.money" in engine_imports()


def test_catalog_money_imports_only_the_standard_library():
    outside = {
        module
        for module in imported_modules(ROOT / "catalog" / "money.py")
        if not is_standard_library(module)
    }

    assert outside == set()


@pytest.mark.parametrize("path", ENGINE, ids=lambda path: path.name)
def test_rating_does_not_use_float(path):
    tree = ast.parse(path.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    floats = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, float)
    ]

    assert "float" not in names
    assert floats == []
