"""A sweep's search trials as an Optuna study, for optuna-dashboard: rebuilt from its MLflow runs into a file.

A sweep with a study database (`--optuna-storage`) has its live study there already; every other sweep's
study lived in the driver's memory, so the dashboard gets one rebuilt from what MLflow kept.
"""

from __future__ import annotations

import math

import pandas as pd

from dashboards.search_space import _distribution, _native
from resnet_core.config import FIELDS


def searched_params(trials: pd.DataFrame) -> list[str]:
    """Config fields that vary across the trials (the searched ones; the seed is not a choice)."""
    return [f for f in FIELDS if f in trials and f != "seed" and trials[f].nunique() > 1]


def study_trials(trials: pd.DataFrame, metric: str) -> list:
    """Frozen Optuna trials: completed with their value, pruned with their last value at their last epoch,
    diverged and errored as failed; each names its MLflow run."""
    import optuna

    search = trials[trials["stage"] == "search"] if "stage" in trials else trials
    params = searched_params(search)
    dists = {p: _distribution(search[p], p) for p in params}
    states = {"completed": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}
    out = []
    for rec in search.to_dict("records"):
        value = rec.get(metric)
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        state = states.get(rec["outcome"], optuna.trial.TrialState.FAIL) if finite else optuna.trial.TrialState.FAIL
        values = {p: float(rec[p]) if isinstance(d, optuna.distributions.FloatDistribution) else _native(rec[p])
                  for p, d in dists.items()}
        epoch = int(rec.get("epoch") or 0)
        out.append(optuna.trial.create_trial(
            params=values, distributions=dists, state=state,
            value=float(value) if state == optuna.trial.TrialState.COMPLETE else None,
            intermediate_values={epoch: float(value)} if finite and epoch else None,
            user_attrs={"mlflow_run_id": rec["run_id"], "trial_id": rec["trial_id"], "outcome": rec["outcome"]}))
    return out


def rebuild_study(trials: pd.DataFrame, metric: str, mode: str, storage_url: str, name: str):
    """The study `name` in storage_url, replaced by one holding the sweep's search trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if name in {s.study_name for s in optuna.get_all_study_summaries(storage_url)}:
        optuna.delete_study(study_name=name, storage=storage_url)
    study = optuna.create_study(storage=storage_url, study_name=name,
                                direction="maximize" if mode == "max" else "minimize")
    study.set_user_attr("metric", metric)
    study.add_trials(study_trials(trials, metric))
    return study
