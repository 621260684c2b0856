"""The one place in dashboards that reads MLflow: a sweep's trials (and histories) as tidy DataFrames."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from resnet_core.config import FIELDS, ConfigError, make_config

HISTORY_KEYS = ("train/error", "train/loss", "train/acc", "val/acc", "val/loss", "lr")


@dataclass
class SweepData:
    """A loaded sweep: the parent run, one row per trial, and (if asked) per-epoch histories."""
    parent: object
    trials: pd.DataFrame
    history: pd.DataFrame | None


def find_parent(client: MlflowClient, ref: str):
    """A parent run by run id, by experiment name (its newest sweep), or by sweep name tag."""
    try:
        run = client.get_run(ref)
        if run.data.tags.get("sweep_role") == "parent":
            return run
        if MLFLOW_PARENT_RUN_ID in run.data.tags:
            return client.get_run(run.data.tags[MLFLOW_PARENT_RUN_ID])
    except MlflowException:
        pass
    exp = client.get_experiment_by_name(ref)
    ids = [exp.experiment_id] if exp else [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(ids, f"tags.sweep_role = 'parent' and tags.sweep = '{ref}'",
                                 order_by=["attributes.start_time DESC"], max_results=1) if ids else []
    if not parents:
        raise ConfigError(f"experiment: no sweep named {ref!r} and no such run id in MLflow")
    return parents[0]


def _typed_params(params: dict) -> dict:
    """Params back to their config types (MLflow stores strings)."""
    known = {k: v for k, v in params.items() if k in FIELDS}
    try:
        typed = make_config(known).to_dict()
    except ConfigError:
        typed = known
    return {**params, **{k: typed[k] for k in known}}


def trial_row(run) -> dict:
    """One trial: typed params, outcome, the final value of every metric, and best val/acc."""
    row = {"run_id": run.info.run_id, "trial_id": run.data.tags.get("trial_id", run.info.run_id),
           "status": run.info.status, "outcome": run.data.tags.get("outcome", "running"),
           "hardware": run.data.tags.get("device"), "node_id": run.data.tags.get("node_id"),
           "start_time": run.info.start_time, "end_time": run.info.end_time}
    row |= {k: run.data.tags.get(k) for k in ("cpu_model", "cpu_capability", "precision_used", "error")}
    # The `lr` metric is the schedule's current value; the `lr` param (the peak) keeps the column.
    row.update({k: v for k, v in run.data.metrics.items() if k not in run.data.params})
    row.update(_typed_params(run.data.params))
    return row


def history_frame(client: MlflowClient, run_ids: list[str], keys: list[str]) -> pd.DataFrame:
    """Per-epoch values (step = epoch), wide by metric, one row per (run, epoch)."""
    records = []
    for run_id in run_ids:
        for key in keys:
            for m in client.get_metric_history(run_id, key):
                records.append((run_id, m.step, key, m.value))
    if not records:
        return pd.DataFrame(columns=["run_id", "epoch"])
    long = pd.DataFrame(records, columns=["run_id", "epoch", "key", "value"])
    wide = long.pivot_table(index=["run_id", "epoch"], columns="key", values="value", aggfunc="first")
    return wide.reset_index().rename_axis(columns=None)


def child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list:
    """Every trial run nested under a sweep's parent run."""
    return client.search_runs([experiment_id], f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'",
                              max_results=50_000)


def load_sweep(ref: str, tracking_uri: str, history: bool = False) -> SweepData:
    """Load a sweep from MLflow by experiment name, parent run id, or sweep name."""
    client = MlflowClient(tracking_uri)
    parent = find_parent(client, ref)
    runs = child_runs(client, parent.info.experiment_id, parent.info.run_id)
    trials = pd.DataFrame([trial_row(r) for r in runs])
    if "best/val/acc" not in trials and len(trials):
        trials["best/val/acc"] = [max((m.value for m in client.get_metric_history(r, "val/acc")), default=float("nan"))
                                  for r in trials["run_id"]]
    hist = None
    if history and len(trials):
        keys = sorted({k for r in runs for k in r.data.metrics if k in HISTORY_KEYS or k.startswith("grad_norm/block_")})
        hist = history_frame(client, list(trials["run_id"]), keys)
    return SweepData(parent, trials, hist)
