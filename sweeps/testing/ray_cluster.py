"""A Ray cluster natively: each node runs `ray start --block` in its own session and its own temp dir.

Stopping a node signals exactly its processes (never `ray stop`, which would stop every Ray on the
machine). The Ray token is generated per cluster and handed to the nodes through RAY_AUTH_TOKEN; this
process never sets it in its own environment.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from .ports import free_port_range, free_ports
from .procs import wait_until


@dataclass
class RayNode:
    """One `ray start --block` process (its own session) and the temp dir only its processes use."""
    name: str
    process: subprocess.Popen
    temp_dir: str
    log_path: str
    node_id: str | None = None

    def processes(self) -> list[int]:
        """PIDs of this node's processes: its session, or its temp dir on their command lines."""
        pids = []
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if os.getsid(pid) == self.process.pid or self.temp_dir.encode() in fh.read():
                        pids.append(pid)
            except OSError:  # gone meanwhile
                continue
        return pids

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the node's process group, then any of its processes that left the group."""
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        for pid in self.processes():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def alive(self) -> bool:
        return self.process.poll() is None or bool(self.processes())

    def cleanup(self) -> None:
        """SIGKILL whatever is left of the node and remove its temp dir."""
        self.kill(signal.SIGKILL)
        self.process.wait(10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@dataclass
class RayCluster:
    """A head with no CPUs (so every trial runs on a worker) and worker nodes with one CPU each."""
    root: str
    token: str
    gcs_port: int
    dashboard_port: int
    client_port: int
    node_env: dict[str, str] = field(default_factory=dict)  # every node's extra environment (S3 access)
    head: RayNode | None = None
    workers: list[RayNode] = field(default_factory=list)
    added: int = 0  # workers started so far: names stay unique after a restart

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment plus the cluster's token (Ray's token auth stays on)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != "MLFLOW_TRACKING_URI"}
        return {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, **extra}

    def _start_node(self, name: str, args: list[str], env: dict[str, str] | None = None) -> RayNode:
        temp_dir = tempfile.mkdtemp(prefix=f"rc{name}-", dir="/tmp")  # short: Unix socket paths <= 107 bytes
        low, high = free_port_range(40)
        flags = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                 "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
        ports = {**dict(zip(flags, free_ports(len(flags)))), "--min-worker-port": low, "--max-worker-port": high}
        # Ray's CLI through this interpreter: a venv has no `ray` script, and its workers must import this code.
        cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--disable-usage-stats",
               f"--temp-dir={temp_dir}", "--object-store-memory=100000000",
               f"--resources={json.dumps({name: 1})}", *(f"{k}={v}" for k, v in ports.items()), *args]
        log_path = os.path.join(self.root, f"ray-{name}.log")
        # Its own TMPDIR too: no node writes where another node could read it, as on separate machines.
        node_env = {**self.node_env, "TMPDIR": temp_dir, **(env or {})}
        with open(log_path, "a") as log:
            proc = subprocess.Popen(cmd, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                    env=self.env(**node_env), start_new_session=True)
        return RayNode(name, proc, temp_dir, log_path)

    def start_head(self, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ("--num-cpus=0",)) -> None:
        """The head, with `env` added to its environment (job drivers run there and inherit it); by default
        without CPUs for trials."""
        self.head = self._start_node("head", [
            "--head", f"--port={self.gcs_port}", "--dashboard-host=127.0.0.1", *extra_args,
            f"--dashboard-port={self.dashboard_port}", f"--ray-client-server-port={self.client_port}"], env)
        self.wait_nodes(["head"], timeout_s=120)

    def add_workers(self, count: int, timeout_s: float = 120) -> list[RayNode]:
        """Start worker nodes with one CPU each (in parallel) and wait until the head lists them alive."""
        self.added += count
        names = [f"worker{self.added - count + i}" for i in range(count)]
        nodes = [self._start_node(name, [f"--address={self.gcs_address}", "--num-cpus=1"]) for name in names]
        self.workers += nodes
        self.wait_nodes(names, timeout_s)
        return nodes

    def remove_worker(self, node: RayNode) -> None:
        """Kill a worker node at once (SIGKILL: a machine lost, not a graceful drain)."""
        node.cleanup()
        self.workers.remove(node)

    def nodes(self) -> list[dict]:
        """Ray's node table from the dashboard's state API (node_id, state, resources_total, ...)."""
        req = urllib.request.Request(f"{self.dashboard_url}/api/v0/nodes?limit=100&detail=true",
                                     headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["data"]["result"]["result"]

    def wait_nodes(self, names: list[str], timeout_s: float) -> None:
        """Wait until the named nodes are alive and remember their node ids."""
        nodes = {n.name: n for n in ([self.head] if self.head else []) + self.workers}
        if not names:
            return
        ids = wait_until(lambda: self._alive_ids(names), timeout_s, f"ray nodes {names} not alive", every_s=1,
                         process=[nodes[n].process for n in names], log_path=[nodes[n].log_path for n in names])
        for name in names:
            nodes[name].node_id = ids[name]

    def _alive_ids(self, names: list[str]) -> dict[str, str] | None:
        """The node ids of the named nodes once all are alive, else None (also while the dashboard is down)."""
        try:
            alive = {r: n["node_id"] for n in self.nodes() if n["state"] == "ALIVE"
                     for r in n.get("resources_total", {}) if r in names}
        except (OSError, urllib.error.URLError, KeyError, ValueError):
            return None
        return alive if set(names) <= set(alive) else None

    def jobs(self):
        """A Ray Jobs client that authenticates with the cluster token."""
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.dashboard_url, headers={"Authorization": f"Bearer {self.token}"})

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM every node at once (ray start --block stops its children), then SIGKILL what is left."""
        nodes = [*self.workers, *([self.head] if self.head else [])]
        for node in nodes:
            node.kill(signal.SIGTERM)
        with suppress(TimeoutError):  # what outlives the grace period gets SIGKILL below
            wait_until(lambda: not any(node.alive() for node in nodes), grace_s, "ray nodes still up after SIGTERM",
                       every_s=0.3)
        for node in nodes:
            node.cleanup()
        self.workers, self.head = [], None


@contextmanager
def ray_cluster(root: str, workers: int = 2, head_env: dict[str, str] | None = None,
                node_env: dict[str, str] | None = None) -> Iterator[RayCluster]:
    """A head (0 CPUs) and `workers` one-CPU worker nodes on free ports, with a fresh token; all stopped after.
    head_env: the head's extra environment (job drivers inherit it); node_env: every node's."""
    cluster = RayCluster(root, secrets.token_hex(32), *free_ports(3), node_env=dict(node_env or {}))
    try:
        cluster.start_head(head_env)
        cluster.add_workers(workers)
        yield cluster
    finally:
        cluster.stop()


def wait_job(client, job_id: str, timeout_s: float) -> str:
    """Wait for a Ray job to end; returns its final status name."""
    status = None  # the latest, for the timeout message

    def ended() -> str | None:
        nonlocal status
        status = client.get_job_status(job_id)
        return status.value if status.is_terminal() else None

    return wait_until(ended, timeout_s, f"job {job_id} not ended", every_s=1,
                      details=lambda: f"still {status.value}; its log ends:\n" + client.get_job_logs(job_id)[-3000:])
