"""D12: a driver killed at any point of a sweep's start-up leaves either nothing (never started) or a sweep that
`resnet-sweep resume` finishes, with one parent run, every trial once, and no run left RUNNING.

Each case runs `resnet-sweep run` in a fresh process that SIGKILLs itself right after one step of the start-up
(the step's function is wrapped in that process only), against a real `mlflow server`, then resumes by name."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest

from sweeps.testing.procs import group_alive, wait_until
from sweeps.testing.runs import metric_steps, runs_of

SPEC = """\
name: {name}
dataset: synthetic
train: {{epochs: 2, batch_size: 64, width: 0.5, depth: 8}}
search_space:
  residual: {{choice: [true, false]}}
  lr: {{loguniform: [0.02, 0.2]}}
search: optuna
scheduler: none
num_samples: 2
max_concurrent_trials: 2
checkpoint_every: 1
"""
# Wrap `target` of `module` so that the process kills itself after its `nth` call returns.
DRIVER = """\
import importlib, os, signal, sys
module, target, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
mod = importlib.import_module(module)
original, calls = getattr(mod, target), []
def wrapped(*args, **kwargs):
    out = original(*args, **kwargs)
    calls.append(1)
    if len(calls) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return out
setattr(mod, target, wrapped)
from sweeps.cli.resnet_sweep import main
sys.exit(main(sys.argv[4:]))
"""
RUNNER = "sweeps.engine.runner"
# (step, module, function, nth call): every step of prepare_run, and the hand-over to Tune.
POINTS = [("ray started", RUNNER, "start_ray", 1),
          ("state written, no parent run yet", RUNNER, "write_state", 1),
          ("parent run open, state without it", RUNNER, "open_parent_run", 1),
          ("state names the parent run", RUNNER, "write_state", 2),
          ("tuner built, nothing fitted", "sweeps.engine.stages", "tuner_for", 1)]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("step, module, target, nth", POINTS, ids=[p[0].replace(" ", "-") for p in POINTS])
def test_a_kill_during_start_up_leaves_a_resumable_sweep_or_none(mlflow_http, tmp_path, step, module, target,
                                                                  nth) -> None:
    name = f"startkill{POINTS.index((step, module, target, nth))}"
    (tmp_path / "spec.yaml").write_text(SPEC.format(name=name))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env["MLFLOW_TRACKING_URI"] = mlflow_http.url
    cmd = [sys.executable, "driver.py", module, target, str(nth), "run", "spec.yaml", "--no-report"]
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        out, _ = driver.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the local Ray it started
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == -signal.SIGKILL, f"the driver was not killed after {step}:\n{out[-3000:]}"
    wait_until(lambda: not group_alive(driver.pid), 60, "the killed driver's processes still run")

    resumed = subprocess.run([sys.executable, "-m", "sweeps.cli", "resume", name, "--no-report"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=400)
    parents, trials = runs_of(mlflow_http.url, name)
    if not (tmp_path / "ray_results").exists():  # killed before the sweep existed: nothing to resume, nothing left
        assert step == "ray started"
        assert resumed.returncode == 2 and f"no sweep folder {name!r}" in resumed.stderr, resumed.stderr
        assert parents == [] and trials == []
        return
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert len(parents) == 1 and len(trials) == 2, (parents, trials)
    for run in parents + trials:
        assert run.info.status == "FINISHED", (run.info.run_id, run.info.status)
    for run in trials:
        assert run.data.tags["outcome"] == "completed"
        assert metric_steps(mlflow_http.url, run.info.run_id) == [1, 2]  # every epoch, each exactly once
    assert parents[0].data.tags.get("best_model_run") in {r.info.run_id for r in trials}
