"""The package's import graph: no cycles, and the core does not reach into the phase packages.

Read from the source with ``ast`` (nothing is imported): every ``import`` and ``from ... import``
in a module counts, at module level and inside functions alike, except under ``if TYPE_CHECKING:``
(never run). ``from a import b`` where ``a.b`` is a module counts as importing ``a.b``; a name
that is not a module counts as importing ``a``. Python's implicit import of a module's parent
packages is not an edge (every submodule would otherwise "import" its package).
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

INCLUDE = REPO / "include"

# The phase packages and the command line: the core (the top-level modules of include/autobench)
# is below them and imports them only where listed in CORE_EXCEPTIONS.
PHASES = ("autobench.monitor", "autobench.research", "autobench.experiments", "autobench.reporting",
          "autobench.cli")

# The documented exceptions: core module -> the phase modules it may import (lazily, in a function).
CORE_EXCEPTIONS: dict[str, set[str]] = {
    # the schemas check a configured name against the swappable parts' registries and the promotion
    # rules' names (names only)
    "autobench.schemas": {"autobench.monitor.scrape", "autobench.experiments.backends",
                          "autobench.experiments.seed_policies", "autobench.research.paper_sources",
                          "autobench.experiments.promotion"},
    # a home's folders and `validate`/`check_state` read the experiments' folders through the results store
    "autobench.home": {"autobench.experiments.results"},
    # `python -m autobench` is the command line
    "autobench.__main__": {"autobench.cli"},
    "autobench.hypothesis_queue": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(INCLUDE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    return {module_name(p): p for p in INCLUDE.rglob("*.py")
            if "__pycache__" not in p.parts and not any(part.endswith(".egg-info") for part in p.parts)}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """The ids of every node under an ``if TYPE_CHECKING:`` block."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ours that ``name`` (at ``path``) imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def nearest(dotted: str) -> str | None:  # `import a.b.c` imports a.b.c (or the longest module prefix)
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(filter(None, (nearest(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    found.add(f"{source}.{alias.name}")
                elif (module := nearest(source)) is not None:
                    found.add(module)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_sees_function_level_and_submodule_imports():
    graph = import_graph()
    # cli/__init__ imports its phase modules by `from autobench.cli import monitor, ...`
    assert {"autobench.cli.monitor", "autobench.cli.common"} <= graph["autobench.cli"]
    # home.py imports the results store inside a function
    assert "autobench.experiments.results" in graph["autobench.home"]


def test_find_cycle_reports_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_core_imports_phase_packages_only_where_documented():
    graph = import_graph()
    core = [name for name, path in our_modules().items()
            if path.parent == INCLUDE / "autobench"]
    assert "autobench.schemas" in core and "autobench.store" in core
    offenders = []
    for name in sorted(core):
        allowed = CORE_EXCEPTIONS.get(name, set())
        for target in sorted(graph[name]):
            if target.startswith(tuple(p + "." for p in PHASES) + PHASES) and target not in allowed:
                offenders.append(f"{name} imports {target}")
    assert offenders == [], "core modules importing phase packages:\n" + "\n".join(offenders)
