"""Contrasts against a reference arm, from confirm runs only: every other value of a factor minus the reference.

For a spec whose confirm stage names `reference: {recipe: resnet}`: at each value of the other factors
(e.g. each depth), each other recipe's confirm seeds are compared with the reference's: the difference with
its 95% Welch interval, Welch's p Holm-corrected across all contrasts of a measure, and Hedges' g.
Pure: a frame of trials in (the loader's rows), a DataFrame or a sentence out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.budget import arm_names, budget_curves, tuning_note
from dashboards.confirmed import ALPHA, MEASURES, UNTUNED_RULES, compare, confirm_rows, format_p, holm, swept_fields
from dashboards.stats import finite

# Not significant and the interval's half-width at most this many pp: the gap is closed (within the
# interval); a wider interval is inconclusive, whatever the point estimate says.
CLOSE_PP = 5.0
COLUMNS = ["measure", "column", "by", "arm", "reference", "n_arm", "n_reference", "arm_mean", "reference_mean",
           "diff", "lo", "hi", "p", "g", "p_holm"]
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
    return ", ".join(f"{k} {v}" for k, v in values.items())


def contrast_table(trials: pd.DataFrame, reference: tuple[str, str], factors: list[str]) -> pd.DataFrame:
    """One row per (measure, other factors' values, non-reference value): arm minus reference."""
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
                c = compare(ref, arm)  # compare(a, b) gives b minus a: the arm minus the reference
                block.append({"measure": name, "column": col, "by": _label(by), "arm": value, "reference": ref_value,
                              "n_arm": len(arm), "n_reference": len(ref), "arm_mean": c["residual"],
                              "reference_mean": c["plain"], "diff": c["diff"], "lo": c["lo"], "hi": c["hi"],
                              "p": c["p"], "g": c["g"]})
        for row, adjusted in zip(block, holm([r["p"] for r in block])):
            row["p_holm"] = adjusted
        out += [r for r in block if r["n_arm"] or r["n_reference"]]
    frame = pd.DataFrame(out)
    return frame[COLUMNS] if len(frame) else pd.DataFrame(columns=COLUMNS)


def _num(v: float, digits: int = 1) -> str:
    return "–" if not np.isfinite(v) else f"{v:.{digits}f}"


def contrast_display(table: pd.DataFrame) -> pd.DataFrame:
    """The training-error contrasts as a person reads them: the interval beside the difference."""
    rows = table[table["column"] == "train_err_pct"] if len(table) else table
    out = [{"by": r["by"], "arm": r["arm"], "reference": r["reference"], "arm_mean": _num(r["arm_mean"]),
            "reference_mean": _num(r["reference_mean"]),
            "diff": f"{_num(r['diff'])} [{_num(r['lo'])}, {_num(r['hi'])}]",
            "p_holm": "–" if not np.isfinite(r["p_holm"]) else ("< 0.001" if r["p_holm"] < 0.001 else f"{r['p_holm']:.2g}"),
            "g": _num(r["g"], 2), "seeds": f"{int(r['n_arm'])} / {int(r['n_reference'])}"}
           for _, r in rows.iterrows()]
    return pd.DataFrame(out, columns=list(DISPLAY)).rename(columns=DISPLAY)


def judge(row: pd.Series) -> str:
    """closes, fails, beats, inconclusive or untested: what a training-error contrast says (lower is better)."""
    if row["n_arm"] < 2 or row["n_reference"] < 2 or not np.isfinite(row["p_holm"]):
        return "untested"
    if row["p_holm"] < ALPHA:
        return "fails" if row["diff"] > 0 else "beats"
    return "closes" if (row["hi"] - row["lo"]) / 2 <= CLOSE_PP else "inconclusive"


def _clause(row: pd.Series) -> str:
    diff, ci = row["diff"], f"95% CI {row['lo']:.1f} to {row['hi']:.1f}, {format_p(row['p_holm'])}"
    seeds = f"{int(row['n_arm'])} and {int(row['n_reference'])} seeds"
    ref, verdict = row["reference"], judge(row)
    if verdict == "closes":
        return f"{row['arm']} trains to within {abs(diff):.1f} pp of {ref} (no detectable difference; {ci}, {seeds})"
    if verdict == "fails":
        return f"{row['arm']} does not close the gap: its training error is {diff:.1f} pp higher ({ci}, {seeds})"
    if verdict == "beats":
        return f"{row['arm']} trains better than {ref}: {-diff:.1f} pp lower training error ({ci}, {seeds})"
    if verdict == "inconclusive":
        return (f"{row['arm']} is inconclusive: {abs(diff):.1f} pp {'higher' if diff > 0 else 'lower'}, but the "
                f"interval is too wide to tell ({ci}, {seeds})")
    return f"{row['arm']} is untested (fewer than 2 completed seeds)"


def contrast_headline(table: pd.DataFrame) -> str:
    """One sentence per group of the other factors (e.g. per depth), deepest last: which arms close the gap."""
    rows = table[table["column"] == "train_err_pct"] if len(table) else table
    if not len(rows):
        return "No verdict: the confirm stage has no completed runs to compare with the reference."
    order = {"closes": 0, "beats": 0, "inconclusive": 1, "fails": 2, "untested": 3}
    sentences = []
    for by, group in rows.groupby("by", sort=False):
        group = group.assign(_o=[order[judge(r)] for _, r in group.iterrows()]).sort_values(["_o", "arm"])
        clauses = "; ".join(_clause(r) for _, r in group.iterrows())
        sentences.append(f"At {by}: {clauses}.")
    return " ".join(sentences)


def untuned_names(trials: pd.DataFrame) -> list[str]:
    """ARM-DEPTH of the arms confirmed untuned (every search trial of theirs errored or diverged)."""
    if "stage" not in trials or "pick_rule" not in trials or not len(trials):
        return []
    rows = trials[(trials["stage"] == "confirm") & trials["pick_rule"].isin(UNTUNED_RULES)]
    return sorted({f"{a}-{int(d)}" for a, d in zip(arm_names(rows), rows["depth"])}) if len(rows) else []


def recipe_headline(trials: pd.DataFrame, reference: tuple[str, str], factors: list[str], metric: str = "val/acc",
                    mode: str = "max") -> str:
    """The contrast headline, then what limits it: untuned arms, and tuning curves still rising at the end."""
    sentence = contrast_headline(contrast_table(trials, reference, factors))
    untuned = untuned_names(trials)
    if untuned:
        sentence += (f" Not tuned: {', '.join(untuned)} (every search trial errored or diverged, so confirmed at "
                     "the search space's middle values).")
    note = tuning_note(budget_curves(trials, swept_fields(trials), metric, mode), mode) if metric in trials else ""
    return f"{sentence} {note}".strip()
