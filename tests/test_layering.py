"""Imports point down only (DESIGN.md, "Layers"): a walk over every module's imports.

Order: graph (the language and its interpreter) < rl < domains < search (with
guide) < study < cli / report. search never imports domains (a searcher sees
programs and fitness, not how they were scored); stability/, darts/ and drive/
sit beside the stack and use graph and rl only. Layers that do not exist yet
simply do not appear; a new top-level package must be placed here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "discolab"

_BELOW_DOMAINS = {"graph", "compile", "rl"}
#: For each layer, the other layers it may import.
ALLOWED: dict[str, set[str]] = {
    "graph": set(),
    "compile": {"graph"},  # the interpreter, if it moves out of graph/
    "rl": {"graph", "compile"},  # allowed by the order, though rl/ should not need graph/
    "domains": _BELOW_DOMAINS,
    "guide": _BELOW_DOMAINS,
    "search": _BELOW_DOMAINS | {"guide"},
    "study": _BELOW_DOMAINS | {"domains", "search", "guide"},
    "report": _BELOW_DOMAINS | {"domains", "search", "guide", "study"},
    "stability": _BELOW_DOMAINS,
    "darts": _BELOW_DOMAINS,
    "drive": _BELOW_DOMAINS,
    "estimators": _BELOW_DOMAINS | {"domains", "search", "guide", "study", "report"},
    "cli": _BELOW_DOMAINS | {"domains", "search", "guide", "study", "report", "estimators", "stability", "darts",
                             "drive"},
    "__main__": {"cli"},
    # Importing discolab.graph runs discolab/__init__.py first: it must not pull in the stack.
    "__init__": set(),
}
#: Leaf helpers under every layer (they import nothing of discolab).
LEAVES = {"jsonable"}
ALLOWED = {**{k: v | LEAVES for k, v in ALLOWED.items()}, **{leaf: set() for leaf in LEAVES}}


def layer_of(module: str) -> str:
    """``discolab.search.base`` -> ``search``; ``discolab.cli`` -> ``cli``; ``discolab`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` for every discolab import in the file, lazy imports included."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == root.name:  # from discolab import search: the names are modules
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name == root.name or name.startswith(root.name + ".")]


def violations(root: Path) -> list[str]:
    """Every import of a layer that its importer may not use, and every module of no known layer."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        source = layer_of(module_name(path, root))
        where = path.relative_to(root.parent)
        if source not in ALLOWED:
            problems.append(f"{where}: layer {source!r} is not in tests/test_layering.py; place it in the order")
            continue
        for line, target_module in imported_modules(path, root):
            target = layer_of(target_module)
            if target != source and target not in ALLOWED[source]:
                problems.append(f"{where}:{line}: {source} imports {target_module} ({target} is not below {source})")
    return problems


def test_imports_point_down_only():
    assert PACKAGE.is_dir()
    assert violations(PACKAGE) == []


def test_graph_imports_nothing_of_discolab_outside_graph():
    for path in sorted((PACKAGE / "graph").rglob("*.py")):
        for line, target in imported_modules(path, PACKAGE):
            assert target.startswith("discolab.graph"), f"{path.name}:{line} imports {target}"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_finds_upward_edges(tmp_path):
    root = tmp_path / "discolab"
    write(root, "__init__.py", "")
    write(root, "graph/__init__.py", "from discolab.graph.program import Program\n")
    write(root, "graph/program.py", "import numpy\nfrom . import ops\n")
    write(root, "graph/ops.py", "def f():\n    from discolab.search import base  # lazy, still an edge\n")
    write(root, "search/__init__.py", "from discolab import graph\n")
    write(root, "search/base.py", "from ..domains import regression\nfrom ..graph import Program\n")
    write(root, "domains/regression.py", "import discolab.search.base\nfrom discolab.graph import ops\n")
    write(root, "study/loop.py", "from discolab import domains, search, graph\n")
    write(root, "stability/proxy.py", "from discolab.study import loop\n")
    write(root, "misc/helpers.py", "")
    problems = violations(root)
    assert len(problems) == 5, problems
    expected = [
        "graph/ops.py:2: graph imports discolab.search",
        "search/base.py:1: search imports discolab.domains",
        "domains/regression.py:1: domains imports discolab.search.base",
        "stability/proxy.py:1: stability imports discolab.study",
        "layer 'misc' is not in tests/test_layering.py",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)


@pytest.mark.parametrize(
    ("module", "layer"),
    [("discolab", "__init__"), ("discolab.cli", "cli"), ("discolab.graph.ops", "graph"), ("discolab.search", "search")],
)
def test_layer_of(module, layer):
    assert layer_of(module) == layer
