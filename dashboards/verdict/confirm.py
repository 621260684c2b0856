"""The verdict from confirm runs only: residual minus plain per depth, with Welch intervals, Holm p and Hedges' g.

Pure: a frame of trials in (the loader's rows, `stage` column included), a DataFrame, a sentence or HTML out.
The confirm runs retrain each arm's picked configuration with fresh seeds, so they are free of the
search's winner's curse; the search runs stay in the report as the long per-init breakdown.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from dashboards.budget import arm_names, budget_curves, tuning_note
from dashboards.stats import add_error_columns, column_or_nan, finite
from resnet_core.config import FIELDS

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


def confirm_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed confirm runs with percent columns (train_err_pct, val_acc_pct, test_acc_pct)."""
    if "stage" not in trials or not len(trials):
        return trials.iloc[0:0]
    rows = trials[trials["stage"] == "confirm"]
    rows = add_error_columns(rows[rows["outcome"] == "completed"])
    return rows.assign(test_acc_pct=100.0 * column_or_nan(rows, "test/acc"))


def holm(pvalues: list[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN entries stay NaN and do not count as tests)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))  # step-down: adjusted p never decreases
        out[i] = running
    return out


def hedges_g(plain: np.ndarray, residual: np.ndarray) -> float:
    """Standardised residual-minus-plain difference with the small-sample correction; NaN without spread."""
    n1, n2 = len(plain), len(residual)
    if n1 < 2 or n2 < 2:
        return np.nan
    pooled = np.sqrt(((n1 - 1) * plain.var(ddof=1) + (n2 - 1) * residual.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return np.nan
    return float((residual.mean() - plain.mean()) / pooled * (1 - 3 / (4 * (n1 + n2) - 9)))


def compare(plain: np.ndarray, residual: np.ndarray) -> dict[str, float]:
    """Means, residual-minus-plain difference, its 95% Welch interval and Welch's p (scipy), Hedges' g."""
    out = {"plain": np.nan, "residual": np.nan, "diff": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan,
           "g": hedges_g(plain, residual)}
    if len(plain) and len(residual):
        out |= {"plain": plain.mean(), "residual": residual.mean(), "diff": residual.mean() - plain.mean()}
    if len(plain) >= 2 and len(residual) >= 2 and (plain.var() > 0 or residual.var() > 0):
        with warnings.catch_warnings():  # an arm stuck at chance gives near-identical seeds: a fine Welch test
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            test = scipy_stats.ttest_ind(residual, plain, equal_var=False)
        ci = test.confidence_interval(0.95)
        out |= {"lo": float(ci.low), "hi": float(ci.high), "p": float(test.pvalue)}
    return {k: float(v) for k, v in out.items()}


UNTUNED_RULES = ("untuned", "default")  # picks made without any usable search trial of the arm


def untuned_arms(trials: pd.DataFrame) -> set[tuple]:
    """(depth, residual) of the arms confirmed without tuning: every search trial of theirs errored or diverged."""
    if "stage" not in trials or "pick_rule" not in trials or not len(trials):
        return set()
    rows = trials[(trials["stage"] == "confirm") & trials["pick_rule"].isin(UNTUNED_RULES)]
    return {(d, bool(r)) for d, r in zip(rows["depth"], rows["residual"])}


def confirm_verdict(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (measure, depth): seeds per arm, means, difference with 95% CI, Welch p, Holm p, Hedges' g,
    and whether each arm went untuned."""
    rows, untuned = confirm_rows(trials), untuned_arms(trials)
    out = []
    for col, name, _ in MEASURES:
        block = []
        for depth in sorted(rows["depth"].unique()) if len(rows) else []:
            at = rows[rows["depth"] == depth]
            plain, residual = finite(at.loc[~at["residual"], col]), finite(at.loc[at["residual"], col])
            block.append({"measure": name, "column": col, "depth": depth, "n_plain": len(plain),
                          "n_residual": len(residual), **compare(plain, residual),
                          "untuned_plain": (depth, False) in untuned, "untuned_residual": (depth, True) in untuned})
        for row, adjusted in zip(block, holm([r["p"] for r in block])):
            row["p_holm"] = adjusted
        out += [r for r in block if r["n_plain"] or r["n_residual"]]  # e.g. no test split logged: no rows
    columns = ["measure", "column", "depth", "n_plain", "n_residual", "plain", "residual", "diff", "lo", "hi", "p",
               "g", "p_holm", "untuned_plain", "untuned_residual"]
    return pd.DataFrame(out, columns=columns)


def format_p(p: float) -> str:
    """p < 0.001, or p = 0.012 (two significant digits), or "p n/a" when undefined."""
    if not np.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _seeds(row: pd.Series) -> str:
    n1, n2 = int(row["n_plain"]), int(row["n_residual"])
    return f"{n1} seeds per arm" if n1 == n2 else f"{n1} plain and {n2} residual seeds"


def _plain_minus_residual(row: pd.Series) -> str:
    """The plain net's excess error with its interval, Holm p and seeds, e.g. "88.4 pp higher (95% CI ...)"."""
    diff, lo, hi = -row["diff"], -row["hi"], -row["lo"]
    word = "higher" if diff > 0 else "lower"
    return f"{abs(diff):.1f} pp {word} (95% CI {lo:.1f} to {hi:.1f}, {format_p(row['p_holm'])}, {_seeds(row)})"


def _depths(values) -> str:
    names = [str(int(d)) for d in values]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def headline(verdict: pd.DataFrame) -> str:
    """One plain-language sentence on training error from the confirm verdict; it says so when evidence is weak."""
    rows = verdict[(verdict["column"] == "train_err_pct") & (verdict["n_plain"] >= 2) & (verdict["n_residual"] >= 2)]
    if rows.empty:
        return "No verdict: the confirm stage has fewer than 2 completed seeds per arm at every depth."
    rows = rows.sort_values("depth")
    significant = rows["p_holm"] < ALPHA
    helps, hurts, weak = rows[significant & (rows["diff"] < 0)], rows[significant & (rows["diff"] > 0)], rows[~significant]
    parts = []
    if len(helps):
        deepest = helps.iloc[-1]
        tail = rows[rows["depth"] >= helps["depth"].min()]
        where = (f"from depth {int(helps['depth'].min())}" if len(tail) == len(helps) and len(helps) > 1
                 else f"at depth {_depths(helps['depth'])}")
        parts.append(f"Residual connections matter {where}: at {int(deepest['depth'])} layers the plain net's "
                     f"training error is {_plain_minus_residual(deepest)}")
    if len(hurts):
        parts.append(f"the plain net trains better at depth {_depths(hurts['depth'])}: at "
                     f"{int(hurts.iloc[-1]['depth'])} layers its training error is {_plain_minus_residual(hurts.iloc[-1])}")
    if len(weak):
        detail = "; ".join(f"{'' if len(weak) == 1 else f'{int(r.depth)}: '}plain {_plain_minus_residual(r)}"
                           for _, r in weak.iterrows())
        parts.append(f"no detectable difference in training error at depth {_depths(weak['depth'])} ({detail})")
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def swept_fields(trials: pd.DataFrame) -> list[str]:
    """The config fields that vary among the search trials: what each arm tuned."""
    search = trials[trials["stage"] != "confirm"] if "stage" in trials else trials
    return [f for f in FIELDS if f in search and f != "seed" and search[f].nunique(dropna=True) > 1]


def verdict_headline(trials: pd.DataFrame, metric: str = "val/acc", mode: str = "max") -> str:
    """The headline, then what limits it: arms confirmed untuned, and arms whose tuning curve still rose at the end."""
    sentence = headline(confirm_verdict(trials))
    untuned = sorted(untuned_arms(trials))
    if untuned:
        names = ", ".join(f"{'residual' if r else 'plain'}-{int(d)}" for d, r in untuned)
        sentence += (f" Not tuned: {names} (every search trial errored or diverged, so confirmed at the search "
                     "space's middle values).")
    note = tuning_note(budget_curves(trials, swept_fields(trials), metric, mode), mode) if metric in trials else ""
    return f"{sentence} {note}".strip()


def _num(v: float, digits: int = 1) -> str:
    return "–" if not np.isfinite(v) else f"{v:.{digits}f}"


def _p_cell(p: float) -> str:
    return "–" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.2g}")


def _config_text(rows: pd.DataFrame) -> str:
    """An arm's nuisance values as words, e.g. "init xavier, lr 0.053"."""
    first = rows.iloc[0]
    return ", ".join(f"{k} {first[k]:.3g}" if isinstance(first[k], float) else f"{k} {first[k]}"
                     for k in ("init", "lr") if k in rows)


def verdict_display(verdict: pd.DataFrame) -> pd.DataFrame:
    """The compact verdict a person reads at a glance: human column names, the interval beside the difference."""
    rows = [{"depth": int(r["depth"]), "measure": r["measure"],
             "plain": _num(r["plain"]) + (" (not tuned)" if r.get("untuned_plain") else ""),
             "residual": _num(r["residual"]) + (" (not tuned)" if r.get("untuned_residual") else ""),
             "difference": f"{_num(r['diff'])} [{_num(r['lo'])}, {_num(r['hi'])}]",
             "p": _p_cell(r["p"]), "p_holm": _p_cell(r["p_holm"]),
             "g": _num(r["g"], 2), "seeds": f"{int(r['n_plain'])} / {int(r['n_residual'])}"}
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
    if "stage" not in trials:
        return pd.DataFrame()
    rows = trials[trials["stage"] == "confirm"]
    out = []
    for (depth, arm), g in rows.assign(_arm=arm_names(rows)).groupby(["depth", "_arm"]) if len(rows) else []:
        rule = str(g["pick_rule"].iloc[0]) if "pick_rule" in g else ""
        out.append({"Depth": int(depth), "Network": arm, "Configuration": _config_text(g),
                    "Picked by": PICK_RULES.get(rule, rule or "unknown"),
                    "Seeds": ", ".join(str(int(s)) for s in sorted(g["seed"])) if "seed" in g else "",
                    "Completed": f"{int((g['outcome'] == 'completed').sum())} of {len(g)}"})
    return pd.DataFrame(out)
