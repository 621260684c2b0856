"""The Python API (sweeps.run / resume / load, SweepResult): bad input, a light import, docstrings, and a sweep
read back from a real `mlflow server` in a new process."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from mlflow import MlflowClient

import sweeps

# A new interpreter that loads a sweep and prints what a notebook would compare.
LOAD = """
import json, sys, sweeps
r = sweeps.load(sys.argv[1], tracking_uri=sys.argv[2])
print(json.dumps({"run_ids": list(r.trials["run_id"]), "verdict": r.verdict.to_json(), "headline": r.headline,
                  "parent": r.parent_run_id}))
"""


def load_elsewhere(experiment: str, uri: str) -> dict:
    """sweeps.load in a fresh process: the run ids of .trials, .verdict as JSON, .headline and the parent run."""
    done = subprocess.run([sys.executable, "-c", LOAD, experiment, uri], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_public_name_and_member_has_a_docstring() -> None:
    for name in sweeps.__all__:
        obj = getattr(sweeps, name)
        assert (obj.__doc__ or "").strip(), f"sweeps.{name} has no docstring"
    for cls in (sweeps.SweepResult, sweeps.Reproduction):
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and callable(getattr(member, "fget", member)) and name != "experiment_id":
                doc = getattr(member, "__doc__", None) or getattr(getattr(member, "fget", None), "__doc__", None)
                assert (doc or "").strip(), f"{cls.__name__}.{name} has no docstring"


@pytest.mark.parametrize("spec, message", [
    ({"name": "api-bad", "search": "bogus"}, "search: must be one of optuna, random, grid, quasirandom; got 'bogus'"),
    ({"name": "api-bad", "train": {"depth": 51}, "search_space": {"lr": {"loguniform": [0.01, 0.1]}}},
     "train: depth must be 6n+2"),
    (["not", "a", "mapping"], "spec: must be a spec name, a YAML path or a dict; got list"),
    ("no-such-spec", "spec: no file 'no-such-spec' and no shipped spec of that name; shipped: degradation,"),
])
def test_bad_spec_raises_one_line_spec_error_before_anything_starts(mlflow_http, spec, message) -> None:
    import ray

    with pytest.raises(sweeps.SpecError) as caught:
        sweeps.run(spec, tracking_uri=mlflow_http.url)
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text
    assert not ray.is_initialized()
    assert MlflowClient(mlflow_http.url).get_experiment_by_name("api-bad") is None  # no experiment, no run


def test_the_command_line_prints_the_api_s_error(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text("name: api-bad\nsearch: bogus\n")
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", str(tmp_path / "bad.yaml")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "resnet-sweep run: error: search: must be one of optuna, random, grid, quasirandom; got 'bogus'\n"


def test_load_in_a_new_process_gives_the_same_trials(smoke_sweep_http) -> None:
    here = sweeps.load(smoke_sweep_http.experiment, tracking_uri=smoke_sweep_http.tracking_uri)
    there = load_elsewhere(smoke_sweep_http.experiment, smoke_sweep_http.tracking_uri)
    assert there["parent"] == here.parent_run_id and len(here.trials) == 4
    assert there["run_ids"] == list(here.trials["run_id"])
    assert there["headline"] == here.headline
    row = here.best()
    assert row["run_id"] == MlflowClient(here.tracking_uri).get_run(here.parent_run_id).data.tags["best_run_id"]
    curve = here.history("train/error")
    assert set(curve["run_id"]) == set(here.trials["run_id"]) and set(curve["epoch"]) == {1, 2}
    assert {"depth", "residual", "lr"} <= set(curve)
    assert here.ui_url.startswith(f"{smoke_sweep_http.tracking_uri}/#/experiments/{here.experiment_id}")
    assert here.headline in here._repr_html_() and here.ui_url in here._repr_html_()


def test_history_of_a_metric_never_logged_names_it(smoke_sweep_http) -> None:
    result = sweeps.load(smoke_sweep_http.experiment, tracking_uri=smoke_sweep_http.tracking_uri)
    with pytest.raises(KeyError, match="no trial of sweep 'smoke' logged 'val/nothing'"):
        result.history("val/nothing")


def test_load_of_an_unknown_sweep_is_one_spec_error(mlflow_http) -> None:
    with pytest.raises(sweeps.SpecError, match="^experiment: no sweep named 'api-missing'"):
        sweeps.load("api-missing", tracking_uri=mlflow_http.url)
