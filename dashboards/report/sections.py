"""The report's sections as HTML: the confirm verdict with its headline, the tuning budget, the search-stage verdict
table, the paper's numbers and the sweep's provenance."""

from __future__ import annotations

import html
import re
from collections import Counter

import pandas as pd

from dashboards import stats
from dashboards.figures.budget import budget_figure
from dashboards.figures.confirm import confirm_degradation_figure
from dashboards.verdict import budget, confirm, search
from dashboards.verdict.headline import verdict_headline
from resnet_core.outcomes import OUTCOMES
from sweeps.tracking import names

from .budgets import adequacy_html, training_budget_html
from .drawing import draw
from .html_parts import figure_html, pairs_html, table_html

CONFIRM_NOTE = (
    "From the confirm stage only: each arm's configuration, picked by the search, retrained with fresh seeds the "
    "search never used, to the full epoch count, with no early stopping. Residual − plain in percentage points "
    "with its 95% Welch interval; p (Welch) from Welch's t-test, p (Holm) corrected across depths per measure; "
    "Hedges' g is the difference in pooled standard deviations. Where every seed of both arms gave the same value "
    "there is no spread to test against: p reads \"– (no spread)\".")
CONFIRM_CAPTION = ("Headline figure. Each small point is one confirm seed; the large marker is the seed mean with "
                   "its 95% t-interval. The figures below are from the search stage.")
BUDGET_TITLE = "Tuning budget: expected best after n trials per arm"
BUDGET_CAPTION = (
    "Per arm, the expected best validation score after n search trials, n = 1..k (Dodge et al. 2019's expected "
    "maximum over the arm's search configurations, each at its final value: completed, or where ASHA stopped it). "
    "A curve still rising at k says more tuning could have found a better configuration for that arm.")


def budget_section(trials: pd.DataFrame, out_dir: str, metric: str, mode: str) -> str:
    """The tuning-budget figure (its heading is the figure's) and table of the search stage, or a note."""
    curves = budget.budget_curves(trials, stats.swept_fields(trials), metric, mode)
    fig = draw("tuning_budget", BUDGET_TITLE, lambda: budget_figure(curves, metric), BUDGET_CAPTION, out_dir)
    return f"{figure_html(fig)}{table_html(budget.budget_table(curves, mode), 'budget')}"


def confirm_section(trials: pd.DataFrame, out_dir: str, metric: str = names.METRIC_DEFAULT,
                    mode: str = names.MODE_DEFAULT, adequacy: dict | None = None) -> tuple[str, str]:
    """(headline paragraph, verdict section) from confirm runs only (per depth and training budget, the
    training-budget figure when there are several, and the adequacy record's table); a note instead when the sweep
    has none."""
    table = confirm.confirm_verdict(trials)
    started = int((trials[names.STAGE] == names.CONFIRM).sum()) if names.STAGE in trials and len(trials) else 0
    if table.empty and started:
        return (f'<p class="note">No verdict yet: none of the {started} confirm runs has completed (resnet-sweep '
                "resume finishes them). The table below comes from the search runs.</p>", "")
    if table.empty:
        return ('<p class="note">No confirm stage in this sweep: the verdict below comes from the search runs that '
                "also picked each arm's configuration (the winner's curse). Add confirm: {seeds: 3} to the spec.</p>",
                "")
    fig = draw("confirm_degradation", "Degradation with depth: confirm runs",
               lambda: confirm_degradation_figure(trials), CONFIRM_CAPTION, out_dir)
    body = (f"<p>{html.escape(CONFIRM_NOTE)}</p>{table_html(confirm.verdict_display(table), 'confirm-verdict')}"
            f"{figure_html(fig)}{training_budget_html(trials, out_dir)}"
            f"<h3>How each arm was picked</h3>{table_html(confirm.picks_display(trials), 'picks')}"
            f"{adequacy_html(adequacy, trials)}{budget_section(trials, out_dir, metric, mode)}")
    sentence = verdict_headline(trials, metric, mode, adequacy=adequacy)
    return f'<p class="headline">{html.escape(sentence)}</p>', body


def search_verdict_html(display: pd.DataFrame) -> str:
    """The search verdict's display frame as `<table class="verdict">` in its scrolling box; headers may wrap."""
    body = display.to_html(index=False, na_rep="–", border=0, escape=True)
    return '<div class="scroll">' + re.sub(r"^<table[^>]*>", '<table class="verdict">', body, count=1) + "</div>"


def search_verdict_section(trials: pd.DataFrame) -> str:
    """The residual-minus-plain verdict table of the search runs with how to read it, or a note without arms."""
    if not len(trials) or not {"depth", "residual"} <= set(trials):
        return '<p class="note">No verdict: no trials with depth and residual.</p>'
    display = search.verdict_display(search.verdict_table(trials))
    return f"<p>{html.escape(search.VERDICT_NOTE)}</p>{search_verdict_html(display)}"


def paper_section(trials: pd.DataFrame, dataset: str) -> str:
    """He et al. 2015 Table 6 beside the measured test error, for CIFAR-10 sweeps only."""
    if dataset != "cifar10" or not len(trials):
        return ""
    measured = table_html(stats.compare_to_paper(trials), "paper-compare")
    return (f"<h2>Against the paper (He et al. 2015, Table 6)</h2>{measured}"
            f"<p>{html.escape(stats.PAPER_PLAIN_NOTE)}</p>{table_html(stats.paper_table6(), 'paper')}")


def _counted(trials: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """'AMD EPYC, AVX2 (4 trials)'-style counts of the trials' values in columns (tags they report)."""
    if not len(trials) or not set(columns) <= set(trials):
        return "unknown"
    keys = trials[list(columns)].fillna("unknown").astype(str).agg(", ".join, axis=1)
    return "; ".join(f"{k} ({n} trials)" for k, n in Counter(keys).most_common())


def trial_devices(trials: pd.DataFrame) -> dict[str, int]:
    """How many trials ran on each kind of hardware (the runs' `hardware` tag)."""
    found = trials[names.HARDWARE].fillna("unknown") if names.HARDWARE in trials else []
    return dict(Counter(found).most_common())


def provenance(parent, trials: pd.DataFrame) -> str:
    """Commit, versions, hardware, trial-hours and outcome counts of a sweep, as a definition list."""
    tags, metrics, devices = parent.data.tags, parent.data.metrics, trial_devices(trials)
    counts = trials[names.OUTCOME].value_counts().to_dict() if names.OUTCOME in trials else {}
    out = {"parent run": parent.info.run_id, "parent status": parent.info.status,
           "git commit": tags.get(names.GIT_COMMIT, "unknown"),
           "host platform": tags.get(names.HOST_PLATFORM, "unknown")}
    out |= {k.removeprefix("version."): v for k, v in sorted(tags.items()) if k.startswith("version.")}
    out["hardware"] = "; ".join(f"{d} ({n} trials)" for d, n in devices.items()) or "unknown"
    out["cpu"] = _counted(trials, ("cpu_model", "cpu_capability"))
    out["precision used"] = _counted(trials, ("precision_used",))
    out["trial-hours"] = f"{metrics['trial_hours']:.4f}" if "trial_hours" in metrics else "n/a (sweep not closed)"
    extra = [o for o in counts if o not in OUTCOMES]  # e.g. "running" for a sweep still going
    outcomes = ", ".join(f"{counts.get(o, 0)} {o}" for o in (*OUTCOMES, *extra))
    return pairs_html(out | {"outcomes": outcomes, "best run": tags.get(names.BEST_RUN_ID, "n/a")})
