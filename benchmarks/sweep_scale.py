"""Load test of the real sweep driver: Tune, our MlflowTracker and an `mlflow server` (basic auth with the
login cache, PostgreSQL), fed by trials that report ResNet-110-shaped results and sleep instead of training.

    python benchmarks/sweep_scale.py [--trials 2000 --epochs 10 --concurrency 32 --epoch-s 0.25] [--quick]

Needs this machine's PostgreSQL (127.0.0.1:5432, trust auth); every database and server it starts is
removed at the end. Prints one markdown table (docs/scaling.md quotes it) and an exactly-once audit.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # resnet_core and sweeps without an install

from sweeps.testing.mlflow_auth import AuthMlflow, as_user  # noqa: E402
from sweeps.testing.postgres import PG_ADMIN, database_name, postgres_database  # noqa: E402

BLOCKS = 56  # ResNet-110: stem, 54 residual blocks, head


def epoch_result(epoch: int, epochs: int) -> dict:
    """One epoch's metrics as the trainer reports them for ResNet-110 (66 numbers; 68 on the last epoch).

    Built here rather than by resnet_core.diagnostics, which imports torch: 32 trial processes importing
    torch at once would measure this machine's start-up, not the driver.
    """
    acc = 1 - 0.5 / epoch
    out = {"epoch": epoch, "train/loss": 1 / epoch, "train/acc": acc, "train/error": 1 - acc, "train/lr": 0.1,
           "val/loss": 1.1 / epoch, "val/acc": acc - 0.01, "time/epoch_s": 0.25, "throughput/img_per_s": 2e5,
           **{f"grad_norm/block_{b}": 0.01 * (b + 1) * epoch for b in range(BLOCKS)},
           "grad_norm/ratio_first_last": 2 / (BLOCKS - 2)}
    if epoch == epochs:
        out |= {"test/acc": acc - 0.02, "train/diverged": 0.0}
    return out


def shaped(metrics: dict) -> dict:
    """What the trainable hands tune.report: the metrics plus where it ran (strings the tracker makes tags)."""
    return {**metrics, "hardware": "cpu", "node_id": "bench", "resources": "CPU=1", "precision_used": "fp32"}


def sleeper(config: dict) -> None:
    """A trial that reports `epochs` ResNet-110-shaped results, `epoch_s` seconds apart."""
    from ray import tune

    from sweeps.trial.reports import pack_for_tune

    for epoch in range(1, config["epochs"] + 1):
        time.sleep(config["epoch_s"])
        tune.report(pack_for_tune(shaped(epoch_result(epoch, config["epochs"])), "val/acc"))  # as the trainable


class Clock:
    """When each result reached the driver and when each epoch reached MLflow (first successful write)."""

    def __init__(self):
        self.reported: list[float] = []
        self.stored: dict[tuple[str, int], tuple[float, float]] = {}  # (run, step) -> (stored at, lag s)
        self.flush_s = 0.0
        self.watching = True  # off for the sender-alone backlog afterwards

    def watch_log_batch(self) -> None:
        """Time every MlflowClient.log_batch that carries an epoch (whichever sender thread sends it)."""
        from mlflow import MlflowClient

        original = MlflowClient.log_batch
        clock = self

        def log_batch(client, run_id, metrics=(), *args, **kwargs):
            out = original(client, run_id, metrics, *args, **kwargs)
            now = time.time()
            for m in metrics if clock.watching else ():
                if m.key == "epoch":
                    clock.stored.setdefault((run_id, m.step), (now, now - m.timestamp / 1000))
            return out

        MlflowClient.log_batch = log_batch


def timed_tracker(sweep, clock: Clock):
    """The runner's tracker, noting when each result arrived and how long the final flush took."""
    from sweeps.engine.tuners import make_tracker

    tracker = make_tracker(sweep)

    class Timed(type(tracker)):
        def on_trial_result(self, *args, **kwargs) -> None:
            clock.reported.append(time.time())
            super().on_trial_result(*args, **kwargs)

        def on_experiment_end(self, *args, **kwargs) -> None:
            start = time.perf_counter()
            super().on_experiment_end(*args, **kwargs)
            clock.flush_s = time.perf_counter() - start

    tracker.__class__ = Timed
    return tracker


def make_sweep(url: str, folder: str, args):
    """A real sweep: spec, MLflow experiment and parent run, as `resnet-sweep run` opens them."""
    from sweeps.engine.runner import open_parent_run
    from sweeps.storage.state import Sweep
    from sweeps.spec import parse_spec

    spec = parse_spec({"name": "sweep_scale", "dataset": "synthetic", "train": {"depth": 110, "epochs": args.epochs},
                       "search_space": {"lr": {"loguniform": [0.01, 0.5]}}, "search": "random", "scheduler": "none",
                       "num_samples": args.trials, "max_concurrent_trials": args.concurrency, "max_failures": 0})
    experiment_id, parent = open_parent_run(spec, url, folder)
    return Sweep(spec, folder, url, experiment_id, parent)


def run_sweep(sweep, tracker, args) -> float:
    """The runner's Tune setup around the sleeping trainable; returns the driver's CPU seconds."""
    from ray import tune

    from sweeps.engine import tuners as runner
    from sweeps.search import searchers
    from sweeps.search.space import param_space

    spec = sweep.spec
    space = {**param_space(spec), "epochs": args.epochs, "epoch_s": args.epoch_s}
    tune_config = tune.TuneConfig(metric=spec.metric, mode=spec.mode, search_alg=searchers.search_alg(spec),
                                  num_samples=spec.num_samples, max_concurrent_trials=spec.max_concurrent_trials,
                                  reuse_actors=True)
    before = resource.getrusage(resource.RUSAGE_SELF)
    tune.Tuner(tune.with_resources(sleeper, {"cpu": 1}), param_space=space, tune_config=tune_config,
               run_config=runner.run_config(sweep, sweep.path, "search", tracker)).fit()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def drain_rate(url: str, trials: int, epochs: int) -> tuple[float, int]:
    """(results/s, writes) of the sender emptying a backlog: `trials` runs' creates, epochs and ends queued at once.

    The live sweep shows whether tracking keeps up with what Tune produces here; this shows the sender's own
    ceiling against the same server, which the live rate cannot once the sender keeps up.
    """
    from mlflow import MlflowClient

    from sweeps.tracking import Sender

    client = MlflowClient(url)
    experiment_id = client.create_experiment(f"drain-{time.time_ns()}")
    parent = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    ops = [op for t in range(trials) for op in
           [("create", f"d{t}", {"lr": 0.1}, {"trial_name": f"d{t}"}, now)]
           + [("metrics", f"d{t}", e, epoch_result(e, epochs), now + e) for e in range(1, epochs + 1)]
           + [("end", f"d{t}", "completed", "FINISHED", now + epochs + 1)]]
    start = time.perf_counter()
    sender = Sender(url, experiment_id, parent, ops, search_first=False)  # new trial ids, as in a fresh sweep
    assert sender.flush(3600), "the backlog did not drain in an hour"
    sender.stop()
    return trials * epochs / (time.perf_counter() - start), len(ops)


def audit(db_uri: str, sweep, args) -> dict:
    """Exactly-once, read straight from MLflow's PostgreSQL: one run per trial, each epoch's metrics once."""
    import psycopg2

    per_trial = sum(len(epoch_result(e, args.epochs)) for e in range(1, args.epochs + 1))
    conn = psycopg2.connect(f"{PG_ADMIN}/{database_name(db_uri)}")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                        "WHERE t.key = 'mlflow.parentRunId' AND t.value = %s", (sweep.parent_run_id,))
            runs = dict(cur.fetchall())
            cur.execute("SELECT count(*), count(*) FILTER (WHERE n > 1) FROM (SELECT count(*) n FROM metrics "
                        "WHERE run_uuid = ANY(%s) GROUP BY run_uuid, key, step) t", (list(runs),))
            distinct, doubled = cur.fetchone()
    finally:
        conn.close()
    return {"runs": len(runs), "running": sum(s == "RUNNING" for s in runs.values()),
            "expected": args.trials * per_trial, "lost": args.trials * per_trial - distinct, "doubled": doubled}


def state_figures(folder: str, tracker) -> tuple[float, float, float]:
    """(Tune state bytes per trial, tracker state bytes per trial, seconds to write both once)."""
    state_file = sorted(Path(folder).rglob("experiment_state-*.json"))[-1]
    state = json.loads(state_file.read_text())
    trials = len(state["trial_data"])
    start = time.perf_counter()
    with tempfile.TemporaryFile("w") as fh:
        json.dump(state, fh)
    tracker_bytes = len(pickle.dumps(tracker.get_state()))
    snapshot_s = time.perf_counter() - start
    return len(json.dumps(state["trial_data"])) / trials, tracker_bytes / trials, snapshot_s


def report(args, clock: Clock, cpu_s: float, figures: tuple, found: dict, drained: tuple) -> None:
    n = len(clock.reported)
    first, last_report = min(clock.reported), max(clock.reported)
    last_stored = max(t for t, _ in clock.stored.values())
    lags = sorted(lag for _, lag in clock.stored.values())
    produced, tracked = n / (last_report - first), len(clock.stored) / (last_stored - first)
    tune_bytes, tracker_bytes, snapshot_s = figures
    rows = [("results/s Tune produced", f"{produced:.1f}"),
            ("results/s that reached MLflow", f"{tracked:.1f} ({100 * tracked / produced:.0f}% of produced)"),
            ("lag report -> MLflow, median / p99", f"{statistics.median(lags):.2f} s / "
                                                   f"{lags[int(0.99 * (len(lags) - 1))]:.2f} s"),
            ("driver CPU per result", f"{1000 * cpu_s / n:.1f} ms"),
            ("Tune state per trial", f"{tune_bytes / 1000:.1f} kB (+ tracker {tracker_bytes / 1000:.2f} kB)"),
            ("snapshot (json.dump + tracker state)", f"{snapshot_s:.2f} s at {args.trials} trials"),
            ("final flush", f"{clock.flush_s:.1f} s"),
            ("sender alone, emptying a backlog", f"{drained[0]:.1f} results/s ({args.drain} trials x "
                                                 f"{args.epochs} epochs, {drained[1]} writes queued)"),
            ("exactly-once audit", f"{found['runs']} runs ({found['running']} RUNNING), {found['expected']} metric "
                                   f"points expected: {found['lost']} lost, {found['doubled']} doubled")]
    print(f"\n{args.trials} trials x {args.epochs} epochs, {args.concurrency} at once, {args.epoch_s} s per epoch\n")
    print("| measure | value |\n|---|---|")
    for measure, value in rows:
        print(f"| {measure} | {value} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=32, help="trials at once (Ray CPUs: one per trial)")
    p.add_argument("--epoch-s", type=float, default=0.25, help="seconds each fake epoch sleeps")
    p.add_argument("--drain", type=int, default=200, help="trials in the sender-alone backlog")
    p.add_argument("--quick", action="store_true", help="20 trials x 3 epochs, 4 at once: a smoke run")
    args = p.parse_args()
    if args.quick:
        args.trials, args.epochs, args.concurrency, args.drain = 20, 3, 4, 20
    # A local Ray with a fresh token of this process only, set before Ray is imported, which reads it once;
    # and the runner's 2 s experiment snapshot period.
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                       "TUNE_GLOBAL_CHECKPOINT_S": "2", "RAY_AIR_NEW_OUTPUT": "0"})
    os.environ.pop("RAY_ADDRESS", None)
    import mlflow
    import ray

    started = time.time()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {platform.node()}: {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; mlflow {mlflow.__version__}, ray {ray.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, postgres_database("scale_runs") as runs_db, \
            postgres_database("scale_users") as users_db:
        server = AuthMlflow(tmp, runs_db, users_db, auth_cache_ttl_s=60)
        server.start()
        try:
            with as_user(server):
                clock = Clock()
                clock.watch_log_batch()
                sweep = make_sweep(server.url, os.path.join(tmp, "tune", "sweep_scale"), args)
                tracker = timed_tracker(sweep, clock)
                ray.init(num_cpus=args.concurrency, include_dashboard=False, log_to_driver=False)
                try:
                    cpu_s = run_sweep(sweep, tracker, args)
                finally:
                    ray.shutdown()
                figures = state_figures(sweep.path, tracker)
                found = audit(runs_db, sweep, args)
                clock.watching = False
                drained = drain_rate(server.url, args.drain, args.epochs)
        finally:
            server.stop()
    report(args, clock, cpu_s, figures, found, drained)
    print(f"\n{time.time() - started:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
