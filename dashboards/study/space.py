"""Optuna's view of a sweep's search space: a distribution per param column, and a trial's values as Optuna's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.stats import LOG_PARAMS


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


def distributions(trials: pd.DataFrame, params: Sequence[str]) -> dict:
    """Optuna distribution of each param column, as the rebuilt studies (importance, dashboard) declare them."""
    return {p: _distribution(trials[p], p) for p in params}


def trial_params(record: dict, dists: dict) -> dict:
    """One trial's param values as Optuna wants them for dists (plain Python types, floats for floats)."""
    from optuna.distributions import FloatDistribution

    return {p: float(record[p]) if isinstance(d, FloatDistribution) else _native(record[p]) for p, d in dists.items()}
