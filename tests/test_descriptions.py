"""Run descriptions: one sentence per run, from the config and how the trial ended."""

from __future__ import annotations

from resnet_core.config import make_config
from sweeps.tracking.descriptions import sweep_description, trial_description


def test_a_trial_says_what_it_trains_and_how_it_ended() -> None:
    cfg = make_config({"depth": 110, "residual": False, "init": "xavier", "lr": 0.0671, "dataset": "digits",
                       "epochs": 20, "seed": 3})
    sentence = "ResNet-110, plain, xavier init, lr 0.0671 on digits (seed 3, search trial)."
    assert trial_description(cfg, "search") == sentence
    assert trial_description(cfg, "search", "pruned", 4).endswith(
        "; stopped early (scheduler or time budget) at epoch 4 of 20.")
    assert trial_description(cfg, None, "completed", 20).endswith("(seed 3); completed 20 epochs.")
    assert trial_description(cfg, "confirm", "errored", 2, "ValueError: boom").endswith(
        "confirm trial); errored at epoch 2: ValueError: boom.")
    assert "diverged (non-finite loss) at epoch 5" in trial_description(cfg, "search", "diverged", 5)


def test_a_sweep_says_its_stages_counts_best_and_report() -> None:
    summary = {"trials": 5, "completed": 3, "pruned": 1, "diverged": 1, "errored": 0, "best_value": 0.91234}
    text = sweep_description("degradation", summary, "val/acc", ["search", "confirm"], "report/")
    assert text.startswith("Sweep degradation (search then confirm): 5 trials (3 completed, 1 pruned, 1 diverged, "
                           "0 errored); best val/acc 0.9123.")
    assert "resnet-sweep report degradation" in text
    assert "no finished trial for val/acc" in sweep_description("x", {"trials": 0}, "val/acc", ["search"], "report/")

