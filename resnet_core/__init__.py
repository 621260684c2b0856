"""CIFAR ResNets with residual shortcuts on or off: model, inits, data and training loop (pure PyTorch).

The names below load on first use (PEP 562), so that `resnet_core.config` and `resnet_core.outcomes`,
which the command line reads, cost no torch import.
"""

import sys
import types

from .lazy import lazy_getattr

_HOME = {"ACTIVATIONS": "activations", "build_model": "build", "ConfigError": "config", "TrainConfig": "config",
         "make_config": "config", "INITS": "inits", "ResNet": "model", "count_params": "model",
         "CheckpointError": "train", "Trainer": "train", "load_checkpoint": "train", "save_checkpoint": "train", "train": "train"}

__all__ = list(_HOME)


__getattr__ = lazy_getattr(__name__, _HOME)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # Importing the submodule resnet_core.train binds it to the package's name `train`; that name stays
        # the function train(), as it was when this file imported everything eagerly.
        if not (name == "train" and isinstance(value, types.ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
