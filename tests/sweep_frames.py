"""Small hand-built sweep frames for the report tests: trials, per-epoch history and a probe, with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

DEPTHS = (20, 56, 110)
INITS = ("kaiming", "xavier")
SEEDS = (0, 1, 2)


def train_error(depth: int, residual: bool, seed: int) -> float:
    """Plain nets degrade with depth, residual nets improve: the He et al. pattern, plus a seed offset."""
    return (0.02 - 0.0001 * depth if residual else 0.02 + 0.001 * depth) + 0.002 * seed


def trial(depth: int, residual: bool, init: str, seed: int, lr: float = 0.1, outcome: str = "completed") -> dict:
    """One trials row; pruned trials stop at epoch 2 with their values then, diverged ones carry no final values."""
    err = train_error(depth, residual, seed) + (0.05 if lr != 0.1 else 0.0)  # lr 0.1 is the better lr
    ok = outcome in ("completed", "pruned")
    return {
        "run_id": f"d{depth}-{'res' if residual else 'plain'}-{init}-s{seed}-lr{lr}", "trial_id": f"t{seed}",
        "depth": depth, "residual": residual, "init": init, "lr": lr, "seed": seed, "dataset": "cifar10",
        "epochs": 5, "outcome": outcome, "epoch": 5 if outcome == "completed" else 2,
        "train/error": err if ok else np.nan, "train/loss": err * 3 if ok else np.nan,
        "val/acc": 1 - err - 0.05 if ok else np.nan, "best/val/acc": 1 - err - 0.04 if ok else np.nan,
        "test/acc": 1 - err - 0.06 if ok else np.nan,
    }


def make_trials() -> pd.DataFrame:
    """3 depths x plain/residual x 2 inits x 3 seeds; plain-110-xavier all diverged, one pruned extra trial."""
    rows = [trial(d, r, i, s, outcome="diverged" if (d, r, i) == (110, False, "xavier") else "completed")
            for d in DEPTHS for r in (False, True) for i in INITS for s in SEEDS]
    rows.append(trial(56, True, "kaiming", 3, outcome="pruned"))
    rows += [trial(20, r, "kaiming", s, lr=0.01) for r in (False, True) for s in SEEDS]  # a worse lr
    return pd.DataFrame(rows)


def make_history(trials: pd.DataFrame, epochs: int = 4) -> pd.DataFrame:
    """Per-epoch rows for each trial with depth-dependent grad_norm/block_i columns (only run_id + metrics)."""
    rows = []
    for t in trials.itertuples():
        n_blocks = t.depth // 10 + 2  # stem + stages + head; varies with depth like the real logger
        for epoch in range(1, epochs + 1):
            row = {"run_id": t.run_id, "epoch": epoch, "train/error": 0.9 / epoch, "train/loss": 2.0 / epoch,
                   "val/acc": 0.5 + 0.1 * epoch + (0.01 if t.residual else 0.0), "train/lr": 0.1}
            decay = 1.0 if t.residual else 0.5  # plain nets' gradients vanish towards the stem
            row |= {f"grad_norm/block_{b}": decay ** (n_blocks - b) * epoch for b in range(n_blocks)}
            rows.append(row)
    return pd.DataFrame(rows)


def make_probe() -> pd.DataFrame:
    """A probe frame: depth, residual, init, block, grad_norm for one init."""
    rows = [{"depth": d, "residual": r, "init": "kaiming", "block": b, 
             "grad_norm": (1.0 if r else 0.5) ** (d // 10 - b)}
            for d in DEPTHS for r in (False, True) for b in range(d // 10 + 2)]
    return pd.DataFrame(rows)


def pooled_frame() -> pd.DataFrame:
    """Depth 56 where no init has both arms: plain only xavier (pruned) and kaiming, residual only orthogonal."""
    rows = (  # depth, residual, init, seed, lr, outcome, train/error, val/acc, epoch
        (56, False, "xavier", 0, 0.1, "pruned", 0.85, 0.15, 4), (56, False, "xavier", 1, 0.1, "pruned", 0.87, 0.13, 4),
        (56, False, "xavier", 0, 0.5, "diverged", np.nan, np.nan, 2),
        (56, False, "kaiming", 0, 0.1, "pruned", 0.90, 0.10, 4),  # a worse (init, lr) for the pooled plain arm
        (56, True, "orthogonal", 0, 0.1, "completed", 0.01, 0.98, 20),
        (56, True, "orthogonal", 1, 0.1, "completed", 0.02, 0.97, 20),
        (56, True, "orthogonal", 0, 0.01, "completed", 0.05, 0.90, 20),  # a worse lr
        (20, False, "kaiming", 0, 0.1, "completed", 0.02, 0.95, 20),
        (20, True, "kaiming", 0, 0.1, "completed", 0.01, 0.96, 20),
    )
    cols = ["depth", "residual", "init", "seed", "lr", "outcome", "train/error", "val/acc", "epoch"]
    return pd.DataFrame(rows, columns=cols).assign(run_id=lambda d: [f"r{i}" for i in range(len(d))])
