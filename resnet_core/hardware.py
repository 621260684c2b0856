"""Which CPU (or GPU) we train on, and what it does fast: pure detection for precision and speed defaults."""

from __future__ import annotations

import functools
import os
import platform

import torch

from .config import ConfigError

# Capability words as torch.backends.cpu.get_cpu_capability() and torch.cpu._is_*_supported() report them.
BF16_FEATURES = ("AVX512_BF16", "AMX")
# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA) with native bf16 convolutions; a cap below them emulates bf16.
ONEDNN_BF16_ISAS = ("AVX2_VNNI_2", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX",
                    "AVX512_CORE_AMX_FP16", "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512",
                    "AVX10_2_512_AMX_2", "ALL", "DEFAULT")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.split(":")[0].strip() in ("model name", "Model", "cpu model"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_features() -> tuple[str, ...]:
    """torch's vector capability (AVX2, AVX512, ...) followed by the bf16 features present (AVX512_BF16, AMX)."""
    found = [torch.backends.cpu.get_cpu_capability()]
    probes = {"AVX512_BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}
    for name, probe in probes.items():
        if getattr(torch.cpu, probe, lambda: False)():
            found.append(name)
    return tuple(found)


def onednn_isa_cap() -> str:
    """The ISA oneDNN is held to by ONEDNN_MAX_CPU_ISA (or its old name DNNL_MAX_CPU_ISA), '' when not held."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or ""
    return cap.strip().upper()


def cpu_capability() -> str:
    """One word list for tags and headers, e.g. 'AVX2' or 'AVX512 AVX512_BF16 AMX'; a oneDNN ISA cap is named
    ('AVX2 AVX512_BF16 ONEDNN_MAX_CPU_ISA=AVX2'), since it decides what the convolutions run."""
    cap = onednn_isa_cap()
    return " ".join(cpu_features()) + (f" ONEDNN_MAX_CPU_ISA={cap}" if cap else "")


def has_native_bf16(features: tuple[str, ...], mkldnn_bf16: bool, isa_cap: str = "") -> bool:
    """Native bf16 on the CPU: AVX-512 BF16 or AMX, or oneDNN saying it runs bf16 natively; unless oneDNN is
    held to an ISA without bf16 (then it emulates bf16, whatever the CPU has)."""
    if isa_cap and isa_cap not in ONEDNN_BF16_ISAS:
        return False
    return mkldnn_bf16 or any(f in features for f in BF16_FEATURES)


def cpu_bf16_native() -> bool:
    """Does this CPU run bf16 natively? (Without it, oneDNN emulates bf16 at about a tenth of fp32's speed.)"""
    return has_native_bf16(cpu_features(), bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()), onednn_isa_cap())


def cuda_bf16_native(device: torch.device) -> bool:
    """bf16 tensor cores on this CUDA device (compute capability 8.0, Ampere, or newer)."""
    return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8


def resolve_precision(requested: str, device_type: str, bf16_native: bool, capability: str = "") -> str:
    """The precision a run uses: auto picks bf16 where it is native, else fp32; bf16 without it is refused."""
    if requested == "auto":
        return "bf16" if bf16_native else "fp32"
    if requested == "bf16" and device_type == "cpu" and not bf16_native:
        raise ConfigError(f"precision: bf16 is emulated on this CPU ({capability or 'no native bf16'}; needs "
                          f"AVX512_BF16 or AMX) and runs about 10x slower than fp32; use precision auto or fp32")
    return requested


def precision_for(requested: str, device: torch.device) -> str:
    """resolve_precision for a real device, asking the hardware only when the answer matters."""
    if requested == "fp32":
        return "fp32"
    if device.type == "cuda":
        return resolve_precision(requested, "cuda", cuda_bf16_native(device))
    return resolve_precision(requested, device.type, cpu_bf16_native(), cpu_capability())
