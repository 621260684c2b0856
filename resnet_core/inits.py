"""Weight initializations by name: INITS maps a name to a function that initializes a ResNet in place.

Every init that has a gain takes it from the net's activation (activation_gain: sqrt(2) for ReLU, sqrt(2/(1+s^2))
for a leaky ReLU, 1 for tanh and for TAT, whose activation carries its own scale), so a sweep that crosses inits
with activations compares nets scaled for their activation. xavier (Glorot's gain 1) and default (PyTorch's own)
are defined without one and stay as defined.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .activations import GAINS
from .config import ConfigError, TrainConfig
from .model import BasicBlock

def activation_gain(cfg: TrainConfig) -> float:
    """Weight gain for cfg's activation: sqrt(2) relu, sqrt(2/(1+s^2)) leaky_relu, 1 tanh and tat (scaled itself)."""
    return GAINS[cfg.activation](cfg.activation_slope)


def _modules(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def _reset_norms(model: nn.Module) -> None:
    for m in _modules(model, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _zero_biases(model: nn.Module) -> None:
    for m in _modules(model, nn.Linear):
        nn.init.zeros_(m.bias)


@torch.no_grad()
def kaiming(model: nn.Module) -> None:
    """He normal with fan_out for convs (the paper's), gain from the activation, BN at gamma 1 / beta 0, PyTorch's
    default for the head. For ReLU this is nn.init.kaiming_normal_(mode="fan_out", nonlinearity="relu") bit for bit."""
    gain = activation_gain(model.cfg)
    for m in _modules(model, nn.Conv2d):
        fan_out = m.weight.shape[0] * m.weight[0][0].numel()
        m.weight.normal_(0, gain / math.sqrt(fan_out))
    _reset_norms(model)


@torch.no_grad()
def xavier(model: nn.Module) -> None:
    """Glorot uniform for every conv and linear weight, zero biases."""
    for m in _modules(model, nn.Conv2d) + _modules(model, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
    _zero_biases(model)
    _reset_norms(model)


@torch.no_grad()
def orthogonal(model: nn.Module) -> None:
    """Orthogonal weights (flattened kernels) with the activation's gain for convs, gain 1 for the head."""
    gain = activation_gain(model.cfg)
    for m in _modules(model, nn.Conv2d):
        nn.init.orthogonal_(m.weight, gain=gain)
    for m in _modules(model, nn.Linear):
        nn.init.orthogonal_(m.weight)
    _zero_biases(model)
    _reset_norms(model)


@torch.no_grad()
def delta_orthogonal(model: nn.Module) -> None:
    """Xiao et al. 2018: every kernel tap zero except an orthogonal centre tap, gain from the activation.

    The out x in centre has orthonormal columns where channels grow (W^T W = gain^2 I: the input's norm is
    kept), orthonormal rows where they shrink.
    """
    gain = activation_gain(model.cfg)
    for m in _modules(model, nn.Conv2d):
        w = m.weight
        kh, kw = w.shape[-2:]
        centre = torch.empty(w.shape[0], w.shape[1])
        nn.init.orthogonal_(centre, gain=gain)  # QR of the taller shape: orthonormal along the shorter side
        w.zero_()
        w[:, :, kh // 2, kw // 2] = centre
    for m in _modules(model, nn.Linear):
        nn.init.orthogonal_(m.weight)
    _zero_biases(model)
    _reset_norms(model)


@torch.no_grad()
def fixup(model: nn.Module) -> None:
    """Zhang et al. 2019: branch-final convs and the classifier zero, other branch convs x L^(-1/2)."""
    blocks = _modules(model, BasicBlock)
    kaiming(model)
    # With m = 2 layers per branch the rescale is L^(-1/(2m-2)) = L^(-1/2) for L residual branches.
    scale = len(blocks) ** -0.5
    for b in blocks:
        b.conv1.weight.mul_(scale)
        nn.init.zeros_(b.conv2.weight)
    for m in _modules(model, nn.Linear):
        nn.init.zeros_(m.weight)
        nn.init.zeros_(m.bias)


@torch.no_grad()
def zero_gamma(model: nn.Module) -> None:
    """Goyal et al. 2017: kaiming, then the last BN gamma of each block zero, so each branch starts as 0."""
    kaiming(model)
    for b in _modules(model, BasicBlock):
        nn.init.zeros_(b.bn2.weight)


def default(model: nn.Module) -> None:
    """PyTorch's own per-layer defaults (Kaiming uniform with a=sqrt(5)), as built."""


INITS: dict[str, Callable[[nn.Module], None]] = {
    "kaiming": kaiming,
    "xavier": xavier,
    "orthogonal": orthogonal,
    "delta_orthogonal": delta_orthogonal,
    "fixup": fixup,
    "zero_gamma": zero_gamma,
    "default": default,
}


def apply_init(model: nn.Module, name: str) -> None:
    """Initialize model in place with INITS[name]; an unknown name lists the valid ones."""
    if name not in INITS:
        raise ConfigError(f"init must be one of {', '.join(INITS)}; got {name!r}")
    INITS[name](model)
