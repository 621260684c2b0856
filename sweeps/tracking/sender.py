"""The tracker's MLflow sender: queued writes applied in order within a trial, several trials at once.

Each operation is idempotent: a run is found by its trial_id tag before one is created (when it may
exist), and an epoch already stored under a run (step = epoch) is never sent again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from . import batching, names

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


def configure_client() -> None:
    """MLflow client settings for the driver: few retries, no run links printed on set_terminated."""
    # Our sender retries with backoff itself; MLflow's own long retry loop would stall the driver.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
    # set_terminated otherwise fetches the whole run (a get_run request per trial, a fifth of a backlog's
    # requests) only to print two "View run" lines per trial into the driver's log; the command line prints
    # its own link to the experiment.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


class Sender:
    """Applies queued MLflow operations: in order within a trial, several trials at once.

    Each trial's ops wait in their own queue. A pool of threads each claims a trial no other thread holds,
    sends its queued ops as one unit (create_run, one log_batch split within MLflow's limits, set_terminated)
    and drops them only once all of it succeeded; on an error it keeps them and retries with backoff.
    """

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, ops: list,
                 stage: str | None = None, workers: int = 4, search_first: bool = True):
        self.tracking_uri = tracking_uri
        self.experiment_id, self.parent_run_id, self.stage = experiment_id, parent_run_id, stage
        self.queues: dict[str, deque] = {}    # trial_id -> its ops in order; least recently served first
        self.busy: set[str] = set()           # trials a thread is sending now
        self.buffered = 0
        self.runs: dict[str, str] = {}        # trial_id -> run_id
        self.stored: dict[str, set] = {}      # run_id -> epochs known to be stored (checked after doubt)
        # A fresh sweep's trial ids are new, so its runs cannot exist yet; after a restore (or a failed write)
        # a run may exist already: look for it by its trial_id tag before creating one.
        self.search_first = search_first
        self.doubtful: set[str] = set()
        self.lock = threading.Condition()
        self.stats = {"sent": 0, "requests": 0, "retries": 0, "skipped_duplicates": 0, "max_buffered": 0,
                      "send_s": 0.0}
        self.stopping = False
        for op in ops:
            self.put(op)
        self.threads = [threading.Thread(target=self._loop, name=f"mlflow-sender-{i}", daemon=True)
                        for i in range(workers)]
        for thread in self.threads:
            thread.start()

    def put(self, op: tuple) -> None:
        with self.lock:
            self.queues.setdefault(op[1], deque()).append(op)
            self.buffered += 1
            self.stats["max_buffered"] = max(self.stats["max_buffered"], self.buffered)
            self.lock.notify()

    def pending(self) -> list:
        """Every op not yet applied (those being sent included), in order within each trial."""
        with self.lock:
            return [op for queue in self.queues.values() for op in queue]

    def known_runs(self) -> dict[str, str]:
        with self.lock:
            return dict(self.runs)

    def _claim(self) -> str | None:
        for trial_id in self.queues:  # least recently served first
            if trial_id not in self.busy:
                self.busy.add(trial_id)
                return trial_id
        return None

    def _next(self) -> tuple[str, list] | None:
        """Claim a trial with queued ops and take its next unit; None once stopping with nothing left."""
        with self.lock:
            while (trial_id := self._claim()) is None:
                if self.stopping and not self.buffered:
                    return None
                self.lock.wait()
            return trial_id, batching.take_unit(self.queues[trial_id])

    def _done(self, trial_id: str, sent: int) -> None:
        with self.lock:
            queue = self.queues.pop(trial_id)
            for _ in range(sent):
                queue.popleft()
            if queue:  # to the back of the line: other trials' ops go first
                self.queues[trial_id] = queue
            self.busy.discard(trial_id)
            self.buffered -= sent
            self.stats["sent"] += sent
            self.lock.notify_all()

    def _client(self) -> MlflowClient:
        """A thread's own client (a test gives a recording one)."""
        return MlflowClient(self.tracking_uri)

    def _loop(self) -> None:
        client, backoff = self._client(), 0.5
        while (work := self._next()) is not None:
            trial_id, unit = work
            try:
                start = time.perf_counter()
                self._apply(client, trial_id, unit)
                with self.lock:
                    self.stats["send_s"] += time.perf_counter() - start
            except Exception as e:  # network down, server 5xx, database restarting: keep it and retry
                self._doubt(trial_id)
                log.warning("MLflow write failed (%s); %d buffered, retrying in %.1fs",
                            type(e).__name__, self.buffered, backoff)
                time.sleep(backoff)  # not woken by new results: they must not hurry retries at a server that is down
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                self._done(trial_id, 0)
                continue
            backoff = 0.5
            self._done(trial_id, len(unit))

    def _doubt(self, trial_id: str) -> None:
        """After a failed write we cannot know what landed: look the run up and re-read its epochs before resending."""
        with self.lock:
            self.stats["retries"] += 1
            self.doubtful.add(trial_id)
            self.stored.pop(self.runs.get(trial_id), None)

    def _run_id(self, client: MlflowClient, trial_id: str, create: tuple | None) -> str:
        if trial_id in self.runs:
            return self.runs[trial_id]
        found = None
        if self.search_first or trial_id in self.doubtful or create is None:
            query = f"tags.{names.TRIAL_ID} = '{trial_id}' and tags.`{MLFLOW_PARENT_RUN_ID}` = '{self.parent_run_id}'"
            if self.stage:  # two Tune runs (search, confirm) under one parent: a trial id is unique within a stage
                query += f" and tags.stage = '{self.stage}'"
            found = client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        if found:
            run_id = found[0].info.run_id
        elif create is None:
            raise RuntimeError(f"no MLflow run for trial {trial_id} yet")
        else:
            tags = create[3] or {}
            all_tags = {**tags, MLFLOW_PARENT_RUN_ID: self.parent_run_id, names.TRIAL_ID: trial_id}
            run_id = client.create_run(self.experiment_id, start_time=create[4] if len(create) > 4 else None,
                                       tags=all_tags, run_name=tags.get(names.TRIAL_NAME)).info.run_id
            self.stored[run_id] = set()  # a run made just now holds no epochs
        with self.lock:
            self.runs[trial_id] = run_id
        return run_id

    def _stored_epochs(self, client: MlflowClient, run_id: str) -> set:
        if run_id not in self.stored:
            self.stored[run_id] = {m.step for m in client.get_metric_history(run_id, "epoch")}
        return self.stored[run_id]

    def _apply(self, client: MlflowClient, trial_id: str, unit: list) -> None:
        """One unit of a trial's ops; params again and identical metrics again are accepted by MLflow."""
        run_id = self._run_id(client, trial_id, unit[0] if unit[0][0] == "create" else None)
        stored = self._stored_epochs(client, run_id)
        metrics, params, tags, steps, skipped = batching.unit_entities(unit, stored)
        for chunk in batching.split_batch(metrics, params, tags):
            client.log_batch(run_id, *chunk)
            with self.lock:
                self.stats["requests"] += 1
        stored.update(steps)
        for op in unit:
            if op[0] == "inputs":
                client.log_inputs(run_id, datasets=batching.dataset_inputs(op[2]))
        if unit[-1][0] == "end":
            end = unit[-1]
            client.set_terminated(run_id, end[3], end_time=end[4] if len(end) > 4 else None)
        with self.lock:
            self.stats["skipped_duplicates"] += skipped

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued op is applied (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while self.buffered and time.monotonic() < deadline:
                self.lock.wait(timeout=min(1.0, deadline - time.monotonic()))
            return not self.buffered

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
