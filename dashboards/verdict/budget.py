"""How much the tuning budget matters: each arm's expected best score after n search trials (Dodge et al. 2019).

Pure: the search trials in, curves and a table out; the figure is `dashboards.figures.budget`'s, the sentence
`dashboards.verdict.headline`'s. For one arm's N configurations with sorted values v_(1) <= ... <= v_(N), the
expected maximum of n draws (with replacement) is
E[max of n] = sum_i v_(i) * ((i/N)^n - ((i-1)/N)^n). A curve still rising at n = N says that more tuning
could have found a better configuration, and so could change the verdict.

This is the *tuning* budget (search configurations per arm); the *training* budget (epochs each net trains, the
verdict per budget, convergence) is `dashboards.verdict.budgets`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.stats import arm_names
from sweeps.search.adequacy import curve_values, expected_max  # the engine acts on the same curve
from sweeps.tracking import names

FACTORS = ("depth", "residual", "recipe", "epochs")  # the columns that name an arm (a recipe implies its residual)
RISING_PP = 0.5  # gain of the last trial (percentage points of the metric) above which a curve is still rising


def _configuration_values(rows: pd.DataFrame, params: Sequence[str], metric: str, mode: str) -> np.ndarray:
    """One value per searched configuration of an arm: its metric's mean over seeds (finite values only), where a
    configuration the scheduler stopped early counts as the engine counts it (sweeps.search.adequacy.curve_values:
    no better than the worst one that finished, since its rung score is not a final score)."""
    keys = [p for p in params if p in rows and p not in FACTORS]
    rows = rows[np.isfinite(pd.to_numeric(rows[metric], errors="coerce"))]
    if not len(rows):
        return np.array([])
    pruned = rows[names.OUTCOME] == "pruned" if names.OUTCOME in rows else pd.Series(False, index=rows.index)
    rows = rows.assign(_pruned=pruned)
    groups = rows.groupby(keys, dropna=False) if keys else ((i, rows.loc[[i]]) for i in rows.index)
    configs = [{"value": float(g[metric].mean()), "pruned": bool(g["_pruned"].any())} for _, g in groups]
    return np.asarray(curve_values(configs, mode), dtype=float)


def budget_curves(trials: pd.DataFrame, params: Sequence[str], metric: str = names.METRIC_DEFAULT,
                  mode: str = names.MODE_DEFAULT) -> pd.DataFrame:
    """Per arm (depth and network or recipe, and training budget when there are several) of the search stage and
    n = 1..N: the expected best metric, in percent."""
    columns = ["depth", "arm", "n", "expected_best", "configurations"]
    search = trials[trials[names.STAGE] != names.CONFIRM] if names.STAGE in trials else trials
    if not len(search) or metric not in search or not {"depth", "residual"} <= set(search):
        return pd.DataFrame(columns=columns)
    sign = 1.0 if mode == "max" else -1.0
    scale = 100.0 if metric.endswith(("acc", "error")) else 1.0
    arms = arm_names(search)
    if names.EPOCHS in search and search[names.EPOCHS].nunique() > 1:  # each training budget tunes on its own
        arms = arms + ", " + search[names.EPOCHS].astype(int).astype(str) + " epochs"
    out = []
    for (depth, arm), rows in search.assign(arm=arms).groupby(["depth", "arm"]):
        values = sign * _configuration_values(rows, params, metric, mode)
        out += [{"depth": depth, "arm": arm, "n": n, "configurations": len(values),
                 "expected_best": sign * scale * expected_max(values, n)} for n in range(1, len(values) + 1)]
    return pd.DataFrame(out, columns=columns).sort_values(["depth", "n"], kind="stable").reset_index(drop=True)


def still_rising(curves: pd.DataFrame, mode: str = "max") -> pd.DataFrame:
    """The arms whose curve gained at least RISING_PP with their last search trial: (depth, arm, gain)."""
    sign = 1.0 if mode == "max" else -1.0
    rows = []
    for (depth, arm), c in curves.groupby(["depth", "arm"], sort=False):
        c = c.sort_values("n")
        if len(c) >= 2 and sign * (c["expected_best"].iloc[-1] - c["expected_best"].iloc[-2]) >= RISING_PP:
            rows.append({"depth": depth, "arm": arm, "gain": abs(c["expected_best"].iloc[-1] -
                                                                 c["expected_best"].iloc[-2])})
    return pd.DataFrame(rows, columns=["depth", "arm", "gain"])


def budget_table(curves: pd.DataFrame, mode: str = "max") -> pd.DataFrame:
    """Depth, arm, the expected best after n = 1..k trials, and whether the curve still rises at k."""
    rising = {(r.depth, r.arm) for r in still_rising(curves, mode).itertuples()}
    rows = []
    for (depth, arm), c in curves.groupby(["depth", "arm"], sort=False):
        row = {"Depth": int(depth), "Arm": arm}
        row |= {f"n = {int(n)}": f"{v:.1f}" for n, v in zip(c["n"], c["expected_best"])}
        rows.append(row | {"Still rising at k": "yes" if (depth, arm) in rising else "no"})
    return pd.DataFrame(rows).fillna("–")
