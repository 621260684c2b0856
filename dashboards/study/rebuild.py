"""A sweep's search trials as an Optuna study, for optuna-dashboard: rebuilt from its MLflow runs into a file.

A sweep with a study database (`--optuna-storage`) has its live study there already; every other sweep's
study lived in the driver's memory, so the dashboard gets one rebuilt from what MLflow kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from sweeps.tracking import names

from .space import distributions, trial_params


def study_trials(trials: pd.DataFrame, params: Sequence[str], metric: str) -> list:
    """Frozen Optuna trials of the search stage: completed with their value, pruned with their last value at
    their last epoch, diverged and errored as failed; each names its MLflow run."""
    import optuna

    State = optuna.trial.TrialState
    search = trials[trials[names.STAGE] == names.SEARCH] if names.STAGE in trials else trials
    dists = distributions(search, params)
    out = []
    for rec in search.to_dict("records"):
        value, epoch = rec.get(metric), int(rec.get("epoch") or 0)
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        state = {"completed": State.COMPLETE, "pruned": State.PRUNED}.get(rec["outcome"], State.FAIL) \
            if finite else State.FAIL
        out.append(optuna.trial.create_trial(
            params=trial_params(rec, dists), distributions=dists, state=state,
            value=float(value) if state == State.COMPLETE else None,
            intermediate_values={epoch: float(value)} if finite and epoch else None,
            user_attrs={"mlflow_run_id": rec["run_id"], "trial_id": rec["trial_id"], "outcome": rec["outcome"]}))
    return out


def rebuild_study(trials: pd.DataFrame, params: Sequence[str], metric: str, mode: str, storage_url: str,
                  name: str) -> None:
    """The study `name` in storage_url, replaced by one holding the sweep's search trials over params."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if name in {s.study_name for s in optuna.get_all_study_summaries(storage_url)}:
        optuna.delete_study(study_name=name, storage=storage_url)
    study = optuna.create_study(storage=storage_url, study_name=name,
                                direction="maximize" if mode == "max" else "minimize")
    study.set_user_attr("metric", metric)
    study.add_trials(study_trials(trials, params, metric))
