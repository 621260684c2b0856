"""Shared fixtures: a tiny config that trains in well under a second."""

from __future__ import annotations

import pytest

from resnet_core import TrainConfig


@pytest.fixture
def tiny() -> TrainConfig:
    """ResNet-8 on the synthetic set, 2 epochs, on the CPU."""
    return TrainConfig(dataset="synthetic", depth=8, epochs=2, batch_size=64, device="cpu", lr=0.05)
