"""Activations by name, and the math of TAT (Zhang et al. 2022): a leaky ReLU tailored to the net's depth.

TAT picks the leaky ReLU slope alpha so that the whole net's correlation map, started at correlation 0,
ends at eta: C^L(0) = eta, with C the leaky ReLU's normalised correlation map and L the activations on
the net's path. Deeper nets need a more linear (larger) alpha. The scale sqrt(2 / (1 + alpha^2)) keeps
E[phi(x)^2] = 1 for x ~ N(0, 1), so the weights take gain 1.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

BISECTION_STEPS = 60  # halves [0, 1] down to ~1e-18: far below float precision of alpha


def path_activations(depth: int) -> int:
    """Activations on a CIFAR ResNet's path: 6n+1 for depth 6n+2 (stem + 2 per block, or 2 per block + head)."""
    return depth - 1


def leaky_relu_cmap(c: float, alpha: float) -> float:
    """Output correlation of a leaky ReLU (slope alpha) for unit Gaussian inputs of correlation c, normalised."""
    c = min(1.0, max(-1.0, c))
    relu_part = (1 - alpha) ** 2 * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi
    return (relu_part + 2 * alpha * c) / (1 + alpha * alpha)


def composed_cmap(c: float, alpha: float, depth_activations: int) -> float:
    """C composed depth_activations times, starting from correlation c."""
    for _ in range(depth_activations):
        c = leaky_relu_cmap(c, alpha)
    return c


@functools.cache  # pure, and asked once per block by the model builder
def tat_slope(depth_activations: int, eta: float) -> float:
    """The slope alpha in [0, 1] with C^L(0) = eta, by bisection (C^L(0) falls as alpha grows towards linear).

    A net too shallow to reach eta even with ReLU (alpha 0) gets alpha 0: the least linear leaky ReLU.
    """
    if composed_cmap(0.0, 0.0, depth_activations) <= eta:
        return 0.0
    lo, hi = 0.0, 1.0  # C^L(0) > eta at lo, and C^L(0) = 0 < eta at hi (the identity map)
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        if composed_cmap(0.0, mid, depth_activations) > eta:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def tat_scale(alpha: float) -> float:
    """sqrt(2 / (1 + alpha^2)): makes a leaky ReLU's output second moment 1 for unit Gaussian input."""
    return math.sqrt(2 / (1 + alpha * alpha))


def leaky_gain(slope: float) -> float:
    """Weight gain that preserves the second moment through a leaky ReLU of this slope (sqrt(2) for ReLU)."""
    return math.sqrt(2 / (1 + slope * slope))


class ScaledLeakyReLU(nn.Module):
    """scale * leaky_relu(x, slope): TAT's activation, second moment preserved at initialization."""

    def __init__(self, negative_slope: float, scale: float):
        super().__init__()
        self.negative_slope, self.scale = negative_slope, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope) * self.scale

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:.4g}, scale={self.scale:.4g}"


# Each maker takes the leaky slope (negative_slope for leaky_relu, the solved alpha for tat; else unused).
# relu stays nn.ReLU, which calls F.relu: ReLU nets are bit-identical to the ones built before this table.
ACTIVATIONS: dict[str, Callable[[float], nn.Module]] = {
    "relu": lambda slope: nn.ReLU(),
    "leaky_relu": lambda slope: nn.LeakyReLU(slope),
    "tanh": lambda slope: nn.Tanh(),
    "tat": lambda slope: ScaledLeakyReLU(slope, tat_scale(slope)),
}

# The gain delta_orthogonal gives each weight for an activation (tat's scale is already in the activation).
GAINS: dict[str, Callable[[float], float]] = {
    "relu": lambda slope: math.sqrt(2.0),
    "leaky_relu": leaky_gain,
    "tanh": lambda slope: 1.0,
    "tat": lambda slope: 1.0,
}


def make_activation(name: str, slope: float = 0.0) -> nn.Module:
    """A fresh activation module for ACTIVATIONS[name] (slope: see ACTIVATIONS)."""
    return ACTIVATIONS[name](slope)
