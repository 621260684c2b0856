"""Fractional GPUs: a `gpu: 0.25` spec is accepted and each trial asks Ray for exactly a quarter of a GPU.

This machine has no GPU, so the Ray node declares one logical GPU (`ray start --num-gpus=1`): Ray packs
trials by the resources they request, which is what this proves; the GPU benchmarks measure the rest.
"""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest
import yaml

from sweeps.testing.ports import free_port
from sweeps.testing.ray_cluster import RayCluster
from sweeps.testing.runs import runs_of

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture
def gpu_node(tmp_path):
    """One Ray node with 4 CPUs and 1 (logical) GPU, token auth on."""
    cluster = RayCluster(str(tmp_path), secrets.token_hex(32), free_port(), free_port(), free_port())
    try:
        cluster.start_head(extra_args=["--num-cpus=4", "--num-gpus=1"])
        yield cluster
    finally:
        cluster.stop()


def test_quarter_gpu_spec_packs_four_trials_on_one_gpu(gpu_node, tmp_path, mlflow_http) -> None:
    spec = tmp_path / "packing.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "packing", "dataset": "synthetic", "train": {"epochs": 2, "batch_size": 64, "depth": 8},
        "search_space": {"lr": {"grid": [0.02, 0.05, 0.1, 0.2]}}, "search": "grid", "scheduler": "none",
        "max_concurrent_trials": 4, "resources_per_trial": {"cpu": 1, "gpu": 0.25}}))
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", str(spec), "--address", gpu_node.gcs_address,
                           "--tracking-uri", mlflow_http.url, "--no-report"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=gpu_node.env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _, runs = runs_of(mlflow_http.url, "packing")
    assert len(runs) == 4
    for run in runs:
        assert "GPU=0.25" in run.data.tags["resources"] and "CPU=1" in run.data.tags["resources"]
        assert run.data.tags["gpu_share"].startswith("0.25 of a GPU, shared with other trials")  # its figures
        assert run.data.tags["outcome"] == "completed"
    # Four quarter-GPU trials fit on the one GPU at once: their training overlapped in time.
    spans = sorted((r.info.start_time, r.info.end_time) for r in runs)
    assert spans[-1][0] < spans[0][1], f"trials ran one after another: {spans}"
