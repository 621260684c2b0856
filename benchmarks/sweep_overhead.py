"""What a sweep costs on top of training: the same configurations back to back in plain resnet_core,
then through the sweep machinery (Ray Tune + the MLflow tracker), one trial at a time, in one run.

    python benchmarks/sweep_overhead.py [--epochs 5] [--tracking-uri URI] [--quick]

Prints the per-trial overhead (s) and the per-epoch reporting cost (ms): on the trial's side
(tune.report and checkpointing, from Tune's time_this_iter_s minus our own epoch time) and on the
driver's side (MLflow log_batch in the tracker's sender thread, asynchronous to training).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from resnet_core import make_config  # noqa: E402
from resnet_core.train import Trainer  # noqa: E402
from sweeps.spec import parse_spec  # noqa: E402


def spec_for(epochs: int, name: str) -> dict:
    """8 configurations: depth 8/14 x residual on/off x two learning rates, on synthetic data."""
    return {"name": name, "dataset": "synthetic", "train": {"epochs": epochs, "batch_size": 64},
            "search_space": {"depth": {"grid": [8, 14]}, "residual": {"grid": [True, False]},
                             "lr": {"grid": [0.05, 0.1]}},
            "search": "grid", "scheduler": "none", "max_concurrent_trials": 1, "checkpoint_every": epochs,
            "resources_per_trial": {"cpu": 1, "gpu": 0}}


def configs(spec) -> list[dict]:
    dims = spec.search_space
    return [{"depth": d, "residual": r, "lr": lr} for d in dims["depth"].values for r in dims["residual"].values
            for lr in dims["lr"].values]


def plain(spec) -> tuple[float, list[float]]:
    """Wall time per configuration trained in this process with one thread, as a trial gets."""
    torch.set_num_threads(1)
    walls = []
    for params in configs(spec):
        start = time.perf_counter()
        for _ in Trainer(make_config({**spec.train, **params, "seed": 0})):
            pass
        walls.append(time.perf_counter() - start)
    return sum(walls), walls


def swept(spec, tracking_uri: str, storage: str) -> dict:
    """The same configurations through Tune and the MLflow tracker; Ray start and finalize timed apart."""
    import ray

    from sweeps.tracking.finalize import finalize
    from sweeps.trial.reports import unpack  # the trainable packs its own timings for Tune
    from sweeps.engine.runner import prepare_run
    from sweeps.engine.tuners import make_tracker, tuner_for

    t0 = time.perf_counter()
    sweep = prepare_run(spec, None, tracking_uri, storage)
    t1 = time.perf_counter()
    tracker = make_tracker(sweep)
    results = tuner_for(sweep, restore=False, tracker=tracker).fit()
    t2 = time.perf_counter()
    finalize(sweep, results)
    t3 = time.perf_counter()
    ray.shutdown()
    # Tune's time between reports minus our own epoch time: the first one also holds the trial's set-up,
    # the last one its checkpoint; the ones between are the pure per-epoch reporting cost.
    trials = [[unpack(row) for row in r.metrics_dataframe.to_dict("records")] for r in results]
    gaps = [[row["time_this_iter_s"] - row["time/epoch_s"] for row in rows] for rows in trials]
    middle = [g for trial in gaps for g in trial[1:-1]]
    return {"ray_and_parent_s": t1 - t0, "fit_s": t2 - t1, "finalize_s": t3 - t2,
            "trial_report_ms": 1000 * sum(middle) / max(1, len(middle)),
            "setup_s": sum(t[0] for t in gaps) / len(gaps), "checkpoint_s": sum(t[-1] for t in gaps) / len(gaps),
            "driver_send_ms": 1000 * tracker.sender.stats["send_s"] / max(1, tracker.sender.stats["sent"]),
            "sent": tracker.sender.stats["sent"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--tracking-uri", default=None, help="default: a fresh sqlite file in a temp folder")
    p.add_argument("--quick", action="store_true", help="3 epochs (for CI)")
    args = p.parse_args()
    epochs = 3 if args.quick else args.epochs
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.tracking_uri or f"sqlite:///{os.path.join(tmp, 'mlflow.db')}"
        spec = parse_spec(spec_for(epochs, f"overhead_{int(time.time())}"))
        plain_s, walls = plain(spec)
        s = swept(spec, uri, os.path.join(tmp, "runs"))
    n = len(walls)
    per_trial = (s["fit_s"] - plain_s) / n
    print(f"load average {os.getloadavg()[0]:.2f}; {n} configurations x {epochs} epochs; tracking {uri.split(':')[0]}")
    print(f"{'measure':48s} {'value':>10s}")
    rows = [("plain resnet_core, total training (s)", plain_s), ("through resnet-sweep, Tune fit (s)", s["fit_s"]),
            ("per-trial overhead (s) [goal < 2]", per_trial),
            ("per-epoch report cost in the trial (ms) [goal < 20]", s["trial_report_ms"]),
            ("per-epoch MLflow log_batch on the driver (ms, async)", s["driver_send_ms"]),
            ("trial set-up inside the trial: data, model (s)", s["setup_s"]),
            ("final checkpoint: save + persist (s)", s["checkpoint_s"]),
            ("Ray start + parent run, once per sweep (s)", s["ray_and_parent_s"]),
            ("finalize: summary + best model, once (s)", s["finalize_s"])]
    for name, value in rows:
        print(f"{name:48s} {value:10.3f}")


if __name__ == "__main__":
    main()
