"""Host-side checks of the compose stack that tests/compose/up.sh brought up (opt-in, not in tests/run.sh).

What docs/cluster.md tells a user, done the same way from the host: `ray job submit` of the smoke spec with
token auth on, its runs in MLflow on PostgreSQL behind basic auth, its state and artifacts in S3, Prometheus
scraping every Ray node. Then the faults: a worker container killed mid-trial, the PostgreSQL container
restarted mid-sweep; each is followed by tests/test_cluster.py's exactly-once audit. Prints every figure
and appends it to COMPOSE_FIGURES. Reads the generated .env at COMPOSE_ENV_FILE.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from test_cluster import check_exactly_once, fault_spec, sender_stats  # noqa: E402  (the native suite's audit)

from sweeps.testing.ray_cluster import wait_job  # noqa: E402
from sweeps.testing.runs import restores, runs_of  # noqa: E402
from sweeps.testing.s3 import S3Server  # noqa: E402
from sweeps.testing.topology import ARTIFACT_BUCKET, TUNE_BUCKET, Topology  # noqa: E402

DASHBOARD, MLFLOW, S3, PROMETHEUS = ("http://127.0.0.1:8265", "http://127.0.0.1:5000", "http://127.0.0.1:9000",
                                     "http://127.0.0.1:9090")
PROJECT = "resnet-sweeps"
BIN = os.path.dirname(sys.executable)


def read_env(path: str) -> dict[str, str]:
    with open(path) as fh:
        return dict(line.strip().split("=", 1) for line in fh if "=" in line and not line.startswith("#"))


ENV = read_env(os.environ["COMPOSE_ENV_FILE"])


def figure(title: str, **values) -> None:
    line = f"[{title}] " + ", ".join(f"{k}={v}" for k, v in values.items())
    print(line, flush=True)
    with open(os.environ["COMPOSE_FIGURES"], "a") as fh:
        fh.write(line + "\n")


@dataclass
class Login:
    """The MLflow server as the audit sees it: its host URL and the admin login from .env."""
    url: str
    username: str
    password: str

    @property
    def credentials(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": self.username, "MLFLOW_TRACKING_PASSWORD": self.password}


def stack() -> Topology:
    """The compose stack seen from the host through its 127.0.0.1 ports; no Ray handle (jobs go through the CLI)."""
    s3 = S3Server(S3, None, "", ENV["MINIO_ROOT_USER"], ENV["MINIO_ROOT_PASSWORD"], (TUNE_BUCKET, ARTIFACT_BUCKET))
    login = Login(MLFLOW, ENV["MLFLOW_TRACKING_USERNAME"], ENV["MLFLOW_TRACKING_PASSWORD"])
    return Topology(ray=None, mlflow=login, s3=s3, root=tempfile.mkdtemp(dir=os.environ["COMPOSE_STATE_DIR"]))


def user_env() -> dict[str, str]:
    """A user's shell per docs/cluster.md section 3: the Ray token exported, no MLflow or S3 secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLFLOW_", "AWS_"))}
    return {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": ENV["RAY_AUTH_TOKEN"],
            "PATH": f"{BIN}:{env.get('PATH', '')}"}


def ray_submit(args: list[str], working_dir: str | None = None, wait: bool = True,
               timeout_s: float = 900) -> subprocess.CompletedProcess:
    """`ray job submit --address http://127.0.0.1:8265 [--working-dir D] -- resnet-sweep ARGS`, as documented."""
    cmd = [os.path.join(BIN, "ray"), "job", "submit", "--address", DASHBOARD,
           *(["--working-dir", working_dir] if working_dir else []), *([] if wait else ["--no-wait"]),
           "--", "resnet-sweep", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=user_env(), timeout=timeout_s)


def jobs():
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(DASHBOARD, headers={"Authorization": f"Bearer {ENV['RAY_AUTH_TOKEN']}"})


def job_id_of(done: subprocess.CompletedProcess) -> str:
    found = re.search(r"raysubmit_\w+", done.stdout + done.stderr)
    assert found, done.stdout[-3000:] + done.stderr[-3000:]
    return found.group(0)


def http_status(url: str, auth: tuple[str, str] | None = None, headers: dict | None = None) -> int:
    import base64

    request = urllib.request.Request(url, headers=headers or {})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def compose(*args: str, timeout_s: float = 300) -> str:
    cmd = ["docker", "compose", "-p", PROJECT, "--project-directory", ROOT, "--env-file",
           os.environ["COMPOSE_ENV_FILE"], "-f", os.path.join(ROOT, "docker-compose.yml"),
           "-f", os.path.join(ROOT, "tests", "compose", "standins.override.yml"), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def psql(database: str, query: str) -> str:
    return compose("exec", "-T", "postgres", "psql", "-U", "sweeps", "-d", database, "-tAc", query).strip()


def trial_runs(topo: Topology, experiment: str) -> list:
    os.environ.update(topo.mlflow.credentials)
    return runs_of(MLFLOW, experiment)[1]


# --- What docs/cluster.md tells a user --------------------------------------------------------------------

def check_auth() -> None:
    """Ray's Jobs API and MLflow refuse requests without their secrets, and take them with."""
    ray_anon = http_status(f"{DASHBOARD}/api/jobs/")
    ray_token = http_status(f"{DASHBOARD}/api/jobs/", headers={"Authorization": f"Bearer {ENV['RAY_AUTH_TOKEN']}"})
    anon = http_status(f"{MLFLOW}/")
    wrong = http_status(f"{MLFLOW}/", ("admin", "wrong"))
    login = http_status(f"{MLFLOW}/", (ENV["MLFLOW_TRACKING_USERNAME"], ENV["MLFLOW_TRACKING_PASSWORD"]))
    rebind = http_status(f"{MLFLOW}/", (ENV["MLFLOW_TRACKING_USERNAME"], ENV["MLFLOW_TRACKING_PASSWORD"]),
                         headers={"Host": "evil.example:5000"})
    figure("auth", ray_jobs_api_without_token=ray_anon, with_token=ray_token, mlflow_without_login=anon,
           wrong_password=wrong, with_login=login, mlflow_foreign_host_header=rebind)
    assert ray_anon in (401, 403) and ray_token == 200, (ray_anon, ray_token)
    assert (anon, wrong, login) == (401, 401, 200) and rebind in (400, 403), (anon, wrong, login, rebind)


def check_smoke(topo: Topology) -> None:
    """The documented submit of the smoke spec, then where its runs, state and artifacts landed."""
    t0 = time.monotonic()
    done = ray_submit(["run", "smoke"])
    wall = time.monotonic() - t0
    assert done.returncode == 0 and re.search(r"Job 'raysubmit_\w+' succeeded", done.stdout + done.stderr), \
        done.stdout[-4000:] + done.stderr[-3000:]
    audit = check_exactly_once(topo, "smoke", 4, 2)
    out = done.stdout + done.stderr
    links = sorted(set(re.findall(r"https?://[\w.:-]+/#/experiments/", out)))
    figure("smoke job (ray job submit ... resnet-sweep run smoke)", wall_s=round(wall, 1), ui_links=links, **audit)
    assert links == [f"{MLFLOW}/#/experiments/"], links  # what the host's browser opens, not http://mlflow:5000
    uri = topo.sweep_uri("smoke")
    prefix = uri[len(f"s3://{TUNE_BUCKET}/"):]
    keys = topo.s3.keys(TUNE_BUCKET, prefix)
    checkpoints = {k.split("/checkpoint_")[0] for k in keys if "/checkpoint_" in k}
    artifacts = topo.s3.keys(ARTIFACT_BUCKET)
    assert len(checkpoints) == 4 and any(k.endswith("report/report.html") for k in artifacts), (checkpoints, artifacts[:9])
    runs_pg = psql("mlflow", "select count(*) from runs r join experiments e using (experiment_id) "
                             "where e.name = 'smoke'")
    studies = psql("optuna", "select count(*) from studies")
    users = psql("mlflow_auth", "select count(*) from users")
    assert int(runs_pg) == 5, runs_pg
    figure("smoke storage", tune_uri=uri, tune_objects=len(keys), trials_with_s3_checkpoints=len(checkpoints),
           mlflow_artifact_objects=len(artifacts), runs_in_postgres=runs_pg, optuna_studies=studies,
           mlflow_users=users)


def check_prometheus(nodes: int) -> None:
    """Prometheus found every Ray node through Ray's service discovery file and scrapes it."""
    deadline = time.monotonic() + 90
    while True:
        with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/targets", timeout=10) as resp:
            targets = [t for t in json.load(resp)["data"]["activeTargets"] if t["labels"]["job"] == "ray"]
        up = [t for t in targets if t["health"] == "up"]
        if len(up) >= nodes or time.monotonic() > deadline:
            break
        time.sleep(5)
    query = urllib.parse.quote("count(ray_node_cpu_count)")
    with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/query?query={query}", timeout=10) as resp:
        result = json.load(resp)["data"]["result"]
    cpu_series = int(result[0]["value"][1]) if result else 0
    figure("prometheus", ray_targets=len(targets), up=len(up), nodes_reporting_ray_node_cpu_count=cpu_series)
    assert len(up) >= nodes and cpu_series >= nodes, (targets, result)


# --- Faults ---------------------------------------------------------------------------------------------------

def submit_fault_sweep(topo: Topology, name: str, epochs: int) -> str:
    """The native suite's two-trial fault spec, sent with --working-dir (the spec file travels with the job)."""
    os.makedirs(topo.root, exist_ok=True)
    spec = fault_spec(topo, name, epochs)
    done = ray_submit(["run", os.path.basename(spec), "--no-report"], working_dir=topo.root, wait=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return job_id_of(done)


def wait_for_epoch(topo: Topology, name: str, at_least: int, timeout_s: float = 300) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = trial_runs(topo, name)
        if any(r.data.metrics.get("epoch", 0) >= at_least for r in runs):
            return runs
        time.sleep(1)
    raise TimeoutError(f"no trial of {name} reached epoch {at_least} in {timeout_s:.0f}s")


def worker_containers() -> dict[str, str]:
    """Ray node id -> container name of every running ray-worker, matched on the compose network address."""
    listed = subprocess.run([os.path.join(BIN, "ray"), "list", "nodes", "--address", DASHBOARD, "--format", "json"],
                            capture_output=True, text=True, env=user_env(), timeout=60, check=True).stdout
    by_ip = {n["node_ip"]: n["node_id"] for n in json.loads(listed) if n["state"] == "ALIVE"}
    out = {}
    for name in compose("ps", "--format", "{{.Name}}", "ray-worker").split():
        ip = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                             name], capture_output=True, text=True, check=True).stdout.strip()
        if ip in by_ip:
            out[by_ip[ip]] = name
    return out


def fault_worker_killed(topo: Topology) -> None:
    """docker kill of the worker that runs the furthest trial: it resumes from its S3 checkpoint elsewhere."""
    name, epochs = f"compose_worker_kill_{time.strftime('%H%M%S')}", 12
    job_id = submit_fault_sweep(topo, name, epochs)
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:  # a trial on a worker past its epoch-2 checkpoint
        workers = worker_containers()
        on_workers = [r for r in wait_for_epoch(topo, name, 3)
                      if r.data.tags.get("node_id") in workers and r.data.metrics.get("epoch", 0) >= 3]
        if on_workers:
            lead = max(on_workers, key=lambda r: r.data.metrics.get("epoch", 0))
            node = lead.data.tags["node_id"]
            victim = (workers[node], int(lead.data.metrics["epoch"]), lead.data.params["trial_id"], node)
        else:
            time.sleep(1)
    assert victim, "no trial ran on a worker container"
    subprocess.run(["docker", "kill", victim[0]], check=True, capture_output=True)
    status = wait_job(jobs(), job_id, timeout_s=600)
    logs = jobs().get_job_logs(job_id)
    assert status == "SUCCEEDED", logs[-4000:]
    audit = check_exactly_once(topo, name, 2, epochs)
    redo = restores(topo.sweep_dir(name))
    moved = next(r for r in trial_runs(topo, name) if r.data.params["trial_id"] == victim[2]).data.tags["node_id"]
    workers_now = worker_containers()
    landed = workers_now.get(moved, "not a worker (the head, or a node now gone)")
    figure("fault: docker kill of a worker mid-trial", killed=victim[0], at_epoch=victim[1], resumed_on=landed,
           **redo, **audit, max_buffered=sender_stats(logs)["max_buffered"])
    assert moved != victim[3] and moved in workers_now, (victim, moved)  # on the other worker
    assert redo["trials_retried"] >= 1 and redo["restarted_from_0"] == 0, redo
    compose("up", "-d", "--wait", "--scale", f"ray-worker={os.environ.get('COMPOSE_WORKERS', '2')}",
            "--no-recreate", "ray-worker")  # restart: unless-stopped does not bring back a killed container


def fault_postgres_restarted(topo: Topology) -> None:
    """docker restart of PostgreSQL mid-sweep: MLflow's and Optuna's store comes back, nothing is lost."""
    name, epochs = f"compose_pg_restart_{time.strftime('%H%M%S')}", 12
    job_id = submit_fault_sweep(topo, name, epochs)
    wait_for_epoch(topo, name, 3)
    t0 = time.monotonic()
    container = compose("ps", "--format", "{{.Name}}", "postgres").split()[0]
    subprocess.run(["docker", "restart", container], check=True, capture_output=True)
    restart_s = time.monotonic() - t0
    status = wait_job(jobs(), job_id, timeout_s=600)
    logs = jobs().get_job_logs(job_id)
    assert status == "SUCCEEDED", logs[-4000:]
    audit = check_exactly_once(topo, name, 2, epochs)
    stats = sender_stats(logs)
    figure("fault: docker restart of postgres mid-sweep", restart_s=round(restart_s, 1), **audit,
           retries=stats["retries"], skipped_duplicates=stats["skipped_duplicates"])


def main() -> None:
    topo = stack()
    nodes = 1 + int(os.environ.get("COMPOSE_WORKERS", "2"))
    check_auth()
    check_smoke(topo)
    check_prometheus(nodes)
    if os.environ.get("COMPOSE_FAULTS", "1") == "1":
        fault_worker_killed(topo)
        fault_postgres_restarted(topo)


if __name__ == "__main__":
    main()
