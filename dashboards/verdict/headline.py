"""The sweep's answer in two parts, for the terminal and a notebook: a compact table and the headline sentence."""

from __future__ import annotations

import pandas as pd

from dashboards import confirmed, contrasts

NO_CONFIRM = "No verdict: this sweep has no confirm stage (add confirm: {seeds: 3} to the spec for one)."


def has_confirm(trials: pd.DataFrame) -> bool:
    """Whether any trial ran in the confirm stage (the only runs a verdict uses)."""
    return "stage" in trials and bool((trials["stage"] == "confirm").any())


def answer(trials: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, str]:
    """(compact training-error table, headline) from the confirm runs; params are the parent run's (metric, mode,
    confirm_factors, confirm_reference). A study with a reference arm gets its contrasts, any other the
    residual-minus-plain verdict; a sweep without a confirm stage gets an empty table and says so."""
    metric, mode = params.get("metric", "val/acc"), params.get("mode", "max")
    if not has_confirm(trials):
        return pd.DataFrame(columns=list(confirmed.COMPACT_COLUMNS)), NO_CONFIRM
    reference = contrasts.parse_reference(params.get("confirm_reference"))
    if reference:
        factors = params.get("confirm_factors", "depth").split(",")
        table = contrasts.contrast_table(trials, reference, factors)
        ref = reference[1]
        shown = contrasts.contrast_display(table).drop(columns=["Reference", "Hedges' g", "Seeds (arm / reference)"])
        shown = shown.rename(columns={"Reference (%)": f"{ref} (%)", "Arm − reference (pp, 95% CI)":
                                      f"Arm − {ref} (pp, 95% CI)"})
        return shown, contrasts.recipe_headline(trials, reference, factors, metric, mode)
    return (confirmed.compact_verdict(confirmed.confirm_verdict(trials)),
            confirmed.verdict_headline(trials, metric, mode))
