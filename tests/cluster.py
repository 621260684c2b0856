"""The cluster topology natively, for tests: PostgreSQL databases, an MLflow basic-auth server, a Ray cluster.

Everything here starts real processes on free ports and owns them: each Ray node runs `ray start --block`
in its own session and its own temp dir, so stopping a node signals exactly its processes (never
`ray stop`, which would stop every Ray on the machine). The Ray token is generated per cluster and
handed to the nodes through RAY_AUTH_TOKEN; this process never sets it in its own environment.
"""

from __future__ import annotations

import configparser
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg2

from mlflow_server import MlflowServer, server_command, stop, wait_healthy

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432"  # this machine's PostgreSQL, trust auth
PG_SQLALCHEMY = "postgresql+psycopg2://postgres@127.0.0.1:5432"  # the same for MLflow (psycopg 3 is absent)


# --- Ports ------------------------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    """`count` distinct ports nobody listens on now (held open together, so no two are the same)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


_HANDED_OUT: set[int] = set()  # ranges given out before: a node's worker ports and MLflow never overlap


def free_port_range(count: int) -> tuple[int, int]:
    """`count` consecutive free ports below the kernel's ephemeral range, where free_ports() never lands."""
    for _ in range(200):
        base = random.randrange(10000, 30000 - count)
        if _HANDED_OUT & set(range(base, base + count)):
            continue
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            _HANDED_OUT.update(range(base, base + count))
            return base, base + count - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports")


# --- PostgreSQL -------------------------------------------------------------------------------------

def _pg(sql: str, *args) -> list:
    conn = psycopg2.connect(f"{PG_ADMIN}/postgres")
    conn.autocommit = True  # CREATE/DROP/ALTER DATABASE refuse to run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh, uniquely named database; yields its SQLAlchemy URI and drops it (and its sessions) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _pg(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SQLALCHEMY}/{name}"
    finally:
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_name(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def refuse_connections(uri: str) -> int:
    """Make one database refuse new connections and drop its open ones; returns how many were dropped."""
    name = database_name(uri)
    _pg(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    return len(_pg("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name))


def allow_connections(uri: str) -> None:
    _pg(f'ALTER DATABASE "{database_name(uri)}" ALLOW_CONNECTIONS true')


# --- MLflow with basic auth -------------------------------------------------------------------------

@dataclass
class AuthMlflow:
    """`mlflow server --app-name basic-auth` on PostgreSQL, on a port it keeps across stop()/start()."""
    workdir: str
    backend_uri: str
    auth_db_uri: str
    username: str = "admin"
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    # Below the ephemeral range: while the server is down for a fault test, no client socket can take it.
    port: int = field(default_factory=lambda: free_port_range(1)[0])
    # Cache a verified login this long: each check is a scrypt hash (~0.2 s of CPU), which otherwise
    # caps a one-worker server at a few requests per second (docs/scaling.md).
    auth_cache_ttl_s: int = 60
    extra_args: tuple[str, ...] = ()  # more `mlflow server` flags, e.g. ("--workers", "2")
    server: MlflowServer | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": self.username, "MLFLOW_TRACKING_PASSWORD": self.password}

    def _config(self) -> str:
        """The auth ini, readable by this user only: its own user database and the admin account."""
        config = configparser.ConfigParser(interpolation=None)
        config["mlflow"] = {"default_permission": "READ", "database_uri": self.auth_db_uri,
                            "admin_username": self.username, "admin_password": self.password,
                            "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
                            "auth_cache_ttl_seconds": str(self.auth_cache_ttl_s)}
        path = os.path.join(self.workdir, "basic_auth.ini")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            config.write(fh)
        return path

    def start(self, timeout_s: float = 120.0) -> None:
        env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": self._config(),
               "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runners: 8 fewer processes
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_AUTH_ADMIN_USERNAME",
                    "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_TRACKING_URI"):
            env.pop(key, None)
        cmd = server_command(self.backend_uri, os.path.join(self.workdir, "artifacts"), self.port,
                             extra_args=("--app-name", "basic-auth", *self.extra_args))
        self.starts += 1
        log_path = os.path.join(self.workdir, f"mlflow-{self.starts}.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        self.server = MlflowServer(self.url, self.port, proc, log_path)
        try:
            wait_healthy(self.server, timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.server is not None:
            stop(self.server)
            self.server = None

    def logs(self) -> str:
        out = []
        for name in sorted(os.listdir(self.workdir)):
            if name.startswith("mlflow-") and name.endswith(".log"):
                with open(os.path.join(self.workdir, name), errors="replace") as fh:
                    out.append(fh.read())
        return "\n".join(out)


@contextmanager
def auth_mlflow(workdir: str) -> Iterator[AuthMlflow]:
    """An authenticated MLflow server on two fresh PostgreSQL databases (runs, users); all gone afterwards."""
    with postgres_database("mlflow") as runs_db, postgres_database("mlflow_auth") as users_db:
        server = AuthMlflow(workdir, runs_db, users_db)
        server.start()
        try:
            yield server
        finally:
            server.stop()


# --- Ray ------------------------------------------------------------------------------------------

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
        cmd = [os.path.join(os.path.dirname(sys.executable), "ray"), "start", "--block", "--disable-usage-stats",
               f"--temp-dir={temp_dir}", "--object-store-memory=100000000",
               f"--resources={json.dumps({name: 1})}", *(f"{k}={v}" for k, v in ports.items()), *args]
        log_path = os.path.join(self.root, f"ray-{name}.log")
        with open(log_path, "a") as log:
            proc = subprocess.Popen(cmd, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                    env=self.env(**(env or {})), start_new_session=True)
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
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name in names:
                if nodes[name].process.poll() is not None:
                    raise RuntimeError(f"ray node {name} exited:\n{_tail(nodes[name].log_path)}")
            try:
                alive = {r: n["node_id"] for n in self.nodes() if n["state"] == "ALIVE"
                         for r in n.get("resources_total", {}) if r in names}
            except (OSError, urllib.error.URLError, KeyError, ValueError):
                alive = {}
            if set(names) <= set(alive):
                for name in names:
                    nodes[name].node_id = alive[name]
                return
            time.sleep(1)
        raise TimeoutError(f"ray nodes {names} not alive after {timeout_s:.0f}s:\n"
                           + "\n".join(_tail(nodes[n].log_path) for n in names))

    def jobs(self):
        """A Ray Jobs client that authenticates with the cluster token."""
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.dashboard_url, headers={"Authorization": f"Bearer {self.token}"})

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM every node at once (ray start --block stops its children), then SIGKILL what is left."""
        nodes = [*self.workers, *([self.head] if self.head else [])]
        for node in nodes:
            node.kill(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(node.alive() for node in nodes):
            time.sleep(0.3)
        for node in nodes:
            node.cleanup()
        self.workers, self.head = [], None


def _tail(path: str, chars: int = 3000) -> str:
    with open(path, errors="replace") as fh:
        return fh.read()[-chars:]


@contextmanager
def ray_cluster(root: str, workers: int = 2, head_env: dict[str, str] | None = None) -> Iterator[RayCluster]:
    """A head (0 CPUs) and `workers` one-CPU worker nodes on free ports, with a fresh token; all stopped after."""
    cluster = RayCluster(root, secrets.token_hex(32), *free_ports(3))
    try:
        cluster.start_head(head_env)
        cluster.add_workers(workers)
        yield cluster
    finally:
        cluster.stop()


def wait_job(client, job_id: str, timeout_s: float) -> str:
    """Wait for a Ray job to end; returns its final status name."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get_job_status(job_id)
        if status.is_terminal():
            return status.value
        time.sleep(1)
    raise TimeoutError(f"job {job_id} still {status.value} after {timeout_s:.0f}s:\n"
                       + client.get_job_logs(job_id)[-3000:])


# --- The whole topology -----------------------------------------------------------------------------

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


@contextmanager
def as_user(server: AuthMlflow) -> Iterator[None]:
    """MLflow clients made inside log in to the server (MLflow reads the login per request from the env)."""
    saved = {k: os.environ.get(k) for k in server.credentials}
    os.environ.update(server.credentials)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
