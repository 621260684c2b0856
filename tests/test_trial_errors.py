"""Trials that end in an exception are tagged errored, never pruned: a real local Ray and `mlflow server`."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from mlflow import MlflowClient

from sweeps.tracking.runs import child_runs, find_parent

pytestmark = pytest.mark.slow

# The driver of a sweep whose metric is a typo, which spec validation now refuses: built past the validation
# to reproduce the old failure, in which Tune dies on the first result lacking the metric.
TYPO_DRIVER = """
import dataclasses, sys
from sweeps.engine.runner import run_sweep
from sweeps.spec import load_spec
spec = dataclasses.replace(load_spec(sys.argv[1]), metric="val/accuracy")
run_sweep(spec, tracking_uri=sys.argv[2], storage_path=sys.argv[3])
"""


def test_raising_trial_and_crashed_sweep_end_errored(mlflow_http, tmp_path) -> None:
    """Trial A raises in its trainable (CIFAR-10 into a data_dir that is a file); trial B's first result has
    no `val/accuracy`, so the sweep dies mid-step. Both runs must end errored and FAILED, none pruned."""
    not_a_dir = tmp_path / "not-a-dir"
    not_a_dir.write_text("a file where CIFAR-10 would be downloaded")
    spec = {"name": "errored", "train": {"epochs": 2, "batch_size": 64, "depth": 8, "data_dir": str(not_a_dir)},
            "search_space": {"dataset": {"grid": ["cifar10", "synthetic"]}}, "search": "grid",
            "scheduler": "none", "max_concurrent_trials": 2, "max_failures": 0}
    (tmp_path / "errored.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run([sys.executable, "-c", TYPO_DRIVER, str(tmp_path / "errored.yaml"), mlflow_http.url,
                           str(tmp_path / "runs")], cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert done.returncode != 0, "the sweep with a metric no trial reports must fail"
    client = MlflowClient(mlflow_http.url)
    parent = find_parent(client, "errored")
    runs = child_runs(client, parent.info.experiment_id, parent.info.run_id)
    by_dataset = {r.data.params["dataset"]: r for r in runs}
    assert set(by_dataset) == {"cifar10", "synthetic"}, done.stderr[-3000:]
    for dataset, run in by_dataset.items():
        assert (dataset, run.data.tags.get("outcome"), run.info.status) == (dataset, "errored", "FAILED")
    assert parent.info.status == "FAILED"
