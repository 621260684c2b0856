"""Training budgets (epochs each net trains): the verdict at each budget, how the gap moves as the budget grows,
and whether the largest budget is converged.

Not `dashboards.verdict.budget`, which is the *tuning* budget (how many search configurations each arm tried,
Dodge et al. 2019's expected-maximum curves): this module is about how long every confirm run trained, that one
about how hard each arm was searched. Pure: confirm-verdict rows and trials in, words out; `headline` puts them
together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.stats import arm_names, confirm_rows, finite, interval_words
from sweeps.tracking import names

from .confirm import ALPHA, budgets, epochs_text
from .contrasts import too_wide

CONVERGED_PP = 1.0     # a budget is converged for an arm when CONVERGED_FACTOR x more epochs move its training
CONVERGED_FACTOR = 4   # error by less than CONVERGED_PP percentage points
NOT_SHOWN = "it would take a budget 4x larger, or a smaller one within 1 pp, to show it"
RULE = "a budget counts as converged when 4x more epochs move its training error by less than 1 pp"


def at_budget(frame: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """The rows of a verdict (or trials) trained for `epochs` epochs."""
    return frame[pd.to_numeric(frame[names.EPOCHS], errors="coerce") == epochs]


def after(epochs: int, sentence: str) -> str:
    """sentence prefixed with its budget: "After 8 epochs, residual connections matter ..."."""
    return f"After {epochs_text(epochs)}, {sentence[:1].lower()}{sentence[1:]}" if sentence else ""


def _depths(values) -> str:
    listed = [str(int(d)) for d in values]
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def tested(verdict: pd.DataFrame) -> pd.DataFrame:
    """The training-error rows of a verdict with at least 2 seeds per arm and a finite difference, by depth."""
    rows = verdict[(verdict["column"] == "train_err_pct") & (verdict["n_plain"] >= 2) & (verdict["n_residual"] >= 2)]
    return rows[np.isfinite(rows["diff"].astype(float))].sort_values("depth")


def brief(verdict: pd.DataFrame, epochs: int) -> str:
    """The verdict at one (smaller) budget in a sentence: where the plain net trains worse, better, or alike."""
    rows = tested(at_budget(verdict, epochs))
    if rows.empty:
        return f"After {epochs_text(epochs)}, no test: fewer than 2 completed seeds per arm at every depth."
    significant = rows["p_holm"] < ALPHA
    helps, hurts = rows[significant & (rows["diff"] < 0)], rows[significant & (rows["diff"] > 0)]
    wide = rows.apply(too_wide, axis=1).astype(bool)
    alike, unclear = rows[~significant & ~wide], rows[~significant & wide]
    parts = []
    if len(helps):
        deepest = helps.iloc[-1]
        parts.append(f"the plain net's training error is higher at depth {_depths(helps['depth'])} "
                     f"({-deepest['diff']:.1f} pp at {int(deepest['depth'])} layers)")
    if len(hurts):
        parts.append(f"the plain net trains better at depth {_depths(hurts['depth'])}")
    if len(alike):
        parts.append(f"no detectable difference at depth {_depths(alike['depth'])}")
    if len(unclear):
        parts.append(f"too few seeds to tell at depth {_depths(unclear['depth'])} (the interval is too wide)")
    return after(epochs, "; ".join(parts) + ".")


def gap_word(small: pd.Series, large: pd.Series) -> str:
    """closes, unresolved, persists, shrinks or grows: how the plain net's excess training error moves from the
    smaller budget's verdict row to the larger one's. Unresolved: at the larger budget the gap is neither
    significant nor bounded within CLOSE_PP (its interval is too wide to say it persists, shrinks or closes)."""
    half = (large["hi"] - large["lo"]) / 2
    if np.isfinite(large["p_holm"]) and large["p_holm"] >= ALPHA:
        return "unresolved" if too_wide(large) else "closes"
    if np.isfinite(half) and abs(large["diff"] - small["diff"]) < half:
        return "persists"
    return "shrinks" if abs(large["diff"]) < abs(small["diff"]) else "grows"


def _gap(row: pd.Series) -> str:
    """The plain net's excess training error at a verdict row, e.g. "21.5 pp" (never "-0.0")."""
    return f"{(round(-row['diff'], 1) or 0.0):.1f} pp"


def trend(verdict: pd.DataFrame) -> str:
    """Per depth tested at two or more budgets, in numbers: whether the gap (plain minus residual training error)
    persists, shrinks, grows or closes from the smallest budget to the largest; '' when no depth is."""
    rows = tested(verdict)
    clauses = []
    for depth, at in rows.groupby("depth", sort=True):
        at = at.sort_values(names.EPOCHS)
        if len(at) < 2:
            continue
        small, large = at.iloc[0], at.iloc[-1]
        word, e0, e1 = gap_word(small, large), epochs_text(small[names.EPOCHS]), int(large[names.EPOCHS])
        between = "".join(f" through {_gap(r)} after {int(r[names.EPOCHS])}" for _, r in at.iloc[1:-1].iterrows())
        if word == "closes":
            ci = interval_words(-large["hi"], -large["lo"], bool(large.get("clipped", False)))
            clause = (f"the gap closes: from {_gap(small)} after {e0}{between} to {_gap(large)} after {e1}, "
                      f"no detectable difference ({ci})")
        elif word == "unresolved":
            ci = interval_words(-large["hi"], -large["lo"], bool(large.get("clipped", False)))
            clause = (f"the gap is unresolved after {e1}: {_gap(small)} after {e0}{between}, {_gap(large)} after "
                      f"{e1}, where the seeds cannot tell it from no gap ({ci}: too wide to say more)")
        elif word == "persists":
            clause = f"the gap persists: {_gap(small)} after {e0}{between}, {_gap(large)} after {e1}"
        else:
            clause = f"the gap {word} from {_gap(small)} after {e0}{between} to {_gap(large)} after {e1}"
        clauses.append(f"at depth {int(depth)} {clause}")
    sentence = "; ".join(clauses)
    return f"{sentence[:1].upper()}{sentence[1:]}." if sentence else ""


def arm_errors(trials: pd.DataFrame) -> pd.DataFrame:
    """Mean confirm training error (%) per arm (e.g. plain-56) and budget: columns arm, epochs, error."""
    rows = confirm_rows(trials)
    if not len(rows) or names.EPOCHS not in rows:
        return pd.DataFrame(columns=["arm", "epochs", "error"])
    rows = rows.assign(arm=arm_names(rows) + "-" + rows["depth"].astype(int).astype(str),
                       epochs=pd.to_numeric(rows[names.EPOCHS], errors="coerce"))
    out = [{"arm": arm, "epochs": int(e), "error": float(np.mean(v))}
           for (arm, e), g in rows.groupby(["arm", "epochs"], sort=True) if len(v := finite(g["train_err_pct"]))]
    return pd.DataFrame(out, columns=["arm", "epochs", "error"])


def unconverged(trials: pd.DataFrame, largest: int) -> list[tuple[str, int | None, float]]:
    """(arm, nearest budget <= largest / 4 or None, how far its error is from the largest budget's) for every arm at
    the largest budget that no budget <= largest / 4 brings within CONVERGED_PP of it."""
    errors = arm_errors(trials)
    out = []
    for arm, g in errors.groupby("arm", sort=True):
        top = g[g["epochs"] == largest]
        if top.empty:
            continue
        small = g[g["epochs"] * CONVERGED_FACTOR <= largest]
        moved = (small["error"] - top["error"].iloc[0]).abs()
        if not (moved < CONVERGED_PP).any():
            nearest = small.sort_values("epochs").iloc[-1] if len(small) else None
            out.append((arm, None if nearest is None else int(nearest["epochs"]),
                        float("nan") if nearest is None else abs(nearest["error"] - top["error"].iloc[0])))
    return out


def convergence(trials: pd.DataFrame, largest: int) -> str:
    """Whether the largest budget is converged for every arm, in a sentence ('' without confirm arms there)."""
    errors = arm_errors(trials)
    if errors.empty or not (errors["epochs"] == largest).any():
        return ""
    missing = unconverged(trials, largest)
    if not missing:
        return (f"{epochs_text(largest)} is converged: every arm's training error was already within "
                f"{CONVERGED_PP:g} pp of it after {epochs_text(largest // CONVERGED_FACTOR)} or fewer ({RULE}).")
    return f"{epochs_text(largest)} is not shown converged ({RULE}): {NOT_SHOWN}{_moved(missing, largest)}."


def _moved(missing: list[tuple[str, int | None, float]], largest: int, most: int = 3) -> str:
    """How far the unconverged arms moved, largest first, e.g. " (from 2 to 8 epochs: plain-56 51.0 pp, ...)"."""
    shown = sorted([m for m in missing if m[1] is not None], key=lambda m: -m[2])
    if not shown:
        return ""
    listed = ", ".join(f"{arm} {gap:.1f} pp{'' if e == shown[0][1] else f' (from {e})'}"
                       for arm, e, gap in shown[:most])
    extra = len(shown) - most
    more = f" and {extra} more arm{'s' if extra > 1 else ''}" if extra > 0 else ""
    return f" (training error moved from {shown[0][1]} to {epochs_text(largest)}: {listed}{more})"


def largest_budget(trials: pd.DataFrame) -> int | None:
    """The largest training budget of the confirm runs (all trials when none is a confirm run), or None."""
    rows = trials[trials[names.STAGE] == names.CONFIRM] if names.STAGE in trials else trials
    found = budgets(rows if len(rows) else trials)
    return found[-1] if found else None
