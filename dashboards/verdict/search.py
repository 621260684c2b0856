"""The verdict: residual minus plain per depth (pooled over inits) and per (depth, init), as a table and as HTML.

Pure like `dashboards.stats`, whose arm selection it uses: a frame of trials in, a DataFrame or an HTML string out.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dashboards.stats import (
    ARM_KEYS,
    POOLED,
    add_error_columns,
    chosen_rows,
    column_or_nan,
    finite,
    outcome_counts,
    pools_inits,
    welch,
    with_pooled,
)
from resnet_core.outcomes import OUTCOMES

VERDICT_NOTE = (
    'Residual minus plain at each depth: first pooled over inits (init "all": each arm at its best init and lr by '
    "val/acc), then per (depth, init) (each arm at its best lr). Values are final values of completed and pruned "
    "runs; a pruned run counts with its value at the epoch ASHA stopped it, and *_pick says which init, lr and "
    "epochs each arm's values come from and how many were pruned. *_diff_pp: difference in percentage points with "
    "its 95% Welch interval (lo, hi) and two-sided Welch p (needs at least 2 seeds per arm); the outcome columns "
    "count every run of the arm (every lr and, pooled, every init).")


def _arm(frame: pd.DataFrame, depth: object, init: str, residual: bool) -> pd.DataFrame:
    """Rows of frame belonging to one (depth, residual, init) arm."""
    return frame[(frame["depth"] == depth) & (frame["init"] == init) & (frame["residual"] == residual)]


def _diff_columns(name: str, plain: pd.Series, residual: pd.Series) -> dict[str, float]:
    """Arm means and the residual-minus-plain Welch difference of one metric, as verdict-table columns."""
    diff, lo, hi, p = welch(plain, residual)
    means = {f"{name}_plain_pct": _mean(plain), f"{name}_residual_pct": _mean(residual)}
    return {**means, f"{name}_diff_pp": diff, f"{name}_diff_lo": lo, f"{name}_diff_hi": hi, f"{name}_p": p}


def _mean(values: pd.Series) -> float:
    """Mean of the finite values, NaN when there are none."""
    x = finite(values)
    return float(x.mean()) if len(x) else np.nan


def _pick(rows: pd.DataFrame, pooled: bool) -> str | float:
    """Where an arm's values come from: the init (pooled rows), lr, epochs reached and how many runs ASHA pruned."""
    if rows.empty:
        return np.nan  # shown as a dash, like every other missing cell
    parts = [str(rows["config_init"].iloc[0])] if pooled else []
    if "lr" in rows and pd.notna(rows["lr"].iloc[0]):
        parts.append(f"lr {float(rows['lr'].iloc[0]):.3g}")
    epochs = finite(column_or_nan(rows, "epoch"))
    if len(epochs):
        lo, hi = epochs.min(), epochs.max()
        parts.append(f"epoch {lo:g}" if lo == hi else f"epochs {lo:g}-{hi:g}")
    pruned = int((rows["outcome"] == "pruned").sum())
    return ", ".join(parts + ([f"{pruned}/{len(rows)} pruned"] if pruned else []))


def _verdict_row(chosen: pd.DataFrame, counts: pd.DataFrame, depth: object, init: str) -> dict:
    """One verdict row: arm sizes, residual-minus-plain differences, outcome counts and each arm's pick."""
    plain, residual = _arm(chosen, depth, init, False), _arm(chosen, depth, init, True)
    row = {"depth": depth, "init": init, "n_plain": len(plain), "n_residual": len(residual)}
    row |= _diff_columns("train_err", plain["train_err_pct"], residual["train_err_pct"])
    row |= _diff_columns("val_acc", plain["val_acc_pct"], residual["val_acc_pct"])
    for arm_name, flag in (("plain", False), ("residual", True)):
        arm_counts = counts.loc[(depth, flag, init)] if (depth, flag, init) in counts.index else None
        row |= {f"{arm_name}_{o}": 0 if arm_counts is None else int(arm_counts[o]) for o in OUTCOMES}
    return row | {"plain_pick": _pick(plain, init == POOLED), "residual_pick": _pick(residual, init == POOLED)}


def verdict_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Residual minus plain per depth pooled over inits (init "all", first), then per (depth, init).

    Columns: training error and val accuracy (pp), 95% Welch CI, p, outcome counts, and each arm's pick.
    Differences use the measured (completed or pruned) trials of each arm's best configuration by mean
    val/acc (`chosen_rows`): its best lr per init, its best (init, lr) pooled; a pruned trial counts with the
    value it had when ASHA stopped it, and the pick columns say so. Outcome counts cover every trial of the
    arm at every lr (and init, pooled), so diverged and errored runs stay visible. No pooled rows with one init.
    """
    df = add_error_columns(trials)
    chosen, everything = chosen_rows(df), with_pooled(df, pools_inits(df))
    counts = outcome_counts(everything).set_index(list(ARM_KEYS))
    keys = sorted(set(zip(everything["depth"], everything["init"])), key=lambda k: (k[1] != POOLED, k))
    return pd.DataFrame([_verdict_row(chosen, counts, depth, init) for depth, init in keys])


def _format_p(value: float) -> str:
    """p-value with 3 significant digits, a dash when undefined."""
    return "–" if pd.isna(value) else f"{value:.3g}"


def verdict_html(table: pd.DataFrame) -> str:
    """The verdict table as an HTML `<table class="verdict">` string, NaN shown as a dash."""
    formatters = {c: _format_p for c in table.columns if str(c).endswith("_p")}
    html = table.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:.2f}", formatters=formatters, border=0)
    return re.sub(r"^<table[^>]*>", '<table class="verdict">', html, count=1)


def verdict_section(trials: pd.DataFrame) -> str:
    """The residual-minus-plain verdict table with how to read it, or a note when it cannot be built."""
    if not len(trials) or not {"depth", "residual"} <= set(trials):
        return '<p class="note">No verdict: no trials with depth and residual.</p>'
    table = verdict_html(verdict_table(trials))  # long headers may wrap after each "_"
    table = re.sub(r"(<th[^>]*>)([^<]*)", lambda m: m[1] + m[2].replace("_", "_<wbr>"), table)
    return f'<p>{VERDICT_NOTE}</p><div class="scroll">{table}</div>'
