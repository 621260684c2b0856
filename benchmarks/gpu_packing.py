"""Trials per hour with 1, 2 and 4 ResNet-20 trials sharing one GPU, as Ray's fractional GPUs do (issue 6, §2).

    python benchmarks/gpu_packing.py               # on CUDA: 10,000-image trials, 5 epochs each
    python benchmarks/gpu_packing.py --quick       # CI size on the CPU, same code
    (without CUDA the default is CPU-sized, 1,280-image trials of 2 epochs; --full keeps the GPU sizes)

Each trial is its own spawned process running a Trainer, as a Ray trial process would; the processes build
their data and CUDA context first, then start together at a barrier. A trial's time runs from the barrier
(Trainer construction, data upload included) to its last epoch; trials/hour = K * 3600 / the time until the
last of the K finishes. Memory per trial: torch.cuda.max_memory_allocated (and reserved) in that process;
on the CPU the process's peak resident set instead. Needs only torch and resnet_core (no Ray).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import resource
import time

import torch

import benchlib as B
from resnet_core import TrainConfig, Trainer
from resnet_core.hardware import precision_for


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packs", default="1,2,4", help="comma list: trials sharing the device at once")
    p.add_argument("--images", type=int, default=10_000, help="training images per trial (its slice of CIFAR)")
    p.add_argument("--val", type=int, default=2_000, help="evaluation images per trial")
    p.add_argument("--epochs", type=int, default=5, help="epochs per trial")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--precision", default="auto",
                   help="ours: auto (bf16 where native: CUDA sm80+, AVX512_BF16/AMX CPUs; else fp32), bf16 or fp32")
    p.add_argument("--compile", action="store_true", help="torch.compile each trial's model")
    p.add_argument("--device", default="auto", help="auto: cuda where present, else cpu")
    p.add_argument("--quick", action="store_true", help="CI size: CPU, ResNet-8, 128 images, 1 epoch")
    p.add_argument("--full", action="store_true", help="the GPU sizes above even on a CPU (hours there)")
    known = p.parse_known_args(argv)[0]
    if known.quick:  # CI sizes become the defaults; flags still win
        p.set_defaults(images=128, val=64, epochs=1, depth=8, device="cpu")
    elif B.on_cpu_only(known.device) and not known.full:  # ~2 min on 2 AVX2 cores: 7 trials of 2 small epochs
        p.set_defaults(images=1280, val=256, epochs=2)
    args = p.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.precision = precision_for(args.precision, torch.device(args.device))  # what the Trainer will use
    return args


def trial(rank: int, packed: int, args: argparse.Namespace, barrier, results) -> None:
    """One trial process: prepare, wait for the others, train, report its times and peak memory."""
    device = torch.device(args.device)
    if device.type == "cpu":  # share the cores instead of oversubscribing them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // packed))
    else:
        torch.zeros(1, device=device)  # CUDA context up before the clock starts
    data = B.cifar_like(args.images, args.val, seed=rank)
    cfg = TrainConfig(dataset="synthetic", depth=args.depth, epochs=args.epochs, precision=args.precision,
                      compile=args.compile, device=device.type, seed=rank)
    barrier.wait(timeout=600)
    t0 = time.monotonic()
    last = list(Trainer(cfg, data=data))[-1]
    B.sync(device)
    t1 = time.monotonic()
    if device.type == "cuda":
        mem = torch.cuda.max_memory_allocated(device) / 2**20, torch.cuda.max_memory_reserved(device) / 2**20
    else:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        mem = rss, rss
    results.put({"rank": rank, "t0": t0, "t1": t1, "mem": mem, "val_acc": last["val/acc"]})


def run_pack(packed: int, args: argparse.Namespace) -> dict:
    """Start `packed` trial processes together; return their wall time, per-trial seconds and memory."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(packed), ctx.Queue()
    procs = [ctx.Process(target=trial, args=(r, packed, args, barrier, results)) for r in range(packed)]
    for p in procs:
        p.start()
    out = []
    while len(out) < packed:  # fail fast if a trial dies, rather than wait on its result forever
        try:
            out.append(results.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.terminate()
                raise RuntimeError(f"a trial process failed: exit codes {[p.exitcode for p in procs]}") from None
    for p in procs:
        p.join()
    wall = max(r["t1"] for r in out) - min(r["t0"] for r in out)
    return {"wall": wall, "trial_s": B.median([r["t1"] - r["t0"] for r in out]),
            "alloc": max(r["mem"][0] for r in out), "reserved": max(r["mem"][1] for r in out)}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    mem_kind = "max_memory_allocated / reserved" if device.type == "cuda" else "peak RSS of the process"
    B.print_header(f"Trials per hour with trials sharing one device: ResNet-{args.depth}",
                   device=f"{device.type} ({B.device_name(device)})",
                   trial=f"{args.images} images x {args.epochs} epochs + {args.val} val, {args.precision}, "
                         f"compile {'on' if args.compile else 'off'}", memory=mem_kind)
    rows, base = [], None
    for packed in map(int, args.packs.split(",")):
        r = run_pack(packed, args)
        per_hour = packed * 3600 / r["wall"]
        base = base or per_hour
        rows.append([device.type, packed, r["wall"], r["trial_s"], per_hour, per_hour / base, r["alloc"],
                     r["reserved"]])
        print(f"measured {packed} trial(s) at once in {r['wall']:.1f} s: {per_hour:.0f} trials/hour, "
              f"{r['alloc']:.0f} MiB per trial", flush=True)
    print()
    B.print_table(["device", "trials at once", "wall s", "s per trial", "trials/hour", "vs 1 trial",
                   "peak MiB/trial", "reserved MiB/trial"], rows)


if __name__ == "__main__":
    main()
