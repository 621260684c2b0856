"""dashboards' rooms: each a package that says what it offers, nothing left flat, files small, and the verdict and
statistics never draw. The direction between rooms is README.md's layout table, enforced by tests/test_layout.py."""

from __future__ import annotations

import ast
from pathlib import Path

from test_layout import imports_of

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("stats", "study", "verdict", "figures", "report")
NO_DRAWING = ("stats", "verdict")  # numbers and words only: no matplotlib, no plotly


def _drawing() -> list[str]:
    found = []
    for path in sorted((ROOT / "dashboards").rglob("*.py")):
        parts = path.relative_to(ROOT / "dashboards").parts
        room = parts[0] if len(parts) > 1 else None
        for name in sorted(imports_of(path, ROOT)):
            if room in NO_DRAWING and name.split(".")[0] in ("matplotlib", "plotly"):
                found.append(f"{path.relative_to(ROOT)} draws ({name})")
    return found


def test_every_room_is_a_package_that_says_what_it_offers() -> None:
    for room in ROOMS:
        doc = ast.get_docstring(ast.parse((ROOT / "dashboards" / room / "__init__.py").read_text()))
        assert doc and "\n" not in doc.strip(), room
    assert sorted(p.name for p in (ROOT / "dashboards").glob("*.py")) == ["__init__.py"]  # nothing left flat


def test_statistics_and_the_verdict_never_draw() -> None:
    assert _drawing() == []


def test_files_stay_small() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (ROOT / "dashboards").rglob("*.py")}
    assert not {p: n for p, n in sizes.items() if n > 300}
