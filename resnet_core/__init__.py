"""CIFAR ResNets with residual shortcuts on or off: model, inits, data and training loop (pure PyTorch)."""

from .build import build_model
from .config import ConfigError, TrainConfig, make_config
from .inits import INITS
from .model import ResNet, count_params
from .train import CheckpointError, Trainer, load_checkpoint, save_checkpoint, train

__all__ = ["ConfigError", "TrainConfig", "make_config", "INITS", "ResNet", "build_model", "count_params",
           "CheckpointError", "Trainer", "load_checkpoint", "save_checkpoint", "train"]
