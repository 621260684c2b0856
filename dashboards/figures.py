"""Pure report figures: a DataFrame in, a matplotlib (or plotly) figure out; no I/O, no module state.

Figures are built with `matplotlib.figure.Figure`, not pyplot, so nothing is registered globally and
no backend is needed until the caller saves them. Frame layouts are those of `dashboards.stats`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dashboards.stats import (
    LOG_PARAMS,
    add_error_columns,
    arm_summary,
    best_lr_group,
    completed,
    history_to_gradflow,
    normalise_trials,
)

# Okabe & Ito (2008) colour-blind-safe palette; yellow and black last since yellow is faint on white.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
ARM_STYLE = {  # residual flag -> line style; plain is dashed like the thin curves of He et al. Fig. 6
    False: {"color": OKABE_ITO[4], "linestyle": "--", "marker": "s", "label": "plain"},
    True: {"color": OKABE_ITO[3], "linestyle": "-", "marker": "o", "label": "residual"},
}
ERROR_KINDS = (("train_err_pct", "final training error (%)"), ("val_err_pct", "final validation error (%)"))
DEPTH_LABEL = "depth (layers, log2 scale)"


def _depth_colours(depths: Iterable) -> dict:
    """One palette colour per depth, in increasing depth order."""
    return {d: OKABE_ITO[i % len(OKABE_ITO)] for i, d in enumerate(sorted(set(depths)))}


def _depth_axis(ax: Axes, depths: Sequence) -> None:
    """Log2 x axis with a tick at each swept depth (20, 56, 110, ...)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.minorticks_off()


def _mean_band(ax: Axes, depths: Sequence, arm: pd.DataFrame, style: Mapping) -> None:
    """Mean line of an arm with its 95% interval as a band; NaN rows leave gaps."""
    x = np.asarray(depths, dtype=float)
    ax.plot(x, arm["mean"].to_numpy(float), **style)
    ax.fill_between(x, arm["lo"].to_numpy(float), arm["hi"].to_numpy(float), color=style["color"], alpha=0.2, lw=0)


def degradation_figure(trials: pd.DataFrame) -> Figure:
    """Final training and validation error (%) vs depth, plain vs residual, one column per init (He et al. Fig. 6).

    Completed trials only. Where an arm (depth, residual, init) was swept over several lrs, only its best-lr
    group (highest mean val/acc over seeds) is drawn, so each arm is shown at its own tuned lr. Lines are
    seed means with a 95% t-interval band where that group has >= 2 seeds; an arm with no completed trial
    (e.g. every run diverged) leaves a gap.
    """
    df = add_error_columns(normalise_trials(trials))
    chosen = best_lr_group(completed(df))
    inits, depths = sorted(df["init"].unique()), sorted(df["depth"].unique())
    fig = Figure(figsize=(max(4 * len(inits) + 1, 8), 7), layout="constrained")  # >= 8 in: room for the title
    axes = fig.subplots(2, len(inits), squeeze=False, sharex=True)
    for row, (col, ylabel) in enumerate(ERROR_KINDS):
        summary = arm_summary(chosen, col, df)
        for ax, init in zip(axes[row], inits):
            for residual in (False, True):
                arm = summary[(summary["init"] == init) & (summary["residual"] == residual)]
                _mean_band(ax, depths, arm.set_index("depth").reindex(depths), ARM_STYLE[residual])
            _depth_axis(ax, depths)
            ax.set(title=f"init: {init}", ylabel=ylabel)
    for ax in axes[-1]:
        ax.set_xlabel(DEPTH_LABEL)
    axes[0, 0].legend(title="network")
    fig.suptitle("Degradation: final error vs depth, plain vs residual (cf. He et al. 2015, Fig. 6)\n"
                 "completed runs at each arm's best lr; mean and 95% t-interval over seeds")
    return fig


def _representative_runs(df: pd.DataFrame) -> dict:
    """(depth, residual) -> run_id of the run with the highest final val/acc (runs without one come last)."""
    final = df.groupby("run_id").agg(
        depth=("depth", "first"), residual=("residual", "first"), val=("val_acc_pct", "last")
    )
    best = final.sort_values("val", ascending=False, na_position="last").drop_duplicates(["depth", "residual"])
    return {(d, r): run for run, d, r in zip(best.index, best["depth"], best["residual"])}


def training_curves_figure(history: pd.DataFrame, init: str | None = None) -> Figure:
    """Training error (%) vs epoch, one line per depth, plain (left) and residual (right) sharing the y axis.

    Each line is one real run: the one with the best final val/acc in its (depth, residual) arm, over seeds,
    lrs and inits (or only `init` when given). `history` must carry depth and residual (`with_trial_columns`).
    """
    df = normalise_trials(history)
    if init is not None:
        df = df[df["init"] == init]
    df = add_error_columns(df.sort_values("epoch"))
    runs, colours = _representative_runs(df), _depth_colours(df["depth"])
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, residual in zip(axes, (False, True)):
        for depth, colour in colours.items():
            if (depth, residual) in runs:
                curve = df[df["run_id"] == runs[(depth, residual)]]
                ax.plot(curve["epoch"], curve["train_err_pct"], color=colour, label=f"{depth} layers")
        ax.set(title=ARM_STYLE[residual]["label"], xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend(title="depth")
    axes[0].set_ylabel("training error (%)")
    fig.suptitle("Training error vs epoch (best-val run per depth" + (f", init: {init})" if init else ")"))
    return fig


def _draw_gradflow(ax: Axes, df: pd.DataFrame, value_col: str, colours: Mapping) -> None:
    """Median over runs of value_col per block, one line per (depth, residual), log y."""
    med = df.groupby(["depth", "residual", "block"])[value_col].median().reset_index()
    for (depth, residual), g in med.groupby(["depth", "residual"]):
        style = ARM_STYLE[bool(residual)]
        ax.plot(g["block"], g[value_col], color=colours[depth], linestyle=style["linestyle"], marker=style["marker"],
                markersize=3, label=f"{depth} {style['label']}")
    ax.set_yscale("log")
    ax.set(xlabel="block index (0 = stem, last = head)", ylabel="gradient norm (log scale)")


def gradient_flow_figure(df: pd.DataFrame, value_col: str = "grad_norm", title: str = "") -> Figure:
    """Per-block gradient norm vs block index, plain dashed and residual solid, one line per depth, a panel per init.

    Takes the `probe` frame (depth, residual, init, block, grad_norm) or `history_to_gradflow` output;
    several runs of one (depth, residual, block) are summarised by their median.
    """
    df = normalise_trials(df)
    inits, colours = sorted(df["init"].unique()), _depth_colours(df["depth"])
    fig = Figure(figsize=(max(5 * len(inits) + 1, 8), 4), layout="constrained")
    axes = fig.subplots(1, len(inits), squeeze=False, sharey=True)[0]
    for ax, init in zip(axes, inits):
        _draw_gradflow(ax, df[df["init"] == init], value_col, colours)
        ax.set_title(f"init: {init}")
    axes[0].legend(title="depth, network", fontsize="small")
    fig.suptitle(title or "Gradient norm per block: plain (dashed) vs residual (solid)")
    return fig


def gradient_flow_epochs_figure(history: pd.DataFrame) -> Figure:
    """Per-block gradient norm at each run's first (left) and last (right) logged epoch, a row per init."""
    frames = {"first": normalise_trials(history_to_gradflow(history, "first")),
              "last": normalise_trials(history_to_gradflow(history, "last"))}
    inits = sorted(set(frames["first"]["init"]) | set(frames["last"]["init"]))
    colours = _depth_colours(frames["first"]["depth"])
    fig = Figure(figsize=(11, 4 * len(inits)), layout="constrained")
    axes = fig.subplots(len(inits), 2, squeeze=False, sharey=True)
    for row, init in zip(axes, inits):
        for ax, (which, frame) in zip(row, frames.items()):
            _draw_gradflow(ax, frame[frame["init"] == init], "grad_norm", colours)
            ax.set_title(f"{which} epoch, init: {init}")
    if axes[0, 0].lines:
        axes[0, 0].legend(title="depth, network", fontsize="small")
    fig.suptitle("Gradient norm per block, first vs last epoch: plain (dashed) vs residual (solid)")
    return fig


def lr_sensitivity_figure(trials: pd.DataFrame) -> Figure:
    """Final val accuracy (%) vs lr (log x), colour by depth, plain dashed/squares vs residual solid/circles.

    Lines are seed means of completed trials, dots the single trials; diverged trials are crosses on the
    bottom edge at their lr, so an lr that blew up is visible rather than silently missing.
    """
    df = add_error_columns(normalise_trials(trials))
    if "lr" not in df:
        raise ValueError("trials has no lr column; lr sensitivity needs a sweep over lr")
    inits, colours = sorted(df["init"].unique()), _depth_colours(df["depth"])
    fig = Figure(figsize=(max(5 * len(inits) + 1, 8), 4), layout="constrained")
    axes = fig.subplots(1, len(inits), squeeze=False, sharey=True)[0]
    for ax, init in zip(axes, inits):
        sub = df[df["init"] == init]
        for (depth, residual), g in completed(sub).groupby(["depth", "residual"]):
            style = ARM_STYLE[bool(residual)]
            mean = g.groupby("lr")["val_acc_pct"].mean()
            ax.plot(mean.index, mean.to_numpy(), color=colours[depth], linestyle=style["linestyle"],
                    marker=style["marker"], label=f"{depth} {style['label']}")
            ax.scatter(g["lr"], g["val_acc_pct"], color=colours[depth], marker=style["marker"], s=12, alpha=0.35)
        diverged = sub[sub["outcome"] == "diverged"]
        if len(diverged):  # x in data units, y in axes units: pinned to the bottom edge
            ax.scatter(diverged["lr"], np.full(len(diverged), 0.03), marker="x", color=OKABE_ITO[7],
                       transform=ax.get_xaxis_transform(), label="diverged")
        ax.set_xscale("log")
        ax.set(title=f"init: {init}", xlabel="peak learning rate (log scale)")
        if ax.lines or ax.collections:
            ax.legend(title="depth, network", fontsize="small")
    axes[0].set_ylabel("final validation accuracy (%)")
    fig.suptitle("Learning-rate sensitivity: final validation accuracy vs lr")
    return fig


def _annotate_cells(ax: Axes, grid: np.ndarray, vmin: float, vmax: float) -> None:
    """Write each cell's value (or "n/a"), dark text on the bright end of viridis."""
    for (i, j), value in np.ndenumerate(grid):
        bright = np.isfinite(value) and (value - vmin) > 0.6 * (vmax - vmin)
        text = f"{value:.1f}" if np.isfinite(value) else "n/a"
        ax.text(j, i, text, ha="center", va="center", color="black" if bright or not np.isfinite(value) else "white")


def init_depth_heatmap(trials: pd.DataFrame, metric: str = "val/acc") -> Figure:
    """Heat map of metric (%) for init (rows) x depth (columns), plain and residual side by side, annotated.

    A cell is the seed mean of completed trials at the arm's best lr (as in degradation_figure); pass
    metric="best/val/acc" for each run's peak instead of its final value. Empty cells read "n/a".
    """
    df = normalise_trials(trials)
    df["value_pct"] = 100.0 * df[metric].astype(float)
    summary = arm_summary(best_lr_group(completed(df)), "value_pct", df)
    inits, depths = sorted(df["init"].unique()), sorted(df["depth"].unique())
    grids = [summary[summary["residual"] == r].pivot(index="init", columns="depth", values="mean")
             .reindex(index=inits, columns=depths).to_numpy(float) for r in (False, True)]
    finite = np.concatenate([g[np.isfinite(g)] for g in grids])
    vmin, vmax = (finite.min(), finite.max()) if len(finite) else (0.0, 100.0)
    fig = Figure(figsize=(2 + 1.6 * len(depths) * 2, 1.5 + 0.7 * len(inits)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, grid, residual in zip(axes, grids, (False, True)):
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        _annotate_cells(ax, grid, vmin, vmax)
        ax.set_xticks(range(len(depths)), [str(d) for d in depths])
        ax.set_yticks(range(len(inits)), inits)
        ax.set(title=ARM_STYLE[residual]["label"], xlabel="depth (layers)", ylabel="init")
    fig.colorbar(image, ax=list(axes), label=f"{metric} (%)")
    fig.suptitle(f"{metric} by init and depth (completed runs, best lr, mean over seeds)")
    return fig


def _parcoords_dimension(values: pd.Series, name: str) -> dict:
    """Plotly parcoords dimension: categories (and ints with <= 10 values) as coded ticks, LOG_PARAMS as log10."""
    uniques = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    categorical = pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values)
    if categorical or (pd.api.types.is_integer_dtype(values) and len(uniques) <= 10):
        codes = {v: i for i, v in enumerate(uniques)}
        return {"label": name, "values": values.map(codes).to_numpy(), "tickvals": list(codes.values()),
                "ticktext": [str(v) for v in uniques]}
    if name in LOG_PARAMS and (values > 0).all():
        dim = {"label": f"{name} (log10)", "values": np.log10(values.to_numpy(float))}
        if len(uniques) <= 10:
            dim |= {"tickvals": list(np.log10(np.asarray(uniques, float))), "ticktext": [f"{v:g}" for v in uniques]}
        return dim
    return {"label": name, "values": values.to_numpy(float)}


def parallel_coordinates_html(trials: pd.DataFrame, params: Sequence[str], metric: str) -> go.Figure:
    """Plotly parallel coordinates of completed trials over params, coloured by metric (call .to_html on it)."""
    df = completed(normalise_trials(trials))
    missing = [c for c in [*params, metric] if c not in df]
    if missing:
        raise ValueError(f"columns {missing} not in trials; available: {sorted(map(str, df.columns))}")
    df = df.dropna(subset=[*params, metric])
    dims = [_parcoords_dimension(df[p], p) for p in params]
    dims.append({"label": metric, "values": df[metric].to_numpy(float)})
    line = {"color": df[metric].to_numpy(float), "colorscale": "Viridis", "showscale": True,
            "colorbar": {"title": {"text": metric}}}
    fig = go.Figure(go.Parcoords(line=line, dimensions=dims))
    fig.update_layout(title={"text": f"Completed trials: {metric} across {', '.join(params)}"})
    return fig


def importance_figure(importances: Mapping[str, float]) -> Figure:
    """Horizontal bars of param importance, largest on top; a note instead of bars when there are none."""
    fig = Figure(figsize=(6, 1.5 + 0.4 * max(len(importances), 1)), layout="constrained")
    ax = fig.subplots()
    items = sorted(importances.items(), key=lambda kv: kv[1])
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items], color=OKABE_ITO[3])
    else:
        ax.text(0.5, 0.5, "no importances: fewer than 2 completed trials or no variation",
                ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="importance (fANOVA, share of explained variance)", ylabel="parameter",
           title="Hyperparameter importance")
    return fig


def _format_p(value: float) -> str:
    """p-value with 3 significant digits, a dash when undefined."""
    return "–" if pd.isna(value) else f"{value:.3g}"


def verdict_html(table: pd.DataFrame) -> str:
    """The verdict table as an HTML `<table class="verdict">` string, NaN shown as a dash."""
    formatters = {c: _format_p for c in table.columns if str(c).endswith("_p")}
    html = table.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:.2f}", formatters=formatters, border=0)
    return re.sub(r"^<table[^>]*>", '<table class="verdict">', html, count=1)
