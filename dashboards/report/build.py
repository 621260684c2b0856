"""A finished sweep as files: PNG figures, an offline plotly page and one self-contained report.html.

`build_report` loads the sweep, writes the files into one folder and logs it on the parent run under `report/`;
a figure whose data is missing (no history, every run diverged, one lr) becomes a note in the page, not a crash.
"""

from __future__ import annotations

import html
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient

from dashboards import budget, confirmed, contrasts, figures, recipe_report, search_space, stats, verdict
from dashboards.answer import has_confirm
from dashboards.confirm_figure import confirm_degradation_figure
from dashboards.html_parts import Section
from dashboards.html_parts import figure_html as _figure_html
from dashboards.html_parts import save_png as _save
from dashboards.html_parts import table_html as _table
from sweeps.tracking.runs import SweepData, load_sweep, normalise_trials
from dashboards.links import link_report
from resnet_core.outcomes import OUTCOMES

CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}figure{margin:1.5em 0}img{max-width:100%}
figcaption,.note{color:#555;font-size:.92em}.note{background:#fff6e0;border-left:4px solid #E69F00;padding:.4em .8em}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em}th{background:#f3f3f3;vertical-align:bottom}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}pre{background:#f7f7f7;padding:1em;overflow-x:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 1em}dt{font-weight:600}
dd{margin:0;font-family:monospace}.verdict{font-size:.75em}.verdict th,.verdict td{padding:2px 4px}
.headline{font-size:1.15em;font-weight:600;background:#eef5fb;border-left:4px solid #0072B2;padding:.5em .8em}"""
CONFIRM_NOTE = (
    "From the confirm stage only: each arm's configuration, picked by the search, retrained with fresh seeds the "
    "search never used, to the full epoch count, with no early stopping. Residual − plain in percentage points "
    "with its 95% Welch interval; p (Welch) from Welch's t-test, p (Holm) corrected across depths per measure; "
    "Hedges' g is the difference in pooled standard deviations.")
CONFIRM_CAPTION = ("Headline figure. Each small point is one confirm seed; the large marker is the seed mean with "
                   "its 95% t-interval. The figures below are from the search stage.")


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





def _need(ok: bool, why: str) -> None:
    """Raise Skip(why) unless ok."""
    if not ok:
        raise Skip(why)


def _arms(inp: Inputs) -> None:
    """Skip unless there are trials with depth and residual recorded."""
    _need(len(inp.trials) > 0 and {"depth", "residual"} <= set(inp.trials), "no trials with depth and residual")


def _completed_arms(inp: Inputs) -> None:
    """Skip unless some trial completed with depth and residual recorded."""
    _arms(inp)
    _need((inp.trials["outcome"] == "completed").any(), "no completed trial (all pruned, diverged or errored)")


def _degradation(inp: Inputs) -> Figure:
    _arms(inp)  # a pruned run's final error is a real measurement (drawn hollow), so pruned-only sweeps draw too
    _need(inp.trials["outcome"].isin(stats.MEASURED).any(),
          "no completed trial and no pruned one (all diverged or errored)")
    return figures.degradation_figure(inp.trials)


def _curves(inp: Inputs) -> Figure:
    _completed_arms(inp)
    h = inp.history
    _need(h is not None and len(h) > 0 and ({"train/error", "train/acc"} & set(h)), "no per-epoch history logged")
    return figures.training_curves_figure(h)


def _gradflow(inp: Inputs) -> Figure:
    h = inp.history
    _need(h is not None and len(h) > 0 and bool(stats.block_columns(h)), "no grad_norm/block_<i> history logged")
    return figures.gradient_flow_epochs_figure(h)


def _lr(inp: Inputs) -> Figure:
    _completed_arms(inp)
    _need("lr" in inp.trials and inp.trials["lr"].nunique() > 1, "lr was not swept (one value only)")
    return figures.lr_sensitivity_figure(inp.trials)


def _heatmap(inp: Inputs) -> Figure:
    _completed_arms(inp)
    metric = "best/val/acc" if "best/val/acc" in inp.trials else "val/acc"  # neither: KeyError, noted
    return figures.init_depth_heatmap(inp.trials, metric)


def _importance(inp: Inputs) -> Figure:
    _completed_arms(inp)
    _need(bool(inp.params) and inp.metric in inp.trials, f"no swept params or no {inp.metric} logged")
    return search_space.importance_figure(search_space.param_importance(inp.trials, inp.params, inp.metric, inp.mode))


FIGURES: tuple[tuple[str, str, Callable[[Inputs], Figure], str], ...] = (
    ("degradation", "Degradation with depth (search runs)", _degradation,
     "Plain nets whose training error rises with depth show the degradation problem; residual nets should not. "
     "The first column pools every init (each arm at its best init and lr); hollow points are runs ASHA stopped "
     "early, at the epoch shown."),
    ("training_curves", "Training curves (search runs)", _curves,
     "Training error per epoch, the best-val run of each depth."),
    ("gradient_flow", "Gradient flow", _gradflow,
     "Per-block gradient norms (log scale): a spread of decades across blocks means vanishing or exploding gradients."),
    ("lr_sensitivity", "Learning-rate sensitivity (search runs)", _lr, "Final validation accuracy against the peak lr."),
    ("init_depth", "Init x depth (search runs)", _heatmap, "Best validation accuracy per init and depth, plain and residual."),
    ("importance", "Hyperparameter importance", _importance, "fANOVA on an Optuna study rebuilt from the runs."),
)


def clear_outputs(out_dir: str) -> None:
    """Remove files an earlier report left in out_dir, so a figure skipped now is not logged stale."""
    for name in [f"{n}.png" for n, *_ in FIGURES] + recipe_report.FILES + [
            "confirm_degradation.png", "tuning_budget.png", "parallel_coordinates.html", "report.html"]:
        if os.path.exists(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))


def write_figures(inp: Inputs, out_dir: str) -> list[Section]:
    """Each figure of FIGURES as <name>.png in out_dir, or a Section with the reason it was skipped."""
    sections = []
    for name, title, build, caption in FIGURES:
        try:
            path, text = _save(build(inp), os.path.join(out_dir, f"{name}.png")), caption
        except Skip as e:
            path, text = None, f"Not drawn: {e}."
        except (ValueError, KeyError, IndexError) as e:  # unusual data should cost one figure, not the report
            path, text = None, f"Not drawn: {type(e).__name__}: {e}"
        sections.append(Section(name, title, path, text))
    return sections


def write_parallel_coordinates(inp: Inputs, out_dir: str) -> str:
    """The interactive plotly page with plotly.js inline (works offline); a note on why when skipped."""
    try:
        _completed_arms(inp)
        _need(bool(inp.params), "no swept params")
        fig = search_space.parallel_coordinates_html(inp.trials, list(inp.params), inp.metric)
    except (Skip, ValueError, KeyError) as e:
        return f"Parallel coordinates not drawn: {e}."
    fig.write_html(os.path.join(out_dir, "parallel_coordinates.html"), include_plotlyjs=True, full_html=True)
    return ('Interactive parallel coordinates of the completed trials: <a href="parallel_coordinates.html">'
            "parallel_coordinates.html</a> (a separate file beside this one, also logged under report/).")


def paper_section(trials: pd.DataFrame, dataset: str) -> str:
    """He et al. 2015 Table 6 beside the measured test error, for CIFAR-10 sweeps only."""
    if dataset != "cifar10" or not len(trials):
        return ""
    measured = _table(stats.compare_to_paper(trials), "paper-compare")
    return (f"<h2>Against the paper (He et al. 2015, Table 6)</h2>{measured}"
            f"<p>{html.escape(stats.PAPER_PLAIN_NOTE)}</p>{_table(stats.paper_table6(), 'paper')}")


def _pairs(pairs: dict) -> str:
    """A definition list of key: value pairs, escaped."""
    return "<dl>" + "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
                            for k, v in pairs.items()) + "</dl>"


def provenance(parent, trials: pd.DataFrame, devices: dict[str, int]) -> dict[str, str]:
    """Commit, versions, hardware, trial-hours and outcome counts of a sweep, for the report."""
    tags, metrics = parent.data.tags, parent.data.metrics
    counts = trials["outcome"].value_counts().to_dict() if "outcome" in trials else {}
    out = {"parent run": parent.info.run_id, "parent status": parent.info.status,
           "git commit": tags.get("git_commit", "unknown"), "host platform": tags.get("host_platform", "unknown")}
    out |= {k.removeprefix("version."): v for k, v in sorted(tags.items()) if k.startswith("version.")}
    out["hardware"] = "; ".join(f"{d} ({n} trials)" for d, n in devices.items()) or "unknown"
    out["cpu"] = _counted(trials, ("cpu_model", "cpu_capability"))
    out["precision used"] = _counted(trials, ("precision_used",))
    out["trial-hours"] = f"{metrics['trial_hours']:.4f}" if "trial_hours" in metrics else "n/a (sweep not closed)"
    extra = [o for o in counts if o not in OUTCOMES]  # e.g. "running" for a sweep still going
    outcomes = ", ".join(f"{counts.get(o, 0)} {o}" for o in (*OUTCOMES, *extra))
    return out | {"outcomes": outcomes, "best run": tags.get("best_run_id", "n/a")}


def render_html(title: str, sections: list[Section], parts: dict[str, str]) -> str:
    """The whole static page: verdict, figures, parallel-coordinates link, paper table, provenance, spec."""
    figs = "".join(_figure_html(s) for s in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>'
            f"{parts.get('headline', '')}<p>{parts['intro']}</p><h2>Verdict: residual minus plain</h2>"
            f"{parts.get('confirm', '')}<h3>Search runs, per init (the long breakdown)</h3>{parts['verdict']}"
            f"<h2>Figures</h2>{figs}<p>{parts['parcoords']}</p>{parts['paper']}"
            f"<h2>Provenance</h2>{parts['provenance']}<h2>Sweep spec</h2><pre>{html.escape(parts['spec'])}</pre>"
            "</body></html>")


BUDGET_CAPTION = (
    "Per arm, the expected best validation score after n search trials, n = 1..k (Dodge et al. 2019's expected "
    "maximum over the arm's search configurations, each at its final value: completed, or where ASHA stopped it). "
    "A curve still rising at k says more tuning could have found a better configuration for that arm.")


def budget_section(trials: pd.DataFrame, out_dir: str, metric: str, mode: str) -> str:
    """The tuning-budget figure and table of the search stage, or a note when it cannot be drawn."""
    curves = budget.budget_curves(trials, confirmed.swept_fields(trials), metric, mode)
    title = "Tuning budget: expected best after n trials per arm"
    try:
        path = _save(budget.budget_figure(curves, metric), os.path.join(out_dir, "tuning_budget.png"))
        fig = Section("tuning_budget", title, path, BUDGET_CAPTION)
    except ValueError as e:
        fig = Section("tuning_budget", title, None, f"Not drawn: {e}.")
    return f"<h3>{title}</h3>{_figure_html(fig)}{_table(budget.budget_table(curves, mode), 'budget')}"


def confirm_section(trials: pd.DataFrame, out_dir: str, metric: str = "val/acc",
                    mode: str = "max") -> tuple[str, str]:
    """(headline paragraph, verdict section) from confirm runs only; a note instead when the sweep has none."""
    table = confirmed.confirm_verdict(trials)
    started = int((trials["stage"] == "confirm").sum()) if "stage" in trials and len(trials) else 0
    if table.empty and started:
        return (f'<p class="note">No verdict yet: none of the {started} confirm runs has completed (resnet-sweep '
                "resume finishes them). The table below comes from the search runs.</p>", "")
    if table.empty:
        return ('<p class="note">No confirm stage in this sweep: the verdict below comes from the search runs that '
                "also picked each arm's configuration (the winner's curse). Add confirm: {seeds: 3} to the spec.</p>",
                "")
    try:
        path = _save(confirm_degradation_figure(trials), os.path.join(out_dir, "confirm_degradation.png"))
        fig = Section("confirm_degradation", "Degradation with depth: confirm runs", path, CONFIRM_CAPTION)
    except ValueError as e:  # e.g. every confirm run diverged: a note, not a crash
        fig = Section("confirm_degradation", "Degradation with depth: confirm runs", None, f"Not drawn: {e}.")
    body = (f"<p>{CONFIRM_NOTE}</p>{_table(confirmed.verdict_display(table), 'confirm-verdict')}"
            f"{_figure_html(fig)}<h3>How each arm was picked</h3>{_table(confirmed.picks_display(trials), 'picks')}"
            f"{budget_section(trials, out_dir, metric, mode)}")
    return f'<p class="headline">{html.escape(confirmed.verdict_headline(trials, metric, mode))}</p>', body


def search_only(data: SweepData) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The search stage's trials and history (all of them for a sweep without a confirm stage)."""
    if not len(data.trials) or "stage" not in data.trials:
        return data.trials, data.history
    trials = data.trials[data.trials["stage"] != "confirm"]
    history = data.history
    if history is not None and len(history):
        history = history[history["run_id"].isin(trials["run_id"])]
    return trials, history


def _counted(trials: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """'AMD EPYC, AVX2 (4 trials)'-style counts of the trials' values in columns (tags they report)."""
    if not len(trials) or not set(columns) <= set(trials):
        return "unknown"
    keys = trials[list(columns)].fillna("unknown").astype(str).agg(", ".join, axis=1)
    return "; ".join(f"{k} ({n} trials)" for k, n in Counter(keys).most_common())


def trial_devices(trials: pd.DataFrame) -> dict[str, int]:
    """How many trials ran on each kind of hardware (the runs' `hardware` tag)."""
    names = trials["hardware"].fillna("unknown") if "hardware" in trials else []
    return dict(Counter(names).most_common())


def search_inputs(data: SweepData) -> Inputs:
    """What the search-stage figures read, from a sweep loaded with its history."""
    params = data.parent.data.params
    trials, history = search_only(data)
    return Inputs(trials, history, stats.swept_params(data.spec, trials), params.get("metric", "val/acc"),
                  params.get("mode", "max"))


def report_figures(data: SweepData) -> dict[str, Figure]:
    """The report's figures as matplotlib Figures by name (for a notebook), without files; a figure the data
    cannot give (see the report's notes) is left out."""
    inp, params = search_inputs(data), data.parent.data.params
    builders: list[tuple[str, Callable[[], Figure]]] = []
    if contrasts.parse_reference(params.get("confirm_reference")):
        frames = {"trials": data.trials, "history": data.history}
        builders += [(name, lambda b=build, f=frames[source]: b(f)) for name, _, build, source, _ in
                     recipe_report.FIGURES if frames[source] is not None and len(frames[source])]
    elif len(confirmed.confirm_verdict(data.trials)):
        builders.append(("confirm_degradation", lambda: confirm_degradation_figure(data.trials)))
    if has_confirm(data.trials):
        curves = budget.budget_curves(data.trials, confirmed.swept_fields(data.trials), inp.metric, inp.mode)
        builders.append(("tuning_budget", lambda: budget.budget_figure(curves, inp.metric)))
    builders += [(name, lambda b=build: b(inp)) for name, _, build, _ in FIGURES]
    out = {}
    for name, build in builders:
        try:
            out[name] = build()
        except (Skip, ValueError, KeyError, IndexError):  # the same figures the report notes as not drawn
            continue
    return out


def build_report(ref: str, tracking_uri: str, out_dir: str | None = None) -> str:
    """Write the sweep's figures and report.html into out_dir, log them on the parent run; return the page's path."""
    data: SweepData = load_sweep(ref, tracking_uri, history=True)
    out_dir = out_dir or os.path.join("reports", ref)
    os.makedirs(out_dir, exist_ok=True)
    clear_outputs(out_dir)
    parent, params, spec = data.parent, data.parent.data.params, data.spec
    everything = data.trials  # the loader's frames are already normalised
    inp = search_inputs(data)
    trials = inp.trials
    reference = contrasts.parse_reference(params.get("confirm_reference"))
    if reference:  # a study with a reference arm: every other value of its factor against it
        factors = params.get("confirm_factors", "depth").split(",")
        headline, confirm = recipe_report.contrast_section(
            everything, data.history, out_dir, reference, factors, inp.metric, inp.mode,
            budget_section(everything, out_dir, inp.metric, inp.mode))
    else:
        headline, confirm = confirm_section(everything, out_dir, inp.metric, inp.mode)
    sections, name = write_figures(inp, out_dir), parent.data.tags.get("sweep", ref)
    dataset = spec.get("dataset") or (str(trials["dataset"].iloc[0]) if "dataset" in trials and len(trials) else "")
    parts = {"intro": html.escape(f"Sweep {name}: {len(everything)} trials on {dataset or 'unknown data'}, "
                                  f"parent run {parent.info.run_id}, report built {time.strftime('%Y-%m-%d %H:%M')}."),
             "headline": headline, "confirm": confirm,
             "verdict": verdict.verdict_section(trials), "parcoords": write_parallel_coordinates(inp, out_dir),
             "paper": paper_section(trials, dataset), "spec": data.spec_text or "(no spec.yaml on the parent run)",
             "provenance": _pairs(provenance(parent, everything, trial_devices(everything)))}
    path = os.path.join(out_dir, "report.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_html(f"Does depth need residuals? Sweep report: {name}", sections, parts))
    client = MlflowClient(tracking_uri)
    client.log_artifacts(parent.info.run_id, out_dir, "report")
    link_report(client, parent, tracking_uri)
    return path


def probe_report(csv_path: str, out_dir: str) -> str:
    """Render `resnet-sweep probe --out` rows (depth,residual,init,block,grad_norm) as gradient_flow_probe.png."""
    rows = normalise_trials(pd.read_csv(csv_path))  # a hand-written CSV may lack init
    missing = {"depth", "residual", "block", "grad_norm"} - set(rows)
    if missing:
        raise ValueError(f"{csv_path}: not a probe CSV, columns {sorted(missing)} missing; "
                         "write one with resnet-sweep probe --out FILE")
    os.makedirs(out_dir, exist_ok=True)
    fig = figures.gradient_flow_figure(rows, title="Gradient norm per block at initialization (resnet-sweep probe)\n"
                                                   "plain (dashed) vs residual (solid)")
    return _save(fig, os.path.join(out_dir, "gradient_flow_probe.png"))
