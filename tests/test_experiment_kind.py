"""The sweep's experiment is marked as model training (so MLflow's UI opens on its runs), new or reused."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from sweeps.engine.runner import open_parent_run
from sweeps.env import ui_server
from sweeps.tracking.links import report_link, ui_link
from sweeps.tracking.names import EXPERIMENT_KIND as EXPERIMENT_KIND_TAG
from sweeps.tracking.names import TRAINING_KIND
from sweeps.spec import load_spec


def test_tag_and_view_are_values_the_installed_mlflow_ui_knows() -> None:
    """The compiled UI reads our tag, our kind and our link's view; a newer MLflow that renamed one fails here."""
    build = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    bundle = "".join(p.read_text(errors="replace") for p in build.glob("*.js"))
    assert f'"{EXPERIMENT_KIND_TAG}"' in bundle
    assert f'CUSTOM_MODEL_DEVELOPMENT="{TRAINING_KIND}"' in bundle
    assert 'get("workflowType")' in bundle and 'MACHINE_LEARNING="machine_learning"' in bundle


@pytest.mark.parametrize("before", [None, {}, {EXPERIMENT_KIND_TAG: "genai_development"}],
                         ids=["new", "reused-untagged", "reused-genai"])
def test_sweep_experiment_carries_the_training_kind(tmp_path, before: dict | None) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    spec = load_spec("smoke")
    existing = None if before is None else client.create_experiment(spec.name, tags=before)
    experiment_id, parent = open_parent_run(spec, uri, str(tmp_path / "smoke_1"))
    assert existing is None or experiment_id == existing  # reused, not a second experiment
    assert client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND
    assert client.get_run(parent).info.experiment_id == experiment_id
    assert ui_link(ui_server(uri), experiment_id) == ui_link("http://127.0.0.1:5000", experiment_id)  # resnet-sweep ui
    client.set_terminated(parent)


def test_ui_link_names_the_training_view() -> None:
    assert ui_link("http://mlflow:5000/", "7") == "http://mlflow:5000/#/experiments/7?workflowType=machine_learning"


def test_ui_url_env_names_where_the_browser_opens_the_ui(monkeypatch) -> None:
    # A driver in a container tracks to http://mlflow:5000, which the host's browser cannot resolve.
    from sweeps.env import UI_URL_ENV

    monkeypatch.delenv(UI_URL_ENV, raising=False)
    assert ui_server("http://mlflow:5000") == "http://mlflow:5000"
    assert ui_server("sqlite:///mlflow.db") == "http://127.0.0.1:5000"
    monkeypatch.setenv(UI_URL_ENV, "http://ui.example:8443")
    assert ui_server("http://mlflow:5000") == "http://ui.example:8443"
    assert ui_server("sqlite:///mlflow.db") == "http://ui.example:8443"
    assert ui_link(ui_server("http://mlflow:5000"), "7").startswith("http://ui.example:8443/#/experiments/7?")


def test_report_link_honours_the_ui_url(monkeypatch) -> None:
    """D8: the parent run's description links the report where a browser opens the UI, not the driver's URI."""
    from sweeps.env import UI_URL_ENV

    monkeypatch.delenv(UI_URL_ENV, raising=False)
    page = "/#/experiments/3/runs/abc/artifacts/report/report.html"
    assert report_link("http://mlflow:5000/", "3", "abc") == "http://mlflow:5000" + page
    assert report_link("sqlite:///mlflow.db", "3", "abc") == "this run's artifact report/report.html"
    monkeypatch.setenv(UI_URL_ENV, "http://127.0.0.1:5000")
    assert report_link("http://mlflow:5000", "3", "abc") == "http://127.0.0.1:5000" + page
    assert report_link("sqlite:///mlflow.db", "3", "abc") == "http://127.0.0.1:5000" + page
