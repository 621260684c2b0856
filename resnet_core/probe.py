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


def probe_recipes(norms: list[str], activations: list[str], negative_slope: float | None = None,
                  tat_eta: float | None = None) -> list[dict]:
    """Norm x activation recipes; negative_slope goes to leaky_relu recipes only, tat_eta to tat ones only."""
    extra = {"leaky_relu": {"negative_slope": negative_slope}, "tat": {"tat_eta": tat_eta}}
    recipes = []
    for norm in norms:
        for act in activations:
            knobs = {k: v for k, v in extra.get(act, {}).items() if v is not None}
            recipes.append({"norm": norm, "activation": act, **knobs})
    return recipes


def probe_configs(base: TrainConfig, depths: list[int], inits: list[str], residuals: list[bool],
                  recipes: list[dict] | None = None) -> list[TrainConfig]:
    """Every depth x init x recipe x residual config, validated before any work (fixup gets norm none)."""
    configs = []
    for depth in depths:
        for init in inits:
            for recipe in recipes or [{}]:
                for residual in residuals:
                    fields = {**base.to_dict(), **recipe, "depth": depth, "init": init, "residual": residual,
                              "device": "cpu"}
                    if init == "fixup":
                        fields["norm"] = "none"
                    configs.append(TrainConfig(**fields))
    return list(dict.fromkeys(configs))  # fixup's forced norm can repeat a config


def probe(base: TrainConfig, depths: list[int], inits: list[str], residuals: list[bool],
          batch_size: int = 128, recipes: list[dict] | None = None) -> list[dict]:
    """Rows of depth, residual, init, block, grad_norm, norm, activation, tat_alpha per config, on one batch."""
    configs = probe_configs(base, depths, inits, residuals, recipes)
    data = load_data(base)
    x = normalize(data, data.train.x[:batch_size])
    y = data.train.y[:batch_size]
    rows = []
    for cfg in configs:
        for block, g in enumerate(probe_one(cfg, x, y, data.num_classes)):
            rows.append({"depth": cfg.depth, "residual": cfg.residual, "init": cfg.init, "block": block,
                         "grad_norm": g, "norm": cfg.norm, "activation": cfg.activation,
                         "tat_alpha": cfg.tat_alpha})
    return rows


def _key(row: dict) -> tuple:
    return row["depth"], row["init"], row.get("norm"), row.get("activation"), row["residual"]


def summarize(rows: list[dict]) -> list[dict]:
    """One row per config: first and last residual block's norm and their ratio."""
    out = []
    for key in dict.fromkeys(map(_key, rows)):
        group = [r for r in rows if _key(r) == key]
        norms = [r["grad_norm"] for r in group]
        depth, init, norm, activation, residual = key
        out.append({"depth": depth, "init": init, "norm": norm, "activation": activation, "residual": residual,
                    "tat_alpha": group[0].get("tat_alpha"),
                    "first": norms[1], "last": norms[-2], "ratio_first_last": ratio_first_last(norms)})
    return out
