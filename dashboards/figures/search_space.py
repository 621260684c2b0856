"""The search space as figures: fANOVA importance as bars, the completed trials in parallel coordinates (plotly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure

from dashboards.stats import LOG_PARAMS, completed

from .style import OKABE_ITO


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
