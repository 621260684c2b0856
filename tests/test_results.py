"""Pure result handling and the tracker's idempotent writes against a real (sqlite) MLflow store."""

from __future__ import annotations

import math

from mlflow import MlflowClient

from types import SimpleNamespace

from resnet_core.outcomes import OUTCOMES
from sweeps.tracking.finalize import stage_summary
from sweeps.trial.reports import (PACKED_KEY, TAG_KEYS, classify, closing_outcome, error_line, fill_diverged,
                            kept_by_tune, pack_for_tune, pick_tags, sampled_params, tracked_metrics)
from sweeps.tracking import Sender


def test_tracked_metrics_drop_tune_bookkeeping_and_strings() -> None:
    result = {"epoch": 3, "train/loss": 0.5, "val/acc": 0.9, "train/lr": 0.01, "training_iteration": 3,
              "time_total_s": 1.0, "done": False, "trial_id": "abc", "config": {"lr": 0.1}, "lr": 0.1,
              "hardware": "cpu", "grad_norm/block_0": 1.5, "bad/nan": math.nan, "train/diverged": 1}
    assert tracked_metrics(result) == {"epoch": 3.0, "train/loss": 0.5, "val/acc": 0.9, "train/lr": 0.01,
                                       "grad_norm/block_0": 1.5, "train/diverged": 1.0}


def test_tune_keeps_what_the_driver_reads_back_and_no_more() -> None:
    """The cut result gives the live console and classify the same answers; tags and norms are gone from it."""
    from sweeps.engine.live import progress

    for metric, diverged in (("val/acc", 0.0), ("val/loss", 1.0)):
        metrics = {"epoch": 4, "train/loss": 0.5, "train/error": 0.2, "val/acc": 0.7, "val/loss": 0.9,
                   "train/diverged": diverged, **{f"grad_norm/block_{b}": 0.1 * b for b in range(56)}}
        result = {**pack_for_tune({**metrics, "hardware": "cpu", "node_id": "n" * 56, "datasets": "[]"}, metric),
                  "training_iteration": 4, "time_total_s": 2.0, "done": False, "trial_id": "t", "config": {"lr": 0.1}}
        kept = kept_by_tune(result)
        assert progress(kept, 10) == progress(result, 10) and classify(kept, 10) == classify(result, 10)
        numbers = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        assert {k: v for k, v in kept.items() if isinstance(v, (int, float))} == numbers  # Tune's own keys too
        assert not set(TAG_KEYS) & set(kept) and "datasets" not in kept and kept["config"] == {"lr": 0.1}
        assert len(kept[PACKED_KEY]) < 100 < len(result[PACKED_KEY])
    assert PACKED_KEY not in kept_by_tune({"epoch": 1, "val/acc": 0.5})


def test_diverged_gets_a_bad_finite_value() -> None:
    assert fill_diverged({"epoch": 1, "train/diverged": 1}, "val/acc", "max")["val/acc"] == 0.0
    assert fill_diverged({"epoch": 1, "train/diverged": 1}, "val/loss", "min")["val/loss"] == 1e3
    assert fill_diverged({"epoch": 1, "val/acc": 0.1}, "val/acc", "max") == {"epoch": 1, "val/acc": 0.1}


def test_classify_outcomes() -> None:
    assert classify({"epoch": 10}, 10) == "completed"
    assert classify({"epoch": 4}, 10) == "pruned"
    assert classify({"epoch": 2, "train/diverged": 1}, 10) == "diverged"
    assert classify({"epoch": 10}, 10, errored=True) == "errored"
    assert classify(None, 10) == "pruned"
    every = {classify(last, 10, errored) for last in (None, {"epoch": 10}, {"epoch": 2, "train/diverged": 1})
             for errored in (False, True)}
    assert every == set(OUTCOMES)  # the one list the tracker, finalize and the reports count by


def test_trial_open_at_a_crash_is_errored_not_pruned() -> None:
    """A sweep that dies mid-step (e.g. on a trial's bad result) ends its open trials as errored, FAILED."""
    assert closing_outcome({"epoch": 1}, 10, "RUNNING", sweep_crashed=True) == ("errored", "FAILED")
    assert closing_outcome(None, 10, "TERMINATED", sweep_crashed=True) == ("errored", "FAILED")
    assert closing_outcome({"epoch": 1}, 10, "ERROR", sweep_crashed=False) == ("errored", "FAILED")
    # Stopped by the time budget between steps: pruned, or completed if its last epoch was in.
    assert closing_outcome({"epoch": 1}, 10, "RUNNING", sweep_crashed=False) == ("pruned", "KILLED")
    assert closing_outcome({"epoch": 10}, 10, "RUNNING", sweep_crashed=False) == ("completed", "KILLED")


def test_sampled_params_take_the_seed_from_the_repeater_or_grid() -> None:
    fields = {"depth", "lr", "seed"}
    assert sampled_params({"depth": 20, "__trial_index__": 2, "other": 1}, fields) == {"depth": 20, "seed": 2}
    assert sampled_params({"depth": 20, "seed": 1}, fields) == {"depth": 20, "seed": 1}


def test_sender_is_idempotent_on_runs_and_epochs(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("idem")
    parent = client.create_run(exp).info.run_id
    ops = [("create", "t1", {"lr": 0.1}, {"trial_name": "t1"}),
           ("metrics", "t1", 1, {"epoch": 1.0, "val/acc": 0.5}, 1000),
           ("metrics", "t1", 1, {"epoch": 1.0, "val/acc": 0.5}, 1000),  # a resend after doubt
           ("create", "t1", {"lr": 0.1}, {"trial_name": "t1"}),         # a create after a restore
           ("metrics", "t1", 2, {"epoch": 2.0, "val/acc": 0.6}, 2000),
           ("end", "t1", "completed", "FINISHED")]
    sender = Sender(uri, exp, parent, ops)
    assert sender.flush(60)
    sender.stop()
    # A second sender (a resumed driver) knows nothing in memory: it must still not double anything.
    again = Sender(uri, exp, parent, [("create", "t1", {"lr": 0.1}, {"trial_name": "t1"}),
                                      ("metrics", "t1", 2, {"epoch": 2.0, "val/acc": 0.6}, 2000)])
    assert again.flush(60)
    again.stop()
    runs = client.search_runs([exp], "tags.trial_id = 't1'")
    assert len(runs) == 1
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "val/acc")] == [1, 2]
    assert runs[0].data.tags["outcome"] == "completed" and runs[0].info.status == "FINISHED"
    assert sender.stats["skipped_duplicates"] == 1 and again.stats["skipped_duplicates"] == 1


def test_confirm_trial_config_flattens_its_arm_and_tags_its_pick() -> None:
    config = {"arm": {"depth": 20, "residual": False, "lr": 0.1, "pick_rule": "pruned", "pick_source": "t1"},
              "seed": 5}
    assert sampled_params(config, {"depth", "residual", "lr", "seed"}) == {
        "depth": 20, "residual": False, "lr": 0.1, "seed": 5}
    assert pick_tags(config) == {"pick_rule": "pruned", "pick_source": "t1"} and pick_tags({"lr": 0.1}) == {}


def _run(stage: str | None, start_ms: int, end_ms: int):
    tags = {"stage": stage} if stage else {}
    return SimpleNamespace(data=SimpleNamespace(tags=tags), info=SimpleNamespace(start_time=start_ms, end_time=end_ms))


def test_stage_summary_counts_trials_hours_and_boundaries_per_stage() -> None:
    runs = [_run(None, 0, 3_600_000), _run("search", 1000, 1_801_000), _run("confirm", 7_200_000, 9_000_000)]
    metrics, tags = stage_summary(runs)
    assert metrics == {"stage/search/trials": 2, "stage/search/trial_hours": 1.5,
                       "stage/confirm/trials": 1, "stage/confirm/trial_hours": 0.5}
    assert tags == {"stage.search.start": "1970-01-01T00:00:00Z", "stage.search.end": "1970-01-01T01:00:00Z",
                    "stage.confirm.start": "1970-01-01T02:00:00Z", "stage.confirm.end": "1970-01-01T02:30:00Z"}


def test_error_line_is_the_last_exception_line_of_a_trace() -> None:
    trace = ("Failure # 1 (occurred at 2026-01-01)\nray::ImplicitFunc.train() (pid=1, ip=127.0.0.1)\n"
             "  File \"train.py\", line 3, in __init__\n    raise ConfigError(msg)\n"
             "resnet_core.config.ConfigError: precision: bf16 is emulated on this CPU (AVX2)\n\n")
    assert error_line(trace) == "resnet_core.config.ConfigError: precision: bf16 is emulated on this CPU (AVX2)"
    assert error_line("no exception here\n") == "no exception here"
    assert error_line(None) == "" and len(error_line("ValueError: " + "x" * 900)) == 500


def test_tracker_puts_an_errored_trials_error_line_on_its_run(tmp_path) -> None:
    """on_trial_error reads the trace Tune wrote for the trial and tags the run with its last error line."""
    from types import SimpleNamespace

    from sweeps.tracking import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("errored")
    parent = client.create_run(exp).info.run_id
    trace = tmp_path / "error.txt"
    trace.write_text("Failure # 1\nTraceback (most recent call last):\n  File \"train.py\", line 1\n"
                     "resnet_core.config.ConfigError: precision: bf16 is emulated on this CPU (AVX2)\n")
    trial = SimpleNamespace(trial_id="t1", config={"precision": "bf16"}, error_file=str(trace))
    tracker = MlflowTracker(uri, exp, parent, {"dataset": "synthetic", "epochs": 1}, {"sweep": "errored"})
    tracker.setup()
    tracker.on_trial_start(0, [trial], trial)
    tracker.on_trial_error(0, [trial], trial)
    tracker.on_experiment_end([trial])
    run = client.search_runs([exp], "tags.trial_id = 't1'")[0]
    assert run.data.tags["outcome"] == "errored" and run.info.status == "FAILED"
    assert run.data.tags["error"] == "resnet_core.config.ConfigError: precision: bf16 is emulated on this CPU (AVX2)"
