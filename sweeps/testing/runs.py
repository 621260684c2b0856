"""What a sweep left behind: its parent and trial runs in MLflow, and the results in Tune's trial folders."""

from __future__ import annotations

import json
import os

from mlflow import MlflowClient


def runs_of(tracking_uri: str, experiment: str) -> tuple[list, list]:
    """(parent runs, trial runs) of an experiment; both empty while it does not exist yet."""
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000) if exp else []
    return ([r for r in runs if r.data.tags.get("sweep_role") == "parent"],
            [r for r in runs if r.data.tags.get("sweep_role") == "trial"])


def metric_steps(tracking_uri: str, run_id: str, key: str = "epoch") -> list[int]:
    """The sorted steps (epochs) at which a run has `key` stored; a step stored twice shows twice."""
    return sorted(m.step for m in MlflowClient(tracking_uri).get_metric_history(run_id, key))


def result_rows(sweep_dir: str) -> dict[str, list[dict]]:
    """Every result each trial reported, from Tune's result.json files (restored trials append to theirs)."""
    rows = {}
    for root, _, files in os.walk(sweep_dir):
        if "result.json" in files:
            with open(os.path.join(root, "result.json")) as fh:
                found = [json.loads(line) for line in fh if line.strip()]
            if found:
                rows[found[0]["trial_id"]] = found
    return rows


def restores(sweep_dir: str) -> dict:
    """Trials restored from a checkpoint, the epoch each went on at, restarts from epoch 0, epochs trained twice."""
    out = {"trials_retried": 0, "resumed_at": [], "restarted_from_0": 0, "epochs_redone": 0}
    for rows in result_rows(sweep_dir).values():
        # A restored trial's first result has iterations_since_restore 1 at an epoch past the first.
        resumed = [r["epoch"] for r in rows if r.get("iterations_since_restore") == 1 and r["epoch"] > 1]
        out["trials_retried"] += bool(resumed)
        out["resumed_at"] += resumed
        out["restarted_from_0"] += sum(r["epoch"] == 1 for r in rows) - 1  # no checkpoint yet when it failed
        out["epochs_redone"] += len(rows) - len({r["epoch"] for r in rows})
    return out


def checkpointed_mid_way(experiment_dir: str, epochs: int) -> bool:
    """Whether Tune's saved state in experiment_dir holds a running trial with a checkpoint and epochs still
    to go: a driver killed now resumes it from that checkpoint, not from epoch 0."""
    return any(t["status"] == "RUNNING" and t["checkpoint_epoch"] and t["epoch"] < epochs - 1
               for t in saved_trials(experiment_dir))


def saved_trials(experiment_dir: str) -> list[dict]:
    """Each trial in Tune's newest saved experiment state: status, last epoch, epoch of its latest checkpoint.

    This is what a resume restores from, so a test that kills a driver waits on it rather than on MLflow,
    which lags the trials and says nothing of whether Tune's snapshot holds their checkpoints yet.
    """
    from ray.tune.trainable.metadata import _TrainingRunMetadata  # Tune's own reader of its state

    states = sorted(f for f in os.listdir(experiment_dir) if f.startswith("experiment_state-")) \
        if os.path.isdir(experiment_dir) else []
    try:
        with open(os.path.join(experiment_dir, states[-1])) as fh:
            trial_data = json.load(fh)["trial_data"]
    except (IndexError, OSError, ValueError):  # none yet, or caught mid-write
        return []
    out = []
    for trial_json, metadata_json in trial_data:
        meta = _TrainingRunMetadata.from_json_state(metadata_json)
        latest = meta.checkpoint_manager.latest_checkpoint_result
        out.append({"status": json.loads(trial_json)["status"], "epoch": (meta.last_result or {}).get("epoch", 0),
                    "checkpoint_epoch": latest.metrics.get("epoch") if latest else None})
    return out
