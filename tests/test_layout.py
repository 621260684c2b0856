"""The rooms' import direction: README.md's layout table, enforced on every import of every module (lazy imports
inside functions too), and no import cycle between modules. The checker fails when a wrong-way import or a cycle
is planted in a copy of the tree."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("resnet_core", "sweeps", "dashboards")


def layout_table(readme: Path) -> dict[str, set[str]]:
    """room (a module path such as sweeps.spec or sweeps.errors) -> the rooms it may import, from the README."""
    text = readme.read_text()
    table = text[text.index("## Layout"):]
    table = table[:table.index("\n## ", 3)]
    rooms = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        room = cells[0].strip("`").rstrip("/").removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        rooms[room] = set(re.findall(r"`([a-z_.]+)`", cells[2]))
    return rooms


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """Every module path an import in the file names, third-party ones too (relative imports resolved;
    `from a import b` gives a.b when that is a module of the tree, else a)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if _is_module(sub, root) else base)
    return found


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def room_of(module: str, rooms: dict[str, set[str]]) -> str | None:
    """The longest room that is the module or holds it."""
    matches = [r for r in rooms if module == r or module.startswith(r + ".")]
    return max(matches, key=len) if matches else None


def modules(root: Path) -> dict[str, set[str]]:
    """module -> modules of the tree it imports, for every .py file of the packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            out[module_name(path, root)] = {m for m in imports_of(path, root) if m.split(".")[0] in PACKAGES}
    return out


def violations(root: Path) -> list[str]:
    """Imports against the README's table, and modules of the tree that no room holds."""
    rooms, graph, found = layout_table(root / "README.md"), modules(root), []
    for module, targets in graph.items():
        room = room_of(module, rooms)
        if room is None:
            found.append(f"{module}: in no room of the README's layout table")
            continue
        for target in sorted(targets):
            there = room_of(target, rooms)
            allowed = rooms[room] | {room}
            if there is not None and not any(there == a or there.startswith(a + ".") for a in allowed):
                found.append(f"{module} imports {target}: {room} may import only {sorted(rooms[room])}")
    return found


def cycles(root: Path) -> list[list[str]]:
    """Import cycles between modules of the tree (an import of a package counts as one of its __init__)."""
    graph = modules(root)
    graph = {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items()}
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_every_import_follows_the_readme_s_layout_table() -> None:
    assert layout_table(ROOT / "README.md")["sweeps.spec"] >= {"sweeps.errors", "resnet_core"}
    assert violations(ROOT) == []


def test_no_import_cycle() -> None:
    assert cycles(ROOT) == []


def test_resnet_core_imports_nothing_of_the_sweep_side() -> None:
    assert all(t.startswith("resnet_core") for m, ts in modules(ROOT).items() if m.startswith("resnet_core")
               for t in ts)


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", copy / "README.md")
    return copy


def test_a_planted_wrong_way_import_fails(tmp_path) -> None:
    copy = _copy(tmp_path)
    schema = copy / "sweeps" / "spec" / "schema.py"
    schema.write_text(schema.read_text() + "\n\ndef _planted():\n    from sweeps.engine import runner  # noqa\n")
    assert violations(copy) == [
        "sweeps.spec.schema imports sweeps.engine.runner: sweeps.spec may import only "
        "['resnet_core', 'sweeps.env', 'sweeps.errors']"]
    board = copy / "dashboards" / "__init__.py"
    board.write_text(board.read_text() + "\nimport sweeps.api  # noqa\n")
    assert any(v.startswith("dashboards imports sweeps.api") for v in violations(copy))


def test_a_planted_cycle_fails(tmp_path) -> None:
    copy = _copy(tmp_path)
    names = copy / "sweeps" / "tracking" / "names.py"
    names.write_text(names.read_text() + "\nfrom . import runs  # noqa\n")
    assert any({"sweeps.tracking.names", "sweeps.tracking.runs"} <= set(c) for c in cycles(copy))
    assert cycles(ROOT) == []  # the copy's cycle, not the tree's
