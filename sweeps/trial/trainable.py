"""The trainable: one trial, trained in a Ray worker, reporting every epoch to Tune and checkpointing."""

from __future__ import annotations

import json
import os
import tempfile

import ray
import torch
from ray import tune

from resnet_core.config import FIELDS
from resnet_core.data import describe_splits
from resnet_core.train import Trainer, load_checkpoint, save_checkpoint

from ..spec import SweepSpec, trial_config
from .provenance import cpu_tags, device_name
from .reports import DATASETS_KEY, fill_diverged, pack_for_tune, sampled_params
from .system_metrics import SystemSampler, gpu_share

CHECKPOINT_FILE = "state.pt"


def trainable(config: dict, spec: SweepSpec) -> None:
    """Train one trial, reporting every epoch; checkpoint every `checkpoint_every` epochs and at the end."""
    torch.set_num_threads(max(1, int(spec.resources_per_trial["cpu"])))
    cfg = trial_config(spec, sampled_params(config, FIELDS))
    state = None
    if (ckpt := tune.get_checkpoint()) is not None:  # a retry or a resume: continue, don't start over
        with ckpt.as_directory() as folder:
            state = load_checkpoint(os.path.join(folder, CHECKPOINT_FILE))
    trainer = Trainer(cfg, state)
    context = ray.get_runtime_context()
    assigned = ",".join(f"{k}={v:g}" for k, v in sorted(context.get_assigned_resources().items()))
    share = gpu_share(float(spec.resources_per_trial["gpu"]))
    where = {"hardware": device_name(str(trainer.device)), "node_id": context.get_node_id(), "resources": assigned,
             "precision_used": trainer.precision, **cpu_tags(), **({"gpu_share": share} if share else {})}
    sampler = SystemSampler(trainer.device)
    once = {DATASETS_KEY: json.dumps(describe_splits(trainer.data, cfg.dataset))}  # the tracker logs it as inputs
    for metrics in trainer:
        last = metrics["epoch"] == cfg.epochs or metrics.get("train/diverged")
        # Tune gets the metric and the epoch; the other metrics ride to the tracker as one string.
        metrics = pack_for_tune({**fill_diverged(metrics, spec.metric, spec.mode), **sampler.sample(), **where,
                                 **once}, spec.metric)
        once = {}
        if metrics["epoch"] % spec.checkpoint_every and not last:
            tune.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as folder:
            save_checkpoint(os.path.join(folder, CHECKPOINT_FILE), trainer.state_dict())
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def resources(spec: SweepSpec) -> dict:
    """Per-trial resources as Tune wants them; fractional GPUs let trials share one device."""
    return {"cpu": spec.resources_per_trial["cpu"], "gpu": spec.resources_per_trial["gpu"]}


def tune_trainable(spec: SweepSpec):
    """The trainable bound to its spec and resources."""
    return tune.with_resources(tune.with_parameters(trainable, spec=spec), resources(spec))
