"""Search rounds with adequacy checks, end to end on a real local Ray and a real `mlflow server` over HTTP.

A learning-rate range far too low is widened until the best lies above its original top; one far too high reports
the net's stability limit and is never widened upwards; every arm of a round gets the same number of trials; a
driver killed in round 2 resumes into one run per trial, every epoch logged once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient
from test_sweep_e2e import CLI, epochs_logged, write_spec

from sweeps.testing.procs import group_alive, wait_until
from sweeps.testing.runs import checkpointed_mid_way, runs_of, saved_trials

pytestmark = pytest.mark.slow
PER_ARM = 2


def run_sweep(folder: Path, url: str, **spec) -> tuple[dict, list, list]:
    """Run a spec to the end; (adequacy record from the parent run, parent runs, trial runs)."""
    path = write_spec(str(folder), **spec)
    done = subprocess.run([*CLI, "run", path, "--tracking-uri", url, "--no-report"], cwd=folder,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return record_of(url, spec["name"])


def record_of(url: str, name: str) -> tuple[dict, list, list]:
    parents, children = runs_of(url, name)
    assert len(parents) == 1
    local = MlflowClient(url).download_artifacts(parents[0].info.run_id, "adequacy.json")
    with open(local) as fh:
        return json.load(fh), parents, children


def per_round(children: list) -> dict[str, Counter]:
    """Search trials per round and arm (residual), from the runs' search_round tags."""
    out: dict[str, Counter] = {}
    for run in children:
        if run.data.tags.get("stage") == "search":
            out.setdefault(run.data.tags["search_round"], Counter())[run.data.params["residual"]] += 1
    return out


def digits(name: str, lr: list, residual: list, epochs: int, rounds: dict, **more) -> dict:
    return dict(name=name, dataset="digits", train={"epochs": epochs, "batch_size": 64, "depth": 8},
                search_space={"residual": {"choice": residual}, "lr": {"loguniform": lr}}, search="optuna",
                scheduler="none", per_arm=PER_ARM, max_concurrent_trials=2, checkpoint_every=1,
                confirm={"seeds": 2, "factors": ["residual"]}, rounds=rounds) | more


def test_a_range_far_too_low_is_widened_until_the_best_lies_above_its_top(mlflow_http, tmp_path) -> None:
    record, parents, children = run_sweep(tmp_path, mlflow_http.url,
                                          **digits("lowlr", [1e-5, 1e-4], [True, False], 3, {"max": 3}))
    assert len(record["arms"]) == 2 and record["rounds"] >= 2
    for arm in record["arms"]:
        final = arm["ranges"]["lr"]["final"]
        assert arm["ranges"]["lr"]["start"] == [1e-5, 1e-4] and final[1] > 1e-4, arm
        assert arm["rounds"] >= 2 and arm["trials"] == PER_ARM * arm["rounds"]
    assert max(a["best"]["params"]["lr"] for a in record["arms"]) > 1e-4
    # Every arm that took part in a round got the same number of trials in it.
    rounds = per_round(children)
    assert set(rounds) == {str(r) for r in range(1, record["rounds"] + 1)}
    for counts in rounds.values():
        assert set(counts.values()) == {PER_ARM}
    assert parents[0].data.metrics["search/rounds"] == record["rounds"]
    assert parents[0].data.tags["search.stopped"] == record["stopped"]


def test_a_range_far_too_high_reports_a_stability_limit_and_is_not_widened_upwards(mlflow_http, tmp_path) -> None:
    # Plain depth 8 at batch 64 trains at lr 3 and blows up (loss > 1e3) from about lr 30.
    record, _, children = run_sweep(tmp_path, mlflow_http.url,
                                    **digits("highlr", [1.0, 1000.0], [False], 2, {"max": 2}, per_arm=3))
    (arm,) = record["arms"]
    assert arm["diverged"] >= 1
    assert arm["ranges"]["lr"]["final"][1] == 1000.0  # never widened upwards
    said = json.dumps(arm)
    assert "stability limit" in said or "high" in arm["stability"].get("lr", {}), arm
    diverged = [r for r in children if r.data.tags.get("outcome") == "diverged"]
    assert diverged and all(float(r.data.params["lr"]) > arm["best"]["params"]["lr"] for r in diverged)


@pytest.mark.timeout(900)
def test_a_driver_killed_in_round_2_resumes_exactly_once(mlflow_http, tmp_path) -> None:
    epochs = 6
    path = write_spec(str(tmp_path), **digits("killround", [1e-5, 1e-4], [True, False], epochs, {"max": 2}))
    results = tmp_path / "ray_results"

    def in_round_2() -> bool:
        """Round 1 checked, and Tune's saved state (what a resume restores) holds round-2 trials, one of them running
        with a checkpoint: after the round's barrier, every running trial is a round-2 trial."""
        sweeps = list(results.glob("killround_*")) if results.is_dir() else []
        return any(any(s.glob("adequacy-round*.json")) and len(saved_trials(str(s))) > 2 * PER_ARM
                   and checkpointed_mid_way(str(s), epochs) for s in sweeps)

    driver = subprocess.Popen([*CLI, "run", path, "--tracking-uri", mlflow_http.url, "--no-report"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(in_round_2, 400, "no round-2 trial ever checkpointed", every_s=0.1, process=driver)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started
        driver.wait()
    wait_until(lambda: not group_alive(driver.pid), 60, "the killed sweep's processes still run")
    _, before = runs_of(mlflow_http.url, "killround")
    assert {r.data.tags.get("search_round") for r in before} == {"1", "2"}

    done = subprocess.run([*CLI, "resume", "killround", "--no-report"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record, parents, children = record_of(mlflow_http.url, "killround")
    assert {r.info.run_id for r in before} <= {r.info.run_id for r in children}  # the same runs, continued
    rounds = per_round(children)
    assert set(rounds) == {"1", "2"} and all(set(c.values()) == {PER_ARM} for c in rounds.values())
    assert sum(r.data.tags.get("stage") == "confirm" for r in children) == 2 * 2
    for run in children:
        assert run.info.status == "FINISHED" and run.data.tags["outcome"] == "completed", run.data.tags
        assert epochs_logged(mlflow_http.url, run) == list(range(1, epochs + 1))  # every epoch, exactly once
    assert record["rounds"] == 2 and sum(a["trials"] for a in record["arms"]) == len(children) - 4
