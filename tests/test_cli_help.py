"""Every flag of every resnet-sweep subcommand has help text; train's comes from TrainConfig's comments."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys

import pytest

from resnet_core.config import TrainConfig, field_help
from sweeps.cli.resnet_sweep import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_config_field_has_a_comment() -> None:
    helps = field_help()
    assert set(helps) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert helps["depth"].startswith("6n+2 layers") and all(len(h) > 5 for h in helps.values())


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_flag_has_help(command: str) -> None:
    parser = _subcommands()[command]
    missing = [a.dest for a in parser._actions if not (a.help or "").strip() or a.help == argparse.SUPPRESS]
    assert not missing, f"{command}: no help for {missing}"


def test_train_help_shows_each_fields_comment() -> None:
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "train", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    options = "".join(done.stdout.split()).split("options:")[1]  # argparse wraps (even at hyphens): drop spaces
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        # The flag, its metavar (or its --no- twin), then the comment as its help.
        text = "".join(field_help()[f.name].split())
        assert re.search(rf"{flag}(,--no-{flag[2:]}|[A-Z_]+){re.escape(text)}", options), flag
    assert "(oneofkaiming,xavier,orthogonal,delta_orthogonal,fixup,zero_gamma,default)" in options
