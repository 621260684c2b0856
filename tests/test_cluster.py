"""Sweeps on a real multi-node Ray cluster (Jobs API, token auth) tracked in MLflow with basic auth on
PostgreSQL, with Tune's storage and MLflow's artifacts on S3 (moto_server) and nothing shared on the local
disk, and the faults the sweep must survive: a worker node lost, MLflow down for 30 s, the driver killed,
PostgreSQL refusing connections. Each fault test checks MLflow afterwards (one run per trial, every epoch's
metrics exactly once, nothing left RUNNING) and prints its figures.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import urllib.request

import pytest
import yaml

from sweeps.trial.reports import tracked_metrics
from sweeps.storage.paths import STATE_FILE
from sweeps.testing.mlflow_auth import as_user
from sweeps.testing.postgres import allow_connections, refuse_connections
from sweeps.testing.ray_cluster import wait_job
from sweeps.testing.runs import checkpointed_mid_way, metric_steps, restores, result_rows, runs_of
from sweeps.testing.topology import ARTIFACT_BUCKET, CLUSTER_MODEL, TUNE_BUCKET, Topology, run_job, sweep_job

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
SMOKE_TRIALS, SMOKE_EPOCHS = 4, 2  # the shipped smoke spec


def fault_spec(topo: Topology, name: str, epochs: int) -> str:
    """Two trials (residual on/off) long enough to hit mid-way, checkpointing every 2 epochs."""
    spec = {"name": name, "dataset": "digits", "search": "grid", "scheduler": "none",
            "train": {"epochs": epochs, "batch_size": 64, "depth": 20, "width": 0.5},
            "search_space": {"residual": {"grid": [True, False]}}, "max_concurrent_trials": 2,
            "checkpoint_every": 2, "max_failures": 3, "resources_per_trial": {"cpu": 1, "gpu": 0}}
    path = os.path.join(topo.root, f"{name}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(spec, fh)
    return path


def cluster_runs(topo: Topology, experiment: str) -> tuple[list, list]:
    """(parent runs, trial runs) of an experiment, read through the authenticated server."""
    with as_user(topo.mlflow):
        return runs_of(topo.mlflow.url, experiment)


def history(topo: Topology, run, key: str) -> list[int]:
    with as_user(topo.mlflow):
        return metric_steps(topo.mlflow.url, run.info.run_id, key)


def reported(rows: list[dict]) -> dict[str, list[int]]:
    """metric key -> the epochs at which the trial reported it (each epoch once, however often re-run)."""
    out: dict[str, set] = {}
    for row in rows:
        for key in tracked_metrics(row):
            out.setdefault(key, set()).add(int(row["epoch"]))
    return {k: sorted(v) for k, v in out.items()}


def check_exactly_once(topo: Topology, experiment: str, trials: int, epochs: int) -> dict:
    """One parent, one run per trial, none RUNNING, every reported epoch's metrics stored exactly once."""
    parents, children = cluster_runs(topo, experiment)
    assert len(parents) == 1 and len(children) == trials, (len(parents), len(children))
    assert len({r.data.params["trial_id"] for r in children}) == trials
    assert all(r.info.status != "RUNNING" for r in parents + children)
    rows = result_rows(topo.sweep_dir(experiment))
    points = 0
    for run in children:
        why = {k: run.data.tags.get(k) for k in ("trial_id", "outcome", "error")}  # the error line, if it errored
        assert run.data.tags["outcome"] == "completed", why
        want = reported(rows[run.data.params["trial_id"]])
        assert want["epoch"] == list(range(1, epochs + 1))
        assert set(run.data.metrics) == set(want)
        for key, epochs_reported in want.items():
            steps = history(topo, run, key)
            assert steps == epochs_reported, (run.data.params["trial_id"], key, steps)  # none lost, none twice
            points += len(steps)
    return {"runs": len(parents) + len(children), "metric_points": points}


def sender_stats(logs: str) -> dict:
    """The tracker's closing line in the driver log: sent, retries, skipped_duplicates, max_buffered."""
    found = re.findall(r"mlflow tracking: (.*)", logs)
    assert found, f"no tracker summary in the driver log:\n{logs[-3000:]}"
    stats = {k: float(v) for k, v in (kv.split("=") for kv in found[-1].split())}
    return {k: int(v) if v.is_integer() else round(v, 2) for k, v in stats.items()}


def wait_for_epoch(topo: Topology, experiment: str, at_least: int, timeout_s: float) -> list:
    """Poll MLflow until a trial run has `at_least` epochs logged; returns the trial runs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, children = cluster_runs(topo, experiment)
        if any(run.data.metrics.get("epoch", 0) >= at_least for run in children):
            return children
        time.sleep(0.5)
    raise TimeoutError(f"no trial of {experiment} reached epoch {at_least} in {timeout_s:.0f}s")


def wait_for_saved_checkpoint(topo: Topology, experiment: str, epochs: int, timeout_s: float) -> None:
    """Poll Tune's experiment state in S3 until it holds a running trial with a checkpoint and epochs still
    to go: what a resumed driver restores from. MLflow's epochs say nothing of it: the driver uploads its
    state apart from the trials' results, so a kill soon after epoch N can find no checkpoint saved yet."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if checkpointed_mid_way(topo.sweep_dir(experiment, state_only=True), epochs):
            return
        time.sleep(0.5)
    raise TimeoutError(f"no checkpoint of a running {experiment} trial in Tune's saved state in {timeout_s:.0f}s")


def report(title: str, **figures) -> None:
    print(f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# --- 2. The topology: a sweep through the Jobs API lands on both workers and in authenticated MLflow ---

def test_smoke_sweep_runs_on_both_workers_and_lands_in_mlflow(cluster, cluster_smoke) -> None:
    _, _, workers = cluster_smoke
    parents, children = cluster_runs(cluster, "smoke")
    figures = check_exactly_once(cluster, "smoke", SMOKE_TRIALS, SMOKE_EPOCHS)
    used = {r.data.tags["node_id"] for r in children}
    assert used == workers, (used, workers)  # the head has no CPUs: every trial ran on a worker, both used
    assert parents[0].data.metrics["trials/completed"] == SMOKE_TRIALS
    report("smoke on the cluster", **figures, nodes_used=len(used))


def test_smoke_sweep_state_lives_only_in_s3(cluster, cluster_smoke) -> None:
    uri = cluster.sweep_uri("smoke")  # the storage path came from the nodes' TUNE_STORAGE_PATH
    prefix = uri[len(f"s3://{TUNE_BUCKET}/"):]
    keys = cluster.s3.keys(TUNE_BUCKET, prefix)
    assert f"{prefix}/{STATE_FILE}" in keys
    assert any(k.rsplit("/", 1)[1].startswith("experiment_state-") for k in keys)
    checkpoints = {k.split("/checkpoint_")[0] for k in keys if "/checkpoint_" in k}
    assert len(checkpoints) == SMOKE_TRIALS, checkpoints  # every trial's checkpoints were written to S3
    local = [os.path.join(d, f) for d, _, files in os.walk(cluster.root) if "s3-copies" not in d
             for f in files if f == STATE_FILE or f.startswith("experiment_state-")]
    assert local == []  # no sweep state on the disk the nodes run from; each node's temp dir is its own
    temp_dirs = [n.temp_dir for n in [cluster.ray.head, *cluster.ray.workers]]
    assert len(set(temp_dirs)) == len(temp_dirs) and not any(d.startswith(cluster.root) for d in temp_dirs)
    report("smoke state on S3", objects=len(keys), trials_with_checkpoints=len(checkpoints))


def test_report_lands_in_s3_and_opens_through_the_proxy_and_reproduce_fetches_the_model(
        cluster, cluster_smoke, tmp_path) -> None:
    from mlflow import MlflowClient

    with as_user(cluster.mlflow):
        parents, _ = cluster_runs(cluster, "smoke")
        parent = parents[0]
        experiment = MlflowClient(cluster.mlflow.url).get_experiment(parent.info.experiment_id)
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # proxied: clients need no S3 access
    stored = cluster.s3.keys(ARTIFACT_BUCKET)
    report_key = f"{parent.info.experiment_id}/{parent.info.run_id}/artifacts/report/report.html"
    assert report_key in stored, stored[:20]
    url = f"{cluster.mlflow.url}/get-artifact?path=report/report.html&run_uuid={parent.info.run_id}"
    request = urllib.request.Request(url, headers={"Authorization": basic_auth(cluster)})
    with urllib.request.urlopen(request, timeout=30) as resp:  # what the MLflow UI's artifact view fetches
        page = resp.read().decode()
    assert "Sweep report: smoke" in page
    # The MLflow login and no S3 access at all: the model comes through the server.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLFLOW_", "AWS_"))},
           **cluster.mlflow.credentials}
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "reproduce", f"models:/{CLUSTER_MODEL}@champion",
                           "--tracking-uri", cluster.mlflow.url], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "logged model: test/acc" in done.stdout and "matches" in done.stdout and "reproduced:" in done.stdout
    report("report and model through the S3-backed server", artifacts_in_s3=len(stored),
           report_bytes=len(page))


def basic_auth(topo: Topology) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{topo.mlflow.username}:{topo.mlflow.password}".encode()).decode()


# --- 3. Faults ----------------------------------------------------------------------------------------

def epochs_between(sweep_dir: str, start: float, end: float) -> int:
    """Epochs the trials reported between two wall-clock times (Tune stamps each result)."""
    return sum(start <= row["timestamp"] <= end for rows in result_rows(sweep_dir).values() for row in rows)


def test_worker_node_lost_mid_sweep_retries_its_trial_from_a_checkpoint(cluster) -> None:
    name, epochs = "worker_loss", 12
    try:
        with sweep_job(cluster, cluster.run_args(fault_spec(cluster, name, epochs))) as (jobs, job_id):
            children = wait_for_epoch(cluster, name, 3, timeout_s=240)  # its epoch-2 checkpoint is stored
            lead = max(children, key=lambda r: r.data.metrics.get("epoch", 0))
            victim = next(w for w in cluster.ray.workers if w.node_id == lead.data.tags["node_id"])
            cluster.ray.remove_worker(victim)  # SIGKILL: raylet, object store, the trial's process
            status = wait_job(jobs, job_id, timeout_s=300)
            logs = jobs.get_job_logs(job_id)
        assert status == "SUCCEEDED", logs[-4000:]
        survivor = cluster.ray.workers[0].node_id
        _, children = cluster_runs(cluster, name)
        assert {r.data.tags["node_id"] for r in children} == {survivor}  # the lost node's trial moved over
        figures = check_exactly_once(cluster, name, 2, epochs)
        redo = restores(cluster.sweep_dir(name))
        assert redo["trials_retried"] == 1 and redo["restarted_from_0"] == 0  # from its checkpoint, not epoch 0
        stats = sender_stats(logs)
        report("worker node lost", **redo, max_buffered=stats["max_buffered"], **figures)
    finally:
        if len(cluster.ray.workers) < 2:
            cluster.ray.add_workers(2 - len(cluster.ray.workers))


def test_mlflow_down_for_30s_buffers_and_flushes_exactly_once(cluster) -> None:
    name, epochs = "mlflow_outage", 16
    try:
        with sweep_job(cluster, cluster.run_args(fault_spec(cluster, name, epochs))) as (jobs, job_id):
            wait_for_epoch(cluster, name, 2, timeout_s=240)
            cluster.mlflow.stop()
            down = time.time()
            time.sleep(30)
            cluster.mlflow.start()
            up = time.time()
            status = wait_job(jobs, job_id, timeout_s=300)
            logs = jobs.get_job_logs(job_id)
    finally:
        if cluster.mlflow.server is None:
            cluster.mlflow.start()
    assert status == "SUCCEEDED", logs[-4000:]
    trained = epochs_between(cluster.sweep_dir(name), down, up)
    assert trained > 0  # training went on while MLflow was down
    stats = sender_stats(logs)
    assert stats["retries"] > 0
    figures = check_exactly_once(cluster, name, 2, epochs)
    report("MLflow down 30 s", epochs_trained_while_down=trained, **stats, **figures)


def test_driver_killed_then_resumed_on_the_cluster(cluster) -> None:
    name, epochs = "driver_kill", 12
    with sweep_job(cluster, cluster.run_args(fault_spec(cluster, name, epochs))) as (jobs, job_id):
        wait_for_epoch(cluster, name, 1, timeout_s=240)  # the sweep's folder is in S3
        wait_for_saved_checkpoint(cluster, name, epochs, timeout_s=240)
        driver = jobs.get_job_info(job_id).driver_info
        os.kill(int(driver.pid), signal.SIGKILL)
        assert wait_job(jobs, job_id, timeout_s=60) == "FAILED"
    _, before = cluster_runs(cluster, name)
    assert any(r.info.status == "RUNNING" for r in before)  # killed: nothing was closed
    _, status, logs = run_job(cluster, ["resume", cluster.sweep_uri(name), "--no-report"], 300)
    assert status == "SUCCEEDED", logs[-4000:]
    figures = check_exactly_once(cluster, name, 2, epochs)
    _, after = cluster_runs(cluster, name)
    assert {r.info.run_id for r in after} == {r.info.run_id for r in before}  # the same runs continued
    redo = restores(cluster.sweep_dir(name))
    assert redo["trials_retried"] >= 1  # a trial without a checkpoint yet may start over: it is counted
    stats = sender_stats(logs)
    report("driver killed, resumed", **redo, skipped_duplicates=stats["skipped_duplicates"],
           max_buffered=stats["max_buffered"], **figures)


def test_postgres_refusing_connections_loses_nothing(cluster) -> None:
    name, epochs = "pg_outage", 12
    db = cluster.mlflow.backend_uri
    try:
        with sweep_job(cluster, cluster.run_args(fault_spec(cluster, name, epochs))) as (jobs, job_id):
            wait_for_epoch(cluster, name, 3, timeout_s=240)
            dropped = refuse_connections(db)
            start = time.time()
            time.sleep(10)
            allow_connections(db)
            trained = epochs_between(cluster.sweep_dir(name), start, time.time())
            status = wait_job(jobs, job_id, timeout_s=300)
            logs = jobs.get_job_logs(job_id)
    finally:
        allow_connections(db)
    assert status == "SUCCEEDED", logs[-4000:]
    stats = sender_stats(logs)
    assert stats["retries"] > 0  # the outage was felt, and ridden out
    figures = check_exactly_once(cluster, name, 2, epochs)
    report("PostgreSQL refusing connections 10 s", connections_dropped=dropped,
           epochs_trained_meanwhile=trained, **stats, **figures)


# --- 5. The scaling benchmark still runs ---------------------------------------------------------------

def test_tracking_benchmark_quick_run_prints_its_table() -> None:
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                          "tracking_throughput.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLFLOW_"))}
    done = subprocess.run([sys.executable, script, "--quick"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    for measure in ("MLflow log_batch", "Tune driver, per reported result", "Optuna ask()"):
        assert any(measure in line for line in table), measure
