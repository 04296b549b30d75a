"""tasklab's packages form layers, and imports only go down.

Read from the source (every ``import`` statement, including those inside functions), not
from ``sys.modules``, so a lazy import that breaks the layering is caught as well.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "tasklab"

# Lowest first. A unit is a top-level module or package of ``tasklab``; it may import units of
# its own layer (without a cycle) and of the layers below it, never of a layer above.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "settings and registries",
        {
            "names",
            "settings",
            "registry",
            "metric_keys",
            "results",
            "conf",
            "loggers",
            "command_names",
        },
    ),
    ("components", {"data", "models", "weightings", "predictions", "prediction_metrics"}),
    ("configuration and run folders", {"config", "config_checks", "runs", "stage_cache"}),
    ("fit engine", {"fit"}),
    ("regimes", {"regimes"}),
    ("runner", {"runner"}),
    ("commands", {"train", "reproduce", "configs_cli", "cli_errors", "examples"}),
    ("report", {"report"}),
]
RANK = {unit: rank for rank, (_, units) in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every ``tasklab`` module one file imports, relative imports resolved."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # ``from tasklab.x import y`` may name a submodule y
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("tasklab.")}


def _packages() -> set[str]:
    return {_module_name(init) for init in SOURCE.rglob("__init__.py")}


def _owner(module: str, packages: set[str]) -> str:
    """The innermost package a module belongs to (itself, for a package); a module at the
    top of ``tasklab`` stands for itself."""
    owner = module
    while owner not in packages:
        owner = owner.rsplit(".", 1)[0]
    return module if owner == "tasklab" else owner


def _edges() -> list[tuple[str, str]]:
    modules = {_module_name(path) for path in SOURCE.rglob("*.py")} | _packages()
    edges = []
    for path in sorted(SOURCE.rglob("*.py")):
        source = _module_name(path)
        for target in sorted(_imported(path)):
            while target not in modules:  # ``from pkg import name``: keep the module part
                target = target.rsplit(".", 1)[0]
            if target != source and target != "tasklab":
                edges.append((source, target))
    return edges


def _unit(module: str) -> str:
    return module.split(".")[1]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_unit_of_tasklab_has_a_layer():
    units = {_unit(_module_name(path)) for path in SOURCE.rglob("*.py") if path.parent != SOURCE}
    units |= {path.stem for path in SOURCE.glob("*.py") if path.stem != "__init__"}
    assert units - set(RANK) == set(), "add the new module or package to LAYERS"
    assert set(RANK) - units == set(), "LAYERS names a unit that no longer exists"


def test_no_import_goes_up_a_layer():
    upward = [
        f"{source} -> {target} ({LAYERS[RANK[_unit(source)]][0]} imports "
        f"{LAYERS[RANK[_unit(target)]][0]})"
        for source, target in _edges()
        if RANK[_unit(target)] > RANK[_unit(source)]
    ]
    assert upward == []


def test_packages_import_each_other_without_a_cycle():
    packages = _packages()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in _edges():
        a, b = _owner(source, packages), _owner(target, packages)
        # a package's own __init__ and its children are one package; a parent package's
        # import of its child (or the reverse) is a dependency like any other
        if a != b:
            graph[a].add(b)
    assert _cycle(graph) is None


def test_top_level_units_import_each_other_without_a_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in _edges():
        if _unit(source) != _unit(target):
            graph[_unit(source)].add(_unit(target))
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("unit", ["report"])
def test_the_top_layer_is_never_imported(unit):
    assert [edge for edge in _edges() if _unit(edge[1]) == unit and _unit(edge[0]) != unit] == []


# The modules behind the installed commands (pyproject's [project.scripts]): each is a top,
# imported by nothing in the package, so one command's changes never reach another.
COMMANDS = {
    "tasklab.train",
    "tasklab.reproduce",
    "tasklab.configs_cli",
    "tasklab.runs.status",
    "tasklab.report.compare",
    "tasklab.report.summary",
    "tasklab.report.results_page",
}


def test_no_command_imports_another_and_every_command_is_listed():
    pyproject = (SOURCE.parents[1] / "pyproject.toml").read_text()
    declared = {
        line.split('"')[1].split(":")[0]
        for line in pyproject.splitlines()
        if line.startswith("tasklab-")
    }
    assert declared == COMMANDS
    assert [edge for edge in _edges() if edge[1] in COMMANDS] == []


def test_the_statistics_package_knows_no_records_arms_or_regimes():
    """``report/stats`` is numbers in, numbers out: it imports only itself (and the thread
    count its parallel fits share with training)."""
    outside = [
        (source, target)
        for source, target in _edges()
        if source.startswith("tasklab.report.stats")
        and not target.startswith("tasklab.report.stats")
        and target != "tasklab.runs.threads"
    ]
    assert outside == []


def test_reading_records_never_imports_torch():
    """The report commands read records with numpy and scipy: starting one costs no torch
    import (about 2 s)."""
    code = (
        "import sys, tasklab.report.compare, tasklab.report.summary, tasklab.report.results_page\n"
        "print(sorted({'torch', 'pytorch_lightning'} & set(sys.modules)))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
