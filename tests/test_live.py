"""The sweep console's lines and table, from plain values (no Ray run)."""

from __future__ import annotations

from rich.console import Console

from sweeps.engine.live import finished_line, progress, trial_table, trial_values


def test_finished_line_names_outcome_values_progress_and_error() -> None:
    last = {"epoch": 3, "train/error": 0.41234, "val/acc": 0.61, "grad_norm/block_0": 1.0}
    values = trial_values({"depth": 56, "residual": False, "lr": 0.0671234, "__trial_index__": 2},
                          ["depth", "residual", "lr", "seed"])
    assert values == {"depth": "56", "residual": "False", "lr": "0.0671", "seed": "2"}
    line = finished_line("ab12_00003", values, "pruned", last, 8)
    assert line == ("trial ab12_00003 pruned: depth=56 residual=False lr=0.0671 seed=2  "
                    "epoch 3/8  train/error 0.412  val/acc 0.610")
    errored = finished_line("x", {"depth": "8"}, "errored", None, 2, "ValueError: bad")
    assert errored == "trial x errored: depth=8  error: ValueError: bad" and "\n" not in errored


def test_progress_is_blank_before_the_first_result() -> None:
    assert progress(None, 8) == {"epoch": "", "train/error": "", "val/acc": ""}


def test_progress_and_outcome_read_what_the_trainable_packed_for_tune() -> None:
    from sweeps.trial.reports import classify, pack_for_tune

    packed = pack_for_tune({"epoch": 3, "train/error": 0.25, "val/acc": 0.8, "train/diverged": 1.0}, "val/acc")
    assert "train/error" not in packed  # Tune never sees it as a number of its own
    assert progress(packed, 8) == {"epoch": "3/8", "train/error": "0.250", "val/acc": "0.800"}
    assert classify(packed, 8) == "diverged"


def test_confirm_trial_values_come_from_its_arm() -> None:
    config = {"arm": {"depth": 20, "residual": True, "pick_rule": "best"}, "seed": 7}
    assert trial_values(config, ["depth", "residual", "seed"]) == {"depth": "20", "residual": "True", "seed": "7"}


def test_table_has_one_row_per_trial_with_its_state() -> None:
    table = trial_table("smoke search", [("t1", {"lr": "0.1"}, progress({"epoch": 1}, 2), "running")], ["lr"])
    console = Console(width=120, record=True)
    console.print(table)
    text = console.export_text()
    assert [c.header for c in table.columns] == ["trial", "lr", "epoch", "train/error", "val/acc", "state"]
    assert "t1" in text and "1/2" in text and "running" in text
