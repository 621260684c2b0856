"""Provenance recorded with every run: git commit, library versions, hardware."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

from resnet_core.hardware import cpu_capability, cpu_model


def git_commit(path: str | None = None) -> str:
    """The commit of the checkout we run from (with -dirty when it has changes), or 'unknown'."""
    cwd = path or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if dirty else "")) if sha else "unknown"


def versions() -> dict[str, str]:
    """Versions of the libraries a result depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("torch", "ray", "mlflow", "optuna", "torchvision"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def device_name(device: str) -> str:
    """Human name of the device a trial trains on."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu: {cpu_model()} x{os.cpu_count()}"


def cpu_tags() -> dict[str, str]:
    """This machine's CPU model and vector capability (AVX2, AVX512, AMX...): tagged per trial, on its worker."""
    return {"cpu_model": cpu_model(), "cpu_capability": cpu_capability()}


def provenance_tags() -> dict[str, str]:
    """Tags for every run: git commit and versions (the hardware is tagged per trial)."""
    tags = {"git_commit": git_commit(), "host_platform": platform.platform()}
    tags.update({f"version.{k}": v for k, v in versions().items()})
    return tags
