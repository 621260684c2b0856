"""The sweep's search space: fANOVA importance of its params, as bars, and its trials in parallel coordinates.

Pure functions like `dashboards.stats` and `dashboards.figures` (a frame in, numbers or a figure out); kept
apart because they alone need Optuna (importance from a study rebuilt in memory) and plotly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure

from dashboards.figures import OKABE_ITO
from dashboards.stats import LOG_PARAMS, completed

def _distribution(values: pd.Series, name: str):
    """Optuna distribution for one param column: categorical for str/bool/few ints, float (log for LOG_PARAMS)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return CategoricalDistribution(sorted({_native(v) for v in values}, key=str))
    if pd.api.types.is_integer_dtype(values):
        unique = sorted({int(v) for v in values})
        return CategoricalDistribution(unique) if len(unique) <= 10 else IntDistribution(unique[0], unique[-1])
    low, high = float(values.min()), float(values.max())
    return FloatDistribution(low, high, log=name in LOG_PARAMS and low > 0)


def _native(value: object) -> object:
    """Python scalar for a numpy scalar (Optuna's categorical choices must be plain types)."""
    return value.item() if isinstance(value, np.generic) else value


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


def distributions(trials: pd.DataFrame, params: Sequence[str]) -> dict:
    """Optuna distribution of each param column, as the rebuilt studies (importance, dashboard) declare them."""
    return {p: _distribution(trials[p], p) for p in params}


def trial_params(record: dict, dists: dict) -> dict:
    """One trial's param values as Optuna wants them for dists (plain Python types, floats for floats)."""
    from optuna.distributions import FloatDistribution

    return {p: float(record[p]) if isinstance(d, FloatDistribution) else _native(record[p]) for p, d in dists.items()}


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


def _parcoords_dimension(values: pd.Series, name: str) -> dict:
    """Plotly parcoords dimension: categories (and ints with <= 10 values) as coded ticks, LOG_PARAMS as log10."""
    uniques = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    categorical = pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values)
    if categorical or (pd.api.types.is_integer_dtype(values) and len(uniques) <= 10):
        codes = {v: i for i, v in enumerate(uniques)}
        return {"label": name, "values": values.map(codes).to_numpy(), "tickvals": list(codes.values()),
                "ticktext": [str(v) for v in uniques]}
    if name in LOG_PARAMS and (values > 0).all():
        dim = {"label": f"{name} (log10)", "values": np.log10(values.to_numpy(float))}
        if len(uniques) <= 10:
            dim |= {"tickvals": list(np.log10(np.asarray(uniques, float))), "ticktext": [f"{v:g}" for v in uniques]}
        return dim
    return {"label": name, "values": values.to_numpy(float)}


def parallel_coordinates_html(trials: pd.DataFrame, params: Sequence[str], metric: str) -> go.Figure:
    """Plotly parallel coordinates of completed trials over params, coloured by metric (call .to_html on it)."""
    df = completed(trials)
    missing = [c for c in [*params, metric] if c not in df]
    if missing:
        raise ValueError(f"columns {missing} not in trials; available: {sorted(map(str, df.columns))}")
    df = df.dropna(subset=[*params, metric])
    dims = [_parcoords_dimension(df[p], p) for p in params]
    dims.append({"label": metric, "values": df[metric].to_numpy(float)})
    line = {"color": df[metric].to_numpy(float), "colorscale": "Viridis", "showscale": True,
            "colorbar": {"title": {"text": metric}}}
    fig = go.Figure(go.Parcoords(line=line, dimensions=dims))
    fig.update_layout(title={"text": f"Completed trials: {metric} across {', '.join(params)}"})
    return fig


def importance_figure(importances: Mapping[str, float]) -> Figure:
    """Horizontal bars of param importance, largest on top; a note instead of bars when there are none."""
    fig = Figure(figsize=(6, 1.5 + 0.4 * max(len(importances), 1)), layout="constrained")
    ax = fig.subplots()
    items = sorted(importances.items(), key=lambda kv: kv[1])
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items], color=OKABE_ITO[3])
    else:
        ax.text(0.5, 0.5, "no importances: fewer than 2 completed trials or no variation",
                ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="importance (fANOVA, share of explained variance)", ylabel="parameter",
           title="Hyperparameter importance")
    return fig
