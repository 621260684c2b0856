"""A password in the Optuna storage URL goes nowhere: not in a spec, MLflow, Tune's folder, the report or logs."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile

import mlflow
import optuna
import pytest
import yaml
from mlflow import MlflowClient
from test_security import files_bytes

from sweeps.cli import main
from sweeps.spec import load_spec
from sweeps.storage.studies import resume_storage
from sweeps.testing.postgres import postgres_database
from sweeps.env import has_credentials, redact

CLI = [sys.executable, "-m", "sweeps.cli"]


def test_urls_with_a_password_are_found_and_masked() -> None:
    assert redact("postgresql://u:hunter2@db:5432/optuna") == "postgresql://u:***@db:5432/optuna"
    assert redact("postgresql://db/optuna?user=u&password=hunter2") == "postgresql://db/optuna?user=u&password=***"
    for clean in ("sqlite:///optuna.db", "postgresql://u@db/optuna", "mysql://db/optuna?user=u"):
        assert not has_credentials(clean) and redact(clean) == clean


def test_resume_takes_the_password_from_the_flag_or_env_again() -> None:
    saved = "postgresql://u:***@db/optuna"
    assert resume_storage(saved, "postgresql://u:hunter2@db/optuna") == "postgresql://u:hunter2@db/optuna"
    assert resume_storage("sqlite:///o.db", None) == "sqlite:///o.db"  # no password: the saved URL is whole
    assert resume_storage(None, "postgresql://u:hunter2@db/optuna") is None  # an in-memory study stays so
    with pytest.raises(ValueError, match=r"optuna-storage: this sweep's study is in postgresql://u:\*\*\*@db"):
        resume_storage(saved, None)
    with pytest.raises(ValueError, match="not postgresql://u:\\*\\*\\*@other/optuna"):
        resume_storage(saved, "postgresql://u:hunter2@other/optuna")


def test_spec_with_a_password_in_storage_is_refused_without_echoing_it(tmp_path, capsys, monkeypatch) -> None:
    import ray

    spec = yaml.safe_load(load_spec("smoke").source) | {"storage": "postgresql://u:hunter2@127.0.0.1/optuna"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tmp_path / "s.yaml"), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "storage: holds a password (postgresql://u:***@127.0.0.1/optuna)" in err[0]
    assert "--optuna-storage or OPTUNA_STORAGE" in err[0] and "hunter2" not in err[0]
    assert not ray.is_initialized() and not (tmp_path / "m.db").exists()


def mlflow_records(uri: str, experiment: str, folder: str) -> bytes:
    """Every run's params, tags, metric keys and downloaded artifacts in one experiment, as bytes."""
    client = MlflowClient(uri)
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    out = []
    for run in client.search_runs([exp_id], max_results=1000):
        out.append(repr((run.data.params, run.data.tags, sorted(run.data.metrics))).encode())
        out.append(files_bytes(client.download_artifacts(run.info.run_id, "", os.path.join(folder, run.info.run_id))))
    for model in client.search_logged_models([exp_id]):
        out.append(files_bytes(mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location, dst_path=os.path.join(folder, model.model_id), tracking_uri=uri)))
    return b"\n".join(out)


def sweep_cli(args: list[str], cwd: str, ray_tmp: str) -> subprocess.CompletedProcess:
    """resnet-sweep with a clean environment; Ray keeps its session (and logs) under ray_tmp."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "OPTUNA_STORAGE")}
    return subprocess.run([*CLI, *args], cwd=cwd, env={**env, "RAY_TMPDIR": ray_tmp}, capture_output=True,
                          text=True, timeout=480)


@pytest.mark.slow
def test_planted_password_leaks_nowhere_and_resume_finds_the_storage(mlflow_http, tmp_path) -> None:
    """The smoke spec (renamed) with its study on PostgreSQL behind a planted password, passed by flag."""
    secret = f"PLANTED{secrets.token_hex(8)}"
    spec = yaml.safe_load(load_spec("smoke").source) | {"name": "secret-smoke"}
    (tmp_path / "secret-smoke.yaml").write_text(yaml.safe_dump(spec))
    ray_tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    try:
        with postgres_database("secret") as db:  # trust auth: any password is accepted, so it can be planted
            url = db.replace("postgres@", f"postgres:{secret}@")
            run = sweep_cli(["run", str(tmp_path / "secret-smoke.yaml"), "--tracking-uri", mlflow_http.url,
                             "--storage-path", str(tmp_path / "runs"), "--optuna-storage", url], str(tmp_path), ray_tmp)
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
            sweep = next((tmp_path / "runs").iterdir())
            assert len(optuna.load_study(study_name=sweep.name, storage=url).trials) == 4  # the study is there
            sweep = str(sweep)
            refused = sweep_cli(["resume", sweep], str(tmp_path), ray_tmp)
            assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].endswith(
                "optuna-storage: this sweep's study is in " + redact(url) + "; pass its full URL with "
                "--optuna-storage or OPTUNA_STORAGE"), refused.stderr[-2000:]
            resumed = sweep_cli(["resume", sweep, "--optuna-storage", url, "--no-report"], str(tmp_path), ray_tmp)
            assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
            # `resnet-sweep dashboard` finds this sweep's live study in its database, rebuilding nothing.
            from sweeps.cli.dashboard import study_source

            storage, names, what = study_source("secret-smoke", mlflow_http.url, url, str(tmp_path / "rebuilt.db"))
            assert (names, what) == ([os.path.basename(sweep)], "the sweep's live study")
            name = names[0]
            assert len(storage.get_all_trials(storage.get_study_id_from_name(name))) == 4
            assert not (tmp_path / "rebuilt.db").exists()
        places = {
            "MLflow params, tags, metric keys and artifacts": mlflow_records(mlflow_http.url, "secret-smoke",
                                                                             str(tmp_path / "downloads")),
            "the state file and Tune's folder": files_bytes(str(tmp_path / "runs")),
            "the report": files_bytes(str(tmp_path / "reports" / "secret-smoke")),
            "the drivers' output": "".join(p.stdout + p.stderr for p in (run, refused, resumed)).encode(),
            "Ray's logs": files_bytes(ray_tmp),
            "the MLflow server's log": mlflow_http.log_tail(10**9).encode(),
        }
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    # The places searched are the real ones: the spec artifact and the report came down, Ray logged.
    assert b"search_space" in places["MLflow params, tags, metric keys and artifacts"]
    assert b"<html" in places["the report"] and places["Ray's logs"]
    assert b"secret-smoke" in places["the state file and Tune's folder"]
    leaked = [where for where, blob in places.items() if secret.encode() in blob]
    assert not leaked, f"the planted password leaked into: {leaked}"
    print(f"\n[no leak] searched {sum(len(b) for b in places.values()) / 1e6:.1f} MB in {len(places)} places")
