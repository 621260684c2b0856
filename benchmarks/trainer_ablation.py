"""Where the Trainer's speed comes from: the same training step with one change at a time, in one run.

    python benchmarks/trainer_ablation.py                 # ResNet-20, 32x32, batch 128, on the CPU (and CUDA)
    python benchmarks/trainer_ablation.py --full          # more steps and rounds
    python benchmarks/trainer_ablation.py --quick         # CI size

Rows, each adding one thing to the row above: the usual pipeline (PIL + DataLoader); the same plain loop with
the batches already made (so the difference is the data pipeline); channels_last; fused SGD with the loss
kept on the device; our Trainer (adds on-device augmentation, per-block gradient norms, the LR schedule);
bf16 autocast; torch.compile. Rounds interleave the variants; img/s is the median over rounds. Below the
table, the per-step cost of the Trainer's own extras, timed alone; with --ops, where a step's time goes by
kind of operator (torch.profiler), and the most any change outside the convolutions could gain.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import benchlib as B
import reference as R
from resnet_core import TrainConfig, Trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True, help="include the compile row")
    p.add_argument("--device", default="auto", help="auto (cpu, plus cuda where present), cpu or cuda")
    p.add_argument("--ops", action="store_true",
                   help="also profile the usual step and ours by kind of operator (convolutions, batch norm, ...)")
    p.add_argument("--quick", action="store_true", help="CI size: ResNet-8, 2 steps, 1 round, no compile")
    p.add_argument("--full", action="store_true", help="longer: 20 steps x 7 rounds")
    known = p.parse_known_args(argv)[0]
    if known.full:
        p.set_defaults(steps=20, rounds=7)
    if known.quick:
        p.set_defaults(depth=8, steps=2, rounds=1, compile=False)
    return p.parse_args(argv)


def plain_step(depth: int, device: torch.device, channels_last: bool, fused: bool):
    """A step function of the plain loop on ready-made normalized batches (no augmentation, no data pipeline)."""
    model, opt = R.make_model_and_optimizer(depth, device)
    x = torch.randn(R.BATCH, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (R.BATCH,), device=device)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    if fused:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, fused=True)
    total = torch.zeros((), device=device)

    def step() -> None:
        nonlocal total
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if fused:
            total += loss.detach()  # read once at the end, as the Trainer does
        else:
            loss.item()
    return step


def trainer_variants(device: torch.device, compiled: bool) -> dict[str, dict]:
    """Trainer rows: fp32, then bf16 where it is native, then compiled (at auto precision)."""
    rows = {"our Trainer, fp32 (+ on-device augmentation, grad norms)": {"precision": "fp32"}}
    if B.native_precisions(["bf16"], device):
        rows["+ bf16 autocast"] = {"precision": "bf16"}
    if compiled:
        rows["+ torch.compile"] = {"precision": "auto", "compile": True}
    return rows


def time_variant(run, n_images: int, device: torch.device) -> float:
    B.sync(device)
    t = time.perf_counter()
    run()
    B.sync(device)
    return n_images / (time.perf_counter() - t)


def measure(device: torch.device, args) -> dict[str, list[float]]:
    """img/s per round for every variant."""
    n = args.steps * R.BATCH
    steps = {"plain loop, batches ready (NCHW, fp32, SGD, .item())": plain_step(args.depth, device, False, False),
             "+ channels_last": plain_step(args.depth, device, True, False),
             "+ fused SGD, loss kept on the device": plain_step(args.depth, device, True, True)}
    trainers = {k: Trainer(TrainConfig(dataset="synthetic", depth=args.depth, epochs=args.rounds + 1,
                                       device=device.type, **kw), data=B.cifar_like(n, 128))
                for k, kw in trainer_variants(device, args.compile).items()}
    for s in steps.values():
        s(), s()
    for t in trainers.values():
        t.run_epoch()
    ref = B.cifar_like(n + 2 * R.BATCH, 0)
    ref_model, ref_opt = R.make_model_and_optimizer(args.depth, device)
    loader = R.make_loader(ref.train.x, ref.train.y, True, pin=device.type == "cuda")
    rates: dict[str, list[float]] = {"the usual pipeline (PIL transforms, DataLoader 2 workers)": []}
    rates |= {k: [] for k in [*steps, *trainers]}
    for _ in range(args.rounds):
        secs, _ = R.train_steps(ref_model, ref_opt, loader, device, 2, args.steps)
        rates["the usual pipeline (PIL transforms, DataLoader 2 workers)"].append(n / secs)
        for k, s in steps.items():
            rates[k].append(time_variant(lambda: [s() for _ in range(args.steps)], n, device))
        for k, t in trainers.items():
            rates[k].append(t.run_epoch()["throughput/img_per_s"])
    return rates


def extras_ms(device: torch.device, depth: int) -> list[list]:
    """Milliseconds per step of the Trainer's own extras, each timed alone (best of 20)."""
    cfg = TrainConfig(dataset="synthetic", depth=depth, epochs=1, device=device.type)
    t = Trainer(cfg, data=B.cifar_like(256, 128))
    t.run_epoch()  # gradients exist now
    idx = torch.arange(R.BATCH, device=t.device)

    def best_ms(f) -> float:
        out = float("inf")
        for _ in range(20):
            B.sync(device)
            s = time.perf_counter()
            f()
            B.sync(device)
            out = min(out, time.perf_counter() - s)
        return out * 1e3
    return [[device.type, "normalize + pad/crop/flip of a batch", best_ms(lambda: t.batch(t.data.train, idx, True))],
            [device.type, "normalize only", best_ms(lambda: t.batch(t.data.train, idx, False))],
            [device.type, "per-block gradient norms", best_ms(t.grad_norms)],
            [device.type, "fused SGD step", best_ms(t.optimizer.step)]]


OP_KINDS = (("convolution", ("conv",)), ("batch norm", ("batch_norm",)),
            ("optimizer", ("sgd", "foreach")),
            ("elementwise and other", ("",)))


def op_kind(name: str) -> str:
    low = name.lower()
    return next(kind for kind, keys in OP_KINDS if any(k in low for k in keys))


def op_shares(step, n_steps: int) -> tuple[float, dict[str, float]]:
    """(wall ms per step, {kind: ms per step}) of a step function, from the self time of every operator
    torch.profiler records on the calling thread (intra-op threads work inside those calls)."""
    from torch.profiler import ProfilerActivity, profile

    step(), step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for _ in range(n_steps):
            step()
        wall = (time.perf_counter() - t) * 1e3 / n_steps
    kinds = dict.fromkeys((k for k, _ in OP_KINDS), 0.0)
    for e in prof.key_averages():
        if e.key.startswith("aten::"):
            kinds[op_kind(e.key)] += e.self_cpu_time_total / 1e3 / n_steps
    return wall, kinds


def ops_table(device: torch.device, depth: int, n_steps: int) -> list[list]:
    """Per step: the usual loop (NCHW, SGD, .item()) and ours (channels_last, fused SGD), by kind of operator.
    The last column bounds what ours could reach if everything but its convolutions cost nothing."""
    usual = op_shares(plain_step(depth, device, False, False), n_steps)
    ours = op_shares(plain_step(depth, device, True, True), n_steps)
    return [[name, wall, *kinds.values(), kinds["convolution"] / wall, usual[0] / kinds["convolution"]]
            for name, (wall, kinds) in (("usual step (NCHW, SGD)", usual), ("ours (channels_last, fused SGD)", ours))]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    B.print_header(f"Ablation: ResNet-{args.depth} training step, 32x32, batch {R.BATCH}",
                   steps_per_round=args.steps, rounds=args.rounds)
    rows, extras = [], []
    for device in B.devices(args.device):
        rates = measure(device, args)
        base = B.median(next(iter(rates.values())))
        prev = base
        for k, r in rates.items():
            rows.append([device.type, k, B.median(r), max(r), B.median(r) / prev, B.median(r) / base])
            prev = B.median(r)
        extras += extras_ms(device, args.depth)
    B.print_table(["device", "variant", "img/s", "best img/s", "vs row above", "vs usual pipeline"], rows)
    B.print_table(["device", "Trainer extra", "ms per step"], extras)
    if args.ops:
        B.print_table(["step", "wall ms", *(f"{k} ms" for k, _ in OP_KINDS), "convolution share",
                       "ceiling vs usual step"], ops_table(torch.device("cpu"), args.depth, args.steps))


if __name__ == "__main__":
    main()
