"""Gradient-flow diagnostics: per-block gradient norms, measured from gradients already computed."""

from __future__ import annotations

import torch
from torch import nn


class BlockGradNorms:
    """Gradient norm of each parameter group (stem, residual blocks, head) in one fused pass, on the device."""

    def __init__(self, groups: list[list[nn.Parameter]]):
        self.params = [p for g in groups for p in g]
        owner = [i for i, g in enumerate(groups) for _ in g]
        self.n_groups = len(groups)
        self.owner = torch.tensor(owner, device=self.params[0].device)

    def __call__(self) -> torch.Tensor:
        """Norms per group for the current .grad tensors (a parameter without a gradient counts as zero)."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        sq = torch.stack(torch._foreach_norm(grads)).float().square()
        return torch.zeros(self.n_groups, device=sq.device).index_add_(0, self.owner, sq).sqrt()


def ratio_first_last(norms: list[float]) -> float:
    """First residual block's gradient norm over the last one's (the stem and head are left out)."""
    inner = norms[1:-1] if len(norms) > 2 else norms
    return inner[0] / inner[-1] if inner[-1] > 0 else float("inf")


def grad_norm_metrics(norms: list[float]) -> dict[str, float]:
    """Metric dict `grad_norm/block_i` (i from input to output) plus the first/last ratio."""
    out = {f"grad_norm/block_{i}": float(v) for i, v in enumerate(norms)}
    out["grad_norm/ratio_first_last"] = ratio_first_last(norms)
    return out
