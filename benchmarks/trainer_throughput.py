"""Training images/s of our Trainer against the usual pipeline, side by side in one run (issue 2, section 8).

    python benchmarks/trainer_throughput.py                  # ResNet-20 and -56 at 32x32, batch 128 (<10 min)
    python benchmarks/trainer_throughput.py --full           # more images and rounds, plus the digits trials
    python benchmarks/trainer_throughput.py --quick          # CI size: ResNet-8, few images, no compile

Rounds interleave the pipelines (reference, then every Trainer variant, repeated), so that a change in
machine load hits all of them alike; img/s is the median over rounds, best img/s the fastest round. Ours:
one epoch of warm-up (compilation included) before the timed epochs. Reference: `--warmup` steps per round
excluded (worker start-up). Both use torch's default thread count; the reference's DataLoader workers share
the same cores. Compile time is measured with a fresh inductor cache (cold: the first trial on a machine)
and again in a new process with that cache filled (warm: what later trials of a sweep on the machine pay).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import torch

import benchlib as B
import reference as R
from resnet_core import TrainConfig, Trainer

CIFAR_EPOCH = 45_000  # training images per CIFAR-10 epoch with the paper's 45k/5k split
DIGITS_EPOCHS = 15    # TrainConfig's default epochs: a typical digits trial


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=768, help="training images per timed round (multiple of 128)")
    p.add_argument("--depths", default="20,56", help="comma list of depths (6n+2)")
    p.add_argument("--precisions", default="fp32,bf16", help="comma list: fp32, bf16")
    p.add_argument("--compile", default="off,on", help="comma list: off, on")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds: short and many, so load spikes wash out")
    p.add_argument("--warmup", type=int, default=3, help="reference steps excluded at the start of each round")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference pipeline")
    p.add_argument("--device", default="auto", help="auto (cpu, plus cuda where present), cpu or cuda")
    p.add_argument("--digits", action=argparse.BooleanOptionalAction, default=False,
                   help="also time a digits trial (8x8) eager and compiled, to see if compile pays back there")
    p.add_argument("--quick", action="store_true", help="CI size: ResNet-8, 128 images, 1 round, compile off")
    p.add_argument("--full", action="store_true", help="longer: 1280 images x 5 rounds, plus the digits trials")
    known = p.parse_known_args(argv)[0]
    if known.full:
        p.set_defaults(images=1280, rounds=5, digits=True)
    if known.quick:  # CI sizes become the defaults; flags still win
        p.set_defaults(images=128, depths="8", rounds=1, compile="off", digits=False, warmup=1)
    args = p.parse_args(argv)
    args.images = max(R.BATCH, args.images // R.BATCH * R.BATCH)  # whole batches: no partial-batch recompile
    return args


def bench_config(depth: int, precision: str, compiled: bool, epochs: int, device: torch.device) -> TrainConfig:
    """Our Trainer with its defaults (channels_last, fused SGD, on-device data), for in-memory CIFAR-shaped data."""
    return TrainConfig(dataset="synthetic", depth=depth, epochs=epochs, batch_size=R.BATCH, precision=precision,
                       compile=compiled, device=device.type, eval_batch_size=256)


def epoch_train_s(trainer: Trainer) -> float:
    """Run one Trainer epoch (training plus a small evaluation); return the training phase's seconds."""
    m = trainer.run_epoch()
    return len(trainer.data.train.y) / m["throughput/img_per_s"]


def reference_round(model, opt, loader, device: torch.device, warmup: int, steps: int) -> float:
    """Images/s of one reference round: a fresh pass over the loader, warm-up steps excluded."""
    seconds, _ = R.train_steps(model, opt, loader, device, warmup, steps)
    B.sync(device)
    return steps * R.BATCH / seconds


def trial_epochs(cfg: TrainConfig, images: int, epochs: int) -> list[float]:
    """Training seconds of each epoch of a fresh Trainer; images=0 loads cfg's own data set."""
    trainer = Trainer(cfg, data=B.cifar_like(images, 256) if images else None)
    return [epoch_train_s(trainer) for _ in range(epochs)]


def in_new_process(cfg: TrainConfig, images: int = 0, epochs: int = 2) -> list[float]:
    """trial_epochs in a fresh interpreter, as a new trial starts: in-memory compile caches empty, the disk's shared."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(trial_epochs, cfg, images, epochs).result()


def measure_depth(depth: int, device: torch.device, precisions: list[str], args) -> tuple[dict, dict, dict]:
    """img/s per round for each pipeline variant, each Trainer variant's first-epoch seconds (cold inductor
    cache), and, for compiled variants, the first and second epoch of a new trial process (warm cache)."""
    steps = args.images // R.BATCH
    variants = [(p, c == "on") for p in precisions for c in args.compile.split(",")]
    ref_data = B.cifar_like(args.images + args.warmup * R.BATCH, 0)
    model, opt = R.make_model_and_optimizer(depth, device)
    loader = R.make_loader(ref_data.train.x, ref_data.train.y, True, args.workers, pin=device.type == "cuda")
    trainers = {v: Trainer(bench_config(depth, *v, args.rounds + 1, device), data=B.cifar_like(args.images, 256))
                for v in variants}
    first = {v: epoch_train_s(t) for v, t in trainers.items()}  # warm-up epoch: compile, allocator, oneDNN
    rates: dict = {"reference": []} | {v: [] for v in variants}
    for _ in range(args.rounds):
        rates["reference"].append(reference_round(model, opt, loader, device, args.warmup, steps))
        for v, t in trainers.items():
            rates[v].append(args.images / epoch_train_s(t))
    del loader, trainers  # stop the workers, free the models
    warm = {v: in_new_process(bench_config(depth, *v, 2, device), args.images) for v in variants if v[1]}
    return rates, first, warm


def compile_s(first: float, steady: float, eager_first: float, eager_steady: float) -> float:
    """Compilation seconds: the compiled trial's first-epoch excess over a steady epoch, less eager's excess."""
    return (first - steady) - (eager_first - eager_steady)


def compile_rows(device: torch.device, depth: int, rate: dict, first: dict, warm: dict, images: int) -> list[list]:
    """Compile seconds (cold and warm inductor cache) and how many images it takes to win each back."""
    rows = []
    for prec, _ in warm:
        c, e = (prec, True), (prec, False)
        if e not in first:
            continue
        eager = (first[e], images / rate[e])
        cold_s = compile_s(first[c], images / rate[c], *eager)
        warm_s = compile_s(*warm[c], *eager)
        saved_per_image = 1 / rate[e] - 1 / rate[c]
        payback = [s / saved_per_image if saved_per_image > 0 else float("inf") for s in (cold_s, warm_s)]
        rows.append([device.type, depth, prec, cold_s, warm_s, rate[e], rate[c], *payback,
                     payback[0] / CIFAR_EPOCH])
    return rows


def digits_trial_rows(precisions: list[str], args) -> list[list]:
    """ResNet-20 on the real 8x8 digits (CPU): what a default 15-epoch trial costs, eager and compiled."""
    rows = []
    for prec in precisions:
        for compiled in [c == "on" for c in args.compile.split(",")]:
            cfg = TrainConfig(dataset="digits", depth=20, precision=prec, compile=compiled, device="cpu")
            for cache in (["cold", "warm"] if compiled else ["-"]):  # compiled: a new process each, as trials are
                first, *rest = in_new_process(cfg, epochs=3) if compiled else trial_epochs(cfg, 0, 3)
                steady = B.median(rest)
                rows.append(["cpu", prec, "on" if compiled else "off", cache, first, steady,
                             first + (DIGITS_EPOCHS - 1) * steady])
    return rows


def speed_rows(device: torch.device, depth: int, rates: dict) -> list[list]:
    """One row per pipeline variant: median and best img/s over the rounds, and their ratios to the reference's."""
    ref = rates["reference"]
    rows = []
    for v, r in rates.items():
        name, prec, compiled = ("reference", "fp32", False) if v == "reference" else ("ours", *v)
        rows.append([device.type, depth, name, prec, "on" if compiled else "off", B.median(r), max(r),
                     B.median(r) / B.median(ref), max(r) / max(ref)])
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # A fresh inductor cache, so the first compile of each graph is cold as in a trial on a new machine.
    cache_dir = os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-bench-")
    B.print_header("Training throughput: our Trainer vs the usual pipeline (ResNet, 32x32, batch 128)",
                   images_per_round=args.images, rounds=args.rounds, reference=f"PIL + torchvision transforms, "
                   f"DataLoader {args.workers} workers, fp32, SGD, .item() per step")
    table, comp = [], []
    for device in B.devices(args.device):
        precisions = B.native_precisions(args.precisions.split(","), device)
        for depth in map(int, args.depths.split(",")):
            t0 = time.perf_counter()
            rates, first, warm = measure_depth(depth, device, precisions, args)
            table += speed_rows(device, depth, rates)
            comp += compile_rows(device, depth, {k: B.median(v) for k, v in rates.items()}, first, warm, args.images)
            print(f"measured {device.type} depth {depth} in {time.perf_counter() - t0:.0f} s", flush=True)
    print()
    B.print_table(["device", "depth", "pipeline", "precision", "compile", "img/s", "best img/s", "vs reference",
                   "best vs best"], table)
    if comp:
        B.print_table(["device", "depth", "precision", "compile s (cold cache)", "compile s (warm cache)",
                       "eager img/s", "compiled img/s", "payback images (cold)", "payback images (warm)",
                       "payback CIFAR epochs (cold)"], comp)
    if args.digits:
        B.print_table(["device", "precision", "compile", "inductor cache", "first epoch s", "steady epoch s",
                       f"{DIGITS_EPOCHS}-epoch trial s"],
                      digits_trial_rows(B.native_precisions(args.precisions.split(","), torch.device("cpu")), args))
    shutil.rmtree(cache_dir, ignore_errors=True)
    print("loadavg at the end (1, 5, 15 min):", ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
