"""The report's parts for training budgets and tuning adequacy: the training-error-against-budget figure (drawn
only when the sweep trained at several budgets) and the section "Was every arm tuned well enough?"."""

from __future__ import annotations

import html

import pandas as pd

from dashboards.figures.budgets import training_budget_figure
from dashboards.verdict import adequacy, budgets, confirm

from .drawing import draw
from .html_parts import figure_html, table_html

FIGURE = "training_budgets"
TITLE = "Training error against training budget (confirm runs)"
CAPTION = (
    "Per depth, the final training error of plain and residual nets at each training budget (epochs, log2 scale). "
    "Each small point is one confirm seed; the large marker is the seed mean with its 95% t-interval. "
    f"{budgets.RULE[:1].upper()}{budgets.RULE[1:]}.")
ADEQUACY_TITLE = "Was every arm tuned well enough?"
ADEQUACY_NOTE = (
    "Per arm and training budget, from the search rounds: the trials and rounds spent, each searched dimension's "
    "final range (widened where the best value sat at an open edge), the best configuration and where it sits "
    "(interior, an open edge, or a stability limit where the trials beyond it diverged), how much of the range the "
    "trials covered, diverged trials, and the last gain of the expected-maximum curve (Dodge et al. 2019) from n/2 "
    "to n configurations. An arm is adequate when its best is not at an open edge and its curve is flat.")


def several_budgets(trials: pd.DataFrame) -> bool:
    """Whether the confirm runs trained at more than one budget (then the figure and per-budget rows appear)."""
    return len(confirm.budgets(confirm.confirm_verdict(trials))) > 1


def training_budget_html(trials: pd.DataFrame, out_dir: str) -> str:
    """The training-budget figure through the report's one drawing path, or '' with a single budget."""
    if not several_budgets(trials):
        return ""
    return figure_html(draw(FIGURE, TITLE, lambda: training_budget_figure(trials), CAPTION, out_dir))


def adequacy_html(record: dict | None, trials: pd.DataFrame) -> str:
    """The section "Was every arm tuned well enough?": how the rounds ended and the adequacy table, or a note
    for a sweep without an adequacy record."""
    heading = f"<h3>{html.escape(ADEQUACY_TITLE)}</h3>"
    if not record:
        return f'{heading}<p class="note">{html.escape(adequacy.NO_RECORD)}</p>'
    table = adequacy.adequacy_table(record, budgets.largest_budget(trials))
    return (f"{heading}<p>{html.escape(adequacy.stopped(record))} {html.escape(ADEQUACY_NOTE)}</p>"
            f"{table_html(table, 'adequacy')}")
