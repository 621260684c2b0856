"""What limits a sweep at 100 GPUs and 10,000 trials, measured here: MLflow log_batch through the server on
PostgreSQL, Optuna TPE sampling against the number of finished trials, and the Tune driver's cost per
reported result and per experiment snapshot.

    python benchmarks/tracking_throughput.py [--quick]

Needs this machine's PostgreSQL (127.0.0.1:5432, trust auth, as the cluster tests); every database and
server it starts is removed at the end. Prints one markdown table (docs/scaling.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # resnet_core and sweeps without an install

from sweeps.testing.mlflow_auth import AuthMlflow, as_user  # noqa: E402
from sweeps.testing.mlflow_server import mlflow_server  # noqa: E402
from sweeps.testing.postgres import postgres_database  # noqa: E402

ROWS: list[tuple[str, str, str]] = []
METRICS_PER_EPOCH = 60  # a ResNet-56 epoch: losses, accuracies, lr and one gradient norm per block


def row(measure: str, setting: str, value: str) -> None:
    ROWS.append((measure, setting, value))
    print(f"  {measure} [{setting}]: {value}", flush=True)


def epoch_metrics(step: int) -> dict[str, float]:
    return {"epoch": float(step), "train/loss": 1.0 / step,
            **{f"grad_norm/block_{k}": 0.01 * k for k in range(METRICS_PER_EPOCH - 2)}}


# --- MLflow ---------------------------------------------------------------------------------------------

def log_batch_rate(url: str, clients: int, batches: int) -> tuple[float, float]:
    """(batches/s, median ms per call) for `clients` threads, each logging epochs into its own run."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(url)
    exp = client.create_experiment(f"bench-{clients}-{time.time_ns()}")
    runs = [client.create_run(exp).info.run_id for _ in range(clients)]
    latencies: list[float] = []

    def work(run_id: str) -> None:
        mine = MlflowClient(url)
        for step in range(1, batches + 1):
            now = int(time.time() * 1000)
            start = time.perf_counter()
            mine.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in epoch_metrics(step).items()])
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=work, args=(r,)) for r in runs]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return clients * batches / (time.perf_counter() - start), 1000 * statistics.median(latencies)


def measure_server(label: str, url: str, batches: int) -> None:
    for clients in (1, 4):
        rate, ms = log_batch_rate(url, clients, batches)
        row("MLflow log_batch, 60 metrics", f"{label}, {clients} client{'s' * (clients > 1)}",
            f"{rate:.1f} batches/s = {rate * METRICS_PER_EPOCH:.0f} metrics/s ({ms:.0f} ms median)")


@contextmanager
def auth_server(workdir: str, cache_s: int, workers: int):
    """The cluster tests' server: basic auth, runs and users in fresh PostgreSQL databases."""
    with postgres_database("bench_runs") as runs, postgres_database("bench_users") as users:
        server = AuthMlflow(workdir, runs, users, auth_cache_ttl_s=cache_s, extra_args=("--workers", str(workers)))
        server.start()
        try:
            with as_user(server):
                yield server
        finally:
            server.stop()


def mlflow_section(tmp: str, quick: bool) -> None:
    print("MLflow through the server, on PostgreSQL", flush=True)
    batches = 10 if quick else 60
    with auth_server(tmp, cache_s=60, workers=1) as server:
        measure_server("basic auth + login cache, 1 worker", server.url, batches)
        tune_section(server.url, quick)  # the tracker against the same server
    if quick:
        return
    with auth_server(tmp, cache_s=0, workers=1) as server:  # deploy/mlflow/basic_auth.ini as shipped
        measure_server("basic auth, no login cache, 1 worker", server.url, batches // 4)
    with auth_server(tmp, cache_s=60, workers=2) as server:
        measure_server("basic auth + login cache, 2 workers", server.url, batches)
    with postgres_database("bench_plain") as db, \
            mlflow_server(os.path.join(tmp, "plain"), db, env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}) as srv:
        measure_server("no auth, 1 worker", srv.url, batches)


# --- Optuna ---------------------------------------------------------------------------------------------

def degradation_space() -> dict:
    """The degradation spec's search space as Optuna distributions (what Ray's OptunaSearch asks with)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    return {"depth": CategoricalDistribution([20, 56, 110]), "residual": CategoricalDistribution([True, False]),
            "init": CategoricalDistribution(["kaiming", "xavier", "orthogonal"]),
            "lr": FloatDistribution(0.01, 0.5, log=True)}


def finished_trials(n: int, rng: random.Random) -> list:
    import optuna

    space = degradation_space()
    return [optuna.trial.create_trial(
        params={"depth": rng.choice([20, 56, 110]), "residual": rng.random() < 0.5,
                "init": rng.choice(["kaiming", "xavier", "orthogonal"]),
                "lr": math.exp(rng.uniform(math.log(0.01), math.log(0.5)))},
        distributions=space, value=rng.random()) for _ in range(n)]


def ask_ms(study, asks: int) -> float:
    """Median ms per study.ask(); the asked trials stay RUNNING, like trials in flight on a cluster."""
    space, times = degradation_space(), []
    for _ in range(asks):
        start = time.perf_counter()
        study.ask(space)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def optuna_section(tmp: str, quick: bool) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("Optuna TPE sampling", flush=True)
    sizes = (100, 1000) if quick else (100, 1000, 10000)
    samplers = {"TPE (the spec's)": {}, "TPE multivariate + constant_liar": {"multivariate": True,
                                                                              "constant_liar": True}}
    for label, kw in samplers.items():
        for n in sizes:
            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, **kw))
            study.add_trials(finished_trials(n, random.Random(0)))
            row("Optuna ask()", f"{label}, in memory, {n} finished", f"{ask_ms(study, 5):.1f} ms")
    if quick:
        return
    with postgres_database("bench_optuna") as uri:
        stores = {"JournalFileStorage": lambda n: optuna.storages.JournalStorage(
                      optuna.storages.journal.JournalFileBackend(os.path.join(tmp, f"journal-{n}.log"))),
                  "RDBStorage on PostgreSQL": lambda n: optuna.storages.RDBStorage(uri)}
        for label, make in stores.items():
            for n in ((1000,) if "RDB" in label else (1000, 10000)):  # 10k rows into PostgreSQL: minutes
                study = optuna.create_study(direction="maximize", storage=make(n), study_name=f"bench-{n}",
                                            sampler=optuna.samplers.TPESampler(seed=0))
                study.add_trials(finished_trials(n, random.Random(0)))
                row("Optuna ask()", f"TPE, {label}, {n} finished", f"{ask_ms(study, 3):.0f} ms")


# --- Tune driver ----------------------------------------------------------------------------------------

def reporter(config: dict) -> None:
    """A trial that does nothing but report `n` epochs of 60 metrics."""
    from ray import tune

    for step in range(1, config["n"] + 1):
        tune.report(epoch_metrics(step))


def fit(n: int, trials: int, storage: str, tracker=None) -> float:
    """Wall time of a Tune run of `trials` reporters (1 CPU each) reporting `n` results each."""
    from ray import tune

    start = time.perf_counter()
    tune.Tuner(tune.with_resources(reporter, {"cpu": 1}),
               param_space={"n": n, "i": tune.grid_search(list(range(trials)))},
               run_config=tune.RunConfig(storage_path=storage, callbacks=[tracker] if tracker else [],
                                         verbose=0)).fit()
    return time.perf_counter() - start


def timed_tracker(url: str, epochs: int):
    """Our MlflowTracker, timing what its on_trial_result costs the driver's loop."""
    from mlflow import MlflowClient

    from sweeps.tracking import MlflowTracker

    class Timed(MlflowTracker):
        spent, calls = 0.0, 0

        def on_trial_result(self, *args, **kwargs) -> None:
            start = time.perf_counter()
            super().on_trial_result(*args, **kwargs)
            Timed.spent, Timed.calls = Timed.spent + time.perf_counter() - start, Timed.calls + 1

    client = MlflowClient(url)
    exp = client.create_experiment(f"bench-tune-{time.time_ns()}")
    parent = client.create_run(exp).info.run_id
    return Timed(url, exp, parent, {"epochs": epochs, "dataset": "synthetic"}, {"sweep_role": "trial"})


def tune_section(url: str, quick: bool) -> None:
    """Per-result driver cost with and without the tracker; experiment snapshot cost at 1k and 10k trials."""
    import ray

    print("Tune driver", flush=True)
    small, big = (5, 60) if quick else (10, 200)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as storage:
            fit(small, 2, storage)  # warm-up: the first run also starts Ray's worker processes
            base = fit(small, 2, storage)
            marginal = (fit(big, 2, storage) - base) / (2 * (big - small))
            row("Tune driver, per reported result", "2 trials, no callback", f"{1000 * marginal:.1f} ms")
            tracker = timed_tracker(url, big)
            total = fit(big, 2, storage, tracker)
            stats = tracker.sender.stats
            row("MlflowTracker.on_trial_result", "driver loop, per result",
                f"{1000 * tracker.spent / max(1, tracker.calls):.2f} ms")
            row("MlflowTracker sender, per MLflow write", "background thread, auth server",
                f"{1000 * stats['send_s'] / max(1, stats['sent']):.1f} ms ({stats['sent']} writes, "
                f"{stats['max_buffered']} max buffered)")
            row("Tune run incl. final flush", f"2 trials x {big} results, with tracker", f"{total:.1f} s")
            snapshot_section(storage, quick)
    finally:
        ray.shutdown()


def snapshot_section(storage: str, quick: bool) -> None:
    """Tune rewrites the whole experiment state every snapshot: time one at 1k and 10k trials."""
    state_file = sorted(Path(storage).rglob("experiment_state-*.json"))[-1]
    state = json.loads(state_file.read_text())
    per_trial = len(json.dumps(state["trial_data"])) / len(state["trial_data"])
    row("Tune experiment state", "per trial (60 metrics each)", f"{per_trial / 1000:.1f} kB")
    for n in ((1000,) if quick else (1000, 10000)):
        trials = (state["trial_data"] * (n // len(state["trial_data"]) + 1))[:n]
        path = os.path.join(storage, f"snapshot-{n}.json")
        start = time.perf_counter()
        with open(path, "w") as fh:
            json.dump({**state, "trial_data": trials}, fh)
        os.remove(path)
        row("Tune experiment snapshot (json.dump)", f"{n} trials", f"{time.perf_counter() - start:.2f} s "
            f"({per_trial * n / 1e6:.0f} MB)")
    if not quick:
        import optuna

        study = optuna.create_study(direction="maximize")
        study.add_trials(finished_trials(10000, random.Random(0)))
        start = time.perf_counter()
        size = len(pickle.dumps(study))
        row("Optuna searcher snapshot (pickle)", "10000 trials, in memory",
            f"{time.perf_counter() - start:.2f} s ({size / 1e6:.0f} MB)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run in well under a minute (CI)")
    args = p.parse_args()
    # A local Ray with a fresh token of this process only (no ~/.ray/auth_token read or written), set before
    # Ray is imported, which reads it once; and the runner's 2 s experiment snapshot period.
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                       "TUNE_GLOBAL_CHECKPOINT_S": "2"})
    os.environ.pop("RAY_ADDRESS", None)
    import mlflow
    import optuna
    import ray

    started = time.time()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {platform.node()}: {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; mlflow {mlflow.__version__}, optuna {optuna.__version__}, ray {ray.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        mlflow_section(tmp, args.quick)
        optuna_section(tmp, args.quick)
    print("\n| measure | setting | value |\n|---|---|---|")
    order = ("MLflow", "Tune", "MlflowTracker", "Optuna")  # the table by component, whatever ran first
    for measure, setting, value in sorted(ROWS, key=lambda r: [r[0].startswith(o) for o in order].index(True)):
        print(f"| {measure} | {setting} | {value} |")
    print(f"\n{time.time() - started:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
