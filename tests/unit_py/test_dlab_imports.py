"""The dlab package has no import cycle and every module imports on its own.

The import graph is built from the source with `ast`, counting imports at any depth (a function-local
`from . import x` hides a cycle from a plain import but not from this graph); then every module is
imported in a fresh interpreter, alone, so that an order-dependent import fails here."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "bindings" / "python" / "dlab"
BUILD = Path(os.environ.get("DLAB_BUILD_DIR", REPO / "build"))


def modules() -> dict[str, Path]:
    """dlab module name (dotted, under `dlab`) -> source file."""
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """dlab modules `name` imports anywhere in its source (top level, functions, classes)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()

    def add(mod: str) -> None:
        # `from dlab import lab` names a module; `from dlab.lab import Lab` names dlab.lab.
        while mod and mod not in known:
            mod = mod.rpartition(".")[0]
        if mod and mod != name:
            found.add(mod)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "dlab" or a.name.startswith("dlab."):
                    add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            elif node.module and (node.module == "dlab" or node.module.startswith("dlab.")):
                target = node.module
            else:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                add(sub if sub in known else target)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None (depth-first search, white/grey/black)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods) | {"dlab._native"}
    return {n: imports_of(n, p, known) for n, p in mods.items()}


def test_the_graph_sees_imports_inside_functions():
    g = graph()
    assert "dlab.lab" in g["dlab.cli.bench_dialout"], g["dlab.cli.bench_dialout"]  # `from . import lab as L`
    assert "dlab.proto" in g["dlab.replay"], g["dlab.replay"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_dlab_modules():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(m for m in modules() if m != "dlab" and not m.endswith(".__main__")))
def test_every_module_imports_alone_in_a_fresh_interpreter(module):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PKG.parent), str(BUILD / "bindings")]))
    cp = subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True,
                        timeout=60)
    if cp.returncode != 0 and "dlab._native" in cp.stderr and not (BUILD / "bindings" / "dlab").exists():
        pytest.skip(f"{module} needs dlab._native, not built in {BUILD / 'bindings'}")
    assert cp.returncode == 0, cp.stderr
