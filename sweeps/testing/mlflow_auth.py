"""`mlflow server --app-name basic-auth` on PostgreSQL, on a port it keeps across stop()/start(), and its login."""

from __future__ import annotations

import configparser
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .mlflow_server import MlflowServer, server_command, stop, wait_healthy
from .ports import free_port_range
from .postgres import postgres_database


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
    artifacts_destination: str | None = None  # where the server stores artifacts (s3://...); default its workdir
    env: dict[str, str] = field(default_factory=dict)  # the server's extra environment (its S3 access)
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
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no GenAI job runners: 8 fewer processes
               **self.env}
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_AUTH_ADMIN_USERNAME",
                    "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_TRACKING_URI"):
            env.pop(key, None)
        cmd = server_command(self.backend_uri, self.artifacts_destination or os.path.join(self.workdir, "artifacts"),
                             self.port,
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
def auth_mlflow(workdir: str, artifacts_destination: str | None = None,
                env: dict[str, str] | None = None) -> Iterator[AuthMlflow]:
    """An authenticated MLflow server on two fresh PostgreSQL databases (runs, users), storing artifacts in
    artifacts_destination (default: its workdir) with `env` added to its environment; all gone afterwards."""
    with postgres_database("mlflow") as runs_db, postgres_database("mlflow_auth") as users_db:
        server = AuthMlflow(workdir, runs_db, users_db, artifacts_destination=artifacts_destination,
                            env=dict(env or {}))
        server.start()
        try:
            yield server
        finally:
            server.stop()


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
