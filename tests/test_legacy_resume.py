"""A sweep saved before sweeps/ had rooms resumes after the move: Tune unpickles its old class paths
(sweeps.blocked.ArmSearcher, sweeps.tuning.trainable, sweeps.live.SweepConsole, ...) through
sweeps.engine.legacy, and every trial ends in MLflow exactly once (tests/fixtures/legacy_sweep/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sweeps.testing.runs import metric_steps, runs_of

FIXTURE = Path(__file__).parent / "fixtures" / "legacy_sweep" / "state.tgz"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_sweep_saved_by_the_flat_layout_resumes_exactly_once(tmp_path) -> None:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the state names sqlite:///mlflow.db, relative to this folder
    _, before = runs_of(uri, "legacy")
    assert len(before) == 2 and all(r.info.status == "RUNNING" for r in before)  # killed mid-search
    folder = next((tmp_path / "ray_results").glob("legacy_*"))
    assert b"sweeps.blocked" in (folder / "tuner.pkl").read_bytes()  # pickled by the old class paths

    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "resume", str(folder), "--no-report"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parents, trials = runs_of(uri, "legacy")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {r.info.run_id for r in before} <= {r.info.run_id for r in trials}  # the same runs, continued
    stages = [r.data.tags["stage"] for r in trials]
    assert stages.count("search") == 4 and stages.count("confirm") == 4
    for run in trials:
        assert run.info.status == "FINISHED" and run.data.tags["outcome"] in ("completed", "pruned")
        steps = metric_steps(uri, run.info.run_id)
        assert steps == list(range(1, len(steps) + 1)) and steps, (run.info.run_id, steps)  # each epoch once
    assert "Training error, confirm runs" in done.stdout
