"""`resnet-sweep probe --out` rows drawn as the gradient-flow figure at initialization, a PNG beside the CSV."""

from __future__ import annotations

import os

import pandas as pd

from dashboards.figures.search import gradient_flow_figure
from sweeps.tracking.runs import normalise_trials

from .html_parts import save_png

PROBE_COLUMNS = {"depth", "residual", "block", "grad_norm"}
RECIPE_COLUMNS = ("init", "norm", "activation", "tat_eta", "negative_slope")  # a panel per combination that varies


def probe_report(csv_path: str, out_dir: str) -> str:
    """Render `resnet-sweep probe --out` rows (depth,residual,init,block,grad_norm) as gradient_flow_probe.png."""
    rows = normalise_trials(pd.read_csv(csv_path))  # a hand-written CSV may lack init
    missing = PROBE_COLUMNS - set(rows)
    if missing:
        raise ValueError(f"{csv_path}: not a probe CSV, columns {sorted(missing)} missing; "
                         "write one with resnet-sweep probe --out FILE")
    os.makedirs(out_dir, exist_ok=True)
    fig = gradient_flow_figure(rows, title="Gradient norm per block at initialization (resnet-sweep probe)\n"
                                           "plain (dashed) vs residual (solid)", panel_by=RECIPE_COLUMNS)
    return save_png(fig, os.path.join(out_dir, "gradient_flow_probe.png"))
