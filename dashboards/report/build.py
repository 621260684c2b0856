"""A finished sweep as files: PNG figures, an offline plotly page and one self-contained report.html.

`build_report` loads the sweep, writes the files into one folder and logs it on the parent run under `report/`;
a figure whose data is missing (no history, every run diverged, one lr) becomes a note in the page, not a crash
(`dashboards.report.drawing`). `report_figures` gives the same figures as matplotlib Figures, for a notebook.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient

from dashboards import stats
from dashboards.figures.budget import budget_figure
from dashboards.figures.budgets import training_budget_figure
from dashboards.figures.confirm import confirm_degradation_figure
from dashboards.verdict import budget, confirm
from dashboards.verdict.headline import has_confirm, study_of
from sweeps.tracking import names
from sweeps.tracking.runs import SweepData, load_adequacy, load_sweep

from . import budgets, recipes, sections
from .drawing import FIGURES, Inputs, attempt, write_figures, write_parallel_coordinates
from .html_parts import render_html
from .links import link_report

TITLE = "Does depth need residuals? Sweep report: {name}"


def clear_outputs(out_dir: str) -> None:
    """Remove files an earlier report left in out_dir, so a figure skipped now is not logged stale."""
    for name in [f"{n}.png" for n, *_ in FIGURES] + recipes.FILES + [
            "confirm_degradation.png", f"{budgets.FIGURE}.png", "tuning_budget.png", "parallel_coordinates.html",
            "report.html"]:
        if os.path.exists(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))


def search_only(data: SweepData) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The search stage's trials and history (all of them for a sweep without a confirm stage)."""
    if not len(data.trials) or names.STAGE not in data.trials:
        return data.trials, data.history
    trials = data.trials[data.trials[names.STAGE] != names.CONFIRM]
    history = data.history
    if history is not None and len(history):
        history = history[history["run_id"].isin(trials["run_id"])]
    return trials, history


def search_inputs(data: SweepData) -> Inputs:
    """What the search-stage figures read, from a sweep loaded with its history."""
    trials, history = search_only(data)
    return Inputs(trials, history, stats.swept_params(data.spec, trials), *names.sweep_metric(data.parent.data.params))


def report_figures(data: SweepData) -> dict[str, Figure]:
    """The report's figures as matplotlib Figures by name (for a notebook), without files; a figure the data
    cannot give (see the report's notes) is left out."""
    inp = search_inputs(data)
    builders: list[tuple[str, Callable[[], Figure]]] = []
    if study_of(data.parent.data.params)[0]:
        frames = {"trials": data.trials, "history": data.history}
        builders += [(name, recipes.figure_builder(build, frames[source]))
                     for name, _, build, source, _ in recipes.FIGURES]
    elif len(confirm.confirm_verdict(data.trials)):
        builders.append(("confirm_degradation", lambda: confirm_degradation_figure(data.trials)))
    if budgets.several_budgets(data.trials):
        builders.append((budgets.FIGURE, lambda: training_budget_figure(data.trials)))
    if has_confirm(data.trials):
        curves = budget.budget_curves(data.trials, stats.swept_fields(data.trials), inp.metric, inp.mode)
        builders.append(("tuning_budget", lambda: budget_figure(curves, inp.metric)))
    builders += [(name, lambda b=build: b(inp)) for name, _, build, _ in FIGURES]
    drawn = {name: attempt(build)[0] for name, build in builders}  # the figures the report notes as not drawn: left out
    return {name: fig for name, fig in drawn.items() if fig is not None}


def _confirm_parts(data: SweepData, inp: Inputs, out_dir: str, adequacy: dict | None) -> tuple[str, str]:
    """(headline paragraph, confirm section): contrasts with a reference arm, else residual minus plain; adequacy is
    the sweep's adequacy record (None without one)."""
    reference, factors = study_of(data.parent.data.params)
    if reference:  # a study with a reference arm: every other value of its factor against it
        return recipes.contrast_section(data.trials, data.history, out_dir, reference, factors, inp.metric, inp.mode,
                                        sections.budget_section(data.trials, out_dir, inp.metric, inp.mode), adequacy)
    return sections.confirm_section(data.trials, out_dir, inp.metric, inp.mode, adequacy)


def build_report(ref: str, tracking_uri: str, out_dir: str | None = None) -> str:
    """Write the sweep's figures and report.html into out_dir, log them on the parent run; return the page's path."""
    data: SweepData = load_sweep(ref, tracking_uri, history=True)
    out_dir = out_dir or os.path.join("reports", ref)
    os.makedirs(out_dir, exist_ok=True)
    clear_outputs(out_dir)
    parent, spec, everything = data.parent, data.spec, data.trials  # the loader's frames are already normalised
    inp = search_inputs(data)
    trials = inp.trials
    client = MlflowClient(tracking_uri)
    headline, confirm_html = _confirm_parts(data, inp, out_dir, load_adequacy(client, parent.info.run_id))
    figure_sections, name = write_figures(inp, out_dir), parent.data.tags.get(names.SWEEP, ref)
    dataset = spec.get("dataset") or (str(trials["dataset"].iloc[0]) if "dataset" in trials and len(trials) else "")
    parts = {"intro": html.escape(f"Sweep {name}: {len(everything)} trials on {dataset or 'unknown data'}, "
                                  f"parent run {parent.info.run_id}, report built {time.strftime('%Y-%m-%d %H:%M')}."),
             "headline": headline, "confirm": confirm_html, "verdict": sections.search_verdict_section(trials),
             "parcoords": write_parallel_coordinates(inp, out_dir), "paper": sections.paper_section(trials, dataset),
             "spec": data.spec_text or "(no spec.yaml on the parent run)",
             "provenance": sections.provenance(parent, everything)}
    path = os.path.join(out_dir, "report.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_html(TITLE.format(name=name), figure_sections, parts))
    client.log_artifacts(parent.info.run_id, out_dir, "report")
    link_report(client, parent, tracking_uri)
    return path
