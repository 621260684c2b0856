"""A sweep's storage path on S3 (a real S3-protocol server, moto_server): wrong or missing credentials, a
missing bucket and an unreachable endpoint fail in one line with exit 2, before Ray starts and before any
MLflow run is made. The sweeps themselves run on S3 in the cluster tests (tests/test_cluster.py)."""

from __future__ import annotations

import pytest
import yaml

from sweeps.cli import main
from sweeps.storage.paths import storage_root
from sweeps.testing.ports import free_port
from sweeps.testing.runs import runs_of
from sweeps.testing.s3 import s3_server

SPEC = {"name": "s3check", "dataset": "synthetic", "search": "grid", "scheduler": "none",
        "train": {"epochs": 1, "depth": 8}, "search_space": {"residual": {"grid": [True]}}}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server(str(tmp_path_factory.mktemp("s3")), buckets=("ray",)) as server:
        yield server


@pytest.fixture
def s3_env(s3, monkeypatch):
    """The valid key in this process's environment, as on a node (restored after the test)."""
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def run_failing(tmp_path, capsys, tracking_uri: str, *args: str) -> str:
    """`resnet-sweep ARGS`, which must fail with exit 2 and one line, start no Ray and make no run."""
    import ray

    code = main(list(args))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    assert not ray.is_initialized()
    parents, trials = runs_of(tracking_uri, SPEC["name"])
    assert parents == [] and trials == []
    return err[0]


def spec_file(tmp_path) -> str:
    path = tmp_path / "s3check.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return str(path)


@pytest.mark.parametrize("change,message", [
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "refused these credentials: check AWS_ACCESS_KEY_ID"),
    ({"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN0000000"}, "refused these credentials"),
    ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
     "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    ({"AWS_ENDPOINT_URL": "unreachable"}, "cannot reach http://127.0.0.1:"),
], ids=["wrong-secret", "unknown-key", "no-credentials", "unreachable"])
def test_bad_s3_access_fails_in_one_line_before_ray(change, message, s3_env, mlflow_http, tmp_path, capsys) -> None:
    s3_env.setenv("HOME", str(tmp_path))  # no ~/.aws of whoever runs the tests
    for key, value in change.items():
        if value is None:
            s3_env.delenv(key)
        else:
            s3_env.setenv(key, f"http://127.0.0.1:{free_port()}" if value == "unreachable" else value)
    line = run_failing(tmp_path, capsys, mlflow_http.url, "run", spec_file(tmp_path), "--tracking-uri",
                       mlflow_http.url, "--storage-path", "s3://ray/sweeps")
    assert line.startswith("resnet-sweep run: error: storage-path: cannot write to s3://ray/sweeps ("), line
    assert message in line, line


def test_missing_bucket_fails_in_one_line_before_ray(s3, s3_env, mlflow_http, tmp_path, capsys) -> None:
    line = run_failing(tmp_path, capsys, mlflow_http.url, "run", spec_file(tmp_path), "--tracking-uri",
                       mlflow_http.url, "--storage-path", "s3://no-such-bucket/sweeps")
    assert line.endswith(f"storage-path: bucket 'no-such-bucket' does not exist at {s3.endpoint}; "
                         "create it first"), line


def test_storage_path_from_the_environment_and_resume_of_a_missing_sweep(s3, s3_env, mlflow_http, tmp_path,
                                                                         capsys) -> None:
    s3_env.setenv("TUNE_STORAGE_PATH", "s3://ray/sweeps/")
    assert storage_root(None) == "s3://ray/sweeps" and storage_root(str(tmp_path)) == str(tmp_path)
    line = run_failing(tmp_path, capsys, mlflow_http.url, "resume", "s3check")
    assert line.endswith("sweep: no sweep folder 's3check' and no sweep named so under s3://ray/sweeps"), line
    line = run_failing(tmp_path, capsys, mlflow_http.url, "resume", "s3://ray/sweeps/s3check_20260101-000000")
    assert "holds no resnet_sweep.json" in line, line
    s3_env.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    line = run_failing(tmp_path, capsys, mlflow_http.url, "resume", "s3://ray/sweeps/s3check_20260101-000000")
    assert "refused these credentials" in line, line
    assert [k for k in s3.keys("ray") if not k.endswith("/")] == []  # the write checks left no object behind
