"""Which runs a comparison uses: arms (per init and pooled), each arm's best configuration, percent columns,
outcome counts, confirm rows, and what the sweep searched.

Pure: DataFrames in, new DataFrames out; nothing reads MLflow or keeps state. Trial frames come normalised by
`sweeps.tracking.runs` (init filled, residual bool, outcome present). Accuracies and errors in the input frames
are fractions in [0, 1]; outputs in percent say so (`_pct`, `_pp`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from resnet_core.config import FIELDS
from resnet_core.outcomes import OUTCOMES
from sweeps.tracking import names

from .inference import finite, t_interval

ARM_KEYS = ("depth", "residual", "init")  # one "arm" = one network configuration, repeated over seeds (and lrs)
MEASURED = ("completed", "pruned")  # outcomes whose final values are real measurements (pruned: where ASHA stopped it)
POOLED = "all"  # init label of a pooled arm: every init, at the best (init, lr) of its (depth, residual)
LOG_PARAMS = ("lr", "weight_decay")  # swept on a log grid, so importance and plots use log scale

def completed(trials: pd.DataFrame) -> pd.DataFrame:
    """Only the trials whose outcome is "completed" (pruned/diverged/errored finals are not comparable)."""
    return trials[trials["outcome"] == "completed"]


def column_or_nan(df: pd.DataFrame, name: str) -> pd.Series:
    """df[name] as float, or all-NaN when the column is absent."""
    return df[name].astype(float) if name in df else pd.Series(np.nan, index=df.index, dtype=float)


def add_error_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of df with train_err_pct, val_acc_pct, val_err_pct and test_err_pct (NaN where the metric is absent)."""
    out = df.copy()
    train_error = column_or_nan(df, "train/error") if "train/error" in df else 1.0 - column_or_nan(df, "train/acc")
    out["train_err_pct"] = 100.0 * train_error
    out["val_acc_pct"] = 100.0 * column_or_nan(df, "val/acc")
    out["val_err_pct"] = 100.0 - out["val_acc_pct"]
    out["test_err_pct"] = 100.0 * (1.0 - column_or_nan(df, "test/acc"))
    return out


def measured(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed and pruned trials: a pruned trial's final values were measured at the epoch ASHA stopped it."""
    return trials[trials["outcome"].isin(MEASURED)]


def best_lr_group(
    trials: pd.DataFrame, keys: Sequence[str] = ARM_KEYS, metric: str = "val/acc", within: Sequence[str] = ("lr",)
) -> pd.DataFrame:
    """Rows of the configuration with the highest mean metric within each arm; all rows when it cannot choose.

    A configuration is a value of the `within` columns that are present (the lr by default); ties go to the
    first in sorted order, so the choice is reproducible.
    """
    config = [c for c in within if c in trials and c not in keys]
    if not config or metric not in trials or trials.empty:
        return trials
    means = trials.groupby([*keys, *config], dropna=False)[metric].mean().reset_index()
    best = means.sort_values(metric, ascending=False, na_position="last", kind="stable").drop_duplicates(list(keys))
    return trials.merge(best[[*keys, *config]], on=[*keys, *config])


def with_pooled(frame: pd.DataFrame, pool: bool) -> pd.DataFrame:
    """frame, preceded (when pool) by a copy of every row relabelled init POOLED."""
    return pd.concat([frame.assign(init=POOLED), frame], ignore_index=True) if pool else frame


def pools_inits(trials: pd.DataFrame) -> bool:
    """Whether pooled arms add anything: with a single init they would repeat the per-init arms."""
    return trials["init"].nunique() > 1


def chosen_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """Measured rows at each arm's best configuration by val/acc, per init and pooled (init POOLED).

    Per init an arm (depth, residual, init) keeps its best lr; pooled, an arm (depth, residual) keeps its best
    (init, lr) over every init. `config_init` records the init the rows were trained with.
    """
    rows = measured(trials)
    rows = with_pooled(rows.assign(config_init=rows["init"]), pools_inits(trials))
    return best_lr_group(rows, within=("config_init", "lr"))


def arm_summary(chosen: pd.DataFrame, col: str, arms: pd.DataFrame, keys: Sequence[str] = ARM_KEYS) -> pd.DataFrame:
    """n, mean, lo, hi of col per arm over the chosen rows, with a NaN row for each arm of arms lacking values."""
    rows = []
    for key, group in chosen.groupby(list(keys)):
        values = finite(group[col])
        rows.append({**dict(zip(keys, key)), "n": len(values), **dict(zip(("mean", "lo", "hi"), t_interval(values)))})
    summary = pd.DataFrame(rows, columns=[*keys, "n", "mean", "lo", "hi"])
    out = arms[list(keys)].drop_duplicates().merge(summary, on=list(keys), how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    return out.sort_values(list(keys)).reset_index(drop=True)


def arm_points(chosen: pd.DataFrame, col: str, arms: pd.DataFrame) -> pd.DataFrame:
    """arm_summary plus, per arm, pruned_only (every value of col is from a pruned trial) and the last epoch reached."""
    ok = chosen[np.isfinite(chosen[col].astype(float))].assign(epoch=lambda d: column_or_nan(d, "epoch"))
    ok = ok.assign(pruned=ok["outcome"] == "pruned")
    extra = ok.groupby(list(ARM_KEYS)).agg(pruned_only=("pruned", "all"), epoch=("epoch", "max")).reset_index()
    out = arm_summary(chosen, col, arms).merge(extra, on=list(ARM_KEYS), how="left")
    out["pruned_only"] = out["pruned_only"].astype("boolean").fillna(False).astype(bool)
    return out


def outcome_counts(trials: pd.DataFrame, keys: Sequence[str] = ARM_KEYS) -> pd.DataFrame:
    """Number of completed / pruned / diverged / errored trials per arm."""
    counts = trials.groupby(list(keys))["outcome"].value_counts().unstack(fill_value=0)
    return counts.reindex(columns=list(OUTCOMES), fill_value=0).reset_index().rename_axis(columns=None)


def swept_params(spec: dict, trials: pd.DataFrame) -> tuple[str, ...]:
    """The spec's search-space fields present in trials; else the config fields that vary (seed aside)."""
    names = [p for p in (spec.get("search_space") or {}) if p in trials]
    if not names:
        names = [p for p in FIELDS if p != "seed" and p in trials and trials[p].astype(str).nunique() > 1]
    return tuple(names)


def swept_fields(trials: pd.DataFrame) -> list[str]:
    """The config fields that vary among the search trials: what each arm tuned."""
    search = trials[trials[names.STAGE] != names.CONFIRM] if names.STAGE in trials else trials
    return [f for f in FIELDS if f in search and f != "seed" and search[f].nunique(dropna=True) > 1]


def arm_names(trials: pd.DataFrame) -> pd.Series:
    """Each trial's arm within its depth: its recipe where the sweep has recipes, else plain or residual."""
    network = trials["residual"].map(lambda r: "residual" if bool(r) else "plain")
    if "recipe" not in trials:
        return network
    return trials["recipe"].where(trials["recipe"].notna(), network).astype(str)


def confirm_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed confirm runs with percent columns (train_err_pct, val_acc_pct, test_acc_pct)."""
    if names.STAGE not in trials or not len(trials):
        return trials.iloc[0:0]
    rows = trials[trials[names.STAGE] == names.CONFIRM]
    rows = add_error_columns(rows[rows[names.OUTCOME] == "completed"])
    return rows.assign(test_acc_pct=100.0 * column_or_nan(rows, "test/acc"))
