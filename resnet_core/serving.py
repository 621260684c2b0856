"""The trained net as users call it: raw images as the data set delivers them in, class probabilities out.

`RawInputClassifier` holds the training normalization as buffers beside the net, so the logged model needs
no preprocessing outside it, and is still an nn.Module to fine-tune (`logits`). It is pickled with the model,
so this module imports torch and this package's torch-only modules, nothing else.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .data import CIFAR_MEAN, CIFAR_STD, DataSet, Split, load_data


class RawFormat(NamedTuple):
    """How a data set delivers its images: numpy dtype, shape of one image, axis order, and where from."""
    dtype: str
    shape: tuple[int, ...]
    layout: str      # NHW (one channel, none stored), NCHW or NHWC
    source: str      # the call whose images match this format exactly


# Each data set's raw images exactly as its source hands them out (what the logged model accepts).
RAW_FORMATS = {
    "digits": RawFormat("float64", (8, 8), "NHW", "sklearn.datasets.load_digits().images (pixel values 0..16)"),
    "synthetic": RawFormat("uint8", (3, 8, 8), "NCHW", "resnet_core.data.make_synthetic(seed) splits (0..255)"),
    "cifar10": RawFormat("uint8", (32, 32, 3), "NHWC", "torchvision.datasets.CIFAR10(...).data (0..255)"),
}


class RawInputClassifier(nn.Module):
    """net(normalize(raw)) with the data set's scale, mean and std inside; forward gives softmax probabilities."""

    def __init__(self, net: nn.Module, layout: str, scale: float, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        if layout not in ("NHW", "NCHW", "NHWC"):
            raise ValueError(f"layout must be NHW, NCHW or NHWC; got {layout!r}")
        self.net, self.layout = net, layout
        self.register_buffer("scale", torch.tensor(float(scale)))  # buffers: the state dict is the whole model
        self.register_buffer("mean", mean.detach().float().reshape(1, -1, 1, 1).clone())
        self.register_buffer("std", std.detach().float().reshape(1, -1, 1, 1).clone())

    def normalize(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw images (this model's layout, any numeric dtype) to the N x C x H x W floats the net trained on."""
        x = raw.unsqueeze(1) if self.layout == "NHW" else raw.permute(0, 3, 1, 2) if self.layout == "NHWC" else raw
        # contiguous: a permuted (channels-last) batch takes other conv kernels, off in the last bits
        return (x.contiguous().float() * self.scale - self.mean) / self.std

    def logits(self, raw: torch.Tensor) -> torch.Tensor:
        """Class scores before the softmax: what a loss for fine-tuning takes."""
        return self.net(self.normalize(raw))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(raw), dim=1)


def normalization(cfg: TrainConfig) -> tuple[float, torch.Tensor, torch.Tensor]:
    """(scale, mean, std) training used for cfg's data; CIFAR-10's are constants, so nothing is downloaded."""
    if cfg.dataset == "cifar10":
        return 1 / 255, torch.tensor(CIFAR_MEAN), torch.tensor(CIFAR_STD)
    ds = load_data(cfg)  # digits' statistics come from its training split, which the seed picks
    return ds.scale, ds.mean, ds.std


def wrap(net: nn.Module, cfg: TrainConfig) -> RawInputClassifier:
    """The trained net with cfg's data normalization inside, taking cfg's data set's raw format."""
    scale, mean, std = normalization(cfg)
    return RawInputClassifier(net, RAW_FORMATS[cfg.dataset].layout, scale, mean, std)


def raw_images(split: Split, dataset: str) -> np.ndarray:
    """A split's images (uint8 N x C x H x W) as the data set delivers them (RAW_FORMATS)."""
    fmt = RAW_FORMATS[dataset]
    x = split.x.detach().cpu()
    x = x[:, 0] if fmt.layout == "NHW" else x.permute(0, 2, 3, 1) if fmt.layout == "NHWC" else x
    return x.contiguous().numpy().astype(fmt.dtype)


def example_images(cfg: TrainConfig, count: int = 5) -> np.ndarray | None:
    """The first `count` test images in raw format (validation where there is no test split); None for
    CIFAR-10 unless it is already on disk (an example is not worth a download)."""
    if cfg.dataset == "cifar10":
        from torchvision.datasets import CIFAR10
        try:
            data = CIFAR10(cfg.data_dir, train=False, download=False).data
        except RuntimeError:  # not downloaded here
            return None
        return np.ascontiguousarray(data[:count])
    ds: DataSet = load_data(cfg)
    split = ds.test if ds.test is not None else ds.val
    return raw_images(Split(split.x[:count], split.y[:count]), cfg.dataset)
