"""The sweep's best model in MLflow: its weights, the logged PyTorch model, and the registered `champion`."""

from __future__ import annotations

import os
import tempfile

import mlflow
from mlflow import MlflowClient

from resnet_core.data import SHAPES
from resnet_core.train import load_checkpoint

from . import names
from .runs import config_of


def log_best_model(sweep, best, results, register: str | None) -> None:
    """Log the best trial's final weights with mlflow.pytorch.log_model (signature, input example)."""
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    from resnet_core.build import build_model

    match = [r for r in results if r.metrics and r.metrics.get("trial_id") == best.data.tags.get(names.TRIAL_ID)]
    if not match or match[0].checkpoint is None:
        return
    cfg = config_of(best)
    (c, h, w), classes = SHAPES[cfg.dataset]
    with match[0].checkpoint.as_directory() as folder:
        state = load_checkpoint(os.path.join(folder, "state.pt"))
    model = build_model(cfg, c, classes)
    model.load_state_dict(state["model"])
    model.eval()
    example = np.zeros((2, c, h, w), dtype=np.float32)
    with torch.no_grad():
        signature = infer_signature(example, model(torch.from_numpy(example)).numpy())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state_dict.pt")
        torch.save({"model": state["model"], "config": cfg.to_dict()}, path)
        mlflow.log_artifact(path, "best_model_weights")
    # Naming the requirement skips MLflow's slow import-tracing inference of the environment.
    requirement = f"torch=={torch.__version__.split('+')[0]}"
    info = mlflow.pytorch.log_model(model, name="best_model", signature=signature, input_example=example,
                                    registered_model_name=register, pip_requirements=[requirement])
    if register and info.registered_model_version is not None:
        crown(MlflowClient(sweep.tracking_uri), register, str(info.registered_model_version), best)


def crown(client: MlflowClient, name: str, version: str, best) -> None:
    """The sweep's registered best model becomes the `champion`, with tags naming its sweep and trial run."""
    client.set_registered_model_alias(name, names.CHAMPION, version)
    experiment = client.get_experiment(best.info.experiment_id).name
    tags = {names.SWEEP: experiment, names.TRIAL_ID: best.data.tags.get(names.TRIAL_ID, ""),
            names.TRIAL_RUN: best.info.run_id, "parent_run_id": best.data.tags.get(names.PARENT_RUN, "")}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
