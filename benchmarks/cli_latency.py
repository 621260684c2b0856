"""How long the everyday read-only commands take to answer: `resnet-sweep best` on a 24-run sqlite store,
and the import time of the command line itself.

    python benchmarks/cli_latency.py [--code PATH ...] [--repeat 3]

Builds a sqlite MLflow store in a temporary folder shaped like a finished `degradation` sweep (one parent
run, 24 trial runs with every config param, 8 epochs of 60 metrics each, outcome tags), then runs
`python -m sweeps.cli best` against it and `python -X importtime` on the CLI modules. --code, repeated,
runs several checkouts' code (e.g. the main branch and this one) against the same store, interleaved.
Prints measured numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # resnet_core and sweeps without an install

EXPERIMENT, TRIALS, EPOCHS = "degradation", 24, 8
BLOCKS = 27  # ResNet-56: one gradient norm per residual block, as the trials log them


def build_store(folder: str) -> str:
    """A sqlite store holding one finished sweep of TRIALS trial runs under a parent run; its URI."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    from resnet_core.config import make_config

    uri = f"sqlite:///{folder}/mlflow.db"
    client, rng = MlflowClient(uri), random.Random(0)
    exp = client.create_experiment(EXPERIMENT)
    parent = client.create_run(exp, tags={"sweep": EXPERIMENT, "sweep_role": "parent"}).info.run_id
    client.log_batch(parent, params=[Param("metric", "val/acc"), Param("mode", "max")])
    for i in range(TRIALS):
        cfg = make_config(dataset="digits", depth=rng.choice([20, 56, 110]), residual=rng.random() < 0.5,
                          lr=round(rng.uniform(0.01, 0.5), 4), epochs=EPOCHS, seed=i % 3)
        tags = {MLFLOW_PARENT_RUN_ID: parent, "sweep": EXPERIMENT, "sweep_role": "trial", "stage": "search",
                "trial_id": f"t{i:05d}", "outcome": "completed"}
        run = client.create_run(exp, tags=tags).info.run_id
        client.log_batch(run, params=[Param(k, str(v)) for k, v in cfg.to_dict().items()])
        for epoch in range(1, EPOCHS + 1):
            values = {"epoch": epoch, "train/error": rng.random(), "train/loss": rng.random(),
                      "val/acc": rng.random(), "val/loss": rng.random(), "test/acc": rng.random()}
            values |= {f"grad_norm/block_{b}": rng.random() for b in range(BLOCKS)}
            values |= {f"extra/m{j}": rng.random() for j in range(60 - len(values))}
            client.log_batch(run, metrics=[Metric(k, float(v), 0, epoch) for k, v in values.items()])
        client.log_batch(run, tags=[RunTag("outcome", "completed")])
        client.set_terminated(run, "FINISHED")
    client.set_terminated(parent, "FINISHED")
    return uri


def env_for(code: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env["PYTHONPATH"] = str(code)  # ahead of the installed (editable) package
    return env


def wall_s(cmd: list[str], env: dict, cwd: str) -> float:
    """Wall seconds of one run of cmd; fails loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def import_s(modules: str, env: dict, cwd: str) -> tuple[float, list[str]]:
    """Cumulative import time of modules (python -X importtime) and which heavy libraries they pulled in."""
    heavy = ("torch", "ray", "optuna", "matplotlib", "scipy", "pandas", "mlflow", "sklearn")
    code = f"import sys, {modules}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, check=True)
    wanted, total, counting = {m.strip() for m in modules.split(",")}, 0, False
    for line in done.stderr.splitlines():  # a top-level import: one space before its name; Python's own start-up first
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            counting = counting or parts[2].strip() in wanted
            total += int(parts[1]) if counting else 0
    return total / 1e6, [m for m in done.stdout.strip().split(",") if m]


def cpu() -> str:
    try:
        names = [ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")]
        return f"{names[0]} x{len(names)}"
    except (OSError, IndexError):
        return platform.processor() or platform.machine()


def measure(env: dict, cwd: str, uri: str) -> list[tuple[str, float, str]]:
    """One round of every measurement with one checkout's code: (label, seconds, note)."""
    rows = []
    for label, modules in (("import sweeps.cli", "sweeps.cli.resnet_sweep"),
                           ("import for `best`", "sweeps.cli.resnet_sweep, sweeps.cli.commands, sweeps.cli.best, "
                                                 "sweeps.tracking.runs"),
                           ("import for `report`", "sweeps.cli.resnet_sweep, dashboards.report.build"),
                           ("import for `reproduce`", "sweeps.cli.resnet_sweep, sweeps.reproduce")):
        took, heavy = import_s(modules, env, cwd)
        rows.append((label, took, f"loads {', '.join(heavy) or 'none of the heavy libraries'}"))
    took = wall_s([sys.executable, "-m", "sweeps.cli", "best", EXPERIMENT, "--tracking-uri", uri], env, cwd)
    return rows + [("resnet-sweep best (wall)", took, f"{TRIALS}-run sqlite store")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, action="append",
                    help="checkout whose code to time; repeat it to compare, rounds interleaved (default: this one)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each measurement (default 3)")
    args = ap.parse_args()
    codes = [c.resolve() for c in args.code or [ROOT]]
    print(f"# cli latency ({cpu()}, Python {platform.python_version()}, {os.cpu_count()} CPUs seen)")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        uri = build_store(tmp)
        print(f"store: {TRIALS} trial runs x {EPOCHS} epochs x 60 metrics, built in {time.perf_counter() - start:.1f} s")
        results: dict = {}
        for _ in range(args.repeat):  # interleaved, so that load from elsewhere on the machine hits every checkout
            for code in codes:
                for label, took, note in measure(env_for(code), tmp, uri):
                    results.setdefault((str(code), label), ([], note))[0].append(took)
    print("| code | measure | median s | min s | max s | note |\n|---|---|---|---|---|---|")
    for (code, label), (times, note) in results.items():
        print(f"| {code} | {label} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | {note} |")


if __name__ == "__main__":
    main()
