"""The package has no import loops: read from the source, nothing imported.

Every import counts, at the top of a module or inside a function, absolute or relative: a
loop hidden in a function still ties two modules together and breaks when someone moves the
import up. A module's own package (`publisher.store` from `publisher.store.ledger`) is not
an edge: Python runs it first anyway.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import publisher


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module under `package` (its folder)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(name: str, path: Path) -> Iterable[str]:
    """Every module `name` may import, as dotted names (some are not modules at all)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports."""
    files = module_files(package)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set(imported_names(name, path)) & files.keys()
        graph[name] = {t for t in targets if t != name and not name.startswith(f"{t}.")}
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop (a -> b -> a) for each group of modules that import each other in a ring."""
    found = []
    for group in strongly_connected(graph):
        start = min(group)
        if len(group) > 1 or start in graph[start]:
            found.append(path_back(graph, start, group))
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of nodes that all reach one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def path_back(graph: dict[str, set[str]], start: str, group: set[str]) -> list[str]:
    """The shortest ring from `start` back to itself through `group` (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    ring = [node]
                    while ring[-1] != start:
                        ring.append(came_from[ring[-1]])
                    return [*reversed(ring), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise ValueError(f"{start} is not in a loop")


def test_publisher_has_no_import_loop() -> None:
    found = loops(import_graph(Path(publisher.__file__).parent))
    assert not found, "import loops:\n" + "\n".join(" -> ".join(ring) for ring in found)


def test_a_loop_is_found_and_listed() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert loops(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert loops({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_function_level_and_relative_imports_count(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "top.py").write_text("def run():\n    from .sub import low\n")
    (package / "sub" / "low.py").write_text("def run():\n    import pkg.top\n")
    (package / "sub" / "side.py").write_text("from .. import top\nfrom . import low\n")
    graph = import_graph(package)
    assert graph["pkg.sub.side"] == {"pkg.top", "pkg.sub.low"}  # not its own packages
    assert loops(graph) == [["pkg.sub.low", "pkg.top", "pkg.sub.low"]]
