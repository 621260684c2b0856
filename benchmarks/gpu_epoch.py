"""Epoch time, images/s and model FLOP utilization on one GPU: our fast path vs the usual pipeline (issue 6, §2).

    python benchmarks/gpu_epoch.py                 # CIFAR-10-shaped 50,000 images; ResNet-20, 56, 110
    python benchmarks/gpu_epoch.py --quick         # CI size on the CPU
    (without CUDA the default is CPU-sized, ResNet-20 on 2,560 images; --full keeps the GPU sizes)
    python benchmarks/gpu_epoch.py --compile off,on,cudagraphs   # also torch.compile with CUDA graphs

Needs only torch, torchvision and resnet_core. Ours: data on the device as uint8, batched on-device
augmentation, bf16 autocast, channels_last, fused SGD, large-batch evaluation without autograd;
torch.compile measured off and on per depth. Training FLOPs per image = 6 x forward MACs (counted with
hooks); MFU = achieved training FLOP/s / peak (the bf16 dense peak, for every row, the reference's too; on a
CPU without native bf16, its measured fp32 matmul peak, since emulated bf16 is far slower).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

import benchlib as B
import reference as R
from resnet_core import TrainConfig, Trainer, build_model
from resnet_core.hardware import precision_for
from resnet_core.data import DataSet

# Dense bf16 peak TFLOP/s by GPU name (first match wins, so the specific names come first).
PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0),
               ("B200", 2250.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=50_000, help="training images per epoch")
    p.add_argument("--val", type=int, default=10_000, help="evaluation images per epoch")
    p.add_argument("--depths", default="20,56,110")
    p.add_argument("--precision", default="auto",
                   help="ours: auto (bf16 where native: CUDA sm80+, AVX512_BF16/AMX CPUs; else fp32), bf16 or fp32")
    p.add_argument("--compile", default="off,on", help="ours: comma list of off, on, cudagraphs (CUDA only)")
    p.add_argument("--epochs", type=int, default=2, help="ours: epochs per variant; the first is warm-up")
    p.add_argument("--workers", type=int, default=2, help="reference DataLoader workers")
    p.add_argument("--eval-batch", type=int, default=1024, help="ours: evaluation batch (no autograd)")
    p.add_argument("--warmup", type=int, default=10, help="reference steps left out of its img/s")
    p.add_argument("--device", default="auto", help="auto: cuda where present, else cpu")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="peak for MFU; 0: by GPU name, measured on CPU")
    p.add_argument("--quick", action="store_true", help="CI size: CPU, 256 images, ResNet-8, compile off")
    p.add_argument("--full", action="store_true", help="the GPU sizes above even on a CPU (hours there)")
    known = p.parse_known_args(argv)[0]
    if known.quick:  # CI sizes become the defaults; flags still win
        p.set_defaults(images=256, val=128, depths="8", compile="off", device="cpu", warmup=1)
    elif B.on_cpu_only(known.device) and not known.full:  # ~3 min on 2 AVX2 cores, cold compile included
        p.set_defaults(images=2560, val=1024, depths="20", warmup=3)
    args = p.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.precision = precision_for(args.precision, torch.device(args.device))  # what the Trainer will use
    return args


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls run in hardware: always on CUDA; on the CPU only with AVX-512 bf16 or AMX."""
    return device.type == "cuda" or torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def measured_peak_tflops(device: torch.device, n: int = 2048, dtype: torch.dtype = torch.bfloat16) -> float:
    """Best dtype matmul TFLOP/s over a few tries: the device's practical peak."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(5):
        B.sync(device)
        t = time.perf_counter()
        a @ a
        B.sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e12


def peak_tflops(device: torch.device, given: float) -> tuple[float, str]:
    """The peak MFU is measured against, and where it came from."""
    if given:
        return given, "given"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in PEAK_TFLOPS:
            if key in name:
                return tflops, f"datasheet bf16 dense for {name}"
        return measured_peak_tflops(device, 8192), f"measured bf16 matmul on {name} (not in the table)"
    if native_bf16(device):
        return measured_peak_tflops(device), "measured bf16 matmul on this CPU"
    # Without native bf16 (AVX2 only) a bf16 matmul is emulated: ~0.3 GFLOP/s here, a 2048^3 one takes a minute,
    # and so low a "peak" would inflate MFU. fp32 is this CPU's fastest matmul, so it is the honest peak.
    return measured_peak_tflops(device, dtype=torch.float32), "measured fp32 matmul on this CPU (no native bf16)"


def reference_epoch(depth: int, data, device: torch.device, args) -> tuple[float, float]:
    """(steady img/s, epoch s) of the usual pipeline: one pass over the training images, then evaluation."""
    model, opt = R.make_model_and_optimizer(depth, device)
    pin = device.type == "cuda"
    train = R.make_loader(data.train.x, data.train.y, True, args.workers, pin=pin)
    val = R.make_loader(data.val.x, data.val.y, False, args.workers, batch=1000, pin=pin)
    steps = len(train) - args.warmup
    t0 = time.perf_counter()
    seconds, _ = R.train_steps(model, opt, train, device, args.warmup, steps)
    R.evaluate(model, val, device)
    B.sync(device)
    return steps * R.BATCH / seconds, time.perf_counter() - t0


def ours(depth: int, data: DataSet, compile_as: str, device: torch.device, args) -> tuple[float, float, float]:
    """(steady img/s, steady epoch s, first epoch s) of our Trainer; the first epoch includes compilation.
    compile_as: off, on (cfg.compile), or cudagraphs: torch.compile mode reduce-overhead, which the Trainer
    does not offer yet; set here on the Trainer's compiled forward to measure whether it would pay."""
    cfg = TrainConfig(dataset="synthetic", depth=depth, epochs=args.epochs, precision=args.precision,
                      compile=compile_as == "on", device=device.type, eval_batch_size=args.eval_batch)
    trainer = Trainer(cfg, data=dataclasses.replace(data))  # a shallow copy: moving it leaves data on the CPU
    if compile_as == "cudagraphs":
        trainer.forward = torch.compile(trainer.model, mode="reduce-overhead")
    rows = list(trainer)
    steady = rows[1:] or rows
    return (B.median([r["throughput/img_per_s"] for r in steady]), B.median([r["time/epoch_s"] for r in steady]),
            rows[0]["time/epoch_s"])


def check_macs(depths: list[int]) -> dict[int, int]:
    """Count each depth's forward MACs at 32x32 and print them beside the numbers issue 6 quotes."""
    macs = {d: B.count_macs(build_model(TrainConfig(depth=d)), (3, 32, 32)) for d in depths}
    B.print_table(["depth", "forward MACs (M, counted)", "quoted (M)", "training GFLOP/image"],
                  [[d, m / 1e6, B.PAPER_MACS.get(d, float("nan")) / 1e6, 6 * m / 1e9] for d, m in macs.items()])
    return macs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    peak, source = peak_tflops(device, args.peak_tflops)
    B.print_header("One epoch of CIFAR-10-shaped training: our fast path vs the usual pipeline",
                   device=f"{device.type} ({B.device_name(device)})", images=f"{args.images} train + {args.val} val",
                   peak=f"{peak:.3g} TFLOP/s ({source})", ours=f"{args.precision}, channels_last, on-device data",
                   reference=f"PIL transforms, DataLoader {args.workers} workers, fp32")
    macs = check_macs([int(d) for d in args.depths.split(",")])
    data = B.cifar_like(args.images, args.val)
    rows = []
    for depth, mac in macs.items():
        mfu = lambda rate: 100 * rate * 6 * mac / (peak * 1e12)  # noqa: E731
        t0 = time.perf_counter()
        ref_rate, ref_s = reference_epoch(depth, data, device, args)
        rows.append([device.type, depth, "reference", "fp32", "off", ref_rate, ref_s, ref_s, mfu(ref_rate), 1.0])
        for c in args.compile.split(","):
            rate, epoch_s, first_s = ours(depth, data, c, device, args)
            rows.append([device.type, depth, "ours", args.precision, c, rate, epoch_s, first_s, mfu(rate),
                         rate / ref_rate])
        for r in rows[-1 - len(args.compile.split(",")):]:  # progress, in case a time limit cuts the run short
            print(f"depth {depth} {r[2]} compile {r[4]}: {r[5]:.0f} img/s, epoch {r[6]:.1f} s, first {r[7]:.1f} s")
        print(f"measured depth {depth} in {time.perf_counter() - t0:.0f} s", flush=True)
    print()
    B.print_table(["device", "depth", "pipeline", "precision", "compile", "img/s", "epoch s", "first epoch s",
                   "MFU %", "vs reference"], rows)


if __name__ == "__main__":
    main()
