"""Search, then confirm, end to end on a real local Ray and a real `mlflow server` over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from test_api import load_elsewhere
from test_sweep_e2e import CLI, epochs_logged, write_spec

import sweeps
from dashboards.verdict.confirm import PICK_RULES, confirm_verdict
from sweeps.tracking.runs import load_sweep
from sweeps.storage.paths import STATE_FILE
from sweeps.testing.procs import group_alive, wait_until
from sweeps.testing.runs import checkpointed_mid_way, restores, runs_of, saved_trials

pytestmark = pytest.mark.slow
SEEDS = 2
EPOCHS = 8  # of the kill test: enough that the driver is killed inside a confirm trial


@pytest.fixture(scope="module")
def server(mlflow_http):
    """The session's real `mlflow server` (each test uses its own experiment)."""
    return mlflow_http


def _stage(children: list, stage: str) -> list:
    return [r for r in children if r.data.tags.get("stage") == stage]


@pytest.fixture(scope="module")
def confirmed(server, tmp_path_factory):
    """A tiny optuna search over depth x residual x lr, then K=2 confirm seeds per arm, with its report."""
    folder = tmp_path_factory.mktemp("confirm")
    spec = write_spec(str(folder), name="csmoke", dataset="synthetic",
                      train={"epochs": 2, "batch_size": 64, "width": 0.5},
                      search_space={"depth": {"choice": [8, 14]}, "residual": {"choice": [True, False]},
                                    "lr": {"loguniform": [0.02, 0.2]}},
                      search="optuna", scheduler="none", per_arm=1, max_concurrent_trials=2, checkpoint_every=1,
                      confirm={"seeds": SEEDS, "factors": ["depth", "residual"]},
                      rounds=False)  # one search round: its trials are counted (rounds: test_rounds_e2e)
    done = subprocess.run([*CLI, "run", spec, "--tracking-uri", server.url], cwd=folder,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return server.url, folder, done.stdout


def test_both_stages_land_under_one_parent_with_fresh_seeds(confirmed) -> None:
    uri, folder, stdout = confirmed
    parents, children = runs_of(uri, "csmoke")
    search, confirm = _stage(children, "search"), _stage(children, "confirm")
    assert len(parents) == 1 and len(search) == 4 and len(confirm) == 4 * SEEDS == len(children) - 4
    assert Counter((r.data.params["depth"], r.data.params["residual"]) for r in search) == {
        (d, r): 1 for d in ("8", "14") for r in ("True", "False")}  # every arm searched once
    arms = Counter((r.data.params["depth"], r.data.params["residual"]) for r in confirm)
    assert arms == {(d, r): SEEDS for d in ("8", "14") for r in ("True", "False")}  # every arm, exactly K runs
    search_seeds = {r.data.params["seed"] for r in search}
    confirm_seeds = {r.data.params["seed"] for r in confirm}
    assert len(confirm_seeds) == SEEDS and not search_seeds & confirm_seeds
    for run in confirm:
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.info.status == "FINISHED" and run.data.tags["outcome"] == "completed"
        assert run.data.tags["pick_rule"] in PICK_RULES and epochs_logged(uri, run) == [1, 2]
    metrics, tags = parents[0].data.metrics, parents[0].data.tags
    assert metrics["stage/search/trials"] == 4 and metrics["stage/confirm/trials"] == 4 * SEEDS
    assert tags["stage.search.end"] <= tags["stage.confirm.start"]
    sweep_dir = next(p for p in (folder / "ray_results").iterdir() if p.name.startswith("csmoke_"))
    assert json.loads((sweep_dir / STATE_FILE).read_text())["stage"] == "confirm"
    assert (sweep_dir / "confirm").is_dir() and "confirm 8 trials" in stdout


def test_verdict_numbers_equal_scipy_on_the_same_runs(confirmed) -> None:
    uri, folder, _ = confirmed
    verdict = confirm_verdict(load_sweep("csmoke", uri).trials)
    _, children = runs_of(uri, "csmoke")
    train = verdict[verdict["column"] == "train_err_pct"].set_index("depth")
    assert sorted(train.index) == [8, 14]
    for depth in (8, 14):
        arm = {flag: np.array([100 * r.data.metrics["train/error"] for r in _stage(children, "confirm")
                               if r.data.params["depth"] == str(depth) and r.data.params["residual"] == flag])
               for flag in ("True", "False")}
        test = scipy_stats.ttest_ind(arm["True"], arm["False"], equal_var=False)
        row = train.loc[depth]
        assert row["diff"] == pytest.approx(arm["True"].mean() - arm["False"].mean())
        assert row["p"] == pytest.approx(test.pvalue, nan_ok=True)
        assert row["lo"] == pytest.approx(test.confidence_interval(0.95).low, nan_ok=True)
    page = (folder / "reports" / "csmoke" / "report.html").read_text()
    assert '<p class="headline">' in page and 'class="dataframe confirm-verdict"' in page
    assert "How each arm was picked" in page and "Search runs, per init" in page


def test_api_load_from_a_new_process_gives_the_same_trials_and_verdict(confirmed) -> None:
    """sweeps.load here and in a fresh interpreter: the same run ids, the same verdict table and headline, and
    they are what the command line printed."""
    uri, _, stdout = confirmed
    here, there = sweeps.load("csmoke", tracking_uri=uri), load_elsewhere("csmoke", uri)
    assert len(here.verdict) == 2 and there["verdict"] == here.verdict.to_json()
    assert there["run_ids"] == list(here.trials["run_id"]) and len(there["run_ids"]) == 4 + 4 * SEEDS
    assert there["headline"] == here.headline and here.headline.split(":")[0] in stdout
    assert set(here.figures) >= {"confirm_degradation", "tuning_budget", "degradation"}


def _checkpointed_mid_way(results: Path) -> bool:
    """Whether Tune's saved confirm state holds a running trial with a checkpoint and epochs still to go."""
    confirm = [p / "confirm" for p in results.glob("killconfirm_*")] if results.is_dir() else []
    return any(checkpointed_mid_way(str(folder), EPOCHS) for folder in confirm)


def _search_trained(results: Path) -> bool:
    """Whether Tune's saved search state holds a running trial that has trained an epoch."""
    return any(t["status"] == "RUNNING" and t["epoch"] >= 1
               for folder in results.glob("killconfirm_*") for t in saved_trials(str(folder)))


@pytest.mark.timeout(1200)  # two stages, a Ctrl-C, a kill and two resumes on a shared, loaded 2-core machine
def test_ctrl_c_in_search_then_kill_in_confirm_resume_into_one_run_per_trial(server, tmp_path) -> None:
    spec = write_spec(str(tmp_path), name="killconfirm", dataset="digits",
                      train={"epochs": EPOCHS, "batch_size": 32, "depth": 8},
                      search_space={"residual": {"grid": [True, False]}}, search="grid", scheduler="none",
                      max_concurrent_trials=2, checkpoint_every=2, confirm={"seeds": 2, "factors": ["residual"]})
    results = tmp_path / "ray_results"
    # Ctrl-C during the search: Tune stops it gracefully, and the sweep must not go on to confirm half a search.
    with open(tmp_path / "run.log", "w") as log:
        driver = subprocess.Popen([*CLI, "run", spec, "--tracking-uri", server.url, "--no-report"], cwd=tmp_path,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: _search_trained(results), 400, "no search trial of killconfirm trained", every_s=0.2)
            os.killpg(driver.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole foreground group
            driver.wait(timeout=180)
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever of it did not stop on its own
                os.killpg(driver.pid, signal.SIGKILL)
    printed = (tmp_path / "run.log").read_text()
    assert "search interrupted" in printed, printed[-3000:]
    assert not _stage(runs_of(server.url, "killconfirm")[1], "confirm")
    sweep_dir = next(p for p in results.iterdir() if p.name.startswith("killconfirm_"))
    assert json.loads((sweep_dir / STATE_FILE).read_text())["stage"] == "search"

    # Resumed, the search finishes and the confirm stage starts; the driver is killed inside it.
    driver = subprocess.Popen([*CLI, "resume", "killconfirm", "--no-report"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: _checkpointed_mid_way(results), 400,
                   "Tune's saved state never held a running confirm trial with a checkpoint", every_s=0.1)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started
        driver.wait()
    wait_until(lambda: not group_alive(driver.pid), 60, "the killed sweep's processes still run")
    _, before = runs_of(server.url, "killconfirm")
    assert sum(r.info.status == "FINISHED" for r in _stage(before, "confirm")) < 4  # killed mid-stage

    done = subprocess.run([*CLI, "resume", "killconfirm", "--no-report"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parents, children = runs_of(server.url, "killconfirm")
    assert len(parents) == 1 and len(_stage(children, "search")) == 2 and len(_stage(children, "confirm")) == 4
    assert {r.info.run_id for r in before} <= {r.info.run_id for r in children}  # the same runs, continued
    for run in parents + children:
        assert run.info.status != "RUNNING"
    for run in children:
        assert epochs_logged(server.url, run) == list(range(1, EPOCHS + 1))  # every epoch, each exactly once
        assert run.data.tags["outcome"] == "completed"
    restored = restores(str(sweep_dir / "confirm"))["resumed_at"]
    print(f"kill during confirm/resume: trials restored mid-way at epochs {restored}")
    assert restored and all(e > 1 for e in restored)
