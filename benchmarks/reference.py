"""The usual pipeline: torchvision transforms on PIL images through DataLoader workers, fp32, .item() per step."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # resnet_core without an install (the GPU machine)

from resnet_core import TrainConfig, build_model  # noqa: E402
from resnet_core.data import CIFAR_MEAN, CIFAR_STD  # noqa: E402

BATCH = 128


class PILImages(Dataset):
    """HWC uint8 images held in memory, handed out as PIL images through a transform (as torchvision's CIFAR10 does)."""

    def __init__(self, x_hwc: np.ndarray, y: np.ndarray, transform):
        self.x, self.y, self.transform = x_hwc, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def train_transform() -> T.Compose:
    """The paper's augmentation written the usual way."""
    return T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(CIFAR_MEAN, CIFAR_STD)])


def eval_transform() -> T.Compose:
    return T.Compose([T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)])


def to_hwc(x_nchw: torch.Tensor) -> np.ndarray:
    """N x C x H x W uint8 tensor to the N x H x W x C numpy array PIL wants."""
    return x_nchw.permute(0, 2, 3, 1).contiguous().numpy()


def make_loader(x_nchw: torch.Tensor, y: torch.Tensor, train: bool, workers: int = 2, batch: int = BATCH,
                pin: bool = False, seed: int = 0) -> DataLoader:
    """DataLoader over PIL images: shuffled and augmented for training, plain for evaluation."""
    ds = PILImages(to_hwc(x_nchw), y.numpy(), train_transform() if train else eval_transform())
    return DataLoader(ds, batch_size=batch, shuffle=train, num_workers=workers, pin_memory=pin, drop_last=train,
                      persistent_workers=workers > 0, generator=torch.Generator().manual_seed(seed))


def make_model_and_optimizer(depth: int, device: torch.device, in_channels: int = 3, classes: int = 10):
    """The same network as ours (build_model, kaiming init) in default layout, and plain SGD (momentum 0.9, wd 1e-4)."""
    torch.manual_seed(0)
    model = build_model(TrainConfig(depth=depth, device=device.type), in_channels, classes).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return model, opt


def train_steps(model, opt, loader: DataLoader, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """Run warmup + steps plain steps; return (seconds for the timed steps, mean loss). Needs enough batches."""
    model.train()
    it = iter(loader)
    total, t0 = 0.0, time.perf_counter()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()  # the per-step host sync most loops have for logging
    return time.perf_counter() - t0, total / (warmup + steps)


@torch.no_grad()
def evaluate(model, loader: DataLoader, device: torch.device) -> float:
    """Accuracy over a loader, no autograd."""
    model.eval()
    correct = n = 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        correct += (model(x).argmax(1) == y).sum().item()
        n += len(y)
    return correct / max(1, n)
