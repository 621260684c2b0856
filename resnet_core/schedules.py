"""Learning-rate schedules as pure functions of the step."""

from __future__ import annotations

import math

# One-cycle: rise linearly from lr/ONECYCLE_DIV over the first ONECYCLE_PCT of training, then fall to ~0.
ONECYCLE_PCT = 0.3
ONECYCLE_DIV = 10.0


def lr_at(step: int, total_steps: int, lr: float, schedule: str, milestones: tuple[float, ...] = (0.5, 0.75),
          warmup_steps: int = 0) -> float:
    """Learning rate for optimizer step `step` (0-based) of `total_steps`."""
    t = step / max(1, total_steps)
    if schedule == "onecycle":
        if t < ONECYCLE_PCT:
            return lr / ONECYCLE_DIV + (lr - lr / ONECYCLE_DIV) * t / ONECYCLE_PCT
        return lr * max(0.0, 1 - (t - ONECYCLE_PCT) / (1 - ONECYCLE_PCT)) + lr * 1e-4
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "step":
        return lr * 0.1 ** sum(t >= m for m in milestones)
    if schedule == "cosine":
        return 0.5 * lr * (1 + math.cos(math.pi * t))
    return lr
