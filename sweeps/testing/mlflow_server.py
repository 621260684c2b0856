"""A real `mlflow server` on a free port for tests: started as a subprocess, ready when /health answers.

Reusable across suites: the backend store URI and extra server flags are parameters, so a cluster test
can point it at PostgreSQL and add `--app-name basic-auth` (plus env such as MLFLOW_AUTH_CONFIG_PATH).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .ports import free_port
from .procs import log_tail, wait_until

READY_STATUSES = (200, 401)  # 401: a basic-auth server is up and asks for credentials


@dataclass(frozen=True)
class MlflowServer:
    """A running server: its base URL (the tracking URI), process and log file."""
    url: str
    port: int
    process: subprocess.Popen
    log_path: str

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's combined stdout/stderr, for failure messages."""
        return log_tail(self.log_path, chars)


def _health_status(url: str) -> int | None:
    """HTTP status of GET url/health, None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


def wait_healthy(server: MlflowServer, timeout_s: float) -> None:
    """Block until /health answers; fail with the server log if it exits or the timeout passes."""
    wait_until(lambda: _health_status(server.url) in READY_STATUSES, timeout_s,
               f"mlflow server not healthy at {server.url}", process=server.process, log_path=server.log_path,
               tail_chars=4000)


def server_command(backend_store_uri: str, artifacts_destination: str, port: int, host: str = "127.0.0.1",
                   extra_args: Sequence[str] = ()) -> list[str]:
    """The `mlflow server` command line: one worker, artifacts proxied through the server (mlflow-artifacts:/)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
            "--serve-artifacts", "--artifacts-destination", artifacts_destination,
            "--host", host, "--port", str(port), "--workers", "1", *extra_args]


def stop(server: MlflowServer, timeout_s: float = 15.0) -> None:
    """SIGTERM the server's own process group (uvicorn and its worker), SIGKILL if it lingers."""
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout_s)


@contextmanager
def mlflow_server(workdir: str, backend_store_uri: str | None = None, extra_args: Sequence[str] = (),
                  env: dict[str, str] | None = None, host: str = "127.0.0.1",
                  timeout_s: float = 240.0) -> Iterator[MlflowServer]:
    """Run `mlflow server` in workdir (default store: sqlite there, artifacts in workdir/artifacts); stop on exit."""
    os.makedirs(workdir, exist_ok=True)
    backend = backend_store_uri or f"sqlite:///{os.path.join(os.path.abspath(workdir), 'mlflow.db')}"
    port = free_port(host)
    cmd = server_command(backend, os.path.join(os.path.abspath(workdir), "artifacts"), port, host, extra_args)
    log_path = os.path.join(workdir, f"mlflow-server-{port}.log")
    with open(log_path, "w") as log:
        # Own session, so stop() can signal the server and the worker it forks, and nothing else.
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    server = MlflowServer(f"http://{host}:{port}", port, proc, log_path)
    try:
        wait_healthy(server, timeout_s)
        yield server
    finally:
        stop(server)
