"""The whole cluster topology for tests, as docker-compose.yml lays it out but natively: a Ray cluster, MLflow
with basic auth on PostgreSQL and its artifacts on S3, Tune's storage on S3, and `resnet-sweep` submitted as
Ray jobs. S3 is moto_server on loopback (sweeps.testing.s3). Nothing on the local disk is shared: each node
has its own temp dirs, and a sweep's state and checkpoints live only in S3."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .mlflow_auth import AuthMlflow, auth_mlflow
from .ray_cluster import RayCluster, ray_cluster, wait_job
from .s3 import S3Server, s3_server

TUNE_BUCKET, TUNE_PREFIX = "ray", "tune"
ARTIFACT_BUCKET = "mlflow"
CLUSTER_MODEL = "smoke-cluster"  # the registered model of the cluster's smoke sweep (tests/conftest.py)


@dataclass
class Topology:
    """Ray cluster + authenticated MLflow on PostgreSQL (artifacts on S3) + Tune's storage on S3."""
    ray: RayCluster
    mlflow: AuthMlflow
    s3: S3Server
    root: str
    storage: str = f"s3://{TUNE_BUCKET}/{TUNE_PREFIX}"  # Tune's storage_path, also the nodes' TUNE_STORAGE_PATH
    copies: int = 0

    def run_args(self, spec: str) -> list[str]:
        return ["run", spec, "--tracking-uri", self.mlflow.url, "--storage-path", self.storage, "--no-report"]

    def submit(self, *args: str) -> str:
        """Submit `resnet-sweep ARGS` as a Ray job. No runtime_env: the driver finds the MLflow login and the
        S3 credentials in the head node's environment, as in docker-compose.yml (Ray logs a job's
        runtime_env, env_vars and all, in runtime_env_agent.log on every node)."""
        exe = os.path.join(os.path.dirname(sys.executable), "resnet-sweep")
        entrypoint = shlex.join([exe if os.path.exists(exe) else "resnet-sweep", *args])
        return self.ray.jobs().submit_job(entrypoint=entrypoint)

    def sweep_uri(self, name: str) -> str:
        """The S3 URI of the newest sweep of that name."""
        listed = self.s3.client().list_objects_v2(Bucket=TUNE_BUCKET, Prefix=f"{TUNE_PREFIX}/{name}_", Delimiter="/")
        found = sorted(p["Prefix"].rstrip("/") for p in listed.get("CommonPrefixes", []))
        assert found, f"no sweep {name} under {self.storage}"
        return f"s3://{TUNE_BUCKET}/{found[-1]}"

    def sweep_dir(self, name: str, state_only: bool = False) -> str:
        """A fresh local copy of the newest sweep's results and Tune state (result.json, experiment_state-*,
        the sweep's state file) from S3, for the checks that read them; checkpoints stay in S3. state_only:
        Tune's experiment state alone, into one folder reused by every call (for polling it)."""
        prefix = self.sweep_uri(name)[len(f"s3://{TUNE_BUCKET}/"):]
        if state_only:
            dest = os.path.join(self.root, "s3-copies", "state", prefix.rsplit("/", 1)[1])
            return self.s3.download(TUNE_BUCKET, prefix, dest,
                                    lambda key: key.rsplit("/", 1)[1].startswith("experiment_state-"))
        self.copies += 1
        dest = os.path.join(self.root, "s3-copies", f"{self.copies}", prefix.rsplit("/", 1)[1])
        return self.s3.download(TUNE_BUCKET, prefix, dest, lambda key: key.endswith(".json"))


@contextmanager
def topology(root: str, workers: int = 2) -> Iterator[Topology]:
    """S3, MLflow (basic auth, PostgreSQL, artifacts in s3://mlflow) and a Ray cluster of a head and `workers`
    nodes reaching S3 with the same key; all torn down after."""
    os.makedirs(os.path.join(root, "mlflow"), exist_ok=True)
    with s3_server(os.path.join(root, "s3"), buckets=(TUNE_BUCKET, ARTIFACT_BUCKET)) as s3, \
            auth_mlflow(os.path.join(root, "mlflow"), f"s3://{ARTIFACT_BUCKET}", s3.env()) as server:
        nodes = s3.env(TUNE_STORAGE_PATH=Topology.storage)
        with ray_cluster(root, workers, head_env=server.credentials, node_env=nodes) as ray:
            yield Topology(ray, server, s3, root)


def run_job(topo: Topology, args: list[str], timeout_s: float) -> tuple[str, str, str]:
    """Submit `resnet-sweep ARGS` and wait for it: (job id, final status, driver log)."""
    jobs = topo.ray.jobs()
    job_id = topo.submit(*args)
    status = wait_job(jobs, job_id, timeout_s)
    return job_id, status, jobs.get_job_logs(job_id)


@contextmanager
def sweep_job(topo: Topology, args: list[str]) -> Iterator[tuple]:
    """Submit `resnet-sweep ARGS`; yields (jobs client, job id) and stops the job if a test leaves it running."""
    jobs = topo.ray.jobs()
    job_id = topo.submit(*args)
    try:
        yield jobs, job_id
    finally:
        if not jobs.get_job_status(job_id).is_terminal():
            jobs.stop_job(job_id)
            wait_job(jobs, job_id, 60)
