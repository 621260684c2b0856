"""The tracker's sender: batches within MLflow's limits, order kept within a trial, trials sent in parallel."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import torch
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from sweeps.tracking import batching
from sweeps.trial.reports import PACKED_KEY, TUNE_KEYS, pack_for_tune, tracked_metrics
from sweeps.tracking.sender import Sender


def epoch_ops(trial: str, epochs: int, keys: int = 60) -> list:
    values = lambda e: {"epoch": float(e), **{f"grad_norm/block_{k}": k * e / 100 for k in range(keys - 1)}}
    return [("create", trial, {"lr": 0.1}, {"trial_name": trial}, 1000)] + \
           [("metrics", trial, e, values(e), 1000 + e) for e in range(1, epochs + 1)] + \
           [("end", trial, "completed", "FINISHED", 9000)]


def test_split_keeps_every_request_within_mlflows_limits_and_in_order() -> None:
    metrics = [Metric(f"m{i % 70}", 1.0, 1, i // 70) for i in range(2500)]
    params = [Param(f"p{i}", "x") for i in range(150)]
    tags = [RunTag(f"t{i}", "v" * 7000) for i in range(150)]  # 1 MB of tags on its own
    chunks = batching.split_batch(metrics, params, tags)
    limits = batching.LIMITS
    for m, p, t in chunks:
        assert len(m) <= limits["metrics"] and len(p) <= limits["params"] and len(t) <= limits["tags"]
        assert len(m) + len(p) + len(t) <= limits["entities"]
        body = json.dumps({"metrics": [vars(x) for x in m], "params": [vars(x) for x in p],
                           "tags": [vars(x) for x in t]})
        assert len(body) < 1_000_000
    assert [x for c in chunks for x in c[0]] == metrics and [x for c in chunks for x in c[1]] == params
    assert [x for c in chunks for x in c[2]] == tags
    assert len(chunks) >= 3


def test_a_unit_is_one_create_to_one_end_with_each_epochs_epoch_metric_last() -> None:
    ops = epoch_ops("t", 3) + [("create", "t", {}, {}, 1)]
    unit = batching.take_unit(ops)
    assert unit == ops[:5]  # the second create starts a unit of its own
    metrics, params, tags, steps, skipped = batching.unit_entities(unit, stored={2})
    assert steps == [1, 3] and skipped == 1 and [p.key for p in params] == ["lr"]
    assert [t.key for t in tags] == ["outcome"]
    for step in steps:
        keys = [m.key for m in metrics if m.step == step]
        assert keys[-1] == "epoch" and len(keys) == 60
    assert len(batching.take_unit([o for o in ops if o[0] == "metrics"] * 30)) == batching.MAX_OPS


class RecordingClient:
    """An MLflow client stand-in that is slow per request and records who sent what when."""

    def __init__(self, log: list, lock: threading.Lock):
        self.log, self.lock = log, lock

    def _note(self, *entry) -> None:
        time.sleep(0.02)  # a request's round trip: lets the queue build up and threads overlap
        with self.lock:
            self.log.append((threading.current_thread().name, time.perf_counter(), *entry))

    def search_runs(self, *args, **kwargs) -> list:
        return []

    def create_run(self, experiment_id, start_time=None, tags=None, run_name=None):
        self._note("create", tags["trial_id"])
        return SimpleNamespace(info=SimpleNamespace(run_id=f"run-{tags['trial_id']}"))

    def log_batch(self, run_id, metrics=(), params=(), tags=()) -> None:
        self._note("batch", run_id[4:], sorted({m.step for m in metrics}))

    def set_terminated(self, run_id, status, end_time=None) -> None:
        self._note("end", run_id[4:])


def test_trials_go_in_parallel_in_order_within_each_trial_with_epochs_batched() -> None:
    log, lock = [], threading.Lock()

    class Recorded(Sender):
        def _client(self):
            return RecordingClient(log, lock)

    sender = Recorded("unused://", "0", "parent", [], workers=4, search_first=False)
    trials = [epoch_ops(f"t{t}", 20) for t in range(8)]
    for i in range(22):  # results arrive while earlier ones are being sent: epoch i of every trial, then a pause
        for ops in trials:
            sender.put(ops[i])
        time.sleep(0.01)
    assert sender.flush(60)
    sender.stop()
    for t in range(8):
        mine = [e for e in log if e[3] == f"t{t}"]
        assert mine[0][2] == "create" and mine[-1][2] == "end"
        steps = [s for e in mine if e[2] == "batch" for s in e[4]]
        assert steps == list(range(1, 21))  # every epoch once, in order
    assert len({e[0] for e in log}) == 4  # all four threads sent
    batches = [e for e in log if e[2] == "batch"]
    assert len(batches) < 8 * 20 / 2  # queued epochs travel together, not one request each
    # Requests overlapped in time: a sequential sender would take 20 ms x every request.
    assert max(e[1] for e in log) - min(e[1] for e in log) < 0.02 * len(log) / 2


def test_queued_epochs_go_in_few_requests_within_the_servers_limits(mlflow_http) -> None:
    """40 epochs of 60 metrics queued for one run: 2,400 metrics, more than one request may carry."""
    client = MlflowClient(mlflow_http.url)
    exp = client.create_experiment(f"batched-{time.time_ns()}")
    parent = client.create_run(exp).info.run_id
    sender = Sender(mlflow_http.url, exp, parent, epoch_ops("t1", 40), search_first=False)
    assert sender.flush(60), f"still buffered: {sender.stats}"
    sender.stop()
    run = client.search_runs([exp], "tags.trial_id = 't1'")[0]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "grad_norm/block_58")] == list(range(1, 41))
    assert sender.stats["retries"] == 0 and 3 <= sender.stats["requests"] <= 4
    assert run.info.status == "FINISHED" and run.data.tags["outcome"] == "completed"


def test_tune_gets_the_metric_and_epoch_and_the_tracker_every_number() -> None:
    f32 = [float(x) for x in torch.rand(56)]  # the trainer's norms: float32 values, packed exactly in 4 bytes
    for norms in (f32, [b / 10 for b in range(56)]):  # and any others, as decimal text
        metrics = {"epoch": 3, "train/loss": 0.5, "val/acc": 0.9, "val/loss": 0.7, "train/lr": 0.1,
                   "grad_norm/ratio_first_last": 2.0, **{f"grad_norm/block_{b}": v for b, v in enumerate(norms)},
                   "hardware": "cpu"}
        packed = pack_for_tune(metrics, "val/loss")
        numbers = {k for k, v in packed.items() if isinstance(v, (int, float))}
        assert numbers == set(TUNE_KEYS) | {"val/loss"} and isinstance(packed[PACKED_KEY], str)
        assert tracked_metrics(packed) == tracked_metrics(metrics) == {
            k: float(v) for k, v in metrics.items() if k != "hardware"}
    f32_packed = pack_for_tune({f"grad_norm/block_{b}": v for b, v in enumerate(f32)}, "val/loss")[PACKED_KEY]
    assert len(f32_packed) < len(json.dumps(f32)) / 2  # 4 bytes a norm, not ~20 characters of decimal


def test_tracker_unpacks_the_result_for_mlflow_and_leaves_it_whole_for_result_json(tmp_path) -> None:
    """The packed string reaches MLflow as one metric per block; the result Tune hands on is untouched (the
    JSON logger after the tracker writes all of it; TrimKeptResults cuts it last), with only two numbers."""
    from sweeps.tracking import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("packed")
    parent = client.create_run(exp).info.run_id
    trial = SimpleNamespace(trial_id="t1", config={}, status="TERMINATED")
    tracker = MlflowTracker(uri, exp, parent, {"dataset": "synthetic", "epochs": 2}, {"sweep": "packed"})
    tracker.setup()
    tracker.on_trial_start(0, [trial], trial)
    for epoch in (1, 2):
        result = pack_for_tune({"epoch": epoch, "val/acc": 0.5, **{f"grad_norm/block_{b}": b + epoch
                                                                    for b in range(20)}}, "val/acc")
        sent = dict(result)
        tracker.on_trial_result(0, [trial], trial, result)
        assert result == sent and set(result) == {"epoch", "val/acc", PACKED_KEY}
    tracker.on_trial_complete(0, [trial], trial)
    tracker.on_experiment_end([trial])
    run = client.search_runs([exp], "tags.trial_id = 't1'")[0]
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "grad_norm/block_19")] == [
        (1, 20.0), (2, 21.0)]
    assert run.data.tags["outcome"] == "completed" and tracker.last["t1"] == {"epoch": 2.0}
