"""The blocked search of a confirm sweep, end to end on a real local Ray and a real `mlflow server` over HTTP:
every arm the same budget, rungs per arm, picks from the arm's own trials, and a kill then resume."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter

import pytest
from mlflow import MlflowClient
from test_sweep_e2e import CLI, epochs_logged, write_spec

from sweeps.testing.procs import group_alive, wait_until
from sweeps.testing.runs import checkpointed_mid_way, restores, runs_of

pytestmark = pytest.mark.slow
PER_ARM, EPOCHS = 4, 3


def _stage(children: list, stage: str) -> list:
    return [r for r in children if r.data.tags.get("stage") == stage]


def _history(uri: str, run) -> dict[int, float]:
    """A run's val/acc by epoch."""
    return {m.step: m.value for m in MlflowClient(uri).get_metric_history(run.info.run_id, "val/acc")}


@pytest.fixture(scope="module")
def lopsided(mlflow_http, tmp_path_factory):
    """Two arms, one much worse (lr 1e-4 barely learns), each searched over momentum with its own ASHA rungs."""
    folder = tmp_path_factory.mktemp("lopsided")
    spec = write_spec(str(folder), name="lopsided", dataset="synthetic",
                      train={"epochs": EPOCHS, "batch_size": 64, "width": 0.5, "depth": 8},
                      search_space={"lr": {"choice": [0.1, 0.0001]}, "momentum": {"uniform": [0.5, 0.95]}},
                      search="optuna", scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
                      per_arm=PER_ARM, max_concurrent_trials=2, checkpoint_every=1,
                      confirm={"seeds": 2, "factors": ["lr"]},
                      rounds=False)  # one search round: its trials are counted (rounds: test_rounds_e2e)
    done = subprocess.run([*CLI, "run", spec, "--tracking-uri", mlflow_http.url, "--no-report"], cwd=folder,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return mlflow_http.url, runs_of(mlflow_http.url, "lopsided")


def test_every_arm_gets_exactly_the_same_search_budget(lopsided) -> None:
    _, (parents, children) = lopsided
    search = _stage(children, "search")
    assert Counter(r.data.params["lr"] for r in search) == {"0.1": PER_ARM, "0.0001": PER_ARM}
    assert len(_stage(children, "confirm")) == 2 * 2 and len(parents) == 1


def test_a_trial_is_stopped_only_by_its_own_arm(lopsided) -> None:
    uri, (_, children) = lopsided
    search = _stage(children, "search")
    worse = [r for r in search if r.data.params["lr"] == "0.0001"]
    better = [r for r in search if r.data.params["lr"] == "0.1"]
    assert min(r.data.metrics["val/acc"] for r in better) > max(r.data.metrics["val/acc"] for r in worse)
    # One shared ASHA would stop every trial of the worse arm at its first rung; per arm, its best goes on.
    assert any(r.data.tags["outcome"] == "completed" for r in worse)
    histories = {r.info.run_id: _history(uri, r) for r in search}
    for run in search:
        if run.data.tags["outcome"] != "pruned":
            continue
        stop = max(histories[run.info.run_id])
        peers = [histories[r.info.run_id].get(stop) for r in search
                 if r.data.params["lr"] == run.data.params["lr"] and r.info.run_id != run.info.run_id]
        # ASHA stops a trial below its rung's cutoff: some trial of its own arm did better at that epoch
        assert any(v is not None and v > histories[run.info.run_id][stop] for v in peers), run.info.run_id


def test_no_pick_comes_from_another_arm(lopsided) -> None:
    _, (_, children) = lopsided
    arm_of = {r.data.tags["trial_id"]: r.data.params["lr"] for r in _stage(children, "search")}
    for run in _stage(children, "confirm"):
        sources = run.data.tags["pick_source"].split(",")
        assert run.data.tags["pick_rule"] in ("completed", "pruned")
        assert {arm_of[s] for s in sources} == {run.data.params["lr"]}


@pytest.mark.timeout(900)
def test_a_kill_during_the_blocked_search_then_resume_gives_one_run_per_trial(mlflow_http, tmp_path) -> None:
    epochs = 6
    spec = write_spec(str(tmp_path), name="killblocked", dataset="digits",
                      train={"epochs": epochs, "batch_size": 32, "depth": 8},
                      search_space={"residual": {"choice": [True, False]}, "lr": {"loguniform": [0.01, 0.1]}},
                      search="optuna", scheduler="none", per_arm=2, max_concurrent_trials=2, checkpoint_every=2,
                      confirm={"seeds": 2, "factors": ["residual"]},
                      rounds=False)  # one search round: its trials are counted (rounds: test_rounds_e2e)
    results = tmp_path / "ray_results"

    def mid_way() -> bool:
        return any(checkpointed_mid_way(str(p), epochs) for p in results.glob("killblocked_*")) \
            if results.is_dir() else False

    driver = subprocess.Popen([*CLI, "run", spec, "--tracking-uri", mlflow_http.url, "--no-report"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(mid_way, 400, "Tune's saved search state never held a running trial with a checkpoint",
                   every_s=0.1)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started
        driver.wait()
    wait_until(lambda: not group_alive(driver.pid), 60, "the killed sweep's processes still run")
    _, before = runs_of(mlflow_http.url, "killblocked")
    assert not _stage(before, "confirm")  # killed inside the search

    done = subprocess.run([*CLI, "resume", "killblocked", "--no-report"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parents, children = runs_of(mlflow_http.url, "killblocked")
    search = _stage(children, "search")
    assert len(parents) == 1 and Counter(r.data.params["residual"] for r in search) == {"True": 2, "False": 2}
    assert len(_stage(children, "confirm")) == 4
    assert {r.info.run_id for r in before} <= {r.info.run_id for r in children}  # the same runs, continued
    for run in children:
        assert run.info.status == "FINISHED" and run.data.tags["outcome"] == "completed"
        assert epochs_logged(mlflow_http.url, run) == list(range(1, epochs + 1))  # every epoch, exactly once
    sweep_dir = next(p for p in results.iterdir() if p.name.startswith("killblocked_"))
    assert restores(str(sweep_dir))["trials_retried"] >= 1
