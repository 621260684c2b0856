"""Terminal output for `train` and `probe`: live progress, summaries and tables (rich)."""

from __future__ import annotations

import csv
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from resnet_core.config import TrainConfig

console = Console(stderr=False, highlight=False)


def _fmt(metrics: dict) -> str:
    keys = ("train/loss", "train/error", "val/acc", "train/lr", "throughput/img_per_s")
    return "  ".join(f"{k} {metrics[k]:.4g}" for k in keys if k in metrics)


def train_with_progress(cfg: TrainConfig, save: str | None = None) -> int:
    """Train cfg, one progress line per epoch, then a summary table; exit 1 if the run diverged."""
    from resnet_core.train import Trainer, save_checkpoint

    start = time.perf_counter()
    trainer = Trainer(cfg)
    last: dict = {}
    columns = (TextColumn("[bold]epoch"), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("train", total=cfg.epochs, info="")
        for metrics in trainer:
            last = metrics
            bar.update(task, completed=metrics["epoch"], info=_fmt(metrics))
    wall = time.perf_counter() - start
    if save:
        save_checkpoint(save, trainer.state_dict())
    table = Table(title=f"ResNet-{cfg.depth} {'residual' if cfg.residual else 'plain'} on {cfg.dataset}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("epoch", "train/loss", "train/error", "val/acc", "test/acc", "train/diverged"):
        if key in last:
            table.add_row(key, f"{last[key]:.4f}" if isinstance(last[key], float) else str(last[key]))
    table.add_row("precision used", trainer.precision)  # what `auto` resolved to on this machine
    table.add_row("wall time (s)", f"{wall:.1f}")
    console.print(table)
    if last.get("train/diverged"):
        console.print(f"[red]diverged at epoch {last['epoch']}[/red] (non-finite loss); try a lower --lr")
        return 1
    return 0


def print_probe(base: TrainConfig, depths: list[int], inits: list[str], residuals: list[bool],
                batch_size: int, out: str | None, recipes: list[dict] | None = None) -> int:
    """Probe gradient flow at init and print the first/last ratio table, a row per config (recipe)."""
    from resnet_core.probe import probe, summarize

    rows = probe(base, depths, inits, residuals, batch_size, recipes)
    if out:
        with open(out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    table = Table(title=f"Gradient norm at initialization, one batch of {batch_size} ({base.dataset})")
    for col in ("depth", "init", "recipe", "net", "first block", "last block", "first/last"):
        # On a narrow terminal the names fold onto more lines; the numbers and their headers stay whole.
        table.add_column(col, justify="right", no_wrap=col in ("depth", "net", "first/last"), overflow="fold")
    for r in summarize(rows):
        # TAT's solved slope for this depth: what a training run logs as model/tat_alpha.
        alpha = f" α={r['tat_alpha']:.3f}" if r["tat_alpha"] is not None else ""
        table.add_row(str(r["depth"]), r["init"], f"{r['norm']} {r['activation']}{alpha}",
                      "residual" if r["residual"] else "plain",
                      f"{r['first']:.3g}", f"{r['last']:.3g}", f"{r['ratio_first_last']:.3g}")
    console.print(table)
    return 0
