"""Tiny real training runs: learning, determinism, resume, divergence, degradation."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from resnet_core import CheckpointError, TrainConfig, Trainer, load_checkpoint, save_checkpoint, train
from resnet_core.train import EPOCH_METRICS, INIT_PREFIX

EPOCH_KEYS = {"epoch", *EPOCH_METRICS}
TIMING_KEYS = ("time/epoch_s", "throughput/img_per_s")


def _strip_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_metrics_dict_per_epoch(tiny: TrainConfig) -> None:
    rows = list(train(tiny))
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        # EPOCH_METRICS is what sweep specs may search: it must be exactly what every epoch reports.
        assert {k for k in r if not k.startswith(("grad_norm/block_", INIT_PREFIX))} - {"test/acc"} == EPOCH_KEYS
        assert r["train/error"] == pytest.approx(1 - r["train/acc"])
        blocks = [k for k in r if k.startswith("grad_norm/block_")]
        assert len(blocks) == 3 * tiny.n_blocks + 2  # stem, residual blocks, head
    assert "test/acc" in rows[-1] and "test/acc" not in rows[0]
    # The gradient at initialization (first batch, before any update) comes once, with the first epoch.
    init = [k for k in rows[0] if k.startswith(INIT_PREFIX)]
    assert len(init) == 3 * tiny.n_blocks + 2 and not any(k.startswith(INIT_PREFIX) for k in rows[1])
    assert all(rows[0][k] > 0 for k in init)


def test_synthetic_training_learns(tiny: TrainConfig) -> None:
    rows = list(train(dataclasses.replace(tiny, epochs=6)))
    assert rows[-1]["train/loss"] < 0.5 * rows[0]["train/loss"]
    assert rows[-1]["val/acc"] > 0.6  # chance is 0.1


def test_digits_training_beats_chance_widely() -> None:
    rows = list(train(TrainConfig(dataset="digits", depth=8, epochs=5, batch_size=64, device="cpu")))
    assert rows[-1]["train/loss"] < rows[0]["train/loss"]
    assert rows[-1]["val/acc"] > 0.8 and rows[-1]["test/acc"] > 0.8


def test_same_seed_gives_bit_identical_metrics(tiny: TrainConfig) -> None:
    assert _strip_timing(list(train(tiny))) == _strip_timing(list(train(tiny)))


def test_other_seed_gives_other_metrics(tiny: TrainConfig) -> None:
    other = dataclasses.replace(tiny, seed=1)
    assert _strip_timing(list(train(tiny))) != _strip_timing(list(train(other)))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_checkpoint_resume_equals_straight_run(tiny: TrainConfig, tmp_path, precision: str, bf16_anywhere) -> None:
    cfg = dataclasses.replace(tiny, epochs=4, precision=precision)
    straight = _strip_timing(list(train(cfg)))
    first = Trainer(cfg)
    part = [first.run_epoch() for _ in range(2)]
    path = str(tmp_path / "ckpt.pt")
    save_checkpoint(path, first.state_dict())
    resumed = list(train(cfg, load_checkpoint(path)))
    assert [r["epoch"] for r in resumed] == [3, 4]
    assert _strip_timing(part + resumed) == straight


def test_divergence_ends_cleanly() -> None:
    cfg = TrainConfig(dataset="synthetic", depth=8, epochs=5, lr=1e3, device="cpu", schedule="constant")
    rows = list(train(cfg))
    last = rows[-1]
    assert last["train/diverged"] == 1 and last["epoch"] == len(rows) < 5
    assert all(math.isfinite(v) for v in last.values())


def test_pickle_payload_checkpoint_is_refused(tmp_path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("this should never run",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(str(path))


@pytest.mark.parametrize("precision", ["bf16"])
def test_bf16_trains(tiny: TrainConfig, precision: str, bf16_anywhere) -> None:
    rows = list(train(dataclasses.replace(tiny, precision=precision, epochs=4)))
    assert rows[-1]["val/acc"] > 0.3


def test_step_and_cosine_schedules_and_adamw_run(tiny: TrainConfig) -> None:
    for kw in ({"schedule": "step", "warmup_epochs": 1.0}, {"schedule": "cosine", "optimizer": "adamw", "lr": 1e-3},
               {"nesterov": True, "label_smoothing": 0.1, "grad_clip": 1.0}):
        rows = list(train(dataclasses.replace(tiny, **kw)))
        assert math.isfinite(rows[-1]["train/loss"])


@pytest.mark.slow
def test_degradation_ordering_on_digits() -> None:
    """He et al. 2015's degradation problem, small: plain-56 trains far worse than plain-20, residual-56 does not."""
    def final_train_error(depth: int, residual: bool) -> float:
        cfg = TrainConfig(dataset="digits", depth=depth, residual=residual, epochs=14, lr=0.1, schedule="onecycle",
                          batch_size=32, device="cpu")
        return list(train(cfg))[-1]["train/error"]

    plain20, plain56, res56 = final_train_error(20, False), final_train_error(56, False), final_train_error(56, True)
    assert plain56 > plain20 + 0.2
    assert plain56 > res56 + 0.2
    assert res56 < 0.05


@pytest.mark.parametrize("pad, flip, shape", [(4, True, (16, 3, 32, 32)), (1, False, (8, 1, 8, 8)),
                                              (0, True, (4, 3, 6, 5)), (2, True, (3, 2, 7, 9))])
def test_augment_equals_pad_crop_flip_image_by_image(pad: int, flip: bool, shape: tuple) -> None:
    """The batched gather against the plain recipe, drawing the same random numbers in the same order."""
    from resnet_core.data import augment

    x = torch.randn(shape)
    n, _, h, w = shape
    gen = torch.Generator().manual_seed(5)
    dy, dx = (torch.randint(0, 2 * pad + 1, (n,), generator=gen) for _ in range(2)) if pad else ([0] * n,) * 2
    mirror = torch.rand(n, generator=gen) < 0.5 if flip else [False] * n
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    expected = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w].flip(2) if mirror[i]
                            else padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    assert torch.equal(augment(x, pad, flip, torch.Generator().manual_seed(5)), expected)
