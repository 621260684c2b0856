"""The tuning-budget figure: each arm's expected best score against the number of search trials n."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sweeps.tracking import names

from .style import arm_colours, suptitle


def budget_figure(curves: pd.DataFrame, metric: str = names.METRIC_DEFAULT) -> Figure:
    """One panel per depth of `dashboards.verdict.budget.budget_curves`: expected best metric against search
    trials n, one line per arm (network or recipe)."""
    depths = sorted(curves["depth"].unique())
    if not depths:
        raise ValueError("no search trials with a finite metric")
    colours = arm_colours(curves["arm"])
    fig = Figure(figsize=(max(3.2 * len(depths), 6.4), 3.0), layout="constrained")
    axes = fig.subplots(1, len(depths), sharey=True, squeeze=False)[0]
    for ax, depth in zip(axes, depths):
        for arm, c in curves[curves["depth"] == depth].groupby("arm", sort=False):
            ax.plot(c["n"], c["expected_best"], "o-", color=colours[arm], label=arm)
        ax.set_title(f"depth {int(depth)}")
        ax.set_xlabel("search trials n")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel(f"expected best {metric} (%)" if metric.endswith("acc") else f"expected best {metric}")
    axes[-1].legend(loc="lower right", fontsize="small")
    suptitle(fig, "Tuning budget: expected best score after n trials per arm (Dodge et al. 2019)", fontsize="medium")
    return fig
