"""D3: one rule for "the best run of a sweep": finalize (the parent's best_model_run), `reproduce EXPERIMENT` and
SweepResult.best pick the same run, from the verdict's stage, also when a search trial scored higher."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

import sweeps
from sweeps.reproduce import resolve_run
from sweeps.spec import parse_spec
from sweeps.storage.state import Sweep
from sweeps.tracking import names
from sweeps.tracking.best_run import Candidate, best_candidate
from sweeps.tracking.finalize import finalize

SPEC = {"name": "bestrule", "dataset": "synthetic", "train": {"epochs": 2, "depth": 8},
        "search_space": {"residual": {"choice": [True, False]}, "lr": {"loguniform": [0.01, 0.1]}},
        "per_arm": 1, "confirm": {"seeds": 2, "factors": ["residual"]}}


def test_the_rule_takes_the_verdict_stage_and_completed_runs_first() -> None:
    runs = [Candidate("s1", "search", "completed", 0.99), Candidate("c1", "confirm", "completed", 0.5),
            Candidate("c2", "confirm", "completed", 0.6), Candidate("c3", "confirm", "pruned", 0.9),
            Candidate("c4", "confirm", "completed", None)]
    assert best_candidate(runs, "confirm", "max") == "c2"
    assert best_candidate(runs, "confirm", "min") == "c1"
    assert best_candidate(runs, "search", "max") == "s1"
    assert best_candidate([Candidate("p", "confirm", "pruned", 0.3)], "confirm", "max") == "p"  # none completed
    assert best_candidate([Candidate("b", "confirm", "completed", 0.5), Candidate("a", "confirm", "completed", 0.5)],
                          "confirm", "max") == "a"  # ties: the first run id, the same pick every time
    assert best_candidate(runs[:1], "confirm", "max") is None


def _trial(client: MlflowClient, experiment_id: str, parent: str, stage: str, value: float, residual: bool) -> str:
    run = client.create_run(experiment_id, tags={names.PARENT_RUN: parent, names.ROLE: names.TRIAL,
                                                 names.STAGE: stage, names.OUTCOME: "completed",
                                                 names.TRIAL_ID: f"{stage}-{value}"})
    for key, val in {"depth": 8, "residual": residual, "lr": 0.05, "seed": 0, "epochs": 2,
                     "dataset": "synthetic"}.items():
        client.log_param(run.info.run_id, key, val)
    client.log_metric(run.info.run_id, "val/acc", value, step=2)
    client.log_metric(run.info.run_id, "train/error", 1 - value, step=2)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.mark.slow
def test_reproduce_finalize_and_best_agree_when_a_search_trial_beats_every_confirm_run(tmp_path) -> None:
    from sweeps.engine.runner import open_parent_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = parse_spec(SPEC)
    experiment_id, parent = open_parent_run(spec, uri, str(tmp_path / "bestrule_1"))
    client = MlflowClient(uri)
    search_star = _trial(client, experiment_id, parent, "search", 0.95, True)  # the best score of the sweep
    _trial(client, experiment_id, parent, "search", 0.40, False)
    confirm_best = _trial(client, experiment_id, parent, "confirm", 0.70, True)
    for value, residual in ((0.60, True), (0.30, False), (0.35, False)):
        _trial(client, experiment_id, parent, "confirm", value, residual)

    finalize(Sweep(spec, str(tmp_path / "bestrule_1"), uri, experiment_id, parent), results=[])
    tags = client.get_run(parent).data.tags
    assert tags[names.BEST_MODEL_RUN] == tags[names.BEST_RUN_ID] == confirm_best != search_star
    assert resolve_run(client, "bestrule").info.run_id == confirm_best  # by experiment name
    assert resolve_run(client, parent).info.run_id == confirm_best      # by parent run id
    assert sweeps.load("bestrule", tracking_uri=uri).best()["run_id"] == confirm_best


@pytest.mark.slow
def test_reproduce_of_a_sweep_on_an_unreachable_server_says_so(monkeypatch) -> None:
    """resolve_run no longer takes every failure of get_run for "not a run id"."""
    from sweeps.errors import ServiceError

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail at once, not after minutes of backoff
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    client = MlflowClient("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ServiceError, match="^tracking: MLflow could not look up run 'degradation'"):
        resolve_run(client, "degradation")
