"""Gradient flow at initialization: one real batch, one backward, each block's gradient norm; no training."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .build import build_model
from .config import TrainConfig
from .data import load_data, normalize
from .diagnostics import BlockGradNorms, ratio_first_last


def probe_one(cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> list[float]:
    """Per-block gradient norms (stem, blocks, head) of a freshly initialized net on one batch."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, x.shape[1], num_classes)
    model.train()
    F.cross_entropy(model(x), y).backward()
    return BlockGradNorms(model.block_groups())().tolist()


def probe(base: TrainConfig, depths: list[int], inits: list[str], residuals: list[bool],
          batch_size: int = 128) -> list[dict]:
    """Rows of depth, residual, init, block, grad_norm for every combination, on the first training batch."""
    data = load_data(base)
    x = normalize(data, data.train.x[:batch_size])
    y = data.train.y[:batch_size]
    rows = []
    for depth in depths:
        for init in inits:
            for residual in residuals:
                norm = "none" if init == "fixup" else base.norm
                cfg = TrainConfig(**{**base.to_dict(), "depth": depth, "init": init, "residual": residual,
                                     "norm": norm, "device": "cpu"})
                for block, g in enumerate(probe_one(cfg, x, y, data.num_classes)):
                    rows.append({"depth": depth, "residual": residual, "init": init, "block": block, "grad_norm": g})
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """One row per (depth, init, residual): first and last residual block's norm and their ratio."""
    keys = list(dict.fromkeys((r["depth"], r["init"], r["residual"]) for r in rows))
    out = []
    for depth, init, residual in keys:
        norms = [r["grad_norm"] for r in rows if (r["depth"], r["init"], r["residual"]) == (depth, init, residual)]
        out.append({"depth": depth, "init": init, "residual": residual, "first": norms[1], "last": norms[-2],
                    "ratio_first_last": ratio_first_last(norms)})
    return out
