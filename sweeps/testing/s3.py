"""A real S3-protocol server on loopback for tests: `moto_server` (from moto[server]) standing in for MinIO.

It checks credentials like S3 does: the server starts with IAM authentication on (moto's
INITIAL_NO_AUTH_ACTION_COUNT), so only the access key created here may read and write, and a wrong key
gets ACCESS_DENIED. Clients find it the standard way: AWS_ENDPOINT_URL (pyarrow, boto3),
MLFLOW_S3_ENDPOINT_URL (MLflow's artifact store) and the credentials from the environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .ports import free_port
from .procs import wait_until

REGION = "us-east-1"
# Requests moto serves before it starts checking signatures: exactly the three IAM calls that make the
# test's user, its key and its policy.
SETUP_REQUESTS = 3
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass
class S3Server:
    """A running moto_server: its endpoint, the one valid access key, and the buckets made at start."""
    endpoint: str
    process: subprocess.Popen
    log_path: str
    access_key: str = ""
    secret_key: str = ""
    buckets: tuple[str, ...] = field(default_factory=tuple)

    def env(self, **overrides: str) -> dict[str, str]:
        """What a client (driver, Ray node, MLflow server) needs to reach the server with the valid key."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint,
                "MLFLOW_S3_ENDPOINT_URL": self.endpoint, **overrides}

    def client(self):
        """A boto3 S3 client with the valid key."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under bucket/prefix."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def download(self, bucket: str, prefix: str, dest: str, keep: Callable[[str], bool] = lambda key: True) -> str:
        """Copy the objects under bucket/prefix whose keys pass keep into dest, keeping their paths below
        prefix; returns dest."""
        client = self.client()
        for key in self.keys(bucket, prefix):
            if not keep(key):
                continue
            target = os.path.join(dest, os.path.relpath(key, prefix))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            client.download_file(bucket, key, target)
        return dest


def _answers(endpoint: str) -> bool:
    """Whether moto_server serves its own API yet."""
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
        return True
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def s3_server(workdir: str, buckets: tuple[str, ...] = ("ray", "mlflow"),
              timeout_s: float = 60.0) -> Iterator[S3Server]:
    """moto_server on a free loopback port with authentication on, one user allowed everything, and the
    given buckets; stopped afterwards."""
    import boto3

    os.makedirs(workdir, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = os.path.join(workdir, "moto.log")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
           "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_REQUESTS)}
    # The console script of this interpreter's environment (a venv may not be on PATH).
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([exe if os.path.exists(exe) else "moto_server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_until(lambda: _answers(endpoint), timeout_s, "moto_server not up", every_s=0.3, process=proc,
                   log_path=log_path)
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup",
                           aws_secret_access_key="setup")
        iam.create_user(UserName="sweeps")
        key = iam.create_access_key(UserName="sweeps")["AccessKey"]
        iam.put_user_policy(UserName="sweeps", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
        server = S3Server(endpoint, proc, log_path, key["AccessKeyId"], key["SecretAccessKey"], buckets)
        for bucket in buckets:
            server.client().create_bucket(Bucket=bucket)
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
