"""Sweep subcommands of resnet-sweep: run, resume, best, reproduce, report, ui."""

from __future__ import annotations

import argparse


def add_sweep_commands(sub: argparse._SubParsersAction) -> None:
    """Register the sweep subcommands (they import Ray and MLflow only when run)."""
