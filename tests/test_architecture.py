"""The layout shows the architecture: what may import what, and how big a module may grow.

Read from the source with ``ast`` (nothing is imported): every ``import`` counts, at module level,
under ``if TYPE_CHECKING:`` and inside functions alike, since each is a dependency a reader has to
follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "storage", "jobs")
MAX_LINES = 400
#: The one place the product may reach into the devkit: the demo command, lazily.
DEVKIT_ALLOWED_IN = {"bot.assembly.cli"}


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts:  # Alembic revisions: generated, append-only
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = product_modules()


def imports_of(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported module, at module level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, id(node) in top_level
            for alias in node.names:
                yield f"{node.module}.{alias.name}", id(node) in top_level


def product_module(name: str) -> str | None:
    """The product module ``name`` is, or is inside (``bot.x.y.Name`` → ``bot.x.y``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for imported, _ in imports_of(path):
            target = product_module(imported) if imported.split(".")[0] in PRODUCT else None
            if target is not None and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_finds_a_circle_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_product_modules_import_each_other_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_storage_takes_plain_values_and_knows_nothing_of_the_app() -> None:
    reaching_up = {
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name.startswith("storage")
        for imported, _ in imports_of(path)
        if imported.split(".")[0] in ("bot", "handlers", "jobs")
    }
    assert reaching_up == set()


def test_the_devkit_is_imported_only_by_the_demo_command_and_only_when_it_runs() -> None:
    devkit_imports = {
        (name, at_module_level)
        for name, path in MODULES.items()
        for imported, at_module_level in imports_of(path)
        if imported.split(".")[0] == "devkit"
    }
    assert {name for name, _ in devkit_imports} <= DEVKIT_ALLOWED_IN
    assert not any(at_module_level for _, at_module_level in devkit_imports)


def test_every_product_module_holds_one_concept_in_under_400_lines() -> None:
    too_long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}
