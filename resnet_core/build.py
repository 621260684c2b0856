"""The builder: a ResNet for a config with its init applied (imports model and inits, neither imports it)."""

from __future__ import annotations

from .config import TrainConfig
from .inits import apply_init
from .model import ResNet


def build_model(cfg: TrainConfig, in_channels: int = 3, num_classes: int = 10) -> ResNet:
    """The network for cfg, with its init applied (seed the RNG first for reproducible weights)."""
    model = ResNet(cfg, in_channels, num_classes)
    apply_init(model, cfg.init)
    return model
