"""Shared helpers for the benchmark scripts: in-memory CIFAR-shaped data, a MAC counter, headers and tables.

Imports torch and resnet_core only, so the GPU scripts run where Ray, MLflow and Optuna are not installed.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # resnet_core without an install (the GPU machine)

from resnet_core import hardware  # noqa: E402
from resnet_core.data import DataSet, make_synthetic  # noqa: E402

# Forward MACs per 32x32 image that issue 6 quotes for the CIFAR ResNets (checked by count_macs in the tests).
PAPER_MACS = {20: 40.55e6, 56: 125.49e6, 110: 252.89e6}


def cifar_like(n_train: int, n_val: int, seed: int = 0) -> DataSet:
    """CIFAR-10-shaped uint8 images (3 x 32 x 32, 10 classes) made in memory; no test split."""
    ds = make_synthetic(seed, n_train=n_train, n_val=n_val, n_test=0, size=32)
    ds.test = None
    return ds


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward multiply-accumulates of one input of input_shape (C, H, W), from Conv2d and Linear hooks."""
    total = 0

    def conv(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * m.in_features

    hooks = [m.register_forward_hook(conv if isinstance(m, nn.Conv2d) else linear)
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p = next(model.parameters())
            model(torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a wall clock read after it means something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def devices(requested: str) -> list[torch.device]:
    """'auto' gives the CPU plus CUDA where present; otherwise a comma list such as 'cpu' or 'cuda'."""
    if requested == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    return [torch.device(d) for d in requested.split(",")]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return hardware.cpu_model()


def native_precisions(requested: list[str], device: torch.device) -> list[str]:
    """The requested precisions minus bf16 on a CPU that would emulate it (the Trainer refuses that); says so."""
    if "bf16" not in requested or device.type != "cpu" or hardware.cpu_bf16_native():
        return requested
    print(f"note: bf16 left out on the CPU: {hardware.cpu_capability()} has no native bf16 "
          "(emulated bf16 ran at 0.1x fp32 on an AVX2 EPYC; issue 14)", flush=True)
    return [p for p in requested if p != "bf16"]


def on_cpu_only(device: str) -> bool:
    """A benchmark's --device resolves to the CPU alone (explicitly, or auto without CUDA)."""
    return device == "cpu" or (device == "auto" and not torch.cuda.is_available())


def print_header(title: str, **extra) -> None:
    """Title plus what a reader needs to trust the numbers: versions, threads, load, hardware."""
    print(f"# {title}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  cpus {os.cpu_count()}  "
          f"loadavg(1,5,15 min) {load}")
    print(f"cpu {hardware.cpu_model()}  capability {hardware.cpu_capability()}  "
          f"native bf16 {'yes' if hardware.cpu_bf16_native() else 'no'}")
    if torch.cuda.is_available():
        print(f"cuda {torch.version.cuda}  gpu {torch.cuda.get_device_name(0)}")
    for k, v in extra.items():
        print(f"{k}: {v}")
    print(flush=True)


def fmt(v) -> str:
    """Numbers with sensible digits; strings as they are."""
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def print_table(columns: list[str], rows: list[list]) -> None:
    """A Markdown table (pipes), which reads in a terminal and pastes into a note; parse_table reads it back."""
    cells = [columns] + [[fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))
    print(flush=True)


def parse_table(text: str, *columns: str) -> list[dict[str, str]]:
    """The rows, as dicts of strings, of the first printed table whose header has all the given columns."""
    split = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and set(columns) <= set(split(line)):
            rows = []
            for body in lines[i + 2:]:  # after the header and its |---| rule
                if not body.startswith("|"):
                    break
                rows.append(dict(zip(split(line), split(body))))
            return rows
    raise ValueError(f"no table with columns {columns} in the output")


def number(cell: str) -> float:
    """A printed table cell back to a float ('1,234' -> 1234.0)."""
    return float(cell.replace(",", "").rstrip("x%"))


def median(values: list[float]) -> float:
    return statistics.median(values)
