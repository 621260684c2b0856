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
VERDICT_COLUMNS = {"depth": "Depth", "epochs": "Epochs", "measure": "Measure", "plain": "Plain (%)",
                   "residual": "Residual (%)", "difference": "Residual − plain (pp, 95% CI)", "p": "p (Welch)",
                   "p_holm": "p (Holm)", "g": "Hedges' g", "seeds": "Seeds (plain / residual)"}
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


def budgets(frame: pd.DataFrame) -> list[int]:
    """The training budgets (epochs) of a frame of trials or of a verdict, ascending; [] when it names none."""
    if names.EPOCHS not in frame or not len(frame):
        return []
    return sorted({int(e) for e in pd.to_numeric(frame[names.EPOCHS], errors="coerce").dropna()})


def epochs_text(epochs: int) -> str:
    """A training budget in words: "1 epoch", "8 epochs"."""
    return f"{int(epochs)} epoch{'' if int(epochs) == 1 else 's'}"


def _cells(rows: pd.DataFrame) -> list[tuple[object, float, pd.Series]]:
    """(depth, epochs, row mask) per verdict cell: per depth, and per training budget where the trials name one."""
    epochs = pd.to_numeric(rows[names.EPOCHS], errors="coerce") if names.EPOCHS in rows else None
    if epochs is None or epochs.isna().all():
        return [(d, float("nan"), rows["depth"] == d) for d in sorted(rows["depth"].unique())]
    pairs = sorted({(d, int(e)) for d, e in zip(rows["depth"], epochs) if pd.notna(e)})
    return [(d, e, (rows["depth"] == d) & (epochs == e)) for d, e in pairs]


def confirm_verdict(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (measure, depth, training budget): seeds per arm, means, difference with 95% CI, Welch p, Holm p
    (across every row of the measure), Hedges' g, why the difference went untested ('' when tested:
    `dashboards.stats.untestable`), and whether each arm went untuned. `epochs` is NaN when the trials name no
    budget."""
    rows = confirm_rows(trials)
    untuned = untuned_rows(trials)
    out = []
    for col, name, _ in MEASURES:
        block = []
        for depth, epochs, mask in _cells(rows) if len(rows) else []:
            at = rows[mask]
            plain, residual = finite(at.loc[~at["residual"], col]), finite(at.loc[at["residual"], col])
            block.append({"measure": name, "column": col, "depth": depth, "epochs": epochs,
                          "n_plain": len(plain), "n_residual": len(residual),
                          **_renamed(compare(plain, residual, PERCENT_DIFF)),
                          "untuned_plain": _untuned(untuned, depth, epochs, False),
                          "untuned_residual": _untuned(untuned, depth, epochs, True)})
        for row, adjusted in zip(block, holm([r["p"] for r in block])):
            row["p_holm"] = adjusted
        out += [r for r in block if r["n_plain"] or r["n_residual"]]  # e.g. no test split logged: no rows
    columns = ["measure", "column", "depth", "epochs", "n_plain", "n_residual", "plain", "residual", "diff", "lo",
               "hi", "p", "g", "why", "clipped", "p_holm", "untuned_plain", "untuned_residual"]
    return pd.DataFrame(out, columns=columns)


def _untuned(untuned: pd.DataFrame, depth, epochs: float, residual: bool) -> bool:
    """Whether the arm (depth, residual) at this budget (any budget when epochs is NaN) was confirmed untuned."""
    if not len(untuned):
        return False
    hit = (untuned["depth"] == depth) & (untuned["residual"].astype(bool) == residual)
    if pd.notna(epochs) and names.EPOCHS in untuned:
        hit &= pd.to_numeric(untuned[names.EPOCHS], errors="coerce") == epochs
    return bool(hit.any())


def _renamed(c: dict) -> dict:
    """compare(plain, residual)'s means named by network."""
    return {"plain": c.pop("mean_a"), "residual": c.pop("mean_b"), **c}


def _config_text(rows: pd.DataFrame) -> str:
    """An arm's nuisance values as words, e.g. "init xavier, lr 0.053"."""
    first = rows.iloc[0]
    return ", ".join(f"{k} {first[k]:.3g}" if isinstance(first[k], float) else f"{k} {first[k]}"
                     for k in ("init", "lr") if k in rows)


def several_budgets(verdict: pd.DataFrame) -> bool:
    """Whether a verdict spans more than one training budget (its tables then show an Epochs column)."""
    return len(budgets(verdict)) > 1


def verdict_display(verdict: pd.DataFrame) -> pd.DataFrame:
    """The compact verdict a person reads at a glance: human column names, the interval beside the difference; an
    Epochs column beside Depth when the verdict spans several training budgets."""
    rows = [{"depth": int(r["depth"]), "epochs": int(r["epochs"]) if pd.notna(r.get("epochs")) else "",
             "measure": r["measure"],
             "plain": format_num(r["plain"]) + (" (not tuned)" if r.get("untuned_plain") else ""),
             "residual": format_num(r["residual"]) + (" (not tuned)" if r.get("untuned_residual") else ""),
             "difference": format_ci(r["diff"], r["lo"], r["hi"], bool(r.get("clipped", False))),
             "p": format_p(r["p"], why=r.get("why", "")), "p_holm": format_p(r["p_holm"], why=r.get("why", "")),
             "g": format_num(r["g"], 2), "seeds": f"{int(r['n_plain'])} / {int(r['n_residual'])}"}
            for _, r in verdict.iterrows()]
    columns = {k: v for k, v in VERDICT_COLUMNS.items() if k != "epochs" or several_budgets(verdict)}
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS)).loc[:, list(columns)].rename(columns=columns)


COMPACT_COLUMNS = ("Depth", "Plain (%)", "Residual (%)", "Residual − plain (pp, 95% CI)", "p (Holm)")


def compact_verdict(verdict: pd.DataFrame) -> pd.DataFrame:
    """The headline's measure only (training error), one row per depth (and budget, with an Epochs column beside
    Depth when there are several): what the terminal and a notebook show."""
    rows = verdict_display(verdict[verdict["column"] == "train_err_pct"]) if len(verdict) else pd.DataFrame()
    if rows.empty:
        return pd.DataFrame(columns=list(COMPACT_COLUMNS))
    columns = ["Depth", *(["Epochs"] if "Epochs" in rows else []), *COMPACT_COLUMNS[1:]]
    return rows[columns].reset_index(drop=True)


def picks_display(trials: pd.DataFrame) -> pd.DataFrame:
    """Which configuration each arm was confirmed with, the rule that picked it, and its confirm runs (per training
    budget, with an Epochs column, when there are several)."""
    if names.STAGE not in trials:
        return pd.DataFrame()
    rows = trials[trials[names.STAGE] == names.CONFIRM]
    by_budget = len(budgets(rows)) > 1
    keys = ["depth", *([names.EPOCHS] if by_budget else []), "_arm"]
    out = []
    for key, g in rows.assign(_arm=arm_names(rows)).groupby(keys) if len(rows) else []:
        rule = str(g[names.PICK_RULE].iloc[0]) if names.PICK_RULE in g else ""
        out.append({"Depth": int(key[0]), **({"Epochs": int(key[1])} if by_budget else {}), "Network": key[-1],
                    "Configuration": _config_text(g), "Picked by": PICK_RULES.get(rule, rule or "unknown"),
                    "Seeds": ", ".join(str(int(s)) for s in sorted(g["seed"])) if "seed" in g else "",
                    "Completed": f"{int((g['outcome'] == 'completed').sum())} of {len(g)}"})
    return pd.DataFrame(out)
