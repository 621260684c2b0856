"""What every report figure shares: the palette, each network's line style, axis labels, and a title that fits."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

# Okabe & Ito (2008) colour-blind-safe palette; yellow and black last since yellow is faint on white.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
ARM_STYLE = {  # residual flag -> line style; plain is dashed like the thin curves of He et al. Fig. 6
    False: {"color": OKABE_ITO[4], "linestyle": "--", "marker": "s", "label": "plain"},
    True: {"color": OKABE_ITO[3], "linestyle": "-", "marker": "o", "label": "residual"},
}
ARM_COLOURS = {"residual": OKABE_ITO[3], "plain": OKABE_ITO[4]}  # arms by name (budget curves, recipes)
CYCLE = (OKABE_ITO[3], OKABE_ITO[4], OKABE_ITO[2], OKABE_ITO[5], OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[7])
ERROR_KINDS = (("train_err_pct", "final training error (%)"), ("val_err_pct", "final validation error (%)"))
DEPTH_LABEL = "depth (layers, log2 scale)"
TITLE_MARGIN = 0.97  # share of the figure's width a title may take


def depth_colours(depths: Iterable) -> dict:
    """One palette colour per depth, in increasing depth order."""
    return {d: OKABE_ITO[i % len(OKABE_ITO)] for i, d in enumerate(sorted(set(depths)))}


def arm_colours(arms: Iterable) -> dict:
    """One colour per arm name: plain and residual keep theirs, recipes take the cycle in sorted order."""
    return {a: ARM_COLOURS.get(a, CYCLE[i % len(CYCLE)]) for i, a in enumerate(sorted(set(arms)))}


def depth_axis(ax: Axes, depths: Sequence) -> None:
    """Log2 x axis with a tick at each swept depth (20, 56, 110, ...)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.minorticks_off()


def title_fits(fig: Figure, title: Text) -> bool:
    """Whether title, drawn, lies within the figure's width (a long suptitle is otherwise cut at both edges)."""
    box = title.get_window_extent()  # with the figure's own renderer: pyplot-free figures have one too
    return box.width <= TITLE_MARGIN * fig.bbox.width


def suptitle(fig: Figure, text: str, **kwargs) -> Text:
    """fig's title, each line wrapped at word boundaries until the drawn title fits the figure's width."""
    title = fig.suptitle(text, **kwargs)
    width = max(len(line) for line in text.split("\n"))
    while not title_fits(fig, title) and width > 20:
        width = int(width * 0.9)
        title.set_text("\n".join(textwrap.fill(line, width) for line in text.split("\n")))
    return title
