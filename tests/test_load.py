"""The dashboards loader on a real (sqlite) MLflow store: old names load as the new ones, frames come normalised."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from sweeps.tracking.runs import load_sweep, normalise_trials

SPEC = "name: mixed\ndataset: synthetic\nsearch_space: {lr: {grid: [0.1, 0.2]}}\n"


def _trial(client: MlflowClient, exp: str, parent: str, names: dict, lr: float, diverge: bool) -> str:
    """A finished child run logged under the given metric/tag names (old or new), 2 epochs, peak lr as param."""
    tags = {MLFLOW_PARENT_RUN_ID: parent, "sweep_role": "trial", "outcome": "diverged" if diverge else "completed",
            names["hardware"]: "cpu: x86_64 x2"}
    run_id = client.create_run(exp, tags=tags).info.run_id
    for key, value in {"depth": 8, "residual": True, "lr": lr, "seed": 0, "epochs": 2}.items():
        client.log_param(run_id, key, value)
    metrics = [Metric("epoch", e, 0, e) for e in (1, 2)]
    metrics += [Metric(names["lr"], lr / e, 0, e) for e in (1, 2)]  # the schedule's value, below the peak
    metrics += [Metric("val/acc", 0.3 * e, 0, e) for e in (1, 2)]
    if diverge:
        metrics.append(Metric(names["diverged"], 1.0, 0, 2))
    client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id, "FINISHED")
    return run_id


@pytest.fixture(scope="module")
def mixed_sweep(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A sweep whose trials were logged under the old names (lr, diverged, device) and the new ones."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('load') / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("mixed")
    parent = client.create_run(exp, tags={"sweep_role": "parent", "sweep": "mixed"}).info.run_id
    client.log_param(parent, "seed", 0)  # an old parent run: the search seed under its old name
    client.log_text(parent, SPEC, "spec.yaml")
    old = {"lr": "lr", "diverged": "diverged", "hardware": "device"}
    new = {"lr": "train/lr", "diverged": "train/diverged", "hardware": "hardware"}
    ids = {"old": _trial(client, exp, parent, old, 0.1, diverge=True),
           "new": _trial(client, exp, parent, new, 0.2, diverge=True)}
    return uri, ids


def test_old_and_new_names_load_alike(mixed_sweep) -> None:
    uri, ids = mixed_sweep
    data = load_sweep("mixed", uri, history=True)
    trials = data.trials.set_index("run_id")
    for which, peak in (("old", 0.1), ("new", 0.2)):
        row = trials.loc[ids[which]]
        assert row["lr"] == peak  # the column is the param (the peak), never the schedule's last value
        assert math.isclose(row["train/lr"], peak / 2) and row["train/diverged"] == 1.0
        assert row["hardware"] == "cpu: x86_64 x2"
    assert not {"diverged", "device"} & set(data.trials)
    hist = data.history.set_index(["run_id", "epoch"])
    for which, peak in (("old", 0.1), ("new", 0.2)):
        assert [hist.loc[(ids[which], e), "train/lr"] for e in (1, 2)] == [peak, peak / 2]
    assert {"diverged", "device"}.isdisjoint(data.history)


def test_load_sweep_returns_normalised_frames(mixed_sweep) -> None:
    """No init param logged: filled "default"; residual bool; history carries each trial's config; the spec read."""
    uri, ids = mixed_sweep
    data = load_sweep("mixed", uri, history=True)
    assert (data.trials["init"] == "default").all() and data.trials["residual"].map(type).eq(bool).all()
    assert set(data.trials["outcome"]) == {"diverged"}
    hist = data.history.set_index("run_id")
    assert (hist["init"] == "default").all() and (hist["depth"] == 8).all()
    assert hist.loc[ids["old"], "lr"].tolist() == [0.1, 0.1]  # the trial's peak lr beside the schedule's train/lr
    assert data.spec_text == SPEC and data.spec["dataset"] == "synthetic"


def test_normalise_trials_fills_what_older_or_hand_built_frames_lack() -> None:
    raw = pd.DataFrame({"depth": [20, 20], "residual": ["True", "false"], "init": ["xavier", None]})
    out = normalise_trials(raw)
    assert out["residual"].tolist() == [True, False] and out["init"].tolist() == ["xavier", "default"]
    assert out["outcome"].tolist() == ["completed", "completed"]  # no outcomes: finished runs only
    assert normalise_trials(raw.drop(columns="init"))["init"].eq("default").all()
    assert raw["residual"].tolist() == ["True", "false"]  # the input is left as it was
