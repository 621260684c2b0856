"""The search stage's verdict: residual minus plain per depth (pooled over inits) and per (depth, init).

Pure like `dashboards.stats`, whose arm selection and Welch test it uses: a frame of trials in, a DataFrame out,
with machine column names (`verdict_table`) or the ones a reader sees (`verdict_display`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.stats import (
    ARM_KEYS,
    POOLED,
    add_error_columns,
    chosen_rows,
    column_or_nan,
    finite,
    format_ci,
    format_num,
    format_p,
    outcome_counts,
    pools_inits,
    untestable,
    welch,
    with_pooled,
)
from resnet_core.outcomes import OUTCOMES

VERDICT_NOTE = (
    'Residual minus plain at each depth: first pooled over inits (init "all": each arm at its best init and lr by '
    "val/acc), then per (depth, init) (each arm at its best lr). Values are final values of completed and pruned "
    "runs; a pruned run counts with its value at the epoch ASHA stopped it, and the pick columns say which init, lr "
    "and epochs each arm's values come from and how many were pruned. Differences are in percentage points with "
    "their 95% Welch interval in brackets and two-sided Welch p (at least 2 seeds per arm, and some spread between "
    "seeds); the run counts cover every run of the arm (every lr and, pooled, every init).")
MEASURES = (("train_err", "train error"), ("val_acc", "val accuracy"))  # column stem, what a reader calls it


def _arm(frame: pd.DataFrame, depth: object, init: str, residual: bool) -> pd.DataFrame:
    """Rows of frame belonging to one (depth, residual, init) arm."""
    return frame[(frame["depth"] == depth) & (frame["init"] == init) & (frame["residual"] == residual)]


def _diff_columns(name: str, plain: pd.Series, residual: pd.Series) -> dict[str, float]:
    """Arm means and the residual-minus-plain Welch difference of one metric, as verdict-table columns."""
    diff, lo, hi, p = welch(plain, residual)
    means = {f"{name}_plain_pct": _mean(plain), f"{name}_residual_pct": _mean(residual)}
    return {**means, f"{name}_diff_pp": diff, f"{name}_diff_lo": lo, f"{name}_diff_hi": hi, f"{name}_p": p,
            f"{name}_why": untestable(plain, residual) if len(finite(plain)) and len(finite(residual)) else ""}


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


def _runs(row: pd.Series, arm: str) -> str:
    """An arm's run counts as "completed / pruned / diverged / errored"."""
    return " / ".join(str(int(row[f"{arm}_{o}"])) for o in OUTCOMES)


def _display_row(r: pd.Series) -> dict[str, object]:
    """One verdict row in a reader's words: means, the difference with its interval in one cell, p, counts, picks."""
    out: dict[str, object] = {"Depth": int(r["depth"]), "Init": r["init"]}
    for stem, name in MEASURES:
        why = r.get(f"{stem}_why", "")
        out |= {f"Plain {name} (%)": format_num(r[f"{stem}_plain_pct"]),
                f"Residual {name} (%)": format_num(r[f"{stem}_residual_pct"]),
                f"Residual − plain {name} (pp, 95% CI)": format_ci(r[f"{stem}_diff_pp"], r[f"{stem}_diff_lo"],
                                                                  r[f"{stem}_diff_hi"]),
                f"p (Welch), {name}": format_p(r[f"{stem}_p"], why=why if isinstance(why, str) else "")}
    out["Seeds (plain / residual)"] = f"{int(r['n_plain'])} / {int(r['n_residual'])}"
    out |= {f"{arm.capitalize()} runs ({' / '.join(OUTCOMES)})": _runs(r, arm) for arm in ("plain", "residual")}
    return out | {"Plain pick": _text(r["plain_pick"]), "Residual pick": _text(r["residual_pick"])}


def _text(value: object) -> str:
    """A pick as text, a dash when the arm has none."""
    return "–" if not isinstance(value, str) else value


def verdict_display(table: pd.DataFrame) -> pd.DataFrame:
    """`verdict_table` as a reader sees it: column names in words, each difference with its 95% CI in one cell."""
    return pd.DataFrame([_display_row(r) for _, r in table.iterrows()])
