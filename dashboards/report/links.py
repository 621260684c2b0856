"""Where a sweep's report opens, written into its parent run's description."""

from __future__ import annotations

from mlflow import MlflowClient

from sweeps.tracking import names
from sweeps.tracking.links import report_link


def link_report(client: MlflowClient, parent, tracking_uri: str) -> None:
    """End the parent's description (the sweep's summary) with the link to its report, once."""
    summary = parent.data.tags.get(names.NOTE, "").split(" Report: ")[0]
    link = report_link(tracking_uri, parent.info.experiment_id, parent.info.run_id)
    client.set_tag(parent.info.run_id, names.NOTE, f"{summary} Report: {link}".strip())
