"""Data sets as tensors on the training device, and batched on-device augmentation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from .config import TrainConfig

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass
class Split:
    x: torch.Tensor  # N x C x H x W, raw values (uint8 for images), normalised per batch
    y: torch.Tensor  # N class indices (int64)


@dataclass
class DataSet:
    train: Split
    val: Split
    test: Split | None          # None where the data set has no separate test split
    num_classes: int
    scale: float                # raw value * scale gives [0, 1]
    mean: torch.Tensor          # per-channel mean after scaling, shape 1 x C x 1 x 1
    std: torch.Tensor           # per-channel std after scaling
    flip: bool                  # horizontal flips preserve the label (not for digits)

    @property
    def in_channels(self) -> int:
        return self.train.x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train.x.shape[-1]

    def to(self, device: torch.device) -> "DataSet":
        """Move every split to device once, so batches are plain index slices there."""
        move = lambda s: None if s is None else Split(s.x.to(device), s.y.to(device))  # noqa: E731
        self.train, self.val, self.test = move(self.train), move(self.val), move(self.test)
        self.mean, self.std = self.mean.to(device), self.std.to(device)
        return self


def _stratified_split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Index arrays, one per fraction, each class shared out in the same proportions."""
    rng = np.random.RandomState(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        bounds = np.round(np.cumsum(fractions) * len(idx)).astype(int)
        for k, chunk in enumerate(np.split(idx, bounds[:-1])):
            parts[k].append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def _stats(x: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    xf = x.double() * scale
    return xf.mean((0, 2, 3), keepdim=True).float(), xf.std((0, 2, 3), keepdim=True).float().clamp_min(1e-6)


def load_digits_data(seed: int) -> DataSet:
    """scikit-learn's 1,797 real 8x8 digits, split 65/15/20 train/val/test, stratified by the seed."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.uint8)).unsqueeze(1)  # values 0..16
    y = torch.from_numpy(d.target.astype(np.int64))
    tr, va, te = (torch.from_numpy(i) for i in _stratified_split(d.target, (0.65, 0.15, 0.20), seed))
    mean, std = _stats(x[tr], 1 / 16)
    return DataSet(Split(x[tr], y[tr]), Split(x[va], y[va]), Split(x[te], y[te]), 10, 1 / 16, mean, std, False)


def make_synthetic(seed: int, n_train: int = 512, n_val: int = 128, n_test: int = 128,
                   classes: int = 10, size: int = 8, channels: int = 3) -> DataSet:
    """Smooth class prototypes plus pixel noise: learnable, class-structured images made in memory."""
    g = torch.Generator().manual_seed(10_000 + seed)
    # Low-frequency prototypes (a 3x3 grid upsampled) stay recognisable under crops and flips.
    coarse = torch.rand(classes, channels, 3, 3, generator=g)
    protos = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)
    n = n_train + n_val + n_test
    y = torch.arange(n) % classes
    y = y[torch.randperm(n, generator=g)]
    x = (protos[y] + 0.25 * torch.randn(n, channels, size, size, generator=g)).clamp(0, 1)
    x = (x * 255).round().to(torch.uint8)
    s = [Split(x[a:b], y[a:b]) for a, b in ((0, n_train), (n_train, n_train + n_val), (n_train + n_val, n))]
    mean, std = _stats(s[0].x, 1 / 255)
    return DataSet(s[0], s[1], s[2], classes, 1 / 255, mean, std, True)


def load_cifar10(data_dir: str, val_split: bool, seed: int) -> DataSet:
    """torchvision's CIFAR-10 (downloaded on first use); the paper's 45k/5k split, else val = test."""
    from torchvision.datasets import CIFAR10

    def tensors(train: bool) -> Split:
        ds = CIFAR10(data_dir, train=train, download=True)
        return Split(torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(ds.targets))

    train, test = tensors(True), tensors(False)
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    if not val_split:
        return DataSet(train, test, None, 10, 1 / 255, mean, std, True)
    perm = torch.randperm(len(train.y), generator=torch.Generator().manual_seed(seed))
    tr, va = perm[:45_000], perm[45_000:]
    return DataSet(Split(train.x[tr], train.y[tr]), Split(train.x[va], train.y[va]), test, 10, 1 / 255, mean, std, True)


# Image shape (channels, height, width) and class count of each data set, known without loading it.
SHAPES = {"digits": ((1, 8, 8), 10), "synthetic": ((3, 8, 8), 10), "cifar10": ((3, 32, 32), 10)}


# Where each data set comes from, as a user would fetch it.
SOURCES = {"digits": "sklearn.datasets.load_digits", "synthetic": "resnet_core.data.make_synthetic (seeded)",
           "cifar10": "torchvision.datasets.CIFAR10"}


def split_digest(split: Split) -> str:
    """First 16 hex digits of the sha256 of a split's images and labels: which exact examples a run saw."""
    h = hashlib.sha256(split.x.detach().cpu().contiguous().numpy().tobytes())
    h.update(split.y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def describe_splits(ds: DataSet, name: str) -> list[dict]:
    """Name, digest, source, context and size of each split a run used (its seed picks digits' splits)."""
    splits = (("training", ds.train), ("validation", ds.val), ("testing", ds.test))
    return [{"name": name, "digest": split_digest(split), "source": SOURCES[name], "context": context,
             "rows": len(split.y)} for context, split in splits if split is not None]


def load_data(cfg: TrainConfig) -> DataSet:
    """The data set cfg names, on the CPU; call .to(device) once."""
    if cfg.dataset == "digits":
        ds = load_digits_data(cfg.seed)
    elif cfg.dataset == "synthetic":
        ds = make_synthetic(cfg.seed)
    else:
        ds = load_cifar10(cfg.data_dir, cfg.cifar_val_split, cfg.seed)
    if cfg.train_subset:
        ds.train = Split(ds.train.x[: cfg.train_subset], ds.train.y[: cfg.train_subset])
    return ds


def normalize(ds: DataSet, x: torch.Tensor) -> torch.Tensor:
    """Raw batch to float, scaled and normalised per channel."""
    return (x.float() * ds.scale - ds.mean) / ds.std


def augment(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """The paper's augmentation for a whole batch at once: zero-pad, random crop back, random h-flip."""
    n, c, h, w = x.shape
    dev = x.device
    rows, cols = torch.arange(h, device=dev).expand(n, h), torch.arange(w, device=dev).expand(n, w)
    if pad:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        rows = rows + torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=dev)[:, None]
        cols = cols + torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=dev)[:, None]
    if flip:
        mirror = torch.rand(n, generator=gen, device=dev) < 0.5
        cols = torch.where(mirror[:, None], cols.flip(1), cols)
    if not (pad or flip):
        return x
    # Crop and flip as one gather over each image's flattened plane, bit-identical to indexing with four
    # broadcast index tensors and then flipping, at 1/4.7 of its CPU time (1.2 vs 5.7 ms a batch, AVX2 EPYC).
    flat = (rows[:, :, None] * x.shape[3] + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
    return x.flatten(2).gather(2, flat).view(n, c, h, w)
