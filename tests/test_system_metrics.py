"""A trial's system metrics: MLflow's `system/` names, real readings of this process and machine."""

from __future__ import annotations

import psutil
import torch

from sweeps.trial.system_metrics import SystemSampler, gpu_share


def test_cpu_sample_has_mlflows_names_and_real_readings() -> None:
    sampler = SystemSampler(torch.device("cpu"))
    # Work until the process clock has moved: it counts in 10 ms ticks, so a fixed small loop may read 0.
    proc = psutil.Process()
    start = sum(proc.cpu_times()[:2])
    while sum(proc.cpu_times()[:2]) - start < 0.05:
        sum(i * i for i in range(100_000))
    sample = sampler.sample()
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
            "system/system_memory_usage_percentage", "system/process_cpu_percentage",
            "system/process_memory_rss_megabytes"} == set(sample)
    assert sample["system/process_memory_rss_megabytes"] > 10
    assert 0 < sample["system/system_memory_usage_percentage"] < 100
    assert sample["system/process_cpu_percentage"] > 0


def test_a_fractional_gpu_says_its_figures_are_shared() -> None:
    assert gpu_share(0) == "" and gpu_share(1) == "" and gpu_share(2) == ""
    assert gpu_share(0.25).startswith("0.25 of a GPU, shared with other trials")
