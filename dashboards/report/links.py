"""Where a sweep's report opens, written into its parent run's description."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

from sweeps.tracking.links import report_link


def link_report(client: MlflowClient, parent, tracking_uri: str) -> None:
    """End the parent's description (the sweep's summary) with the link to its report, once."""
    summary = parent.data.tags.get(MLFLOW_RUN_NOTE, "").split(" Report: ")[0]
    client.set_tag(parent.info.run_id, MLFLOW_RUN_NOTE, f"{summary} Report: {report_link(tracking_uri, parent.info.experiment_id, parent.info.run_id)}"
                   .strip())

