"""The one way the report draws a figure: render it to a PNG, or write one note naming the figure and why not.

A figure whose data is missing (no history, every run diverged, one lr) or unusual costs that figure, never the
report: its builder raises Skip (or the figure's own ValueError, KeyError or IndexError), and `draw` turns that
into the note the page shows in its place. The search-stage figures and what each needs are listed in FIGURES.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from dashboards import stats
from dashboards.figures import search as figures
from dashboards.figures import search_space
from dashboards.study.importance import param_importance

from .html_parts import Section, save_png

NOT_DRAWN = (ValueError, KeyError, IndexError)  # unusual data: a note for that figure, not a failed report


class Skip(Exception):
    """A figure cannot be drawn from this sweep's data; the message says why, for the report."""


@dataclass(frozen=True)
class Inputs:
    """What the figure builders read: trials, per-epoch history (or None) and the sweep's search setup."""
    trials: pd.DataFrame
    history: pd.DataFrame | None
    params: tuple[str, ...]   # the swept hyperparameters
    metric: str               # the metric the sweep optimised, e.g. val/acc
    mode: str                 # max or min


def attempt(build: Callable[[], object]) -> tuple[object | None, str]:
    """(what build returns, '') or (None, why it could not be built): every figure of the report goes through here."""
    try:
        return build(), ""
    except Skip as e:
        return None, str(e)
    except NOT_DRAWN as e:
        return None, f"{type(e).__name__}: {e}"


def draw(name: str, title: str, build: Callable[[], Figure], caption: str, out_dir: str) -> Section:
    """build()'s figure as <name>.png in out_dir with its caption, or a note saying which figure was not drawn, why."""
    fig, why = attempt(build)
    if fig is None:
        return Section(name, title, None, f"{title} not drawn: {why.rstrip('.')}.")
    return Section(name, title, save_png(fig, os.path.join(out_dir, f"{name}.png")), caption)


def need(ok: bool, why: str) -> None:
    """Raise Skip(why) unless ok."""
    if not ok:
        raise Skip(why)


def _arms(inp: Inputs) -> None:
    """Skip unless there are trials with depth and residual recorded."""
    need(len(inp.trials) > 0 and {"depth", "residual"} <= set(inp.trials), "no trials with depth and residual")


def completed_arms(inp: Inputs) -> None:
    """Skip unless some trial completed with depth and residual recorded."""
    _arms(inp)
    need((inp.trials["outcome"] == "completed").any(), "no completed trial (all pruned, diverged or errored)")


def _degradation(inp: Inputs) -> Figure:
    _arms(inp)  # a pruned run's final error is a real measurement (drawn hollow), so pruned-only sweeps draw too
    need(inp.trials["outcome"].isin(stats.MEASURED).any(),
         "no completed trial and no pruned one (all diverged or errored)")
    return figures.degradation_figure(inp.trials)


def _curves(inp: Inputs) -> Figure:
    completed_arms(inp)
    h = inp.history
    need(h is not None and len(h) > 0 and bool({"train/error", "train/acc"} & set(h)), "no per-epoch history logged")
    return figures.training_curves_figure(h)


def _gradflow(inp: Inputs) -> Figure:
    h = inp.history
    need(h is not None and len(h) > 0 and bool(stats.block_columns(h)), "no grad_norm/block_<i> history logged")
    return figures.gradient_flow_epochs_figure(h)


def _lr(inp: Inputs) -> Figure:
    completed_arms(inp)
    need("lr" in inp.trials and inp.trials["lr"].nunique() > 1, "lr was not swept (one value only)")
    return figures.lr_sensitivity_figure(inp.trials)


def _heatmap(inp: Inputs) -> Figure:
    completed_arms(inp)
    metric = "best/val/acc" if "best/val/acc" in inp.trials else "val/acc"  # neither: KeyError, noted
    return figures.init_depth_heatmap(inp.trials, metric)


def _importance(inp: Inputs) -> Figure:
    completed_arms(inp)
    need(bool(inp.params) and inp.metric in inp.trials, f"no swept params or no {inp.metric} logged")
    return search_space.importance_figure(param_importance(inp.trials, inp.params, inp.metric, inp.mode))


FIGURES: tuple[tuple[str, str, Callable[[Inputs], Figure], str], ...] = (
    ("degradation", "Degradation with depth (search runs)", _degradation,
     "Plain nets whose training error rises with depth show the degradation problem; residual nets should not. "
     "The first column pools every init (each arm at its best init and lr); hollow points are runs ASHA stopped "
     "early, at the epoch shown."),
    ("training_curves", "Training curves (search runs)", _curves,
     "Training error per epoch, the best-val run of each depth."),
    ("gradient_flow", "Gradient flow", _gradflow,
     "Per-block gradient norms (log scale): a spread of decades across blocks means vanishing or exploding "
     "gradients."),
    ("lr_sensitivity", "Learning-rate sensitivity (search runs)", _lr,
     "Final validation accuracy against the peak lr."),
    ("init_depth", "Init x depth (search runs)", _heatmap,
     "Best validation accuracy per init and depth, plain and residual."),
    ("importance", "Hyperparameter importance", _importance, "fANOVA on an Optuna study rebuilt from the runs."),
)


def write_figures(inp: Inputs, out_dir: str) -> list[Section]:
    """Each figure of FIGURES as <name>.png in out_dir, or a Section with the reason it was not drawn."""
    return [draw(name, title, lambda b=build: b(inp), caption, out_dir) for name, title, build, caption in FIGURES]


def write_parallel_coordinates(inp: Inputs, out_dir: str) -> str:
    """The interactive plotly page with plotly.js inline (works offline); a note on why when it is not drawn."""
    def build():
        completed_arms(inp)
        need(bool(inp.params), "no swept params")
        return search_space.parallel_coordinates_html(inp.trials, list(inp.params), inp.metric)

    fig, why = attempt(build)
    if fig is None:
        return f"Parallel coordinates not drawn: {why.rstrip('.')}."
    fig.write_html(os.path.join(out_dir, "parallel_coordinates.html"), include_plotlyjs=True, full_html=True)
    return ('Interactive parallel coordinates of the completed trials: <a href="parallel_coordinates.html">'
            "parallel_coordinates.html</a> (a separate file beside this one, also logged under report/).")
