"""Exactly-once MLflow tracking from the driver: one nested child run per trial, buffered through outages.

Every write goes through an ordered queue that a background thread drains. Each operation is
idempotent: a run is found by its trial_id tag before one is created, and an epoch already stored
under a run (step = epoch) is never sent again. The queue and the trial->run mapping are the
callback's state, which Tune saves with the experiment, so a resumed sweep continues the same runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from ray.tune import Callback

from resnet_core.config import FIELDS, make_config

from .results import TAG_KEYS, classify, closing_outcome, error_line, pick_tags, sampled_params, tracked_metrics

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


def configure_client_retries() -> None:
    """Our sender retries with backoff itself; MLflow's own long retry loop would stall the driver."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")


class Sender:
    """Applies queued MLflow operations in order, retrying the head one with exponential backoff."""

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, ops: list,
                 stage: str | None = None):
        self.client = MlflowClient(tracking_uri)
        self.experiment_id, self.parent_run_id, self.stage = experiment_id, parent_run_id, stage
        self.queue: deque = deque(ops)
        self.runs: dict[str, str] = {}        # trial_id -> run_id
        self.stored: dict[str, set] = {}      # run_id -> epochs known to be stored (checked after doubt)
        self.lock = threading.Condition()
        self.stats = {"sent": 0, "retries": 0, "skipped_duplicates": 0, "max_buffered": 0, "send_s": 0.0}
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name="mlflow-sender", daemon=True)
        self.thread.start()

    def put(self, op: tuple) -> None:
        with self.lock:
            self.queue.append(op)
            self.stats["max_buffered"] = max(self.stats["max_buffered"], len(self.queue))
            self.lock.notify()

    def pending(self) -> list:
        with self.lock:
            return list(self.queue)

    def _loop(self) -> None:
        backoff = 0.5
        while True:
            with self.lock:
                while not self.queue and not self.stopping:
                    self.lock.wait()
                if not self.queue:
                    return
                op = self.queue[0]
            try:
                start = time.perf_counter()
                self._apply(op)
                self.stats["send_s"] += time.perf_counter() - start
            except Exception as e:  # network down, server 5xx, database restarting: keep it and retry
                self.stats["retries"] += 1
                self._doubt(op)
                log.warning("MLflow write failed (%s); %d buffered, retrying in %.1fs",
                            type(e).__name__, len(self.queue), backoff)
                time.sleep(backoff)  # not woken by new results: they must not hurry retries at a server that is down
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            backoff = 0.5
            with self.lock:
                self.queue.popleft()
                self.stats["sent"] += 1
                self.lock.notify_all()

    def _doubt(self, op: tuple) -> None:
        """After a failed write we cannot know whether it landed: re-read the run's epochs before resending."""
        run_id = self.runs.get(op[1])
        if run_id:
            self.stored.pop(run_id, None)

    def _run_id(self, trial_id: str, params: dict | None = None, tags: dict | None = None,
                start_ms: int | None = None) -> str:
        if trial_id in self.runs:
            return self.runs[trial_id]
        query = f"tags.trial_id = '{trial_id}' and tags.`{MLFLOW_PARENT_RUN_ID}` = '{self.parent_run_id}'"
        if self.stage:  # two Tune runs (search, confirm) under one parent: a trial id is unique within a stage
            query += f" and tags.stage = '{self.stage}'"
        found = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        if found:
            run_id = found[0].info.run_id
        elif params is None:
            raise RuntimeError(f"no MLflow run for trial {trial_id} yet")
        else:
            all_tags = {**(tags or {}), MLFLOW_PARENT_RUN_ID: self.parent_run_id, "trial_id": trial_id}
            run_id = self.client.create_run(self.experiment_id, start_time=start_ms, tags=all_tags,
                                            run_name=tags.get("trial_name")).info.run_id
        if params is not None:  # idempotent: the same values again are accepted
            self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.runs[trial_id] = run_id
        return run_id

    def _stored_epochs(self, run_id: str) -> set:
        if run_id not in self.stored:
            self.stored[run_id] = {m.step for m in self.client.get_metric_history(run_id, "epoch")}
        return self.stored[run_id]

    def _apply(self, op: tuple) -> None:
        kind, trial_id = op[0], op[1]
        if kind == "create":
            self._run_id(trial_id, op[2], op[3], op[4] if len(op) > 4 else None)
        elif kind == "metrics":
            step, metrics, timestamp = op[2], op[3], op[4]
            run_id = self._run_id(trial_id)
            if step in self._stored_epochs(run_id):
                self.stats["skipped_duplicates"] += 1
                return
            self.client.log_batch(run_id, metrics=[Metric(k, v, timestamp, step) for k, v in metrics.items()])
            self.stored[run_id].add(step)
        elif kind == "tags":
            self.client.log_batch(self._run_id(trial_id), tags=[RunTag(k, str(v)) for k, v in op[2].items()])
        elif kind == "end":
            run_id = self._run_id(trial_id)
            self.client.set_tag(run_id, "outcome", op[2])
            self.client.set_terminated(run_id, op[3], end_time=op[4] if len(op) > 4 else None)

    def flush(self, timeout_s: float) -> bool:
        """Wait until the queue is empty (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while self.queue and time.monotonic() < deadline:
                self.lock.wait(timeout=min(1.0, deadline - time.monotonic()))
            return not self.queue

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            self.lock.notify_all()


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
                 run_tags: dict, flush_timeout_s: float = 600.0):
        self.tracking_uri, self.experiment_id, self.parent_run_id = tracking_uri, experiment_id, parent_run_id
        self.fixed, self.run_tags, self.flush_timeout_s = fixed, run_tags, flush_timeout_s
        self.epochs = make_config(fixed).epochs
        self.runs: dict[str, str] = {}        # trial_id -> run_id, as far as the sender has resolved
        self.last: dict[str, dict] = {}       # trial_id -> last metrics seen (step dedupe and outcome)
        self.tags_seen: dict[str, dict] = {}  # trial_id -> tags already queued
        self.ended: set[str] = set()          # trials whose end is queued
        self.restored_ops: list = []
        self.sender: Sender | None = None
        self.mid_step = False                 # inside a Tune loop step: an experiment end now means a crash

    def __getstate__(self) -> dict:  # Tune pickles callbacks with the run config: no thread, no client
        return {**self.__dict__, "sender": None}

    def setup(self, **info) -> None:
        configure_client_retries()
        self.sender = Sender(self.tracking_uri, self.experiment_id, self.parent_run_id, self.restored_ops,
                             self.run_tags.get("stage"))
        self.sender.runs.update(self.runs)
        self.restored_ops = []

    def _ensure_run(self, trial) -> None:
        if trial.trial_id not in self.tags_seen:
            params = {**make_config({**self.fixed, **sampled_params(trial.config, FIELDS)}).to_dict(),
                      "trial_id": trial.trial_id}
            # Times are taken now, not when the sender gets to the write: run durations stay true.
            tags = {**self.run_tags, **pick_tags(trial.config), "trial_name": str(trial)}
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
        metrics = tracked_metrics(result)
        step = int(metrics.get("epoch", 0))
        if step <= int(self.last.get(tid, {}).get("epoch", 0)):
            return  # an epoch re-reported after a restore from an earlier checkpoint: already tracked
        self.last[tid] = metrics
        self.sender.put(("metrics", tid, step, metrics, int(time.time() * 1000)))

    def _end(self, trial, outcome: str, status: str) -> None:
        self._ensure_run(trial)
        self.ended.add(trial.trial_id)
        self.sender.put(("end", trial.trial_id, outcome, status, int(time.time() * 1000)))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._end(trial, classify(self.last.get(trial.trial_id), self.epochs), "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._ensure_run(trial)
        message = error_line(read_small_file(trial.error_file))
        if message:  # Tune wrote the trace before calling us; the run says why, the full trace stays in Tune's folder
            self.sender.put(("tags", trial.trial_id, {"error": message}))
        self._end(trial, "errored", "FAILED")

    def on_experiment_end(self, trials, **info) -> None:
        for trial in trials:  # stopped by the time budget or a crash: close their runs too, never leave one RUNNING
            if trial.trial_id not in self.ended and trial.trial_id in self.tags_seen:
                self._end(trial, *closing_outcome(self.last.get(trial.trial_id), self.epochs, trial.status,
                                                  self.mid_step))
        if not self.sender.flush(self.flush_timeout_s):
            log.error("MLflow unreachable: %d writes still buffered; they are kept in the experiment state "
                      "and sent by `resnet-sweep resume`", len(self.sender.pending()))
        self.sender.stop()
        # One line in the driver's output (the Ray job log): how much was buffered and retried in outages.
        print("mlflow tracking: " + " ".join(f"{k}={v}" for k, v in self.sender.stats.items()), flush=True)

    def get_state(self) -> dict:
        runs = dict(self.sender.runs) if self.sender else self.runs
        ops = self.sender.pending() if self.sender else self.restored_ops
        return {"runs": runs, "last": dict(self.last), "tags_seen": dict(self.tags_seen), "ops": ops,
                "ended": sorted(self.ended)}

    def set_state(self, state: dict) -> None:
        self.runs, self.last = dict(state["runs"]), dict(state["last"])
        self.tags_seen, self.restored_ops = dict(state["tags_seen"]), list(state["ops"])
        self.ended = set(state["ended"])
        if self.sender:  # setup() already ran: hand the restored work to the live sender
            self.sender.runs.update(self.runs)
            for op in self.restored_ops:
                self.sender.put(op)
            self.restored_ops = []
