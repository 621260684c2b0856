"""Ray Tune glue: the trainable, the search space, the search algorithm and the scheduler of a spec."""

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

from .provenance import cpu_tags, device_name
from .results import DATASETS_KEY, fill_diverged, pack_for_tune, sampled_params
from .spec import SweepSpec, trial_config
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


def tune_domain(dim):
    """One spec dimension as Tune's search domain."""
    if dim.kind in ("choice", "grid"):
        return tune.grid_search(list(dim.values)) if dim.kind == "grid" else tune.choice(list(dim.values))
    low, high = dim.values
    return tune.loguniform(low, high) if dim.kind == "loguniform" else tune.uniform(low, high)


def param_space(spec: SweepSpec) -> dict:
    """Tune's search space; a grid crosses every value (choices too) with every seed; a confirm sweep's
    searcher hands Tune whole configurations (sweeps.blocked), so its space is empty."""
    if spec.confirm is not None:
        return {}
    if spec.search == "grid":
        space = {name: tune.grid_search(list(dim.values)) for name, dim in spec.search_space.items()}
        space["seed"] = tune.grid_search(list(range(spec.seeds)))
        return space
    return {name: tune_domain(dim) for name, dim in spec.search_space.items()}


def search_alg(spec: SweepSpec, storage_url: str | None = None, study_name: str | None = None):
    """Seeded Optuna TPE (or Optuna's random sampler), repeated over `seeds`; None for a grid.
    storage_url: the study's database (from --optuna-storage, OPTUNA_STORAGE or the spec), else in memory;
    study_name: its name there (default the spec's name). A confirm sweep searches every arm on its own
    (sweeps.blocked.ArmSearcher: one study per arm, named study_name/ARM), grids included."""
    from .study_storage import open_storage

    if spec.confirm is not None:
        from .blocked import ArmSearcher

        storage = open_storage(storage_url) if storage_url and spec.search != "grid" else None
        return ArmSearcher(spec, storage, study_name or spec.name)
    if spec.search == "grid":
        return None
    import optuna
    from ray.tune.search import Repeater
    from ray.tune.search.optuna import OptunaSearch

    sampler = (optuna.samplers.TPESampler(seed=spec.seed) if spec.search == "optuna"
               else optuna.samplers.RandomSampler(seed=spec.seed))
    storage = open_storage(storage_url) if storage_url else None
    # metric and mode come from TuneConfig, which hands them to the searcher and the scheduler.
    searcher = OptunaSearch(sampler=sampler, storage=storage, study_name=(study_name or spec.name) if storage else None)
    if spec.seeds > 1:  # Optuna is told the mean over the seeds of each configuration
        searcher = Repeater(searcher, repeat=spec.seeds, set_index=True)
    return searcher


def scheduler(spec: SweepSpec):
    """ASHA on epochs (our own counter survives restores), with rungs per arm in a confirm sweep; or none."""
    if spec.scheduler.kind == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    asha = {"time_attr": "epoch", "max_t": spec.epochs, "grace_period": min(spec.scheduler.grace_period, spec.epochs),
            "reduction_factor": spec.scheduler.reduction_factor}
    if spec.confirm is not None:
        from .blocked import PerArmASHA

        return PerArmASHA(spec.confirm.factors, **asha)
    return ASHAScheduler(**asha)


def resources(spec: SweepSpec) -> dict:
    """Per-trial resources as Tune wants them; fractional GPUs let trials share one device."""
    return {"cpu": spec.resources_per_trial["cpu"], "gpu": spec.resources_per_trial["gpu"]}


def tune_trainable(spec: SweepSpec):
    """The trainable bound to its spec and resources."""
    return tune.with_resources(tune.with_parameters(trainable, spec=spec), resources(spec))
