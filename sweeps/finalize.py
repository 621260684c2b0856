"""Close a sweep: outcome counts, best trial, trial-hours and the best model on the parent run."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter

import mlflow
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from dashboards.load import child_runs
from resnet_core.config import FIELDS, TrainConfig, make_config
from resnet_core.data import SHAPES
from resnet_core.outcomes import OUTCOMES
from resnet_core.train import load_checkpoint

from .descriptions import NOTE_TAG, sweep_description

CHAMPION = "champion"          # the alias `--register NAME` gives the sweep's best model version
TRIAL_RUN_TAG = "trial_run_id"  # model version tag: the trial run `reproduce models:/NAME@champion` retrains


def pick_best(runs: list, metric: str, mode: str):
    """The completed run with the best final metric (any finished run if none completed)."""
    scored = [r for r in runs if metric in r.data.metrics]
    done = [r for r in scored if r.data.tags.get("outcome") == "completed"] or scored
    if not done:
        return None
    sign = 1 if mode == "max" else -1
    return max(done, key=lambda r: sign * r.data.metrics[metric])


def stage_summary(runs: list) -> tuple[dict[str, float], dict[str, str]]:
    """Per stage: trials and trial-hours (the runs' wall durations) as metrics, first start and last end as tags."""
    metrics, tags = {}, {}
    for stage in ("search", "confirm"):
        mine = [r.info for r in runs if r.data.tags.get("stage", "search") == stage]
        if not mine:
            continue
        start, end = min(i.start_time for i in mine), max(i.end_time or i.start_time for i in mine)
        metrics[f"stage/{stage}/trials"] = len(mine)
        metrics[f"stage/{stage}/trial_hours"] = sum((i.end_time or i.start_time) - i.start_time for i in mine) / 3.6e6
        tags |= {f"stage.{stage}.start": _utc(start), f"stage.{stage}.end": _utc(end)}
    return metrics, tags


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def config_of(run) -> TrainConfig:
    """The TrainConfig a trial run was trained with, from its params."""
    return make_config({k: v for k, v in run.data.params.items() if k in FIELDS})


def log_best_model(sweep, best, results, register: str | None) -> None:
    """Log the best trial's final weights with mlflow.pytorch.log_model (signature, input example)."""
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    from resnet_core.build import build_model

    match = [r for r in results if r.metrics and r.metrics.get("trial_id") == best.data.tags.get("trial_id")]
    if not match or match[0].checkpoint is None:
        return
    cfg = config_of(best)
    (c, h, w), classes = SHAPES[cfg.dataset]
    with match[0].checkpoint.as_directory() as folder:
        state = load_checkpoint(os.path.join(folder, "state.pt"))
    model = build_model(cfg, c, classes)
    model.load_state_dict(state["model"])
    model.eval()
    example = np.zeros((2, c, h, w), dtype=np.float32)
    with torch.no_grad():
        signature = infer_signature(example, model(torch.from_numpy(example)).numpy())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state_dict.pt")
        torch.save({"model": state["model"], "config": cfg.to_dict()}, path)
        mlflow.log_artifact(path, "best_model_weights")
    # Naming the requirement skips MLflow's slow import-tracing inference of the environment.
    requirement = f"torch=={torch.__version__.split('+')[0]}"
    info = mlflow.pytorch.log_model(model, name="best_model", signature=signature, input_example=example,
                                    registered_model_name=register, pip_requirements=[requirement])
    if register and info.registered_model_version is not None:
        crown(MlflowClient(sweep.tracking_uri), register, str(info.registered_model_version), best)


def crown(client: MlflowClient, name: str, version: str, best) -> None:
    """The sweep's registered best model becomes the `champion`, with tags naming its sweep and trial run."""
    client.set_registered_model_alias(name, CHAMPION, version)
    experiment = client.get_experiment(best.info.experiment_id).name
    tags = {"sweep": experiment, "trial_id": best.data.tags.get("trial_id", ""), TRIAL_RUN_TAG: best.info.run_id,
            "parent_run_id": best.data.tags.get(MLFLOW_PARENT_RUN_ID, "")}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def finalize(sweep, results, register: str | None = None) -> dict:
    """Summarise the children into the parent run and end it; returns the summary for the terminal."""
    client = MlflowClient(sweep.tracking_uri)
    runs = child_runs(client, sweep.experiment_id, sweep.parent_run_id)
    counts = Counter(r.data.tags.get("outcome", "unknown") for r in runs)
    last = "confirm" if sweep.spec.confirm else "search"  # the best model comes from the last stage's runs
    best = pick_best([r for r in runs if r.data.tags.get("stage", "search") == last], sweep.spec.metric,
                     sweep.spec.mode)
    stage_metrics, stage_tags = stage_summary(runs)
    if sweep.spec.confirm:  # two Tune runs: `results` holds only the confirm stage's
        hours = sum(v for k, v in stage_metrics.items() if k.endswith("/trial_hours"))
    else:
        hours = sum(float(r.metrics.get("time_total_s", 0) or 0) for r in results if r.metrics) / 3600
    summary = {"trials": len(runs), **{o: counts.get(o, 0) for o in OUTCOMES}, "trial_hours": hours,
               "best_run_id": best.info.run_id if best else None,
               "best_value": best.data.metrics[sweep.spec.metric] if best else None,
               "running": sum(r.info.status == "RUNNING" for r in runs), **stage_metrics,
               "parent_run_id": sweep.parent_run_id, "experiment_id": sweep.experiment_id}
    parent = client.get_run(sweep.parent_run_id)
    mlflow.set_tracking_uri(sweep.tracking_uri)
    with mlflow.start_run(run_id=sweep.parent_run_id):
        mlflow.log_metrics({f"trials/{o}": counts.get(o, 0) for o in OUTCOMES} | {"trial_hours": hours}
                           | stage_metrics)
        mlflow.set_tags(stage_tags)
        stages = ["search", "confirm"] if sweep.spec.confirm else ["search"]
        mlflow.set_tag(NOTE_TAG, sweep_description(sweep.spec.name, summary, sweep.spec.metric, stages,
                                                   "report/report.html"))
        if best is not None:
            mlflow.log_metric(f"best/{sweep.spec.metric}", summary["best_value"])
            mlflow.set_tags({"best_run_id": best.info.run_id, "best_trial_id": best.data.tags.get("trial_id", "")})
            if parent.data.tags.get("best_model_run") != best.info.run_id:  # once, also on a second resume
                log_best_model(sweep, best, results, register)
                mlflow.set_tag("best_model_run", best.info.run_id)
    return summary
