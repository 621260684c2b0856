"""Per-block gradient norms from the per-epoch history, reshaped long for the gradient-flow figures."""

from __future__ import annotations

import re

import pandas as pd

BLOCK_COLUMN = re.compile(r"^grad_norm/block_(\d+)$")


def block_columns(history: pd.DataFrame) -> dict[str, int]:
    """Map of `grad_norm/block_<i>` column name to block index i, in block order."""
    found = {c: int(m.group(1)) for c in history.columns if (m := BLOCK_COLUMN.match(str(c)))}
    return dict(sorted(found.items(), key=lambda item: item[1]))


def history_to_gradflow(history: pd.DataFrame, which: str = "first") -> pd.DataFrame:
    """Long (run_id, epoch, depth, residual, init, block, grad_norm) rows at each run's first or last logged epoch."""
    if which not in ("first", "last"):
        raise ValueError(f'which must be "first" or "last"; got {which!r}')
    blocks = block_columns(history)
    if not blocks:
        raise ValueError("history has no grad_norm/block_<i> columns; was it logged with gradient norms?")
    logged = history.dropna(subset=list(blocks), how="all").sort_values("epoch")
    picked = logged.groupby("run_id").head(1) if which == "first" else logged.groupby("run_id").tail(1)
    ids = [c for c in ("run_id", "epoch", "depth", "residual", "init", "seed") if c in picked]
    long = picked.melt(id_vars=ids, value_vars=list(blocks), var_name="block", value_name="grad_norm")
    long["block"] = long["block"].map(blocks)
    long = long.dropna(subset=["grad_norm"])  # shallower nets have no value in the deeper nets' block columns
    return long.sort_values(["run_id", "block"]).reset_index(drop=True)
