"""fANOVA importance of a sweep's params, from an Optuna study rebuilt in memory from its completed trials."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd

from dashboards.stats import completed

from .space import distributions, trial_params


def param_importance(trials: pd.DataFrame, params: Sequence[str], metric: str, mode: str = "max") -> dict[str, float]:
    """fANOVA importance of params for metric over completed trials; {} with < 2 trials or no variation.

    Params that never vary get importance 0.0. The Optuna study is rebuilt in memory from the frame.
    """
    import optuna  # imported here: heavy, and only this function needs it

    if mode not in ("max", "min"):
        raise ValueError(f'mode must be "max" or "min"; got {mode!r}')
    df = completed(trials)
    missing = [p for p in [*params, metric] if p not in df]
    if missing:
        raise ValueError(f"columns {missing} not in trials; available: {sorted(map(str, df.columns))}")
    df = df.dropna(subset=[*params, metric])
    varying = [p for p in params if df[p].nunique() > 1]
    if len(df) < 2 or not varying or df[metric].nunique() < 2:
        return {}
    dists = distributions(df, varying)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    study.add_trials([_frozen_trial(record, dists, metric) for record in df[[*varying, metric]].to_dict("records")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna flags its evaluators as experimental
        scores = optuna.importance.get_param_importances(study, evaluator=_evaluator(), params=varying)
    return {**{p: float(v) for p, v in scores.items()}, **{p: 0.0 for p in params if p not in varying}}


def _frozen_trial(record: dict, dists: dict, metric: str):
    """A completed Optuna trial holding one trial's params and metric value."""
    import optuna

    return optuna.trial.create_trial(params=trial_params(record, dists), distributions=dists,
                                     value=float(record[metric]))


def _evaluator():
    """Seeded fANOVA evaluator; PED-ANOVA when scikit-learn (fANOVA's forest) is not installed."""
    import optuna

    try:
        import sklearn  # noqa: F401
    except ImportError:
        return optuna.importance.PedAnovaImportanceEvaluator()
    return optuna.importance.FanovaImportanceEvaluator(seed=0)
