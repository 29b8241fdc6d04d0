"""The layers point one way (docs/architecture.md): flows -> tasks -> integrations, all may read
config, integrations run without Prefect, and the flows never reach into the CLI above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the top-level names its modules may not import, even inside a function
FORBIDDEN = {
    "integrations": {"flows", "tasks", "prefect"},
    "tasks": {"flows"},
    "config": {"flows", "tasks", "integrations"},
}


def imported_modules(path: Path) -> list[str]:
    """Every absolute module an import statement of this file names, at any depth."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_nothing_imports_upwards(package: str) -> None:
    files = modules_of(package)
    assert len(files) > 5  # the walk found the package
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in files
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN[package]
    ]
    assert wrong == []


def test_the_flows_do_not_import_the_cli() -> None:
    flows = [p for p in modules_of("flows") if "cli" not in p.relative_to(ROOT).parts]
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in flows
        for module in imported_modules(path)
        if module == "flows.cli" or module.startswith("flows.cli.")
    ]
    assert wrong == []
