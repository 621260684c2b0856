"""examples/degradation.ipynb, executed top to bottom with nbclient in a real kernel against a real `mlflow server`."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dashboards.verdict.headline import NO_CONFIRM
from sweeps.testing.mlflow_server import mlflow_server

pytestmark = pytest.mark.slow
NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "degradation.ipynb"


def _text(output) -> str:
    """What an output shows as text: a stream's text, or a display's text/plain."""
    return output.get("text") or output.get("data", {}).get("text/plain", "")


def _cell(nb, source_start: str):
    """The one code cell whose source starts with source_start."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    assert len(found) == 1, f"no single cell starting {source_start!r}"
    return found[0]


def test_the_notebook_is_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run in a fresh kernel, in its own folder, tracked on its own server (its own smoke sweep)."""
    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with mlflow_server(str(folder / "mlflow")) as server, pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", server.url)  # the kernel inherits this environment
        env.delenv("RAY_ADDRESS", raising=False)
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def test_run_shows_one_updating_table_not_a_stream_of_lines(executed) -> None:
    outputs = _cell(executed, "result = sweeps.run(").outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and "smoke search: 4 trials" in _text(shown[0])
    assert _text(shown[0]).count(" completed: ") + _text(shown[0]).count(" pruned: ") == 4
    streamed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "trial " not in streamed  # the per-trial lines live in the display, not in the cell's stream
    html = [o for o in outputs if o.output_type == "execute_result"][0]["data"]["text/html"]
    assert NO_CONFIRM in html and "/#/experiments/" in html


def test_headline_figure_load_and_reproduce(executed) -> None:
    assert NO_CONFIRM in "".join(_text(o) for o in _cell(executed, "print(result.headline)").outputs)
    figure = _cell(executed, "print(sorted(result.figures))").outputs
    assert any("image/png" in o.get("data", {}) for o in figure)
    reproduced = "".join(_text(o) for o in _cell(executed, "reproduction = again.reproduce()").outputs)
    assert "largest difference: 0.0\n" in reproduced and "reproduced, largest difference 0 " in reproduced
