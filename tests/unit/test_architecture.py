"""The house rules of the harness's layout, checked on its source.

Imports run one way, from the bottom up (docs/architecture.md): a module may import its
own layer and the layers below it, never one above. `harness/util` imports nothing of
the harness. There are no import loops, and no private name crosses a module boundary.
No two modules share a name unless they do the same job in parallel rooms.
A newcomer can then read the rooms bottom-up, and a change low down cannot be broken by
a module it never imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "harness"

# Lowest first. A module's layer is that of the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("harness.util",),
    ("harness.config",),
    ("harness.stubs",),
    ("harness.runtime",),
    ("harness.build",),
    ("harness.systems", "harness.events", "harness.observe"),
    ("harness.scenarios", "harness.promote", "harness.matrix"),
    ("harness.cli", "harness.pytest_plugin", "harness.testing"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def harness_modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py") if "localstack_plugin" not in p.parts}


def layer_of(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add its room to LAYERS and the docs")


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported harness module, names imported from it, line) for every import."""
    found = []
    tree = ast.parse(path.read_text(), str(path))
    # Imports for type checkers only never run, so they make no loop.
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("harness")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            names = [a.name for a in node.names]
            submodules = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in modules]
            if submodules:
                found += [(m, [], node.lineno) for m in submodules]
            else:
                found.append((node.module, names, node.lineno))
    return found


MODULES = harness_modules()
GRAPH = {
    name: [(m, names, line) for m, names, line in imports_of(path, MODULES)]
    for name, path in MODULES.items()
}


def test_every_module_is_in_a_layer_and_no_module_sits_at_the_top() -> None:
    for name in MODULES:
        layer_of(name) if name != "harness" else None
    top = sorted(p.name for p in ROOT.glob("*.py") if p.name != "__init__.py")
    assert top == ["config.py", "pytest_plugin.py"], f"modules at the top of harness/: {top}"


def test_imports_run_bottom_up() -> None:
    wrong = [
        f"{MODULES[name].relative_to(ROOT.parent)}:{line}: {name} imports {target}"
        for name, targets in GRAPH.items()
        if name != "harness"
        for target, _, line in targets
        if target != "harness" and layer_of(target) > layer_of(name)
    ]
    assert wrong == []


def test_util_imports_nothing_of_the_harness() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if name != "harness" and layer_of(name) == 0
        for target, _, _ in targets
        if not target.startswith("harness.util")
    ]
    assert wrong == []


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every import loop, found by a depth-first search over the module graph."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def package_parents(module: str) -> list[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first: they are edges too."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def test_there_are_no_import_loops() -> None:
    graph = {
        name: sorted(
            {t for target, _, _ in targets for t in (target, *package_parents(target))} - {name}
        )
        for name, targets in GRAPH.items()
    }
    # A package's own __init__ importing its submodules is how a package lists its names.
    graph = {n: [t for t in ts if not n.startswith(t + ".")] for n, ts in graph.items()}
    assert cycles(graph) == []


def test_no_private_name_crosses_a_module() -> None:
    wrong = [
        f"{name} imports {target}.{n}"
        for name, targets in GRAPH.items()
        for target, names, _ in targets
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    wrong += [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for target, _, _ in targets
        if any(part.startswith("_") and not part.startswith("__") for part in target.split("."))
    ]
    assert wrong == []


def test_the_cycle_finder_finds_a_loop() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"]}) == [["a", "b", "c", "a"]]
    assert cycles({"a": ["b"], "b": []}) == []


@pytest.mark.parametrize("module", ["harness.util.processes", "harness.config"])
def test_a_bottom_module_importing_upwards_would_be_caught(module: str) -> None:
    assert layer_of(module) < layer_of("harness.cli.main")


# --- one name, one job -------------------------------------------------------------
# A module name that repeats under harness/ names two jobs unless it is the same job in
# parallel rooms: a reader who meets `files.py` in two rooms cannot tell atomic state
# files from recorded events. The repeats allowed, and only where listed:
PACKAGE_FILES = {"__init__", "__main__"}
# harness/cli/<group>.py: the command group of the room (or module) of that name.
CLI_GROUPS = {"bench", "catalog", "demo", "deploy", "dlq", "fixtures", "replay", "stack"}
# harness/systems/<system>/<part>.py: every system room has these parts, one per system.
SYSTEM_PARTS = {"bench", "demo", "pipeline"}
# harness/scenarios/{steps,conditions}/<system>.py: a system's steps and conditions.
SCENARIO_ROOMS = {("scenarios", "steps"), ("scenarios", "conditions")}
SYSTEMS = {p.name for p in (ROOT / "systems").iterdir() if (p / "__init__.py").is_file()}


def may_repeat(relative: Path) -> bool:
    """Whether a module (relative to harness/) is one of the allowed repeats above."""
    parts, stem = relative.parts, relative.stem
    return (
        stem in PACKAGE_FILES
        or (parts[0] == "cli" and len(parts) == 2 and stem in CLI_GROUPS)
        or (parts[0] == "systems" and len(parts) == 3 and stem in SYSTEM_PARTS)
        or (tuple(parts[:2]) in SCENARIO_ROOMS and len(parts) == 3 and stem in SYSTEMS)
    )


def repeated_names(relatives: list[Path]) -> dict[str, list[str]]:
    """Module names used more than once, outside the allowed repeats."""
    seen: dict[str, list[str]] = {}
    for relative in relatives:
        if not may_repeat(relative):
            seen.setdefault(relative.stem, []).append(relative.as_posix())
    return {name: paths for name, paths in seen.items() if len(paths) > 1}


def test_module_names_under_harness_are_unique() -> None:
    """LocalStack plugins included: they live in this tree and newcomers read them too."""
    relatives = sorted(p.relative_to(ROOT) for p in ROOT.rglob("*.py"))
    assert repeated_names(relatives) == {}


def test_the_allowed_repeats_mirror_something() -> None:
    """Every CLI group drives a room or module of its name; every system has every part."""
    others = {p.relative_to(ROOT) for p in ROOT.rglob("*") if p.suffix == ".py" or p.is_dir()}
    names = {p.stem for p in others if p.parts[0] != "cli"}
    assert names >= CLI_GROUPS
    for system in SYSTEMS:
        assert {p.stem for p in (ROOT / "systems" / system).glob("*.py")} >= SYSTEM_PARTS


def test_a_repeated_name_doing_another_job_is_caught() -> None:
    found = repeated_names([Path("util/files.py"), Path("events/files.py"), Path("cli/stack.py")])
    assert found == {"files": ["util/files.py", "events/files.py"]}
    assert repeated_names([Path("systems/catalog/demo.py"), Path("systems/labeling/demo.py")]) == {}
    assert repeated_names([Path("systems/catalog/upload.py"), Path("scenarios/steps/upload.py")])
