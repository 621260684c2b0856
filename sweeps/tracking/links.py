"""Links into the MLflow UI that a person opens: an experiment on its training runs, a sweep's report."""

from __future__ import annotations

import os

from ..env import UI_URL_ENV, ui_server

# MLflow 3.17's UI ignores the experiment's kind tag when it opens an experiment: the page follows the browser's
# GenAI / Model training switch (localStorage, GenAI when unset) unless the link names the view, so our links name it.
TRAINING_VIEW = "workflowType=machine_learning"


def ui_link(server_url: str, experiment_id: str) -> str:
    """The MLflow UI link that opens an experiment on its training runs in any browser."""
    return f"{server_url.rstrip('/')}/#/experiments/{experiment_id}?{TRAINING_VIEW}"


def report_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """Where a parent run's report.html opens: its page in the MLflow UI ($RESNET_SWEEP_UI_URL, else the tracking
    server), or the artifact's name for a local store with no UI named."""
    if tracking_uri.startswith(("http://", "https://")) or os.environ.get(UI_URL_ENV):
        return f"{ui_server(tracking_uri)}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/report/report.html"
    return "this run's artifact report/report.html"
