"""The shared package's imports, read from the source (ast): no module or package of snapscribe imports itself
through others (no cycle), and every import runs down the floors docs/architecture.md draws, never back up. An
import under TYPE_CHECKING or inside a function counts too: it is still a dependency of the code."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "layers" / "core" / "snapscribe"

# The floors, from the ground up: a module imports from its own floor's packages or from floors below.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("errors", "config", "function_settings", "language", "metering"),  # errors; settings; scripts; the Meter port
    ("contracts", "accounts", "storage", "images"),  # wire models and error tables; domain + adapters
    ("caller", "engines"),  # who asks; the engines
    ("jobs",),  # orchestration: plans, running now, jobs on the queue; knows no HTTP
    ("operations",),  # what each API does, and the registry of work kinds
    ("services",),  # the composition root: adapters on AWS clients
    ("web",),  # HTTP: middleware, requests, responses, route declarations, the OpenAPI document
    ("routes",),  # each API's routes, declared once
)
FLOOR_OF = {name: floor for floor, names in enumerate(FLOORS) for name in names}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = ["snapscribe", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Every module of the package, and the package's modules it imports."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(path, root): path for path in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from .x import y
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
                for alias in node.names:  # `from snapscribe.routes import jobs` imports the module routes.jobs
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {_known(target, modules) for target in targets if target.startswith("snapscribe")} - {name}
    return graph


def _known(target: str, modules: Mapping[str, Path]) -> str:
    while target not in modules and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def top_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for source, targets in graph.items():
        packages.setdefault(top_package(source), set()).update(top_package(target) for target in targets)
    return {package: targets - {package} for package, targets in packages.items()}


def back_arrows(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Imports from a floor to a higher one."""
    wrong = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            if FLOOR_OF[top_package(source)] < FLOOR_OF[top_package(target)]:
                wrong.append(f"{source} -> {target}")
    return wrong


GRAPH = import_graph()


def test_every_package_of_snapscribe_has_its_floor() -> None:
    packages = {top_package(module) for module in GRAPH} - {"snapscribe"}
    assert packages == set(FLOOR_OF), "a package or module was added or removed: give it its floor in FLOORS"


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(GRAPH) == []


def test_no_package_imports_itself_through_others() -> None:
    assert cycles(package_graph(GRAPH)) == []


def test_every_import_runs_down_the_floors() -> None:
    assert back_arrows(GRAPH) == []


@pytest.mark.parametrize(
    ("sources", "cycle", "back"),
    [
        ({"a.py": "from snapscribe import b\n", "b.py": "import snapscribe.a\n"}, True, False),
        ({"web/x.py": "from snapscribe.routes.y import z\n", "routes/y.py": "z = 1\n"}, False, True),
        (
            {
                "jobs/x.py": "def f():\n    from snapscribe.web import y\n",
                "web/__init__.py": "",
                "web/y.py": "import typing\nif typing.TYPE_CHECKING:\n    from snapscribe.jobs.x import f\n",
            },
            True,
            True,
        ),
        ({"jobs/x.py": "from snapscribe.errors import E\n", "errors.py": "class E(Exception): ...\n"}, False, False),
    ],
)
def test_the_checks_see_a_cycle_and_a_back_arrow_when_there_is_one(
    tmp_path: Path, sources: dict[str, str], cycle: bool, back: bool
) -> None:
    """The rules above must be able to fail: a loop of two modules, an arrow from web up to routes, and a loop made
    of a function's import and a type-checking one."""
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert bool(cycles(graph) or cycles(package_graph(graph))) is cycle
    known = {module: targets for module, targets in graph.items() if top_package(module) in FLOOR_OF}
    assert bool(back_arrows(known)) is back
