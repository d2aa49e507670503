"""No import circles inside `hilite_cli` (issue 23): a test over the import graph of the source tree.

Every `import` and `from … import` in a module counts: at module level, inside a function (a lazy
import still ties the two modules together), and under `if TYPE_CHECKING:` (an annotation-only import
is a dependency a reader has to follow too, and it is how the providers circle hid). Relative imports
are resolved against the module's package; `from pkg import name` points at `pkg.name` when that is a
module, else at `pkg`. The implicit import of a package's `__init__` when one of its submodules loads is
not an edge: otherwise every package that re-exports a submodule would be a circle with it.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import hilite_cli

PACKAGE = Path(hilite_cli.__file__).resolve().parent

# Circles known when this test was written, each being removed by its own change (issue 23). Delete an
# entry when its circle is gone; the test fails on any circle not listed, and on an entry that no longer
# matches one, so the list only ever shrinks.
KNOWN_CIRCLES: dict[frozenset[str], str] = {}


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__`)."""
    names: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that `name` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    modules = set(names)
    return {name: imports_of(name, path, modules) for name, path in names.items()}


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan), each one circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def path_around(graph: dict[str, set[str]], circle: frozenset[str]) -> str:
    """One way round a circle, for the failure message: a -> b -> a."""
    start = min(circle)
    trail, seen = [start], {start}
    while True:
        here = trail[-1]
        nxt = sorted(n for n in graph[here] if n in circle)
        if start in nxt and len(trail) > 1:
            return " -> ".join([*trail, start])
        step = next((n for n in nxt if n not in seen), None)
        if step is None:
            return " <-> ".join(sorted(circle))
        trail.append(step)
        seen.add(step)


def test_no_import_circle_inside_the_package() -> None:
    graph = import_graph()
    found = circles(graph)
    new = [c for c in found if c not in KNOWN_CIRCLES]
    assert not new, "import circles inside hilite_cli (move the shared piece where both can import it):\n" + "\n".join(
        f"{path_around(graph, c)}  (all of: {', '.join(sorted(c))})" for c in new)
    for circle, why in KNOWN_CIRCLES.items():
        if circle in found:
            warnings.warn(f"known circle, being removed ({why}): {path_around(graph, circle)}", stacklevel=1)


def test_every_known_circle_still_exists_so_the_list_only_shrinks() -> None:
    found = circles(import_graph())
    gone = [" <-> ".join(sorted(c)) for c in KNOWN_CIRCLES if c not in found]
    assert not gone, f"no longer a circle, delete it from KNOWN_CIRCLES: {gone}"


def test_the_graph_sees_lazy_relative_and_type_checking_imports() -> None:
    """The parser itself, on the package's own files: each kind of import is an edge."""
    graph = import_graph()
    assert "hilite_cli.providers.batch.runner" in graph["hilite_cli.providers"]  # inside get_provider()
    assert "hilite_cli.providers.base" in graph["hilite_cli.providers.batch.runner"]  # under TYPE_CHECKING
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
