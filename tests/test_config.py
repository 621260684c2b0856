"""Config validation: every bad field is rejected with a message naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from resnet_core import ConfigError, TrainConfig, make_config
from resnet_core.schedules import lr_at

BAD = [
    ({"depth": 51}, "depth must be 6n\\+2"),
    ({"depth": 2}, "depth must be 6n\\+2"),
    ({"dataset": "imagenet"}, "dataset must be one of digits, synthetic, cifar10"),
    ({"init": "he"}, "init must be one of"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": -1.0}, "lr must be"),
    ({"momentum": 1.5}, "momentum must be in"),
    ({"shortcut": "C"}, "shortcut must be one of A, B"),
    ({"precision": "fp16"}, "precision must be one of fp32, bf16"),
    ({"init": "fixup"}, "init 'fixup' needs norm 'none'"),
    ({"norm": "none", "init": "zero_gamma"}, "init 'zero_gamma' needs norm 'bn'"),
    ({"milestones": (0.75, 0.5)}, "milestones must be increasing"),
    ({"batch_size": 0}, "batch_size must be"),
]


@pytest.mark.parametrize("values,message", BAD)
def test_bad_values_rejected(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**values)


def test_make_config_coerces_strings_and_rejects_unknown_keys() -> None:
    cfg = make_config({"depth": "56", "residual": "False", "lr": "0.05", "milestones": "(0.5, 0.75)"})
    assert (cfg.depth, cfg.residual, cfg.lr, cfg.milestones) == (56, False, 0.05, (0.5, 0.75))
    with pytest.raises(ConfigError, match="unknown config field 'dept'"):
        make_config({"dept": 20})
    with pytest.raises(ConfigError, match="residual must be true or false"):
        make_config({"residual": "maybe"})


def test_roundtrip_through_dict() -> None:
    cfg = TrainConfig(depth=110, residual=False, init="xavier")
    assert make_config(cfg.to_dict()) == cfg


def test_step_schedule_divides_by_ten_at_milestones() -> None:
    lrs = [lr_at(s, 100, 0.1, "step", (0.5, 0.75)) for s in (0, 49, 50, 74, 75, 99)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_onecycle_peaks_at_lr_and_ends_near_zero() -> None:
    lrs = [lr_at(s, 1000, 0.1, "onecycle") for s in range(1000)]
    assert max(lrs) == pytest.approx(0.1, rel=1e-3) and lrs[0] == pytest.approx(0.01) and lrs[-1] < 1e-3


def test_cosine_and_warmup() -> None:
    assert lr_at(0, 100, 0.1, "cosine") == pytest.approx(0.1)
    assert lr_at(50, 100, 0.1, "cosine") == pytest.approx(0.05)
    assert lr_at(0, 100, 0.1, "step", warmup_steps=10) == pytest.approx(0.01)


def test_core_imports_no_ray_mlflow_optuna() -> None:
    code = ("import sys, resnet_core, resnet_core.train, resnet_core.probe; "
            "bad = [m for m in ('ray', 'mlflow', 'optuna') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
