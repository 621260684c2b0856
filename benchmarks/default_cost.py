"""What a search + confirm spec costs in training: CPU-seconds per epoch of each arm, times the stages' epochs.

CPU time (not wall time) of one thread per trial, so the figure holds on a machine that other work loads;
divide by max_concurrent_trials for the training wall time on that many free cores. Ray start-up, Tune,
MLflow and the report come on top (measure those with `time resnet-sweep run SPEC`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import print_header, print_table  # noqa: E402

from resnet_core.config import make_config  # noqa: E402
from resnet_core.train import Trainer  # noqa: E402
from sweeps.search.arms import arms  # noqa: E402
from sweeps.spec import Confirm, load_spec  # noqa: E402


def epoch_cpu_s(fixed: dict, arm: dict, epochs: int) -> float:
    """Mean CPU-seconds of one epoch (train + eval) of this arm at the spec's fixed settings, over `epochs`."""
    cfg = make_config({**fixed, **arm, "epochs": epochs, "device": "cpu"})
    trainer = Trainer(cfg)
    start = time.process_time()
    for _ in trainer:
        pass
    return (time.process_time() - start) / epochs


def cpu_model() -> str:
    lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Model name")), "unknown")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec", nargs="?", default="degradation")
    p.add_argument("--epochs", type=int, default=1, help="epochs timed per arm")
    p.add_argument("--quick", action="store_true", help="the smoke spec's arms instead (CI size)")
    args = p.parse_args()
    spec = load_spec("smoke" if args.quick else args.spec)
    torch.set_num_threads(max(1, int(spec.resources_per_trial["cpu"])))
    print_header(f"training cost of spec {spec.name}", cpu=cpu_model(),
                 cpu_capability=torch.backends.cpu.get_cpu_capability())
    search_trials = spec.total_trials  # before any stand-in confirm stage: that would change the search budget
    if spec.confirm is None:  # a spec without a confirm stage: cost it as if it confirmed depth x residual
        spec = dataclasses.replace(spec, confirm=Confirm(2, ("depth", "residual")))
    names, rows, cost_of, work = list(spec.confirm.factors), [], {}, []  # work: (cpu_s per epoch, epochs) per arm
    for arm in arms(spec):  # with several budgets, each arm once per budget: timed once, costed at each budget
        key = tuple((n, arm[n]) for n in names)
        if key not in cost_of:
            cost_of[key] = epoch_cpu_s(spec.train, dict(key), args.epochs)
            rows.append([*(str(v) for _, v in key), cost_of[key]])
        work.append((cost_of[key], int(arm.get("epochs", spec.epochs))))
    print_table([*names, "cpu_s_per_epoch"], rows)
    seeds = spec.confirm.seeds
    confirm = seeds * sum(c * e for c, e in work)
    per_round = (search_trials / len(work)) * sum(c * e for c, e in work)  # no ASHA pruning: an upper bound
    cap = spec.rounds.max_rounds if spec.rounds else 1
    slots = spec.max_concurrent_trials
    print_table(["stage", "trials", "cpu_s", f"wall_s_on_{slots}_free_cores"],
                [["confirm", seeds * len(work), confirm, confirm / slots],
                 ["search, first round (no pruning)", search_trials, per_round, per_round / slots],
                 [f"search, at most ({cap} rounds, every arm)", search_trials * cap, per_round * cap,
                  per_round * cap / slots]])
    print(f"load average now: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
