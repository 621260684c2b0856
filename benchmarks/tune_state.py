"""Tune's state per trial, and its floor: what one trial adds to every experiment snapshot, and of what.

    python benchmarks/tune_state.py

Three trainables of 10 epochs go through the runner's RunConfig (tracker slot empty, no MLflow) on a local
Ray: ours (a packed ResNet-110 result, as sweep_scale.py reports it), one reporting `epoch` and the metric,
and one reporting the metric alone, the least any trainable an Optuna search can score may report. Prints
the bytes per trial as sweep_scale.py counts them (json.dumps of `trial_data`) and the largest parts.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

EPOCHS = 10


def packed(config: dict) -> None:
    from ray import tune

    from sweep_scale import epoch_result, shaped
    from sweeps.trial.reports import pack_for_tune

    for epoch in range(1, EPOCHS + 1):
        tune.report(pack_for_tune(shaped(epoch_result(epoch, EPOCHS)), "val/acc"))


def epoch_and_metric(config: dict) -> None:
    from ray import tune

    for epoch in range(1, EPOCHS + 1):
        tune.report({"epoch": epoch, "val/acc": 0.5})


def metric_only(config: dict) -> None:
    from ray import tune

    for _ in range(EPOCHS):
        tune.report({"val/acc": 0.5})


def parts(text: str) -> dict[str, int]:
    """Bytes of each field of one of a trial's two JSON documents, escaped as in the snapshot."""
    return {k: len(json.dumps(json.dumps(v, indent=2))) for k, v in json.loads(text).items()}


def measure(trainable, folder: str) -> str:
    """One table row: state per trial, the keys Tune aggregates, the largest parts."""
    from ray import tune

    from sweeps.engine import tuners as runner
    from sweeps.storage.state import Sweep
    from sweeps.spec import parse_spec

    spec = parse_spec({"name": "tune_state", "dataset": "synthetic", "train": {"depth": 110, "epochs": EPOCHS},
                       "search_space": {"lr": {"loguniform": [0.01, 0.5]}}, "search": "random",
                       "scheduler": "none", "num_samples": 4, "max_concurrent_trials": 2, "max_failures": 0})
    sweep = Sweep(spec, os.path.join(folder, trainable.__name__), "unused", "0", "unused", verbose=False)
    tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space={"lr": tune.loguniform(0.01, 0.5)},
               tune_config=tune.TuneConfig(metric="val/acc", mode="max", num_samples=4),
               run_config=runner.run_config(sweep, sweep.path, "search", tracker=tune.Callback())).fit()
    state = json.loads(sorted(Path(sweep.path).rglob("experiment_state-*.json"))[-1].read_text())
    trial_json, metadata_json = state["trial_data"][-1]
    sizes = {**{f"trial.{k}": v for k, v in parts(trial_json).items()},
             **{f"metadata.{k}": v for k, v in parts(metadata_json).items()}}
    largest = ", ".join(f"{k} {v}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:6])
    aggregated = list(json.loads(metadata_json)["metric_analysis"])
    per_trial = len(json.dumps(state["trial_data"])) / len(state["trial_data"])
    return f"| {trainable.__name__} | {per_trial / 1000:.2f} kB | {len(aggregated)}: {', '.join(aggregated)} | {largest} |"


def main() -> None:
    # Workers import this file's helpers by module name; a fresh token of this process only, as sweep_scale.py.
    os.environ.update({"PYTHONPATH": f"{ROOT / 'benchmarks'}:{ROOT}", "RAY_AUTH_MODE": "token",
                       "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_AIR_NEW_OUTPUT": "0"})
    os.environ.pop("RAY_ADDRESS", None)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [measure(trainable, tmp) for trainable in (packed, epoch_and_metric, metric_only)]
    finally:
        ray.shutdown()
    print(f"\nray {ray.__version__}, {EPOCHS} epochs a trial\n")
    print("| trainable | state per trial | keys Tune aggregates | largest parts (bytes) |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
