"""Contrasts against a reference arm, from confirm runs only: every other value of a factor minus the reference.

For a spec whose confirm stage names `reference: {recipe: resnet}`: at each value of the other factors
(e.g. each depth), each other recipe's confirm seeds are compared with the reference's: the difference with
its 95% Welch interval, Welch's p Holm-corrected across all contrasts of a measure, and Hedges' g.
Pure: a frame of trials in (the loader's rows), a DataFrame out; `dashboards.verdict.headline` words it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.stats import PERCENT_DIFF, compare, confirm_rows, finite, format_ci, format_num, format_p, holm

from sweeps.tracking import names

from .confirm import ALPHA, MEASURES, epochs_text

# Not significant and the interval's half-width at most this many pp: the gap is closed (within the
# interval); a wider interval is inconclusive, whatever the point estimate says.
CLOSE_PP = 5.0
COLUMNS = ["measure", "column", "by", "epochs", "arm", "reference", "n_arm", "n_reference", "arm_mean",
           "reference_mean", "diff", "lo", "hi", "p", "g", "why", "clipped", "p_holm"]
DISPLAY = {"by": "At", "arm": "Arm", "reference": "Reference", "arm_mean": "Arm (%)",
           "reference_mean": "Reference (%)", "diff": "Arm − reference (pp, 95% CI)", "p_holm": "p (Holm)",
           "g": "Hedges' g", "seeds": "Seeds (arm / reference)"}


def parse_reference(text: str | None) -> tuple[str, str] | None:
    """The parent run's confirm_reference param, e.g. "recipe=resnet", as (factor, value text)."""
    if not text or "=" not in text:
        return None
    factor, value = text.split("=", 1)
    return factor, value


def _label(values: dict) -> str:
    """The other factors' values in words, e.g. "depth 56, 8 epochs" (a training budget reads as its epochs)."""
    return ", ".join(epochs_text(v) if k == names.EPOCHS else f"{k} {v}" for k, v in values.items())


def contrast_table(trials: pd.DataFrame, reference: tuple[str, str], factors: list[str]) -> pd.DataFrame:
    """One row per (measure, other factors' values, non-reference value): arm minus reference; `epochs` holds the
    row's training budget when `epochs` is one of the factors (several budgets), else NaN."""
    factor, ref_value = reference
    rows = confirm_rows(trials)
    if not len(rows) or factor not in rows:
        return pd.DataFrame(columns=COLUMNS)
    rows = rows.assign(**{factor: rows[factor].astype(str)})
    others = [f for f in factors if f != factor and f in rows]
    groups = rows.groupby(others, sort=True) if others else [((), rows)]
    out = []
    for col, name, _ in MEASURES:
        block = []
        for key, at in groups:
            by = dict(zip(others, key if isinstance(key, tuple) else (key,)))
            ref = finite(at.loc[at[factor] == ref_value, col])
            for value in sorted(set(at[factor]) - {ref_value}):
                arm = finite(at.loc[at[factor] == value, col])
                c = compare(ref, arm, PERCENT_DIFF)  # compare(a, b) gives b minus a: the arm minus the reference
                block.append({"measure": name, "column": col, "by": _label(by),
                              "epochs": by.get(names.EPOCHS, float("nan")), "arm": value, "reference": ref_value,
                              "n_arm": len(arm), "n_reference": len(ref), "arm_mean": c["mean_b"],
                              "reference_mean": c["mean_a"], "diff": c["diff"], "lo": c["lo"], "hi": c["hi"],
                              "p": c["p"], "g": c["g"], "why": c["why"], "clipped": c["clipped"]})
        for row, adjusted in zip(block, holm([r["p"] for r in block])):
            row["p_holm"] = adjusted
        out += [r for r in block if r["n_arm"] or r["n_reference"]]
    frame = pd.DataFrame(out)
    return frame[COLUMNS] if len(frame) else pd.DataFrame(columns=COLUMNS)


def contrast_display(table: pd.DataFrame) -> pd.DataFrame:
    """The training-error contrasts as a person reads them: the interval beside the difference."""
    rows = table[table["column"] == "train_err_pct"] if len(table) else table
    out = [{"by": r["by"], "arm": r["arm"], "reference": r["reference"], "arm_mean": format_num(r["arm_mean"]),
            "reference_mean": format_num(r["reference_mean"]), "diff": format_ci(r["diff"], r["lo"], r["hi"], bool(r.get("clipped", False))),
            "p_holm": format_p(r["p_holm"], why=r.get("why", "")), "g": format_num(r["g"], 2),
            "seeds": f"{int(r['n_arm'])} / {int(r['n_reference'])}"}
           for _, r in rows.iterrows()]
    return pd.DataFrame(out, columns=list(DISPLAY)).rename(columns=DISPLAY)


def too_wide(row: pd.Series) -> bool:
    """True when a row that is not significant cannot say the gap is closed either: its interval's half-width is
    over CLOSE_PP (or unknown). Verdict rows and contrast rows both have lo and hi."""
    half = (row["hi"] - row["lo"]) / 2
    return not (np.isfinite(half) and half <= CLOSE_PP)


def judge(row: pd.Series) -> str:
    """closes, fails, beats, inconclusive or untested: what a training-error contrast says (lower is better)."""
    if row["n_arm"] < 2 or row["n_reference"] < 2 or not np.isfinite(row["p_holm"]):
        return "untested"
    if row["p_holm"] < ALPHA:
        return "fails" if row["diff"] > 0 else "beats"
    return "inconclusive" if too_wide(row) else "closes"
