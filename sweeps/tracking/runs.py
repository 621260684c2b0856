"""Reading a sweep back from MLflow: its parent run, trial runs, histories and spec, as normalised frames.

The one reader: the engine (the confirm planner, finalize), `reproduce`, the command line and `dashboards` all
read runs through it.

Normalising happens here, once: old metric and tag names mapped to the current ones, `init` filled,
`residual` as bool, `outcome` present, histories joined with their trial's config. Figures and
statistics take these frames as they are.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from resnet_core.config import FIELDS, ConfigError, TrainConfig, make_config

from . import names
from .names import hardware_of, outcome_of, stage_of

HISTORY_KEYS = ("train/error", "train/loss", "train/acc", "val/acc", "val/loss", "train/lr")
# Names that runs logged before every metric was `split/name` and before the hardware tag was renamed.
OLD_METRICS = {"lr": "train/lr", "diverged": "train/diverged"}
# What a history row is drawn by (epochs: the trial's training budget).
TRIAL_COLUMNS = ("depth", "residual", "init", "seed", "lr", "recipe", "stage", "epochs")


@dataclass
class SweepData:
    """A loaded sweep: the parent run, one row per trial, per-epoch histories (if asked) and its spec."""
    parent: object
    trials: pd.DataFrame
    history: pd.DataFrame | None
    spec_text: str = ""   # spec.yaml as logged on the parent run; "" when absent
    spec: dict = field(default_factory=dict)  # spec_text parsed; {} when absent or unreadable


def find_parent(client: MlflowClient, ref: str):
    """A parent run by run id, by experiment name (its newest sweep), or by sweep name tag."""
    try:
        run = client.get_run(ref)
        if run.data.tags.get(names.ROLE) == names.PARENT:
            return run
        if names.PARENT_RUN in run.data.tags:
            return client.get_run(run.data.tags[names.PARENT_RUN])
    except MlflowException:
        pass
    exp = client.get_experiment_by_name(ref)
    ids = [exp.experiment_id] if exp else [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(ids, f"tags.{names.ROLE} = '{names.PARENT}' and tags.{names.SWEEP} = '{ref}'",
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


def current_name(key: str) -> str:
    """A metric's current name; older runs logged `lr` and `diverged`."""
    return OLD_METRICS.get(key, key)


def trial_row(run) -> dict:
    """One trial: typed params, outcome, the final value of every metric, and best val/acc."""
    tags = run.data.tags
    row = {"run_id": run.info.run_id, "trial_id": tags.get(names.TRIAL_ID, run.info.run_id),
           "status": run.info.status, "outcome": outcome_of(tags), "hardware": hardware_of(tags),
           "node_id": tags.get("node_id"), "start_time": run.info.start_time, "end_time": run.info.end_time,
           "stage": stage_of(tags), "pick_rule": tags.get(names.PICK_RULE)}
    row |= {k: run.data.tags.get(k) for k in ("cpu_model", "cpu_capability", "precision_used", "error")}
    row.update({current_name(k): v for k, v in run.data.metrics.items()})
    row.update(_typed_params(run.data.params))
    return row


def _as_bool(value: object) -> bool:
    """True for True-like values, including MLflow's string params "True"/"true"/"1"."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in ("true", "1", "yes")


def normalise_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Copy of trials with `init` filled ("default" when absent), `residual` as bool and `outcome` present."""
    out = trials.copy()
    out["init"] = out["init"].fillna("default").astype(str) if "init" in out else "default"
    if "outcome" not in out:  # a frame without outcomes is taken to hold finished runs only
        out["outcome"] = "completed"
    if "residual" in out:
        out["residual"] = out["residual"].map(_as_bool).astype(bool)
    return out


def join_trial_columns(history: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """history joined on run_id with the TRIAL_COLUMNS of normalised trials (their values win over history's)."""
    keep = [c for c in TRIAL_COLUMNS if c in trials]
    left = history.drop(columns=[c for c in keep if c in history])
    return left.merge(trials[["run_id", *keep]].drop_duplicates("run_id"), on="run_id", how="left")


def history_frame(client: MlflowClient, run_ids: list[str], keys: list[str]) -> pd.DataFrame:
    """Per-epoch values (step = epoch), wide by metric, one row per (run, epoch)."""
    records = []
    for run_id in run_ids:
        for key in keys:
            for m in client.get_metric_history(run_id, key):
                records.append((run_id, m.step, current_name(key), m.value))
    if not records:
        return pd.DataFrame(columns=["run_id", "epoch"])
    long = pd.DataFrame(records, columns=["run_id", "epoch", "key", "value"])
    wide = long.pivot_table(index=["run_id", "epoch"], columns="key", values="value", aggfunc="first")
    return wide.reset_index().rename_axis(columns=None)


def child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list:
    """Every trial run nested under a sweep's parent run."""
    return client.search_runs([experiment_id], f"tags.`{names.PARENT_RUN}` = '{parent_run_id}'",
                              max_results=50_000)


def config_of(run) -> TrainConfig:
    """The TrainConfig a trial run was trained with, from its params."""
    return make_config({k: v for k, v in run.data.params.items() if k in FIELDS})


def sweep_spec(tracking_uri: str, run_id: str) -> tuple[str, dict]:
    """The spec.yaml text logged on a parent run and its parsed mapping; ("", {}) when absent or unreadable."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=names.SPEC_ARTIFACT, dst_path=tmp,
                                                       tracking_uri=tracking_uri)
            with open(path) as fh:
                text = fh.read()
            spec = yaml.safe_load(text)
        except (MlflowException, OSError, yaml.YAMLError):  # e.g. a run not made by resnet-sweep: load without it
            return "", {}
    return text, spec if isinstance(spec, dict) else {}


def with_epochs(trials: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """trials with an int `epochs` column on every row (each trial's training budget): a row that did not log it
    takes the spec's train.epochs, else TrainConfig's default (older sweeps had one budget)."""
    if not len(trials):
        return trials
    train = spec.get("train") if isinstance(spec.get("train"), dict) else {}
    default = int(train.get(names.EPOCHS, TrainConfig().epochs))
    logged = pd.to_numeric(trials[names.EPOCHS], errors="coerce") if names.EPOCHS in trials else np.nan
    return trials.assign(**{names.EPOCHS: pd.Series(logged, index=trials.index).fillna(default).astype(int)})


def load_adequacy(client: MlflowClient, parent_run_id: str) -> dict | None:
    """The sweep's adequacy record (names.ADEQUACY_ARTIFACT on its parent run) as a dict; None when the sweep has
    none (no confirm stage, or it predates search rounds) or it cannot be read."""
    try:
        if names.ADEQUACY_ARTIFACT not in {a.path for a in client.list_artifacts(parent_run_id)}:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            with open(client.download_artifacts(parent_run_id, names.ADEQUACY_ARTIFACT, tmp)) as fh:
                record = json.load(fh)
    except (MlflowException, OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def sweep_trials(client: MlflowClient, ref: str) -> tuple[object, list, pd.DataFrame]:
    """(parent run, trial runs, normalised trial frame) of a sweep: two queries, nothing fetched per run."""
    parent = find_parent(client, ref)
    runs = child_runs(client, parent.info.experiment_id, parent.info.run_id)
    return parent, runs, normalise_trials(pd.DataFrame([trial_row(r) for r in runs]))


def load_sweep(ref: str, tracking_uri: str, history: bool = False) -> SweepData:
    """Load a sweep from MLflow by experiment name, parent run id, or sweep name; frames come normalised."""
    client = MlflowClient(tracking_uri)
    parent, runs, trials = sweep_trials(client, ref)
    text, spec = sweep_spec(tracking_uri, parent.info.run_id)
    trials = with_epochs(trials, spec)
    if "best/val/acc" not in trials and len(trials):
        trials["best/val/acc"] = [max((m.value for m in client.get_metric_history(r, "val/acc")), default=float("nan"))
                                  for r in trials["run_id"]]
    hist = None
    if history and len(trials):
        keys = sorted({k for r in runs for k in r.data.metrics
                       if current_name(k) in HISTORY_KEYS or k.startswith("grad_norm/block_")})
        hist = join_trial_columns(history_frame(client, list(trials["run_id"]), keys), trials)
    return SweepData(parent, trials, hist, text, spec)
