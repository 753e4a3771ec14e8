"""The package's import graph: layers point down only, no circle, no private name crosses a module.

Layers, lowest first (a module may import its own layer only inside its own subpackage):

    0  errors, options, version, processes (independent jobs over worker processes), progress
       (progress bars on a terminal or in a log)
    1  codegen (the SymPy → NumPy/mpmath boundary), precision/ (mpmath and quadrature rules)
    2  symbolic/
    3  numeric/
    4  experiments/
    5  reports/
    6  cli, __init__, __main__

Function-local imports count: the graph is read from every ``import`` node of every module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "symescape"

RANKS = {
    "errors": 0,
    "options": 0,
    "version": 0,
    "processes": 0,
    "progress": 0,
    "codegen": 1,
    "precision": 1,
    "symbolic": 2,
    "numeric": 3,
    "experiments": 4,
    "reports": 5,
    "cli": 6,
    "__init__": 6,
    "__main__": 6,
}


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        names[".".join(("symescape",) + parts)] = path
    return names


def imports_of(path: Path, name: str) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) for every import node, relative ones resolved."""
    package = name.split(".")[:-1] if not name.endswith("__init__") else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def layer(module: str) -> tuple[int, str]:
    """(rank, subpackage) of a symescape module."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head not in RANKS:
        raise AssertionError(f"{module} is in no layer; add it to RANKS")
    # The top-level modules of one rank form one package (errors/options/version; cli/__main__).
    package = {0: "core", 6: "top"}.get(RANKS[head], head)
    return RANKS[head], package


def resolve(module: str, imported: list[str], known: dict[str, Path]) -> list[str]:
    """The symescape modules an import node reaches (``from pkg import mod`` counts as ``mod``)."""
    if not module.startswith("symescape"):
        return []
    targets = [f"{module}.{n}" for n in imported if f"{module}.{n}" in known]
    if module in known or not targets:
        targets.append(module if module in known else f"{module}.__init__")
    return targets


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, list[str]]]]:
    known = module_names()
    edges = {}
    for name, path in known.items():
        edges[name] = []
        for module, imported in imports_of(path, name):
            for target in resolve(module, imported, known):
                edges[name].append((target, imported))
    return edges


def test_every_module_has_a_layer(graph) -> None:
    for name in graph:
        layer(name)


def test_imports_point_down(graph) -> None:
    upward = []
    for source, targets in graph.items():
        rank, package = layer(source)
        for target, _ in targets:
            if target.endswith("__init__") and target.count(".") == 1:
                upward.append(f"{source} imports the top-level package")
                continue
            target_rank, target_package = layer(target)
            if target_rank > rank or (target_rank == rank and target_package != package):
                upward.append(f"{source} (layer {rank}) imports {target} (layer {target_rank})")
    assert not upward, "\n".join(upward)


def test_no_private_name_crosses_a_module(graph) -> None:
    private = [
        f"{source} imports {name} from {target}"
        for source, targets in graph.items()
        for target, names in targets
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not private, "\n".join(private)


def test_no_import_circle(graph) -> None:
    adjacency = {s: {t for t, _ in ts if t in graph and t != s} for s, ts in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(adjacency[node]):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt])
                return True
            if nxt not in state and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False

    for node in sorted(adjacency):
        if node not in state and visit(node, []):
            break
    assert not cycle, " → ".join(cycle)


def test_numeric_layers_do_not_import_sympy(graph) -> None:
    """Numeric code gets compiled kernels from the code-generation boundary, never SymPy itself."""
    offenders = [
        source
        for source, _ in graph.items()
        if layer(source)[1] in ("numeric", "precision")
        and any(
            module.split(".")[0] == "sympy"
            for module, _ in imports_of(module_names()[source], source)
        )
    ]
    assert not offenders, offenders
