"""Close a sweep: outcome counts, best trial, trial-hours and the best model on the parent run."""

from __future__ import annotations

import time
from collections import Counter

import mlflow
from mlflow import MlflowClient

from resnet_core.outcomes import OUTCOMES

from . import names
from .best_run import best_run
from .descriptions import sweep_description
from .models import log_best_model
from .runs import child_runs


def stage_summary(runs: list) -> tuple[dict[str, float], dict[str, str]]:
    """Per stage: trials and trial-hours (the runs' wall durations) as metrics, first start and last end as tags."""
    metrics, tags = {}, {}
    for stage in names.STAGES:
        mine = [r.info for r in runs if names.stage_of(r.data.tags) == stage]
        if not mine:
            continue
        start, end = min(i.start_time for i in mine), max(i.end_time or i.start_time for i in mine)
        metrics[f"stage/{stage}/trials"] = len(mine)
        metrics[f"stage/{stage}/trial_hours"] = sum((i.end_time or i.start_time) - i.start_time for i in mine) / 3.6e6
        tags |= {f"stage.{stage}.start": _utc(start), f"stage.{stage}.end": _utc(end)}
    return metrics, tags


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def finalize(sweep, results, register: str | None = None) -> dict:
    """Summarise the children into the parent run and end it; returns the summary for the terminal."""
    client = MlflowClient(sweep.tracking_uri)
    runs = child_runs(client, sweep.experiment_id, sweep.parent_run_id)
    counts = Counter(names.outcome_of(r.data.tags) for r in runs)
    parent = client.get_run(sweep.parent_run_id)
    best = best_run(runs, parent.data.params)  # of the verdict's stage: the one rule (sweeps.tracking.best_run)
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
    mlflow.set_tracking_uri(sweep.tracking_uri)
    with mlflow.start_run(run_id=sweep.parent_run_id):
        mlflow.log_metrics({f"trials/{o}": counts.get(o, 0) for o in OUTCOMES} | {"trial_hours": hours}
                           | stage_metrics)
        mlflow.set_tags(stage_tags)
        stages = list(names.STAGES) if sweep.spec.confirm else [names.SEARCH]
        mlflow.set_tag(names.NOTE, sweep_description(sweep.spec.name, summary, sweep.spec.metric, stages,
                                                     names.REPORT_ARTIFACT))
        if best is not None:
            mlflow.log_metric(names.best_metric(sweep.spec.metric), summary["best_value"])
            mlflow.set_tags({names.BEST_RUN_ID: best.info.run_id,
                             names.BEST_TRIAL_ID: best.data.tags.get(names.TRIAL_ID, "")})
            if parent.data.tags.get(names.BEST_MODEL_RUN) != best.info.run_id:  # once, also on a second resume
                log_best_model(sweep, best, results, register)
                mlflow.set_tag(names.BEST_MODEL_RUN, best.info.run_id)
    return summary
