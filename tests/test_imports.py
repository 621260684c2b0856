"""resnet_core's modules import each other one way: the graph, function-local imports included, has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import resnet_core
from resnet_core.config import INIT_NAMES
from resnet_core.inits import INITS

CORE = Path(resnet_core.__file__).parent


def _sibling_imports(path: Path) -> set[str]:
    """Names of resnet_core modules that path imports anywhere in its body (relative or absolute)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            name = node.module.removeprefix("resnet_core.") if node.level == 0 else node.module
            if node.level or node.module.startswith("resnet_core."):
                found.add(name.split(".")[0])
    return found


def _graph() -> dict[str, set[str]]:
    return {p.stem: _sibling_imports(p) for p in CORE.glob("*.py") if p.stem != "__init__"}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of module names, or [] when the graph is acyclic."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = "done"
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return []


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_core_modules_import_one_way() -> None:
    graph = _graph()
    assert graph["inits"] >= {"model"} and "build" in graph  # the graph is the real one
    assert _cycle(graph) == []


def test_init_names_equal_inits() -> None:
    assert INIT_NAMES == tuple(INITS)


def _loaded(modules: str) -> set[str]:
    """The heavy libraries a fresh interpreter holds after importing modules."""
    import subprocess
    import sys

    heavy = ("torch", "ray", "optuna", "matplotlib", "mlflow", "pandas")
    code = f"import sys, {modules}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_command_line_and_best_load_only_what_they_need() -> None:
    """`resnet-sweep --help` loads none of the heavy libraries; `best` reads MLflow without torch, Ray or plots."""
    assert _loaded("sweeps.cli.resnet_sweep, resnet_core.config, resnet_core.outcomes") == set()
    assert _loaded("sweeps.cli.resnet_sweep, sweeps.cli.commands, sweeps.cli.best, sweeps.env, sweeps.tracking.runs") \
        == {"mlflow", "pandas"}


def test_import_sweeps_loads_nothing_heavy_until_a_function_needs_it() -> None:
    """`import sweeps` (the Python API) and validating a spec load none of torch, Ray, Optuna or MLflow."""
    assert _loaded("sweeps") == set()
    code = ("import sys, sweeps\ntry:\n    sweeps.run({'name': 'x', 'search': 'bogus'})\nexcept sweeps.SpecError:\n"
            "    pass\nprint(' '.join(m for m in ('torch', 'ray', 'optuna', 'mlflow') if m in sys.modules))")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []
