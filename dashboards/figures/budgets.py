"""Training error against the training budget (epochs, log2 axis) from confirm runs: one panel per depth, plain and
residual nets (or each recipe) as a line pair, every confirm seed a dot, the seed means with 95% t-interval bars.

Pure like the confirm figure: a frame of trials in, a matplotlib Figure out. Not the tuning-budget figure
(`dashboards.figures.budget`: expected best score against search trials).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dashboards.stats import arm_names, confirm_rows, finite, t_interval
from sweeps.tracking import names

from .style import ARM_STYLE, arm_colours, suptitle

OFFSET = 1.05  # arms side by side around each budget (log axis: a factor), so their seeds do not overlap


def _style(arm: str, colours: dict) -> dict:
    """plain and residual keep the report's styles; a recipe gets its colour and a solid line."""
    known = {s["label"]: s for s in ARM_STYLE.values()}
    return known.get(arm, {"color": colours[arm], "linestyle": "-", "marker": "o", "label": arm})


def _arm(ax, rows: pd.DataFrame, style: dict, shift: float, budgets: list[int]) -> None:
    """One arm's seeds as dots and its seed means with 95% t-interval bars at each budget, joined by a line."""
    xs, means = [], []
    for epochs in budgets:
        values = finite(rows.loc[rows[names.EPOCHS] == epochs, "train_err_pct"])
        if not len(values):
            continue
        x = epochs * shift
        ax.scatter(np.full(len(values), x), values, s=14, color=style["color"], alpha=0.45, marker=style["marker"])
        mean, lo, hi = t_interval(values)
        lo, hi = max(lo, 0.0), min(hi, 100.0)  # an error rate lies in [0, 100]: so does its interval's bar
        if np.isfinite(lo):
            ax.errorbar([x], [mean], yerr=[[mean - lo], [hi - mean]], color=style["color"], capsize=4, lw=1.5)
        xs.append(x)
        means.append(mean)
    ax.plot(xs, means, color=style["color"], linestyle=style["linestyle"], marker=style["marker"], markersize=6,
            label=style["label"])


def training_budget_figure(trials: pd.DataFrame) -> Figure:
    """Final training error (%) against epochs (log2), one panel per depth, from completed confirm runs.

    Raises ValueError without completed confirm runs at two or more training budgets.
    """
    rows = confirm_rows(trials)
    if rows.empty or names.EPOCHS not in rows:
        raise ValueError("no completed confirm run with a training budget")
    rows = rows.assign(**{names.EPOCHS: pd.to_numeric(rows[names.EPOCHS], errors="coerce")}, _arm=arm_names(rows))
    budgets = sorted(int(e) for e in rows[names.EPOCHS].dropna().unique())
    if len(budgets) < 2:
        raise ValueError("one training budget only (a spec with budgets: [2, 8] draws this)")
    depths, arms = sorted(rows["depth"].unique()), sorted(rows["_arm"].unique())
    colours = arm_colours(arms)
    fig = Figure(figsize=(max(3.4 * len(depths), 6.4), 3.4), layout="constrained")
    axes = fig.subplots(1, len(depths), sharey=True, squeeze=False)[0]
    for ax, depth in zip(axes, depths):
        at = rows[rows["depth"] == depth]
        for i, arm in enumerate(arms):
            shift = OFFSET ** (i - (len(arms) - 1) / 2)
            _arm(ax, at[at["_arm"] == arm], _style(arm, colours), shift, budgets)
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.minorticks_off()
        ax.set(title=f"depth {int(depth)}", xlabel="training budget (epochs, log2 scale)")
    axes[0].set_ylabel("final training error (%)")
    axes[-1].legend(title="network", fontsize="small")
    suptitle(fig, "Confirm runs: training error against training budget\n"
                  "points: single seeds; bars: mean and 95% t-interval", fontsize="medium")
    return fig
