"""The report's confirm section for a study with a reference arm (e.g. recipes against the residual net)."""

from __future__ import annotations

import html

import pandas as pd

from dashboards.figures import recipes as recipe_figures
from dashboards.verdict import confirm, contrasts
from dashboards.verdict.headline import verdict_headline

from .budgets import adequacy_html, training_budget_html
from .drawing import Skip, draw
from .html_parts import figure_html, table_html

CONTRAST_NOTE = (
    "From the confirm stage only: each arm's configuration, tuned by its own search trials, retrained with fresh "
    "seeds. Each row is an arm minus the reference at the same depth, in percentage points of training error, with "
    "its 95% Welch interval; p (Holm) is Welch's p corrected across every contrast of the table; Hedges' g is the "
    "difference in pooled standard deviations. An arm closes the gap when the difference is not significant and "
    f"its interval lies within ±{contrasts.CLOSE_PP:g} pp; a wider interval is inconclusive.")
FIGURES = (
    ("recipe_curves", "Training curves per recipe (confirm runs)", recipe_figures.recipe_curves_figure, "history",
     "Training error per epoch of each recipe's confirm seeds: the mean, and the band from the best to the worst "
     "seed."),
    ("recipe_gradflow", "Gradient norms per block per recipe (confirm runs)", recipe_figures.recipe_gradflow_figure,
     "trials", "Left: the first batch's gradient, before any update (the net at initialization). Right: the last "
     "epoch's mean. A spread of decades across blocks means vanishing or exploding gradients."),
)
FILES = [f"{name}.png" for name, *_ in FIGURES]


def figure_builder(build, frame: pd.DataFrame | None):
    """build(frame), or Skip when the frame it draws from was not logged."""
    def drawn():
        if frame is None or not len(frame):
            raise Skip("no data logged")
        return build(frame)
    return drawn


def contrast_section(trials: pd.DataFrame, history: pd.DataFrame | None, out_dir: str, reference: tuple[str, str],
                     factors: list[str], metric: str, mode: str, budget_html: str,
                     adequacy: dict | None = None) -> tuple[str, str]:
    """(headline paragraph, confirm section): the contrasts with the reference, per-recipe figures, the
    training-budget figure (several budgets), the picks, the adequacy table."""
    table = contrasts.contrast_table(trials, reference, factors)
    if table.empty:
        return ('<p class="note">No verdict yet: no confirm run has completed (resnet-sweep resume finishes them).'
                "</p>", "")
    frames = {"trials": trials, "history": history}
    figures = "".join(figure_html(draw(name, title, figure_builder(build, frames[source]), caption, out_dir))
                      for name, title, build, source, caption in FIGURES)
    body = (f"<p>{html.escape(CONTRAST_NOTE)}</p>"
            f"{table_html(contrasts.contrast_display(table), 'confirm-verdict')}{figures}"
            f"{training_budget_html(trials, out_dir)}"
            f"<h3>How each arm was picked</h3>{table_html(confirm.picks_display(trials), 'picks')}"
            f"{adequacy_html(adequacy, trials)}{budget_html}")
    sentence = verdict_headline(trials, metric, mode, reference, factors, adequacy)
    return f'<p class="headline">{html.escape(sentence)}</p>', body
