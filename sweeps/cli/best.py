"""resnet-sweep best: the top trials of a sweep as a table, read from MLflow."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..tracking.names import sweep_metric

COLUMNS = ("depth", "residual", "init", "lr", "seed", "outcome", "epoch", "train/error", "val/acc", "test/acc")


def rank_trials(trials, metric: str, mode: str):
    """Trials sorted best first by their final metric; trials without it go last."""
    return trials.sort_values(metric, ascending=(mode == "min"), na_position="last")


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def print_best(ref: str, tracking_uri: str, top: int) -> int:
    from mlflow import MlflowClient

    from ..tracking.runs import sweep_trials

    # The final metrics only: no per-run histories and no spec download, which the report needs and `best` not.
    parent, _, trials = sweep_trials(MlflowClient(tracking_uri), ref)
    metric, mode = sweep_metric(parent.data.params)
    if trials.empty:
        Console().print(f"sweep {ref}: no trials logged yet")
        return 0
    ranked = rank_trials(trials, metric, mode)
    table = Table(title=f"{ref}: best {min(top, len(ranked))} of {len(ranked)} trials by {metric} ({mode})")
    cols = [c for c in COLUMNS if c in ranked]
    for c in ("run",) + tuple(cols):
        table.add_column(c, justify="right")
    for _, row in ranked.head(top).iterrows():
        table.add_row(row["run_id"][:12], *(_cell(row[c]) for c in cols))
    Console(width=160).print(table)
    return 0
