"""The search stage's figures: degradation with depth, training curves, gradient flow, lr sensitivity, init x depth.

Pure: a DataFrame in, a matplotlib Figure out; no I/O, no module state. Figures are built with
`matplotlib.figure.Figure`, not pyplot, so nothing is registered globally and no backend is needed until the
caller saves them. Frame layouts are those of `dashboards.stats`; frames come normalised by
`sweeps.tracking.runs` (init filled, residual bool, outcome present), and figures take them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from dashboards.stats import (
    POOLED,
    add_error_columns,
    arm_points,
    arm_summary,
    best_lr_group,
    chosen_rows,
    completed,
    history_to_gradflow,
    pools_inits,
    with_pooled,
)

from .style import ARM_STYLE, DEPTH_LABEL, ERROR_KINDS, OKABE_ITO, depth_axis, depth_colours, suptitle


def _mean_band(ax: Axes, depths: Sequence, arm: pd.DataFrame, style: Mapping) -> None:
    """Mean line of an arm (markers drawn by _arm_points) with its 95% interval as a band; NaN rows leave gaps."""
    x = np.asarray(depths, dtype=float)
    ax.plot(x, arm["mean"].to_numpy(float), color=style["color"], linestyle=style["linestyle"], label=style["label"])
    ax.fill_between(x, arm["lo"].to_numpy(float), arm["hi"].to_numpy(float), color=style["color"], alpha=0.2, lw=0)


def _arm_points(ax: Axes, depths: Sequence, arm: pd.DataFrame, style: Mapping) -> None:
    """An arm's mean per depth: filled, or hollow and tagged with its epoch when all its values are from pruned runs."""
    x, y = np.asarray(depths, dtype=float), arm["mean"].to_numpy(float)
    hollow = arm["pruned_only"].fillna(False).to_numpy(bool)
    ax.scatter(x, y, marker=style["marker"], s=40, zorder=3, edgecolors=style["color"],
               facecolors=[("white" if h else style["color"]) for h in hollow])
    for xi, yi, epoch in zip(x[hollow], y[hollow], arm["epoch"].to_numpy(float)[hollow]):
        if np.isfinite(epoch):  # tag left of the deepest point so it stays inside the panel
            left = xi == x.max()
            ax.annotate(f"ep {epoch:g}", (xi, yi), xytext=(-6 if left else 6, 3), textcoords="offset points",
                        ha="right" if left else "left", fontsize="x-small", color=style["color"])


def _diverged_marks(ax: Axes, trials: pd.DataFrame, residual: bool) -> None:
    """A cross on the top edge at each depth where a trial of the arm diverged (at any lr), in the arm's colour."""
    depths = trials.loc[(trials["residual"] == residual) & (trials["outcome"] == "diverged"), "depth"].unique()
    if len(depths):  # x in data units, y in axes units: the worst end of an error axis
        ax.scatter(depths.astype(float), np.full(len(depths), 0.97), marker="x", color=ARM_STYLE[residual]["color"],
                   transform=ax.get_xaxis_transform(), zorder=3)


def _degradation_legend(fig: Figure, any_diverged: bool) -> None:
    """One figure legend: the two networks, what a hollow point means and (if any) what a top-edge cross means."""
    handles = [Line2D([], [], color=s["color"], linestyle=s["linestyle"], marker=s["marker"], label=s["label"])
               for s in ARM_STYLE.values()]
    handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="0.4",
                          label="hollow: stopped early by ASHA (ep = epoch reached)"))
    if any_diverged:
        handles.append(Line2D([], [], linestyle="none", marker="x", color="0.4", label="x on top edge: diverged"))
    fig.legend(handles=handles, title="network", loc="outside lower center", ncols=len(handles))


def degradation_figure(trials: pd.DataFrame) -> Figure:
    """Final training and validation error (%) vs depth, plain vs residual (He et al. Fig. 6).

    Columns: "all inits" first (each (depth, residual) arm at its best (init, lr) by mean val/acc, so the
    arm's best configuration wherever the sampler put it; only when several inits were swept), then one per
    init (each arm at its best lr). Values are final values of completed and pruned trials: ASHA stops the
    worst runs, which are the plain deep ones, so dropping pruned trials would hide the degradation itself.
    A point whose values all come from pruned runs is hollow and tagged with the epoch reached. Lines are seed
    means with a 95% t-interval band where the group has >= 2 seeds. Diverged trials have no meaningful
    final error: nothing is plotted for them, but a cross on the top edge marks each depth where the arm had
    one (at any lr), as in the lr figure, so a gap is explained rather than silent.
    """
    df = add_error_columns(trials)
    chosen, everything = chosen_rows(df), with_pooled(df, pools_inits(df))
    panels = ([POOLED] if pools_inits(df) else []) + sorted(df["init"].unique())
    depths = sorted(df["depth"].unique())
    fig = Figure(figsize=(max(4 * len(panels) + 1, 8), 7.5), layout="constrained")  # >= 8 in: room for the title
    axes = fig.subplots(2, len(panels), squeeze=False, sharex=True)
    for row, (col, ylabel) in enumerate(ERROR_KINDS):
        summary = arm_points(chosen, col, everything)
        for ax, init in zip(axes[row], panels):
            for residual in (False, True):
                arm = summary[(summary["init"] == init) & (summary["residual"] == residual)]
                arm = arm.set_index("depth").reindex(depths)
                _mean_band(ax, depths, arm, ARM_STYLE[residual])
                _arm_points(ax, depths, arm, ARM_STYLE[residual])
                _diverged_marks(ax, everything[everything["init"] == init], residual)
            depth_axis(ax, depths)
            ax.set(title="all inits (best init, lr per arm)" if init == POOLED else f"init: {init}", ylabel=ylabel)
    for ax in axes[-1]:
        ax.set_xlabel(DEPTH_LABEL)
    _degradation_legend(fig, bool((df["outcome"] == "diverged").any()))
    suptitle(fig, "Degradation: final error vs depth, plain vs residual (cf. He et al. 2015, Fig. 6)\n"
                 "completed and pruned runs at each arm's best lr (all inits: best init and lr); "
                 "mean and 95% t-interval over seeds; hollow: stopped early by ASHA")
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
    lrs and inits (or only `init` when given). Each history row carries its trial's depth, residual and init.
    """
    df = history if init is None else history[history["init"] == init]
    df = add_error_columns(df.sort_values("epoch"))
    runs, colours = _representative_runs(df), depth_colours(df["depth"])
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
    suptitle(fig, "Training error vs epoch (best-val run per depth" + (f", init: {init})" if init else ")"))
    return fig


def _draw_gradflow(ax: Axes, df: pd.DataFrame, value_col: str, colours: Mapping) -> dict:
    """Median over runs of value_col per block, a line per (depth, residual), log y; returns those lines by key."""
    med = df.groupby(["depth", "residual", "block"])[value_col].median().reset_index()
    lines = {}
    for (depth, residual), g in med.groupby(["depth", "residual"]):
        style = ARM_STYLE[bool(residual)]
        (lines[(depth, bool(residual))],) = ax.plot(
            g["block"], g[value_col], color=colours[depth], linestyle=style["linestyle"], marker=style["marker"],
            markersize=3, label=f"{depth} {style['label']}")
    ax.set_yscale("log")
    ax.set(xlabel="block index (0 = stem, last = head)", ylabel="gradient norm (log scale)")
    return lines


def _shared_legend(fig: Figure, lines: Mapping) -> None:
    """One figure legend holding every (depth, network) drawn in any panel, by depth, plain before residual."""
    if lines:
        handles = [lines[key] for key in sorted(lines)]
        fig.legend(handles=handles, title="depth, network", fontsize="small", loc="outside right upper")


def panel_labels(df: pd.DataFrame, keys: Sequence[str] = ("init",)) -> pd.Series:
    """Each row's panel: its init, and every other of `keys` (a recipe's norm, activation, ...) that varies in df,
    so that two recipes sharing an init are drawn apart. "init: kaiming", or "init kaiming, activation tat"."""
    varying = [k for k in keys[1:] if k in df and df[k].astype(str).nunique() > 1]
    if not varying:
        return "init: " + df["init"].astype(str)
    return df[["init", *varying]].astype(str).apply(
        lambda r: ", ".join(f"{k} {v}" for k, v in zip(["init", *varying], r)), axis=1)


def gradient_flow_figure(df: pd.DataFrame, value_col: str = "grad_norm", title: str = "",
                         panel_by: Sequence[str] = ("init",)) -> Figure:
    """Per-block gradient norm vs block index, plain dashed and residual solid, one line per depth, a panel per init
    (and per value of any other of `panel_by` that varies: the probe's recipes).

    Takes the `probe` frame (depth, residual, init, block, grad_norm) or `history_to_gradflow` output;
    several runs of one (depth, residual, block) are summarised by their median.
    """
    panel, colours = panel_labels(df, panel_by), depth_colours(df["depth"])
    names = list(dict.fromkeys(sorted(panel)))
    fig = Figure(figsize=(max(5 * len(names) + 2, 8), 4), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False, sharey=True)[0]
    lines = {}
    for ax, name in zip(axes, names):
        lines |= _draw_gradflow(ax, df[panel == name], value_col, colours)
        ax.set_title(name)
    _shared_legend(fig, lines)
    suptitle(fig, title or "Gradient norm per block: plain (dashed) vs residual (solid)")
    return fig


def gradient_flow_epochs_figure(history: pd.DataFrame) -> Figure:
    """Per-block gradient norm at each run's first (left) and last (right) logged epoch, a row per init.

    One legend for the whole figure lists every (depth, network) drawn in any panel.
    """
    frames = {"first": history_to_gradflow(history, "first"), "last": history_to_gradflow(history, "last")}
    inits = sorted(set(frames["first"]["init"]) | set(frames["last"]["init"]))
    colours = depth_colours(frames["first"]["depth"])
    fig = Figure(figsize=(12.5, 4 * len(inits)), layout="constrained")
    axes = fig.subplots(len(inits), 2, squeeze=False, sharey=True)
    lines = {}
    for row, init in zip(axes, inits):
        for ax, (which, frame) in zip(row, frames.items()):
            lines |= _draw_gradflow(ax, frame[frame["init"] == init], "grad_norm", colours)
            ax.set_title(f"{which} epoch, init: {init}")
    _shared_legend(fig, lines)
    suptitle(fig, "Gradient norm per block, first vs last epoch: plain (dashed) vs residual (solid)")
    return fig


def lr_sensitivity_figure(trials: pd.DataFrame) -> Figure:
    """Final val accuracy (%) vs lr (log x), colour by depth, plain dashed/squares vs residual solid/circles.

    Lines are seed means of completed trials, dots the single trials; diverged trials are crosses on the
    bottom edge at their lr, so an lr that blew up is visible rather than silently missing.
    """
    df = add_error_columns(trials)
    if "lr" not in df:
        raise ValueError("trials has no lr column; lr sensitivity needs a sweep over lr")
    inits, colours = sorted(df["init"].unique()), depth_colours(df["depth"])
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
    suptitle(fig, "Learning-rate sensitivity: final validation accuracy vs lr")
    return fig


def _annotate_cells(ax: Axes, grid: np.ndarray, vmin: float, vmax: float) -> None:
    """Write each cell's value (or "n/a"), dark text on the bright end of viridis."""
    for (i, j), value in np.ndenumerate(grid):
        bright = np.isfinite(value) and (value - vmin) > 0.6 * (vmax - vmin)
        text = f"{value:.1f}" if np.isfinite(value) else "n/a"
        ax.text(j, i, text, ha="center", va="center", color="black" if bright or not np.isfinite(value) else "white")


def init_depth_heatmap(trials: pd.DataFrame, metric: str = "val/acc") -> Figure:
    """Heat map of metric (%) for init (rows) x depth (columns), plain and residual side by side, annotated.

    A cell is the seed mean of completed trials at the arm's best lr (per init, no pooling); pass
    metric="best/val/acc" for each run's peak instead of its final value. Empty cells read "n/a".
    """
    df = trials.assign(value_pct=100.0 * trials[metric].astype(float))
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
    suptitle(fig, f"{metric} by init and depth (completed runs, best lr, mean over seeds)")
    return fig
