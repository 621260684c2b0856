"""The verdict from confirm runs only: residual minus plain per depth, with Welch intervals, Holm p and Hedges' g.

Pure: a frame of trials in (the loader's rows, `stage` column included), a DataFrame out; the sentence a reader
gets from it is `dashboards.verdict.headline`'s.
The confirm runs retrain each arm's picked configuration with fresh seeds, so they are free of the
search's winner's curse; the search runs stay in the report as the long per-init breakdown.
"""

from __future__ import annotations

import pandas as pd

from dashboards.stats import (PERCENT_DIFF, arm_names, compare, confirm_rows, finite, format_ci, format_num, format_p,
                              holm)
from sweeps.tracking import names

# (column, what a reader calls it, whether higher is better); columns are percent of the fractions logged.
MEASURES = (("train_err_pct", "training error", False), ("val_acc_pct", "validation accuracy", True),
            ("test_acc_pct", "test accuracy", True))
ALPHA = 0.05  # family-wise error rate across depths (Holm), per measure
# How the confirm stage picked an arm's configuration (the runs' pick_rule tag), in order of preference.
PICK_RULES = {
    "completed": "best completed search trial of the arm",
    "pruned": "best pruned search trial of the arm (none completed)",
    "overall": "no usable search trial of the arm: the overall best trial's nuisance values",
    "default": "no usable search trial at all: the search space's middle values",
    "untuned": "not tuned: every search trial of the arm errored or diverged; the search space's middle values",
}
VERDICT_COLUMNS = {"depth": "Depth", "measure": "Measure", "plain": "Plain (%)", "residual": "Residual (%)",
                   "difference": "Residual − plain (pp, 95% CI)", "p": "p (Welch)", "p_holm": "p (Holm)",
                   "g": "Hedges' g", "seeds": "Seeds (plain / residual)"}
UNTUNED_RULES = ("untuned", "default")  # picks made without any usable search trial of the arm


def untuned_arms(trials: pd.DataFrame) -> set[tuple]:
    """(depth, residual) of the arms confirmed without tuning: every search trial of theirs errored or diverged."""
    rows = untuned_rows(trials)
    return {(d, bool(r)) for d, r in zip(rows["depth"], rows["residual"])}


def untuned_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """The confirm runs of arms picked without any usable search trial (pick rule untuned or default)."""
    if names.STAGE not in trials or names.PICK_RULE not in trials or not len(trials):
        return trials.iloc[0:0]
    return trials[(trials[names.STAGE] == names.CONFIRM) & trials[names.PICK_RULE].isin(UNTUNED_RULES)]


def confirm_verdict(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (measure, depth): seeds per arm, means, difference with 95% CI, Welch p, Holm p, Hedges' g,
    why the difference went untested ('' when tested: `dashboards.stats.untestable`), and whether each arm
    went untuned."""
    rows, untuned = confirm_rows(trials), untuned_arms(trials)
    out = []
    for col, name, _ in MEASURES:
        block = []
        for depth in sorted(rows["depth"].unique()) if len(rows) else []:
            at = rows[rows["depth"] == depth]
            plain, residual = finite(at.loc[~at["residual"], col]), finite(at.loc[at["residual"], col])
            block.append({"measure": name, "column": col, "depth": depth, "n_plain": len(plain),
                          "n_residual": len(residual), **_renamed(compare(plain, residual, PERCENT_DIFF)),
                          "untuned_plain": (depth, False) in untuned, "untuned_residual": (depth, True) in untuned})
        for row, adjusted in zip(block, holm([r["p"] for r in block])):
            row["p_holm"] = adjusted
        out += [r for r in block if r["n_plain"] or r["n_residual"]]  # e.g. no test split logged: no rows
    columns = ["measure", "column", "depth", "n_plain", "n_residual", "plain", "residual", "diff", "lo", "hi", "p",
               "g", "why", "clipped", "p_holm", "untuned_plain", "untuned_residual"]
    return pd.DataFrame(out, columns=columns)


def _renamed(c: dict) -> dict:
    """compare(plain, residual)'s means named by network."""
    return {"plain": c.pop("mean_a"), "residual": c.pop("mean_b"), **c}


def _config_text(rows: pd.DataFrame) -> str:
    """An arm's nuisance values as words, e.g. "init xavier, lr 0.053"."""
    first = rows.iloc[0]
    return ", ".join(f"{k} {first[k]:.3g}" if isinstance(first[k], float) else f"{k} {first[k]}"
                     for k in ("init", "lr") if k in rows)


def verdict_display(verdict: pd.DataFrame) -> pd.DataFrame:
    """The compact verdict a person reads at a glance: human column names, the interval beside the difference."""
    rows = [{"depth": int(r["depth"]), "measure": r["measure"],
             "plain": format_num(r["plain"]) + (" (not tuned)" if r.get("untuned_plain") else ""),
             "residual": format_num(r["residual"]) + (" (not tuned)" if r.get("untuned_residual") else ""),
             "difference": format_ci(r["diff"], r["lo"], r["hi"], bool(r.get("clipped", False))),
             "p": format_p(r["p"], why=r.get("why", "")), "p_holm": format_p(r["p_holm"], why=r.get("why", "")),
             "g": format_num(r["g"], 2), "seeds": f"{int(r['n_plain'])} / {int(r['n_residual'])}"}
            for _, r in verdict.iterrows()]
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS)).rename(columns=VERDICT_COLUMNS)


COMPACT_COLUMNS = ("Depth", "Plain (%)", "Residual (%)", "Residual − plain (pp, 95% CI)", "p (Holm)")


def compact_verdict(verdict: pd.DataFrame) -> pd.DataFrame:
    """The headline's measure only (training error), one row per depth: what the terminal and a notebook show."""
    rows = verdict_display(verdict[verdict["column"] == "train_err_pct"]) if len(verdict) else pd.DataFrame()
    if rows.empty:
        return pd.DataFrame(columns=list(COMPACT_COLUMNS))
    return rows[list(COMPACT_COLUMNS)].reset_index(drop=True)


def picks_display(trials: pd.DataFrame) -> pd.DataFrame:
    """Which configuration each arm was confirmed with, the rule that picked it, and its confirm runs."""
    if names.STAGE not in trials:
        return pd.DataFrame()
    rows = trials[trials[names.STAGE] == names.CONFIRM]
    out = []
    for (depth, arm), g in rows.assign(_arm=arm_names(rows)).groupby(["depth", "_arm"]) if len(rows) else []:
        rule = str(g[names.PICK_RULE].iloc[0]) if names.PICK_RULE in g else ""
        out.append({"Depth": int(depth), "Network": arm, "Configuration": _config_text(g),
                    "Picked by": PICK_RULES.get(rule, rule or "unknown"),
                    "Seeds": ", ".join(str(int(s)) for s in sorted(g["seed"])) if "seed" in g else "",
                    "Completed": f"{int((g['outcome'] == 'completed').sum())} of {len(g)}"})
    return pd.DataFrame(out)
