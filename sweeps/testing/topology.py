"""The whole cluster topology for tests: a Ray cluster, MLflow with basic auth on PostgreSQL, one storage
folder every node reaches, and `resnet-sweep` submitted as Ray jobs."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .mlflow_auth import AuthMlflow, auth_mlflow
from .ray_cluster import RayCluster, ray_cluster, wait_job


@dataclass
class Topology:
    """Ray cluster + authenticated MLflow on PostgreSQL + one storage folder every node reaches."""
    ray: RayCluster
    mlflow: AuthMlflow
    storage: str   # Tune's storage_path: every node of this one-machine cluster sees the same folder
    root: str

    def run_args(self, spec: str) -> list[str]:
        return ["run", spec, "--tracking-uri", self.mlflow.url, "--storage-path", self.storage, "--no-report"]

    def submit(self, *args: str) -> str:
        """Submit `resnet-sweep ARGS` as a Ray job. No runtime_env: the driver finds the MLflow login in the
        head node's environment, as in docker-compose.yml (Ray logs a job's runtime_env, env_vars and all,
        in runtime_env_agent.log on every node)."""
        exe = os.path.join(os.path.dirname(sys.executable), "resnet-sweep")
        entrypoint = shlex.join([exe if os.path.exists(exe) else "resnet-sweep", *args])
        return self.ray.jobs().submit_job(entrypoint=entrypoint)

    def sweep_dir(self, name: str) -> str:
        """The Tune experiment folder of the newest sweep of that name."""
        found = sorted(p for p in os.listdir(self.storage) if p.startswith(f"{name}_"))
        return os.path.join(self.storage, found[-1])


@contextmanager
def topology(root: str, workers: int = 2) -> Iterator[Topology]:
    """MLflow (basic auth, PostgreSQL) and a Ray cluster of a head and `workers` nodes; all torn down after."""
    os.makedirs(os.path.join(root, "mlflow"), exist_ok=True)
    os.makedirs(os.path.join(root, "storage"), exist_ok=True)
    with auth_mlflow(os.path.join(root, "mlflow")) as server, \
            ray_cluster(root, workers, head_env=server.credentials) as ray:
        yield Topology(ray, server, os.path.join(root, "storage"), root)


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
