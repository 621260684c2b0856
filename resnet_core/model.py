"""CIFAR ResNets of He et al. 2015 (section 4.2): depth 6n+2, residual shortcuts on or off."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .activations import make_activation
from .config import TrainConfig

STAGE_WIDTHS = (16, 32, 64)


def _norm(channels: int, norm: str) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm == "bn" else nn.Identity()


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class ShortcutA(nn.Module):
    """Option A: strided identity with zero-padded channels; no parameters, so plain and residual match."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad = cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x


def make_shortcut(kind: str, cin: int, cout: int, stride: int, norm: str) -> nn.Module:
    """Identity where shapes match; option A or B (1x1 conv + norm projection) where they change."""
    if stride == 1 and cin == cout:
        return nn.Identity()
    if kind == "A":
        return ShortcutA(cin, cout, stride)
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), _norm(cout, norm))


class BasicBlock(nn.Module):
    """Two 3x3 convs; style "post" (He 2015) or "pre" (pre-activation, He 2016); add the shortcut if residual."""

    def __init__(self, cin: int, cout: int, stride: int, cfg: TrainConfig):
        super().__init__()
        self.residual, self.pre = cfg.residual, cfg.block == "pre"
        self.act = make_activation(cfg.activation, cfg.activation_slope)  # stateless: both uses share it
        self.conv1, self.conv2 = _conv3x3(cin, cout, stride), _conv3x3(cout, cout)
        self.bn1 = _norm(cin if self.pre else cout, cfg.norm)
        self.bn2 = _norm(cout, cfg.norm)
        self.shortcut = make_shortcut(cfg.shortcut, cin, cout, stride, cfg.norm) if cfg.residual else None
        self.fixup = cfg.init == "fixup"
        if self.fixup:  # Fixup's scalar biases before each conv and activation, and a branch multiplier
            self.bias1a, self.bias1b, self.bias2a, self.bias2b = (nn.Parameter(torch.zeros(1)) for _ in range(4))
            self.scale = nn.Parameter(torch.ones(1))

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:
            out = self.conv1(self.act(self.bn1(x)))
            return self.conv2(self.act(self.bn2(out)))
        if self.fixup:
            out = self.act(self.conv1(x + self.bias1a) + self.bias1b)
            return self.conv2(out + self.bias2a) * self.scale + self.bias2b
        out = self.act(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.residual:
            out = out + self.shortcut(x)
        return out if self.pre else self.act(out)


class ResNet(nn.Module):
    """Stem conv, three stages of n blocks (16/32/64 filters x width), global average pool, linear head."""

    def __init__(self, cfg: TrainConfig, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        self.cfg = cfg  # the inits read it (delta_orthogonal's gain follows the activation)
        widths = [max(1, round(w * cfg.width)) for w in STAGE_WIDTHS]
        self.pre = cfg.block == "pre"
        self.stem = nn.Sequential(_conv3x3(in_channels, widths[0]))
        if not self.pre:  # pre-activation nets normalise inside each block instead
            self.stem.append(_norm(widths[0], cfg.norm))
            self.stem.append(make_activation(cfg.activation, cfg.activation_slope))
        blocks, cin = [], widths[0]
        for stage, cout in enumerate(widths):
            for i in range(cfg.n_blocks):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1, cfg))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        # The head: a final norm + activation for pre-activation nets, pooling, and the classifier.
        self.head_norm = nn.Identity()
        if self.pre:
            self.head_norm = nn.Sequential(_norm(cin, cfg.norm), make_activation(cfg.activation, cfg.activation_slope))
        self.fixup_bias = nn.Parameter(torch.zeros(1)) if cfg.init == "fixup" else None
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(self.head_norm(x), 1), 1)
        if self.fixup_bias is not None:
            x = x + self.fixup_bias
        return self.fc(x)

    def block_groups(self) -> list[list[nn.Parameter]]:
        """Parameters grouped input to output: the stem, each residual block, the head."""
        head = [*self.head_norm.parameters(), *self.fc.parameters()]
        if self.fixup_bias is not None:
            head.insert(0, self.fixup_bias)
        return [list(self.stem.parameters()), *(list(b.parameters()) for b in self.blocks), head]


def count_params(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
