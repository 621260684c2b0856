"""Figures of a recipe study's confirm runs: training curves per recipe, gradient norms per block per recipe.

Pure: frames in (the loader's trials and history), a matplotlib Figure out; no I/O, no module state.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dashboards.stats import add_error_columns, arm_names
from sweeps.tracking import names

from .style import arm_colours, suptitle

INIT_COLUMN = re.compile(r"^grad_norm_init/block_(\d+)$")  # resnet_core.train.INIT_PREFIX: first batch, no update
END_COLUMN = re.compile(r"^grad_norm/block_(\d+)$")        # the last epoch's mean over its steps


def _confirm(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame[names.STAGE] == names.CONFIRM] if names.STAGE in frame else frame
    return rows.assign(_arm=arm_names(rows)) if len(rows) else rows.assign(_arm=[])


def recipe_curves_figure(history: pd.DataFrame) -> Figure:
    """Training error (%) per epoch, a panel per depth: each recipe's mean over its confirm seeds, min-max band."""
    rows = _confirm(history)
    if not len(rows) or "train/error" not in rows:
        raise ValueError("no per-epoch training error of confirm runs")
    rows = add_error_columns(rows)
    depths, colours = sorted(rows["depth"].unique()), arm_colours(rows["_arm"])
    fig = Figure(figsize=(4.6 * len(depths) + 1.5, 3.8), layout="constrained")
    axes = fig.subplots(1, len(depths), sharey=True, squeeze=False)[0]
    for ax, depth in zip(axes, depths):
        at = rows[rows["depth"] == depth]
        for arm, g in at.groupby("_arm"):
            per_epoch = g.groupby("epoch")["train_err_pct"].agg(["mean", "min", "max", "count"])
            ax.plot(per_epoch.index, per_epoch["mean"], color=colours[arm],
                    label=f"{arm} ({g['run_id'].nunique()} seeds)")
            ax.fill_between(per_epoch.index, per_epoch["min"], per_epoch["max"], color=colours[arm], alpha=0.15)
        ax.set(title=f"depth {int(depth)}", xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize="small")
    axes[0].set_ylabel("training error (%)")
    suptitle(fig, "Training error per recipe, confirm runs (line: mean over seeds; band: min to max)")
    return fig


def _blocks(trials: pd.DataFrame, pattern: re.Pattern) -> pd.DataFrame:
    """Long rows (depth, _arm, block, grad_norm) of the block columns matching pattern."""
    columns = {c: int(m.group(1)) for c in trials.columns if (m := pattern.match(str(c)))}
    if not columns:
        return pd.DataFrame(columns=["depth", "_arm", "block", "grad_norm"])
    long = trials.melt(id_vars=["depth", "_arm"], value_vars=list(columns), var_name="block", value_name="grad_norm")
    long["block"] = long["block"].map(columns)
    return long[np.isfinite(pd.to_numeric(long["grad_norm"], errors="coerce"))]


def recipe_gradflow_figure(trials: pd.DataFrame) -> Figure:
    """Gradient norm per block (median over confirm seeds, log y) at initialization and at the last epoch,
    a row per depth, a line per recipe."""
    rows = _confirm(trials)
    rows = rows[rows["outcome"].isin(("completed", "pruned"))] if "outcome" in rows else rows
    frames = {"at initialization (first batch)": _blocks(rows, INIT_COLUMN),
              "last epoch (mean over its steps)": _blocks(rows, END_COLUMN)}
    if all(f.empty for f in frames.values()):
        raise ValueError("no gradient norms per block logged by the confirm runs")
    depths, colours = sorted(rows["depth"].unique()), arm_colours(rows["_arm"])
    fig = Figure(figsize=(11, 3.4 * len(depths)), layout="constrained")
    axes = fig.subplots(len(depths), 2, squeeze=False)
    for row, depth in zip(axes, depths):
        for ax, (when, frame) in zip(row, frames.items()):
            med = frame[frame["depth"] == depth].groupby(["_arm", "block"])["grad_norm"].median().reset_index()
            for arm, g in med.groupby("_arm"):
                ax.plot(g["block"], g["grad_norm"], color=colours[arm], marker="o", markersize=2.5, label=arm)
            ax.set_yscale("log")
            ax.set(title=f"depth {int(depth)}, {when}", xlabel="block index (0 = stem, last = head)",
                   ylabel="gradient norm (log)")
            if ax.lines:
                ax.legend(fontsize="small")
            else:
                ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
    suptitle(fig, "Gradient norm per block per recipe, confirm runs (median over seeds)")
    return fig
