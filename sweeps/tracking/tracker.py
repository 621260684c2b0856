"""Exactly-once MLflow tracking from the driver: one nested child run per trial, buffered through outages.

Every write goes through the Sender (sweeps/tracking/sender.py): a queue per trial, drained in order by a small
pool of threads, each epoch stored once. The queued writes and the trial->run mapping are the callback's
state, which Tune saves with the experiment, so a resumed sweep continues the same runs.
"""

from __future__ import annotations

import json
import logging
import time

from ray.tune import Callback

from resnet_core.config import FIELDS, make_config

from ..spec.recipes import RECIPE, expand
from ..trial.reports import (DATASETS_KEY, TAG_KEYS, classify, closing_outcome, error_line, kept_by_tune, pick_tags,
                             sampled_params, tracked_metrics, trial_epochs)
from . import names
from .descriptions import trial_description
from .sender import Sender, configure_client

log = logging.getLogger(__name__)
OUTCOME_KEYS = ("epoch", "train/diverged")  # what classify() reads of a trial's last metrics


def read_small_file(path: str | None) -> str:
    """A small local text file, or '' when there is none."""
    try:
        with open(path or "", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


class MlflowTracker(Callback):
    """Tune callback that logs each trial to its own child run under the sweep's parent run."""

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, fixed: dict,
                 run_tags: dict, flush_timeout_s: float = 600.0, recipes: dict | None = None):
        self.tracking_uri, self.experiment_id, self.parent_run_id = tracking_uri, experiment_id, parent_run_id
        self.fixed, self.run_tags, self.flush_timeout_s = fixed, run_tags, flush_timeout_s
        self.recipes = recipes or {}          # recipe name -> config fields (sweeps.recipes)
        self.epochs = make_config(fixed).epochs
        self.runs: dict[str, str] = {}        # trial_id -> run_id, as far as the sender has resolved
        self.last: dict[str, dict] = {}       # trial_id -> last metrics seen (step dedupe and outcome)
        self.tags_seen: dict[str, dict] = {}  # trial_id -> tags already queued
        self.ended: set[str] = set()          # trials whose end is queued
        self.inputs_seen: set[str] = set()    # trials whose data sets are queued (MLflow also skips repeats)
        self.restored_ops: list = []
        self.sender: Sender | None = None
        self.mid_step = False                 # inside a Tune loop step: an experiment end now means a crash
        self.restored = False                 # unpickled or given saved state: runs of its trials may exist

    def __getstate__(self) -> dict:  # Tune pickles callbacks with the run config: no thread, no client
        return {**self.__dict__, "sender": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"inputs_seen": set(), "recipes": {}, **state, "restored": True})

    def setup(self, **info) -> None:
        configure_client()
        self.sender = Sender(self.tracking_uri, self.experiment_id, self.parent_run_id, self.restored_ops,
                             self.run_tags.get(names.STAGE), search_first=self.restored)
        self.sender.runs.update(self.runs)
        self.restored_ops = []

    def _config(self, trial):
        return make_config({**self.fixed, **expand(sampled_params(trial.config, FIELDS), self.recipes)})

    def _ensure_run(self, trial) -> None:
        if trial.trial_id not in self.tags_seen:
            cfg = self._config(trial)
            recipe = sampled_params(trial.config, FIELDS).get(RECIPE)
            params = {**cfg.to_dict(), "trial_id": trial.trial_id, **({RECIPE: recipe} if recipe else {}),
                      **({"tat_alpha": round(cfg.tat_alpha, 6)} if cfg.tat_alpha is not None else {})}
            # Times are taken now, not when the sender gets to the write: run durations stay true.
            tags = {**self.run_tags, **pick_tags(trial.config), "trial_name": str(trial),
                    names.NOTE: trial_description(cfg, self.run_tags.get(names.STAGE))}
            self.sender.put(("create", trial.trial_id, params, tags, int(time.time() * 1000)))
            self.tags_seen[trial.trial_id] = {}

    def on_step_begin(self, iteration, trials, **info) -> None:
        self.mid_step = True

    def on_step_end(self, iteration, trials, **info) -> None:
        # Tune ends a finished (or time-budget) experiment between steps; an exception escapes mid-step.
        self.mid_step = False

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self._ensure_run(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self._ensure_run(trial)
        tid = trial.trial_id
        tags = {k: result[k] for k in TAG_KEYS if isinstance(result.get(k), str)}
        if tags and tags != self.tags_seen.get(tid):
            self.tags_seen[tid] = tags
            self.sender.put(("tags", tid, tags))
        if isinstance(result.get(DATASETS_KEY), str) and tid not in self.inputs_seen:
            self.inputs_seen.add(tid)
            self.sender.put(("inputs", tid, json.loads(result[DATASETS_KEY])))
        metrics = tracked_metrics(result)
        step = int(metrics.get("epoch", 0))
        if step <= int(self.last.get(tid, {}).get("epoch", 0)):
            return  # an epoch re-reported after a restore from an earlier checkpoint: already tracked
        self.last[tid] = {k: metrics[k] for k in OUTCOME_KEYS if k in metrics}  # all the outcome needs
        self.sender.put(("metrics", tid, step, metrics, int(time.time() * 1000)))

    def _end(self, trial, outcome: str, status: str, error: str = "") -> None:
        self._ensure_run(trial)
        self.ended.add(trial.trial_id)
        epoch = int(self.last.get(trial.trial_id, {}).get("epoch", 0))
        note = trial_description(self._config(trial), self.run_tags.get(names.STAGE), outcome, epoch, error)
        self.sender.put(("tags", trial.trial_id, {names.NOTE: note}))
        self.sender.put(("end", trial.trial_id, outcome, status, int(time.time() * 1000)))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._end(trial, classify(self.last.get(trial.trial_id), trial_epochs(trial.config, self.epochs)), "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._ensure_run(trial)
        message = error_line(read_small_file(trial.error_file))
        if message:  # Tune wrote the trace before calling us; the run says why, the full trace stays in Tune's folder
            self.sender.put(("tags", trial.trial_id, {"error": message}))
        self._end(trial, "errored", "FAILED", message)

    def on_experiment_end(self, trials, **info) -> None:
        for trial in trials:  # stopped by the time budget or a crash: close their runs too, never leave one RUNNING
            if trial.trial_id not in self.ended and trial.trial_id in self.tags_seen:
                epochs = trial_epochs(trial.config, self.epochs)
                self._end(trial, *closing_outcome(self.last.get(trial.trial_id), epochs, trial.status,
                                                  self.mid_step))
        if not self.sender.flush(self.flush_timeout_s):
            log.error("MLflow unreachable: %d writes still buffered; they are kept in the experiment state "
                      "and sent by `resnet-sweep resume`", len(self.sender.pending()))
        self.sender.stop()
        # One line in the driver's output (the Ray job log): how much was buffered and retried in outages.
        print("mlflow tracking: " + " ".join(f"{k}={v}" for k, v in self.sender.stats.items()), flush=True)

    def get_state(self) -> dict:
        runs = self.sender.known_runs() if self.sender else self.runs
        ops = self.sender.pending() if self.sender else self.restored_ops
        return {"runs": runs, "last": dict(self.last), "tags_seen": dict(self.tags_seen), "ops": ops,
                "ended": sorted(self.ended)}

    def set_state(self, state: dict) -> None:
        self.runs, self.last = dict(state["runs"]), dict(state["last"])
        self.tags_seen, self.restored_ops = dict(state["tags_seen"]), list(state["ops"])
        self.ended, self.restored = set(state["ended"]), True
        if self.sender:
            self.sender.search_first = True  # setup() already ran: hand the restored work to the live sender
            self.sender.runs.update(self.runs)
            for op in self.restored_ops:
                self.sender.put(op)
            self.restored_ops = []


class TrimKeptResults(Callback):
    """Cuts each result Tune is about to keep (and copy into every snapshot) to what the driver reads back.

    Tune lets callbacks edit a result before it keeps it. Placed after the tracker and Tune's JSON logger, so
    MLflow and each trial's result.json still get every metric. (The results of kept checkpoints stay whole:
    on_checkpoint is handed the Checkpoint, not its result.)
    """

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        kept = kept_by_tune(result)
        result.clear()
        result.update(kept)
