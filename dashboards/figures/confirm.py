"""The report's headline figure: final error vs depth from confirm runs, every seed a point, 95% interval bars.

Pure like the search stage's figures, whose styles it shares: a frame of trials in, a matplotlib Figure out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dashboards.stats import confirm_rows, finite, t_interval

from .style import ARM_STYLE, DEPTH_LABEL, ERROR_KINDS, depth_axis, suptitle

OFFSET = 1.06  # plain left, residual right of each depth (log axis: a factor), so the seeds do not overlap


def _arm(ax, rows: pd.DataFrame, col: str, residual: bool, depths: list) -> None:
    """One network's seeds as points and its seed mean with a 95% t-interval bar at each depth."""
    style, shift = ARM_STYLE[residual], OFFSET if residual else 1 / OFFSET
    means = []
    for depth in depths:
        values = finite(rows.loc[(rows["depth"] == depth) & (rows["residual"] == residual), col])
        x = depth * shift
        ax.scatter(np.full(len(values), x), values, s=14, color=style["color"], alpha=0.45, marker=style["marker"])
        mean, lo, hi = t_interval(values)
        means.append(mean)
        if np.isfinite(lo):
            ax.errorbar([x], [mean], yerr=[[mean - lo], [hi - mean]], color=style["color"], capsize=4, lw=1.5)
    ax.plot(np.asarray(depths, float) * shift, means, color=style["color"], linestyle=style["linestyle"],
            marker=style["marker"], markersize=6, label=style["label"])


def confirm_degradation_figure(trials: pd.DataFrame) -> Figure:
    """Final training and validation error (%) vs depth from completed confirm runs, plain vs residual.

    Every confirm seed is a small point; the larger marker is the seed mean with its 95% t-interval bar.
    Raises ValueError when the frame has no completed confirm run.
    """
    rows = confirm_rows(trials)
    if rows.empty:
        raise ValueError("no completed confirm run")
    depths = sorted(rows["depth"].unique())
    seeds = rows.groupby(["depth", "residual"]).size()
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, len(ERROR_KINDS), squeeze=False)[0]
    for ax, (col, ylabel) in zip(axes, ERROR_KINDS):
        for residual in (False, True):
            _arm(ax, rows, col, residual, depths)
        depth_axis(ax, depths)
        ax.set(xlabel=DEPTH_LABEL, ylabel=ylabel)
        ax.legend(title="network")
    suptitle(fig, "Confirm runs: final error vs depth, plain vs residual (fresh seeds, each arm's picked config)\n"
                 f"points: single seeds ({seeds.min()}-{seeds.max()} per arm); bars: mean and 95% t-interval")
    return fig
