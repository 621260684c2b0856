"""The dashboards loader against a real (sqlite) MLflow store: old metric and tag names load as the new ones."""

from __future__ import annotations

import math

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from dashboards.load import load_sweep


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
    assert "lr" not in data.history

