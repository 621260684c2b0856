"""System metrics of a trial, sampled in its own process once an epoch, under MLflow's `system/` names.

They travel with the epoch's metrics through the driver's exactly-once tracker (workers never talk to
MLflow), so the MLflow UI shows them in the run's System metrics tab. On a GPU shared by fractional trials,
the GPU figures are the whole device's, and the run's `gpu_share` tag says so.
"""

from __future__ import annotations

import psutil
import torch

PREFIX = "system/"


class SystemSampler:
    """CPU and memory of the machine and of this trial's process, and its GPU's memory and utilization."""

    def __init__(self, device: torch.device):
        self.device = device
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # the first call only starts the clock the next one measures against
        psutil.cpu_percent(None)

    def sample(self) -> dict[str, float]:
        memory = psutil.virtual_memory()
        out = {"cpu_utilization_percentage": psutil.cpu_percent(None),
               "system_memory_usage_megabytes": memory.used / 1e6,
               "system_memory_usage_percentage": memory.percent,
               "process_cpu_percentage": self.process.cpu_percent(None),  # of one core: 200 = two cores busy
               "process_memory_rss_megabytes": self.process.memory_info().rss / 1e6}
        if self.device.type == "cuda":
            index = self.device.index or 0
            free, total = torch.cuda.mem_get_info(index)
            out[f"gpu_{index}_memory_usage_megabytes"] = (total - free) / 1e6
            out[f"gpu_{index}_memory_usage_percentage"] = 100 * (total - free) / total
            try:
                out[f"gpu_{index}_utilization_percentage"] = float(torch.cuda.utilization(index))
            except Exception:  # utilization needs NVML (pynvml); memory figures do not
                pass
        return {PREFIX + k: float(v) for k, v in out.items()}


def gpu_share(gpus: float) -> str:
    """The run tag for a trial's GPU: '' for none or a whole one; a fraction says its GPU figures are shared."""
    if 0 < gpus < 1:
        return f"{gpus:g} of a GPU, shared with other trials: its system/gpu_* figures are the whole device's"
    return ""
