"""The sweep's answer in words: the one place its headline sentence is made, for the report, terminal and notebook.

`sweep_headline` (and `answer`, which adds the compact table) is what callers use: first, when the sweep's
adequacy record says an arm was not tuned well enough, which and why; then the contrasts with a reference arm when
the sweep names one, else residual minus plain, after its training budget ("After 8 epochs, ..."; with several
budgets the largest first, the others briefly, how the gap moves with the budget, and whether the largest is
converged: `budgets`); then what limits the answer (arms confirmed untuned, and, for sweeps without an adequacy
record, tuning curves still rising). `headline` and `contrast_headline` word one verdict table each.
"""

from __future__ import annotations

import pandas as pd

from dashboards.stats import NO_SPREAD, arm_names, format_p, interval_words, swept_fields
from sweeps.tracking import names

from . import budgets, confirm, contrasts
from .adequacy import adequacy_sentence
from .budget import budget_curves, still_rising

NO_CONFIRM = "No verdict: this sweep has no confirm stage (add confirm: {seeds: 3} to the spec for one)."
NOT_CONFIRMED_YET = ("No verdict yet: the confirm stage has not run (the search was stopped first); "
                     "`resnet-sweep resume` finishes the search and confirms.")


def no_verdict(params: dict) -> str:
    """Why a sweep without confirm runs has no verdict: its spec has no confirm stage, or it has not reached it."""
    return NOT_CONFIRMED_YET if names.CONFIRM_SEEDS in params else NO_CONFIRM


def has_confirm(trials: pd.DataFrame) -> bool:
    """Whether any trial ran in the confirm stage (the only runs a verdict uses)."""
    return names.STAGE in trials and bool((trials[names.STAGE] == names.CONFIRM).any())


def _seeds(row: pd.Series) -> str:
    n1, n2 = int(row["n_plain"]), int(row["n_residual"])
    return f"{n1} seeds per arm" if n1 == n2 else f"{n1} plain and {n2} residual seeds"


def _plain_minus_residual(row: pd.Series) -> str:
    """The plain net's excess error with its interval, Holm p and seeds, e.g. "88.4 pp higher (95% CI ...)"."""
    diff, lo, hi = -row["diff"], -row["hi"], -row["lo"]
    word = "higher" if diff > 0 else "lower"
    ci = interval_words(lo, hi, bool(row.get("clipped", False)))
    return f"{abs(diff):.1f} pp {word} ({ci}, {format_p(row['p_holm'], True)}, {_seeds(row)})"


def _depths(values) -> str:
    listed = [str(int(d)) for d in values]
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def _no_spread(rows: pd.DataFrame) -> str:
    """The clause for depths whose seeds all gave one value per arm: there is no spread to test a difference on."""
    diffs = "; ".join(f"{'' if len(rows) == 1 else f'{int(r.depth)}: '}plain {abs(r.diff):.1f} pp "
                      f"{'higher' if -r.diff > 0 else 'lower'}" for r in rows.itertuples())
    return (f"no test at depth {_depths(rows['depth'])}: every seed of both arms gave the same training error "
            f"({diffs}), so there is no spread between seeds to test the difference against")


def headline(verdict: pd.DataFrame) -> str:
    """One plain-language sentence on training error from the confirm verdict; it says so when evidence is weak."""
    rows = verdict[(verdict["column"] == "train_err_pct") & (verdict["n_plain"] >= 2) & (verdict["n_residual"] >= 2)]
    if rows.empty:
        return "No verdict: the confirm stage has fewer than 2 completed seeds per arm at every depth."
    rows = rows.sort_values("depth")
    flat = rows["why"] == NO_SPREAD
    significant = rows["p_holm"] < confirm.ALPHA
    helps, hurts = rows[significant & (rows["diff"] < 0)], rows[significant & (rows["diff"] > 0)]
    weak = rows[~significant & ~flat]
    parts = []
    if len(helps):
        deepest = helps.iloc[-1]
        tail = rows[rows["depth"] >= helps["depth"].min()]
        where = (f"from depth {int(helps['depth'].min())}" if len(tail) == len(helps) and len(helps) > 1
                 else f"at depth {_depths(helps['depth'])}")
        parts.append(f"Residual connections matter {where}: at {int(deepest['depth'])} layers the plain net's "
                     f"training error is {_plain_minus_residual(deepest)}")
    if len(hurts):
        worst = hurts.iloc[-1]
        parts.append(f"the plain net trains better at depth {_depths(hurts['depth'])}: at {int(worst['depth'])} "
                     f"layers its training error is {_plain_minus_residual(worst)}")
    wide = weak.apply(contrasts.too_wide, axis=1).astype(bool) if len(weak) else pd.Series(dtype=bool)
    for rows_of, words in ((weak[~wide], "no detectable difference in training error at depth {}"),
                           (weak[wide], "too few seeds to tell at depth {}: the interval is too wide")):
        if len(rows_of):
            detail = "; ".join(f"{'' if len(rows_of) == 1 else f'{int(r.depth)}: '}plain {_plain_minus_residual(r)}"
                               for _, r in rows_of.iterrows())
            parts.append(f"{words.format(_depths(rows_of['depth']))} ({detail})")
    if flat.any():
        parts.append(_no_spread(rows[flat]))
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _clause(row: pd.Series) -> str:
    """What one training-error contrast says, with its interval, Holm p and seeds."""
    diff = row["diff"]
    ci = f"{interval_words(row['lo'], row['hi'], bool(row.get('clipped', False)))}, {format_p(row['p_holm'], True)}"
    seeds = f"{int(row['n_arm'])} and {int(row['n_reference'])} seeds"
    ref, verdict = row["reference"], contrasts.judge(row)
    if verdict == "closes":
        return f"{row['arm']} trains to within {abs(diff):.1f} pp of {ref} (no detectable difference; {ci}, {seeds})"
    if verdict == "fails":
        return f"{row['arm']} does not close the gap: its training error is {diff:.1f} pp higher ({ci}, {seeds})"
    if verdict == "beats":
        return f"{row['arm']} trains better than {ref}: {-diff:.1f} pp lower training error ({ci}, {seeds})"
    if verdict == "inconclusive":
        return (f"{row['arm']} is inconclusive: {abs(diff):.1f} pp {'higher' if diff > 0 else 'lower'}, but the "
                f"interval is too wide to tell ({ci}, {seeds})")
    if row.get("why") == NO_SPREAD:
        return (f"{row['arm']} is untested: every seed of {row['arm']} and of {ref} gave the same training error, so "
                f"there is no spread between seeds to test the {abs(diff):.1f} pp difference against ({seeds})")
    return f"{row['arm']} is untested (fewer than 2 completed seeds)"


def contrast_headline(table: pd.DataFrame) -> str:
    """One sentence per group of the other factors (e.g. per depth), deepest last: which arms close the gap."""
    rows = table[table["column"] == "train_err_pct"] if len(table) else table
    if not len(rows):
        return "No verdict: the confirm stage has no completed runs to compare with the reference."
    order = {"closes": 0, "beats": 0, "inconclusive": 1, "fails": 2, "untested": 3}
    sentences = []
    for by, group in rows.groupby("by", sort=False):
        group = group.assign(_o=[order[contrasts.judge(r)] for _, r in group.iterrows()]).sort_values(["_o", "arm"])
        clauses = "; ".join(_clause(r) for _, r in group.iterrows())
        sentences.append(f"At {by}: {clauses}.")
    return " ".join(sentences)


def tuning_note(curves: pd.DataFrame, mode: str = names.MODE_DEFAULT) -> str:
    """A sentence naming the arms whose expected best still rose with their last trial, or ''."""
    rising = still_rising(curves, mode)
    if rising.empty:
        return ""
    listed = ", ".join(f"{r.arm}-{int(r.depth)} (+{r.gain:.1f} pp)" for r in rising.itertuples())
    k = int(curves["n"].max())
    return (f"More tuning could change this answer: the expected best validation score was still rising at "
            f"{k} search trials per arm for {listed}.")


def limits(trials: pd.DataFrame, metric: str, mode: str, adequacy: dict | None = None) -> str:
    """What limits the answer: arms confirmed untuned, and, without an adequacy record (which says it first, in
    its own words), arms whose tuning curve still rose at the end; or ''."""
    rows = confirm.untuned_rows(trials)
    untuned = sorted({f"{a}-{int(d)}" for a, d in zip(arm_names(rows), rows["depth"])}) if len(rows) else []
    sentence = (f"Not tuned: {', '.join(untuned)} (every search trial errored or diverged, so confirmed at the "
                "search space's middle values)." if untuned else "")
    note = ""
    if adequacy is None and metric in trials:
        note = tuning_note(budget_curves(trials, swept_fields(trials), metric, mode), mode)
    return f"{sentence} {note}".strip()


def residual_headline(trials: pd.DataFrame) -> str:
    """Residual minus plain, after its budget: with several budgets the largest first, the others briefly, how the
    gap moves per depth, and whether the largest budget is converged."""
    verdict = confirm.confirm_verdict(trials)
    found = confirm.budgets(verdict)
    if not found:
        return headline(verdict)
    largest = found[-1]
    parts = [budgets.after(largest, headline(budgets.at_budget(verdict, largest)))]
    parts += [budgets.brief(verdict, b) for b in reversed(found[:-1])]
    parts += [budgets.trend(verdict), budgets.convergence(trials, largest)]
    return " ".join(p for p in parts if p)


def reference_headline(trials: pd.DataFrame, reference: tuple[str, str], factors: list[str]) -> str:
    """The contrasts with the reference arm after their budget, the largest budget first, then whether it is
    converged."""
    table = contrasts.contrast_table(trials, reference, factors)
    found = confirm.budgets(table)
    if len(found) < 2:
        largest = budgets.largest_budget(trials)
        sentence = contrast_headline(table)
        return " ".join(p for p in (budgets.after(largest, sentence) if largest else sentence,
                                    budgets.convergence(trials, largest) if largest else "") if p)
    parts = []
    for b in reversed(found):
        at = budgets.at_budget(table, b)
        at = at.assign(by=[s.replace(f", {b} epochs", "").replace(f"{b} epochs, ", "") for s in at["by"]])
        parts.append(budgets.after(b, contrast_headline(at)))
    return " ".join([*parts, budgets.convergence(trials, found[-1])]).strip()


def verdict_headline(trials: pd.DataFrame, metric: str = names.METRIC_DEFAULT, mode: str = names.MODE_DEFAULT,
                     reference: tuple[str, str] | None = None, factors: list[str] | None = None,
                     adequacy: dict | None = None) -> str:
    """The headline of the confirm runs: arms not adequately tuned first (from the adequacy record, when there is
    one), then contrasts with reference (at each value of the other factors) when one is given, else residual minus
    plain per depth, each after its training budget; then its limits."""
    if reference:
        sentence = reference_headline(trials, reference, factors or names.CONFIRM_FACTORS_DEFAULT.split(","))
    else:
        sentence = residual_headline(trials)
    first = adequacy_sentence(adequacy, budgets.largest_budget(trials)) if adequacy else ""
    return " ".join(p for p in (first, sentence, limits(trials, metric, mode, adequacy)) if p)


def study_of(params: dict) -> tuple[tuple[str, str] | None, list[str]]:
    """(reference arm, factors) of a sweep from its parent run's params; reference None without one."""
    reference = contrasts.parse_reference(params.get(names.CONFIRM_REFERENCE))
    return reference, params.get(names.CONFIRM_FACTORS, names.CONFIRM_FACTORS_DEFAULT).split(",")


def sweep_headline(trials: pd.DataFrame, params: dict, adequacy: dict | None = None) -> str:
    """The sweep's headline from its trials, its parent run's params and its adequacy record (None: the sweep has
    none): what the report, terminal and notebook say."""
    if not has_confirm(trials):
        return no_verdict(params)
    metric, mode = names.sweep_metric(params)
    return verdict_headline(trials, metric, mode, *study_of(params), adequacy=adequacy)


def answer(trials: pd.DataFrame, params: dict, adequacy: dict | None = None) -> tuple[pd.DataFrame, str]:
    """(compact training-error table, headline) from the confirm runs; params are the parent run's, adequacy its
    adequacy record (None when it has none). A study with a reference arm gets its contrasts, any other the
    residual-minus-plain verdict (per depth and budget); a sweep without a confirm stage gets an empty table and
    says so."""
    if not has_confirm(trials):
        return pd.DataFrame(columns=list(confirm.COMPACT_COLUMNS)), no_verdict(params)
    reference, factors = study_of(params)
    if reference:
        ref = reference[1]
        shown = contrasts.contrast_display(contrasts.contrast_table(trials, reference, factors))
        shown = shown.drop(columns=["Reference", "Hedges' g", "Seeds (arm / reference)"]).rename(columns={
            "Reference (%)": f"{ref} (%)", "Arm − reference (pp, 95% CI)": f"Arm − {ref} (pp, 95% CI)"})
        return shown, sweep_headline(trials, params, adequacy)
    return confirm.compact_verdict(confirm.confirm_verdict(trials)), sweep_headline(trials, params, adequacy)
