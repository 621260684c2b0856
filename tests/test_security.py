"""Security of the cluster topology: MLflow basic auth, no credential in any record or log, Ray token auth,
and checkpoints that cannot smuggle code. Compose-side rules (loopback ports, no secret literals) are in
tests/test_compose.py.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import mlflow
import torch
from mlflow import MlflowClient

from resnet_core.train import CheckpointError
from sweeps.testing.mlflow_auth import as_user

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def http_status(url: str, method: str = "GET", login: tuple[str, str] | None = None,
                headers: dict | None = None) -> int:
    headers = dict(headers or {})
    if login:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(login).encode()).decode()
    data = b"{}" if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_mlflow_refuses_anonymous_and_wrong_logins(cluster) -> None:
    server = cluster.mlflow
    api = f"{server.url}/api/2.0/mlflow"
    for method, path in [("GET", "/experiments/search?max_results=1"), ("POST", "/runs/create"),
                         ("POST", "/runs/log-batch"), ("GET", "/registered-models/search")]:
        assert http_status(api + path, method) == 401, path
        assert http_status(api + path, method, (server.username, "wrong")) == 401, path
    assert http_status(f"{server.url}/api/2.0/mlflow-artifacts/artifacts") == 401
    assert http_status(api + "/experiments/search?max_results=1", login=(server.username, server.password)) == 200


def mlflow_records(cluster, folder) -> bytes:
    """Every run's params, tags and metric keys, and every artifact (runs and logged models), as bytes."""
    out = []
    with as_user(cluster.mlflow):
        client = MlflowClient(cluster.mlflow.url)
        experiments = client.search_experiments()
        for run in client.search_runs([e.experiment_id for e in experiments], max_results=1000):
            out += [repr(run.data.params), repr(run.data.tags), repr(sorted(run.data.metrics))]
            path = client.download_artifacts(run.info.run_id, "", str(folder / run.info.run_id))
            out.append(files_bytes(path).decode(errors="replace"))
        for model in client.search_logged_models([e.experiment_id for e in experiments]):
            path = mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location,
                                                       dst_path=str(folder / model.model_id),
                                                       tracking_uri=cluster.mlflow.url)
            out.append(files_bytes(path).decode(errors="replace"))
    assert any("best_model" in chunk for chunk in out)  # the records are really there, artifacts included
    return "\n".join(out).encode()


def files_bytes(root: str) -> bytes:
    """All regular files under root, concatenated (sockets and the like skipped)."""
    chunks = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    chunks.append(fh.read())
    return b"\n".join(chunks)


def test_sweep_logs_in_from_the_environment_and_leaks_the_password_nowhere(cluster, cluster_smoke,
                                                                           tmp_path) -> None:
    job_id, driver_log, _ = cluster_smoke
    password = cluster.mlflow.password.encode()
    info = cluster.ray.jobs().get_job_info(job_id)
    # The driver found the login in the head node's environment: not on its command line, and not in the
    # job's runtime_env, which Ray writes (env_vars included) into runtime_env_agent.log on every node.
    assert cluster.mlflow.password not in f"{info.entrypoint} {info.runtime_env}"
    places = {
        "MLflow params, tags, metric keys and artifacts": mlflow_records(cluster, tmp_path),
        "the driver's output (Ray job log)": driver_log.encode(),
        "the MLflow server's log": cluster.mlflow.logs().encode(),
        "Tune's experiment folder": files_bytes(cluster.storage),
        **{f"Ray's logs on {n.name}": files_bytes(n.temp_dir) for n in [cluster.ray.head, *cluster.ray.workers]},
    }
    secrets = {"MLflow password": password, "Ray token": cluster.ray.token.encode()}
    leaked = [f"{what} in {where}" for what, secret in secrets.items() for where, blob in places.items()
              if secret in blob]
    assert not leaked, f"credentials leaked: {leaked}"
    print(f"\n[no leak] searched {sum(len(b) for b in places.values()) / 1e6:.1f} MB in {len(places)} places")


RAY_CLIENT = "import ray; ray.init(address='{}'); print('CPUS', ray.cluster_resources().get('CPU'))"


def ray_connect(cluster, tmp_path, **env: str) -> subprocess.CompletedProcess:
    """A fresh Python process that connects to the cluster as a driver, with only the given Ray env."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # no ~/.ray/auth_token to fall back on
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env = {**clean, "HOME": str(home), "RAY_NUM_REDIS_GET_RETRIES": "3", **env}  # refused in 4 s, not 20
    return subprocess.run([sys.executable, "-c", RAY_CLIENT.format(cluster.ray.gcs_address)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_ray_refuses_clients_without_the_token(cluster, tmp_path) -> None:
    jobs_api = f"{cluster.ray.dashboard_url}/api/jobs/"
    assert http_status(jobs_api) == 401
    assert http_status(jobs_api, headers={"Authorization": "Bearer nope"}) == 403
    assert http_status(jobs_api, headers={"Authorization": f"Bearer {cluster.ray.token}"}) == 200
    cases = [({}, "InvalidAuthToken"),  # token auth off in the client: the GCS refuses it
             ({"RAY_AUTH_MODE": "token"}, "no authentication token was found"),  # the client stops itself
             ({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64}, "InvalidAuthToken")]  # a wrong token
    for env, error in cases:
        refused = ray_connect(cluster, tmp_path, **env)
        assert refused.returncode != 0 and error in refused.stderr, (env, refused.stderr[-2000:])
    allowed = ray_connect(cluster, tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=cluster.ray.token)
    assert allowed.returncode == 0 and "CPUS 2.0" in allowed.stdout, allowed.stderr[-3000:]


def test_trainable_refuses_a_checkpoint_carrying_a_pickle_payload(tmp_path, monkeypatch) -> None:
    """The code that runs on the cluster's nodes loads a retried trial's checkpoint with weights_only=True."""
    from ray import tune

    from sweeps.trial import trainable as tuning
    from sweeps.spec import load_spec

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "payload-ran"), "w"))

    folder = tmp_path / "checkpoint"
    folder.mkdir()
    torch.save({"model": Payload()}, folder / tuning.CHECKPOINT_FILE)
    monkeypatch.setattr(tuning.tune, "get_checkpoint", lambda: tune.Checkpoint.from_directory(str(folder)))
    with pytest.raises(CheckpointError, match="refusing to load"):
        tuning.trainable({"depth": 8, "residual": True, "lr": 0.05}, load_spec("smoke"))
    assert not (tmp_path / "payload-ran").exists()
