"""Sweeps end to end on a real local Ray and a real `mlflow server` over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml
from mlflow import MlflowClient

from resnet_core import hardware
from sweeps.testing.procs import group_alive, wait_until
from sweeps.trial.reports import KEPT_PACKED, PACKED_KEY, TAG_KEYS, tracked_metrics
from sweeps.testing.runs import checkpointed_mid_way, metric_steps, restores, result_rows, runs_of

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "sweeps.cli"]


@pytest.fixture(scope="module")
def server(mlflow_http):
    """The session's real `mlflow server` over HTTP."""
    return mlflow_http


def write_spec(folder, **spec) -> str:
    path = os.path.join(folder, f"{spec['name']}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(spec, fh)
    return path


def epochs_logged(uri: str, run) -> list[int]:
    return metric_steps(uri, run.info.run_id)


def test_smoke_sweep_lands_in_mlflow_complete(smoke_sweep_http) -> None:
    """1 parent, 4 nested children with every param, epoch metrics, outcomes (its time: benchmarks/)."""
    from resnet_core.config import FIELDS

    parents, children = runs_of(smoke_sweep_http.tracking_uri, "smoke")
    assert len(parents) == 1 and len(children) == 4
    for run in children:
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert set(FIELDS) | {"trial_id"} <= set(run.data.params)
        assert run.data.tags["outcome"] == "completed" and run.info.status == "FINISHED"
        assert {"version.torch", "version.ray", "version.mlflow", "version.optuna", "version.python",
                "git_commit", "hardware", "node_id", "cpu_model", "cpu_capability"} <= set(run.data.tags)
        assert "device" not in run.data.tags  # the hardware tag no longer shadows the `device` config field
        assert run.data.tags["precision_used"] == "fp32"
        assert {"train/lr", "train/loss", "val/acc"} <= set(run.data.metrics) and "lr" not in run.data.metrics
        assert epochs_logged(smoke_sweep_http.tracking_uri, run) == [1, 2]
        history = MlflowClient(smoke_sweep_http.tracking_uri).get_metric_history(run.info.run_id, "val/acc")
        assert sorted(m.step for m in history) == [1, 2]
        # Per-block norms reach Tune packed in one string; the tracker unpacks them, one MLflow metric per block.
        blocks = [k for k in run.data.metrics if k.startswith("grad_norm/block_")]
        assert len(blocks) >= 3 and "more_metrics" not in run.data.metrics | run.data.params | run.data.tags
        norms = MlflowClient(smoke_sweep_http.tracking_uri).get_metric_history(run.info.run_id, blocks[0])
        assert sorted(m.step for m in norms) == [1, 2]
        assert not {"training_iteration", "time_total_s", "done"} & set(run.data.metrics)  # no Tune bookkeeping
        # System metrics, sampled in the trial's process each epoch, under MLflow's own names.
        for key in ("system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
                    "system/process_memory_rss_megabytes"):
            steps = MlflowClient(smoke_sweep_http.tracking_uri).get_metric_history(run.info.run_id, key)
            assert sorted(m.step for m in steps) == [1, 2] and all(m.value > 0 for m in steps), key
        assert "gpu_share" not in run.data.tags  # no GPU here; a fractional one would say its figures are shared
        # The data set, as MLflow inputs: one per split the trial used, named, digested, in its context.
        inputs = MlflowClient(smoke_sweep_http.tracking_uri).get_run(run.info.run_id).inputs.dataset_inputs
        contexts = {i.tags[0].value: i.dataset for i in inputs}
        assert {"training", "validation"} <= set(contexts) and len(inputs) == len(contexts)
        assert all(d.name == run.data.params["dataset"] and len(d.digest) == 16 for d in contexts.values())
    assert parents[0].data.metrics["trials/completed"] == 4
    assert parents[0].data.params["search_seed"] == "0" and "seed" not in parents[0].data.params


def test_tune_keeps_a_cut_result_while_result_json_keeps_every_metric(smoke_sweep_http) -> None:
    """Each trial's result.json unpacks to every metric of its run; Tune's saved state keeps the cut result."""
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    folder = smoke_sweep_http.workdir / "ray_results"
    rows = result_rows(str(folder))
    _, children = runs_of(smoke_sweep_http.tracking_uri, "smoke")
    for run in children:
        reported = {k for row in rows[run.data.params["trial_id"]] for k in tracked_metrics(row)}
        assert reported == set(run.data.metrics)
    state = sorted(folder.rglob("experiment_state-*.json"))[-1]
    for _, metadata in json.loads(state.read_text())["trial_data"]:
        run_metadata = _TrainingRunMetadata.from_json_state(metadata)
        last = run_metadata.last_result
        assert last["epoch"] >= 1 and not set(TAG_KEYS) & set(last)
        assert set(json.loads(last[PACKED_KEY])) <= set(KEPT_PACKED)
        assert run_metadata.checkpoint_manager.latest_checkpoint_result is not None  # checkpoints still registered


def test_smoke_sweep_output_is_short_and_names_every_outcome(smoke_sweep_http) -> None:
    """No Tune result dumps: under 150 lines (233 before the console), one finished line per trial."""
    lines = smoke_sweep_http.output.splitlines()
    assert len(lines) < 150, smoke_sweep_http.output
    assert not any("grad_norm/block_" in line for line in lines)  # Tune's per-trial result tables are gone
    _, children = runs_of(smoke_sweep_http.tracking_uri, "smoke")
    for run in children:
        name, outcome = run.data.tags["trial_id"], run.data.tags["outcome"]
        assert sum(line.startswith(f"trial {name} {outcome}: ") for line in lines) == 1, smoke_sweep_http.output
    assert "4 trials (4 completed, 0 pruned, 0 diverged, 0 errored)" in smoke_sweep_http.output


@pytest.fixture(scope="module")
def diverge_sweep(server, tmp_path_factory):
    """A grid of two learning rates on synthetic data: 1e3 must diverge, 0.05 must complete."""
    folder = str(tmp_path_factory.mktemp("diverge"))
    spec = write_spec(folder, name="diverge", dataset="synthetic", train={"epochs": 3, "batch_size": 64},
                      search_space={"depth": {"grid": [8]}, "lr": {"grid": [0.05, 1000.0]}}, search="grid",
                      scheduler={"type": "asha", "grace_period": 2}, max_concurrent_trials=2, checkpoint_every=1)
    done = subprocess.run([*CLI, "run", spec, "--tracking-uri", server.url, "--no-report", "--register",
                           "diverge-best"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return server.url


def test_diverged_trial_is_tagged_and_the_other_completes(diverge_sweep) -> None:
    parents, children = runs_of(diverge_sweep, "diverge")
    assert len(parents) == 1 and len(children) == 2
    by_lr = {float(r.data.params["lr"]): r for r in children}
    assert by_lr[1000.0].data.tags["outcome"] == "diverged"
    assert by_lr[0.05].data.tags["outcome"] == "completed"
    assert by_lr[1000.0].data.metrics["train/diverged"] == 1
    assert epochs_logged(diverge_sweep, by_lr[0.05]) == [1, 2, 3]
    assert all(r.info.status != "RUNNING" for r in parents + children)
    parent = parents[0]
    assert parent.data.metrics["trials/diverged"] == 1 and parent.data.metrics["trials/completed"] == 1
    assert parent.data.tags["best_run_id"] == by_lr[0.05].info.run_id
    # Each run says in one sentence what it is and how it ended; the parent sums up the sweep.
    note = "mlflow.note.content"
    assert by_lr[1000.0].data.tags[note].startswith("ResNet-8, residual, kaiming init, lr 1e+03 on synthetic")
    assert "; diverged (non-finite loss) at epoch" in by_lr[1000.0].data.tags[note]
    assert by_lr[0.05].data.tags[note].endswith("search trial); completed 3 epochs.")
    assert parent.data.tags[note].startswith("Sweep diverge (search): 2 trials (1 completed, 0 pruned, 1 diverged")
    client = MlflowClient(diverge_sweep)
    versions = client.search_model_versions("name = 'diverge-best'")
    assert len(versions) == 1  # the best model, registered once
    champion = client.get_model_version_by_alias("diverge-best", "champion")
    assert champion.version == versions[0].version
    assert champion.tags["sweep"] == "diverge" and champion.tags["trial_run_id"] == by_lr[0.05].info.run_id
    assert champion.tags["trial_id"] == by_lr[0.05].data.tags["trial_id"]
    assert champion.tags["parent_run_id"] == parent.info.run_id


@pytest.mark.skipif(hardware.cpu_bf16_native(), reason="this CPU runs bf16 natively, so bf16 is not refused here")
def test_bf16_on_cpu_without_native_bf16_errors_the_trial_with_its_reason(server, tmp_path) -> None:
    """The refusal happens in the trial on its worker: that run is errored with the message, the fp32 one completes."""
    spec = write_spec(str(tmp_path), name="bf16_refused", dataset="synthetic", train={"epochs": 1, "depth": 8},
                      search_space={"precision": {"grid": ["fp32", "bf16"]}}, search="grid", scheduler="none",
                      max_failures=0, max_concurrent_trials=2)
    done = subprocess.run([*CLI, "run", spec, "--tracking-uri", server.url, "--no-report"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _, children = runs_of(server.url, "bf16_refused")
    by_precision = {r.data.params["precision"]: r for r in children}
    refused, fine = by_precision["bf16"], by_precision["fp32"]
    assert refused.data.tags["outcome"] == "errored" and refused.info.status == "FAILED"
    capability = hardware.cpu_capability()
    assert refused.data.tags["error"].endswith(f"precision: bf16 is emulated on this CPU ({capability}; needs "
                                               "AVX512_BF16 or AMX) and runs about 10x slower than fp32; "
                                               "use precision auto or fp32")
    assert fine.data.tags["outcome"] == "completed" and fine.data.tags["precision_used"] == "fp32"


def test_reproduce_is_exact_on_cpu_and_logged_model_matches(diverge_sweep, tmp_path) -> None:
    # The registered champion names its trial run: the same best run the sweep's name leads to.
    done = subprocess.run([*CLI, "reproduce", "models:/diverge-best@champion", "--tracking-uri", diverge_sweep],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "reproduced: largest difference 0 (tolerance 0)" in done.stdout
    assert "matches" in done.stdout
    client = MlflowClient(diverge_sweep)
    exp = client.get_experiment_by_name("diverge")
    repro = client.search_runs([exp.experiment_id], "tags.sweep_role = 'reproduction'")
    assert len(repro) == 1 and repro[0].info.status == "FINISHED"
    assert repro[0].data.tags["reproduces"] == client.search_runs(
        [exp.experiment_id], "tags.sweep_role = 'parent'")[0].data.tags["best_run_id"]


def _epochs_reached(uri: str, experiment: str, at_least: int, stage: str | None = None) -> bool:
    """Whether a trial (of `stage`, if given) has logged at_least epochs."""
    return any(len(epochs_logged(uri, r)) >= at_least for r in runs_of(uri, experiment)[1]
               if stage is None or r.data.tags.get("stage") == stage)


def test_kill_driver_then_resume_keeps_exactly_one_run_per_trial(server, tmp_path) -> None:
    spec = write_spec(str(tmp_path), name="killme", dataset="digits",
                      train={"epochs": 10, "batch_size": 32, "depth": 20},
                      search_space={"residual": {"grid": [True, False]}}, search="grid", scheduler="none",
                      max_concurrent_trials=2, checkpoint_every=2)
    driver = subprocess.Popen([*CLI, "run", spec, "--tracking-uri", server.url, "--no-report"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Kill once Tune's saved state (what a resume restores from) holds a checkpoint mid-way, and MLflow
        # has the runs: an MLflow epoch alone says nothing of whether the state was saved since.
        wait_until(lambda: _epochs_reached(server.url, "killme", 3) and any(
            checkpointed_mid_way(str(p), 10) for p in (tmp_path / "ray_results").glob("killme_*")), 180,
            "no checkpoint of a running killme trial in Tune's saved state")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started
        driver.wait()
    # Nothing of the killed sweep runs on (driver, local Ray), so nothing more reaches MLflow.
    wait_until(lambda: not group_alive(driver.pid), 60, "the killed sweep's processes still run")
    _, before = runs_of(server.url, "killme")
    assert any(r.info.status == "RUNNING" for r in before)
    assert all(len(epochs_logged(server.url, r)) < 10 for r in before)

    done = subprocess.run([*CLI, "resume", "killme", "--no-report"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parents, children = runs_of(server.url, "killme")
    assert len(parents) == 1 and len(children) == 2
    assert {r.data.params["trial_id"] for r in children} == {r.data.params["trial_id"] for r in before}
    for run in parents + children:
        assert run.info.status != "RUNNING"
    for run in children:
        assert epochs_logged(server.url, run) == list(range(1, 11))  # every epoch, each exactly once
        assert run.data.tags["outcome"] == "completed"
    sweep_dir = next(p for p in (tmp_path / "ray_results").iterdir() if p.name.startswith("killme_"))
    restored = restores(str(sweep_dir))["resumed_at"]
    print(f"kill/resume: trials restored mid-way at epochs {restored}")
    assert restored and all(e > 1 for e in restored)
