"""Pure report statistics: arm selection (per init and pooled), seed intervals, Welch differences, paper reference.

The verdict table built on them is in `dashboards.verdict`; param importance in `dashboards.search_space`.

Every function takes DataFrames (or arrays) and returns new ones; nothing reads MLflow or keeps state.
Trial frames come normalised by `dashboards.load` (init filled, residual bool, outcome present).
Accuracies and errors in the input frames are fractions in [0, 1]; outputs in percent say so (`_pct`, `_pp`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from resnet_core.config import FIELDS
from resnet_core.outcomes import OUTCOMES

ARM_KEYS = ("depth", "residual", "init")  # one "arm" = one network configuration, repeated over seeds (and lrs)
MEASURED = ("completed", "pruned")  # outcomes whose final values are real measurements (pruned: where ASHA stopped it)
POOLED = "all"  # init label of a pooled arm: every init, at the best (init, lr) of its (depth, residual)
LOG_PARAMS = ("lr", "weight_decay")  # swept on a log grid, so importance and plots use log scale
BLOCK_COLUMN = re.compile(r"^grad_norm/block_(\d+)$")

# He et al. 2015, Table 6 (CIFAR-10): (depth, params in millions, test error %).
PAPER_TABLE6 = (
    (20, 0.27, 8.75), (32, 0.46, 7.51), (44, 0.66, 7.17), (56, 0.85, 6.97), (110, 1.7, 6.43), (1202, 19.4, 7.93)
)
PAPER_PLAIN_NOTE = (
    "He et al. 2015 give plain-net errors only graphically (Fig. 6 left): plain-56 has higher training and "
    "test error than plain-20, the degradation problem; no plain numbers appear in Table 6."
)


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


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite entries of values as a float array."""
    x = np.asarray(list(values), dtype=float)
    return x[np.isfinite(x)]


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of the finite values; NaN bounds with fewer than two."""
    x = finite(values)
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return mean, mean - half, mean + half


def welch(a: Iterable[float], b: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float, float]:
    """mean(b) - mean(a), its Welch t-interval and two-sided p-value; NaN interval and p unless both have >= 2."""
    a, b = finite(a), finite(b)
    if len(a) == 0 or len(b) == 0:
        return np.nan, np.nan, np.nan, np.nan
    diff = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return diff, np.nan, np.nan, np.nan
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(var_a + var_b)
    if se == 0:  # identical seeds in both arms: no spread to test against
        return diff, diff, diff, np.nan
    dof = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = stats.t.ppf(0.5 + confidence / 2, dof) * se
    p = 2 * stats.t.sf(abs(diff) / se, dof)
    return diff, diff - half, diff + half, float(p)


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


def paper_table6() -> pd.DataFrame:
    """He et al. 2015 Table 6 CIFAR-10 test error (%) of ResNets; plain nets are only in Fig. 6 (PAPER_PLAIN_NOTE)."""
    table = pd.DataFrame(PAPER_TABLE6, columns=["depth", "params_m", "test_error_pct"])
    table.insert(0, "model", [f"ResNet-{d}" for d in table["depth"]])
    table["note"] = np.where(table["depth"] == 110, "best of 5 runs; mean 6.61 ± 0.16", "")
    table.attrs["plain_note"] = PAPER_PLAIN_NOTE
    return table


def compare_to_paper(trials: pd.DataFrame) -> pd.DataFrame:
    """Measured test error (1 - test/acc, %, mean and 95% CI over seeds of the best-lr group) beside Table 6.

    The lr is chosen on val/acc, never on test; the paper trains 164 epochs, so shorter sweeps read higher.
    Paper numbers exist for residual arms only; measured columns are NaN when `test/acc` is absent.
    """
    df = add_error_columns(trials)
    summary = arm_summary(best_lr_group(completed(df)), "test_err_pct", df)
    summary = summary.rename(columns={"mean": "test_error_pct", "lo": "test_error_lo", "hi": "test_error_hi"})
    paper = paper_table6()[["depth", "test_error_pct"]].rename(columns={"test_error_pct": "paper_test_error_pct"})
    out = summary.merge(paper, on="depth", how="left")
    out.loc[~out["residual"], "paper_test_error_pct"] = np.nan
    out["diff_pp"] = out["test_error_pct"] - out["paper_test_error_pct"]
    return out


def block_columns(history: pd.DataFrame) -> dict[str, int]:
    """Map of `grad_norm/block_<i>` column name to block index i, in block order."""
    found = {c: int(m.group(1)) for c in history.columns if (m := BLOCK_COLUMN.match(str(c)))}
    return dict(sorted(found.items(), key=lambda item: item[1]))


def history_to_gradflow(history: pd.DataFrame, which: str = "first") -> pd.DataFrame:
    """Long (run_id, epoch, depth, residual, init, block, grad_norm) rows at each run's first or last logged epoch."""
    if which not in ("first", "last"):
        raise ValueError(f'which must be "first" or "last"; got {which!r}')
    blocks = block_columns(history)
    if not blocks:
        raise ValueError("history has no grad_norm/block_<i> columns; was it logged with gradient norms?")
    logged = history.dropna(subset=list(blocks), how="all").sort_values("epoch")
    picked = logged.groupby("run_id").head(1) if which == "first" else logged.groupby("run_id").tail(1)
    ids = [c for c in ("run_id", "epoch", "depth", "residual", "init", "seed") if c in picked]
    long = picked.melt(id_vars=ids, value_vars=list(blocks), var_name="block", value_name="grad_norm")
    long["block"] = long["block"].map(blocks)
    long = long.dropna(subset=["grad_norm"])  # shallower nets have no value in the deeper nets' block columns
    return long.sort_values(["run_id", "block"]).reset_index(drop=True)


def swept_params(spec: dict, trials: pd.DataFrame) -> tuple[str, ...]:
    """The spec's search-space fields present in trials; else the config fields that vary (seed aside)."""
    names = [p for p in (spec.get("search_space") or {}) if p in trials]
    if not names:
        names = [p for p in FIELDS if p != "seed" and p in trials and trials[p].astype(str).nunique() > 1]
    return tuple(names)
