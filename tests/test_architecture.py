"""The layout the code promises: small modules, no import circles, parts that do not know the faces."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("compensation", "reports", "territories")
PACKAGES = ("compensation", "reports", "territories", "modelling", "demo_company", "icm", "web")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else ():
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every first-party module a file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        out |= {n for n in names if n in MODULES}
    return out


@pytest.mark.parametrize("package", PARTS)
def test_no_module_of_the_parts_is_above_600_lines(package):
    long = {str(p.relative_to(ROOT)): n for name, p in MODULES.items()
            if name.split(".")[0] == package and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_there_are_no_import_circles():
    graph = {name: _imports(path) - {name} for name, path in MODULES.items()}
    # a package's __init__ is part of every import of its modules
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize(("part", "forbidden"), [
    ("compensation", ("reports", "territories", "modelling", "demo_company", "icm", "web")),
    ("reports", ("territories", "modelling", "demo_company", "icm", "web")),
    ("territories", ("reports", "modelling", "demo_company", "icm", "web")),
    ("modelling", ("icm", "web")),
    ("demo_company", ("icm", "web")),
])
def test_parts_do_not_import_the_faces_or_what_sits_above_them(part, forbidden):
    wrong = {name: sorted(i for i in _imports(path) if i.split(".")[0] in forbidden)
             for name, path in MODULES.items() if name.split(".")[0] == part}
    assert {k: v for k, v in wrong.items() if v} == {}
