"""Shared fixtures: a tiny config that trains in well under a second, and real smoke sweeps in MLflow."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resnet_core import TrainConfig
from sweeps.cli.mlflow_app import SERVER_ARGS as UI_APP
from sweeps.testing.mlflow_server import MlflowServer, mlflow_server


@pytest.fixture
def tiny() -> TrainConfig:
    """ResNet-8 on the synthetic set, 2 epochs, on the CPU."""
    return TrainConfig(dataset="synthetic", depth=8, epochs=2, batch_size=64, device="cpu", lr=0.05)


@pytest.fixture
def bf16_anywhere(monkeypatch) -> None:
    """Let bf16 run on a CPU without native bf16 (emulated, slow): for tests of the bf16 path, not its speed."""
    from resnet_core import hardware

    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: True)


# --- Real sweeps for the report and browser tests: the smoke spec (4 trials, ~30 s on 2 CPUs) ---

SMOKE = "smoke"  # the shipped spec; its MLflow experiment carries the same name
SMOKE_MODEL = "smoke-best"  # the registered model of the session's HTTP smoke sweep


@dataclass(frozen=True)
class SmokeSweep:
    """A finished smoke sweep: where it was tracked and the folder the command ran in."""
    tracking_uri: str
    experiment: str
    workdir: Path     # cwd of `resnet-sweep run`: reports/<experiment>/ lands here unless --no-report
    output: str = ""  # what the command printed, stdout then stderr

    @property
    def report_dir(self) -> Path:
        return self.workdir / "reports" / self.experiment


def run_smoke_sweep(workdir: Path, tracking_uri: str, report: bool, register: str | None = None) -> SmokeSweep:
    """`resnet-sweep run smoke` in workdir against tracking_uri, on a local Ray; fails the test with its output."""
    cmd = [sys.executable, "-m", "sweeps.cli", "run", SMOKE, "--tracking-uri", tracking_uri,
           "--storage-path", str(workdir / "ray_results"), *([] if report else ["--no-report"]),
           *(["--register", register] if register else [])]
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=480)
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"smoke sweep failed with exit code {done.returncode}:\n{output}"
    return SmokeSweep(tracking_uri, SMOKE, workdir, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def smoke_sweep_sqlite(tmp_path_factory) -> SmokeSweep:
    """The smoke sweep tracked in a sqlite file (artifacts in a local folder), without a report."""
    workdir = tmp_path_factory.mktemp("smoke-sqlite")
    return run_smoke_sweep(workdir, f"sqlite:///{workdir / 'mlflow.db'}", report=False)


@pytest.fixture(scope="session")
def mlflow_http(tmp_path_factory) -> Iterator[MlflowServer]:
    """A real `mlflow server` (sqlite store, artifacts proxied) on a free port, for the whole session."""
    # Served as `resnet-sweep ui` serves it: MLflow's server with our app (the UI opens on training runs).
    with mlflow_server(str(tmp_path_factory.mktemp("mlflow-server")), extra_args=UI_APP) as server:
        yield server


@pytest.fixture(scope="session")
def smoke_sweep_http(mlflow_http, tmp_path_factory) -> SmokeSweep:
    """The smoke sweep run over HTTP against mlflow_http, with its report built and logged at the end, and its
    best model registered as SMOKE_MODEL (alias champion)."""
    return run_smoke_sweep(tmp_path_factory.mktemp("smoke-http"), mlflow_http.url, report=True, register=SMOKE_MODEL)


# --- The cluster topology natively (issue 5): a Ray cluster and MLflow with basic auth on PostgreSQL ---

@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """Ray head (no CPUs, token auth) + two 1-CPU workers, MLflow basic-auth on fresh PostgreSQL databases."""
    from sweeps.testing.topology import topology

    with topology(str(tmp_path_factory.mktemp("cluster"))) as topo:
        yield topo


@pytest.fixture(scope="session")
def cluster_smoke(cluster):
    """The shipped smoke sweep submitted through the Ray Jobs API, with its report and registered model, its
    storage path from the nodes' TUNE_STORAGE_PATH (S3): (job id, driver log, worker node ids)."""
    from sweeps.testing.topology import CLUSTER_MODEL, run_job

    workers = {w.node_id for w in cluster.ray.workers}
    args = ["run", SMOKE, "--tracking-uri", cluster.mlflow.url, "--register", CLUSTER_MODEL]
    job_id, status, logs = run_job(cluster, args, timeout_s=420)
    assert status == "SUCCEEDED", f"smoke job {status}:\n{logs[-4000:]}"
    return job_id, logs, workers


def pytest_collection_modifyitems(items) -> None:
    """Cluster tests last and together (stable order): their session-wide cluster never idles beside others."""
    items.sort(key=lambda item: item.get_closest_marker("cluster") is not None)
